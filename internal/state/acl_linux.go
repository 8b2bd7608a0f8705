package state

import (
	"encoding/binary"
	"errors"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// The POSIX ACL as Linux stores it in the system.posix_acl_access
// extended attribute: a version, then entries of tag, permissions, id.
const (
	aclVersion   = 2
	aclUser      = 0x02
	aclGroup     = 0x08
	aclMask      = 0x10
	aclWrite     = 0x02
	aclEntrySize = 8
)

// aclWriters names a user or group other than root to whom the access ACL
// of dir grants write access, in effect (the mask allows it), or "" when
// it grants none or dir has no ACL. The owner and owning group's entries
// are the mode bits, which othersMayWrite reads.
func aclWriters(dir string) (string, error) {
	buf := make([]byte, 512)
	var n int
	var err error
	for {
		n, err = unix.Getxattr(dir, "system.posix_acl_access", buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < 1<<16 {
			buf = make([]byte, 4*len(buf))
			continue
		}
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP):
		return "", nil // no ACL, or a filesystem without them
	case err != nil:
		return "", err
	}
	acl := buf[:n]
	if len(acl) < 4 || binary.LittleEndian.Uint32(acl) != aclVersion || (len(acl)-4)%aclEntrySize != 0 {
		return "", errors.New("unknown format")
	}
	maskWrites := true // no mask entry: the named entries count as they are
	var writers []string
	for e := acl[4:]; len(e) >= aclEntrySize; e = e[aclEntrySize:] {
		tag, perm, id := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
		switch {
		case tag == aclMask:
			maskWrites = perm&aclWrite != 0
		case perm&aclWrite == 0 || id == 0:
		case tag == aclUser:
			writers = append(writers, describeUID(int(id)))
		case tag == aclGroup:
			g := "group " + strconv.FormatUint(uint64(id), 10)
			if grp, err := user.LookupGroupId(strconv.FormatUint(uint64(id), 10)); err == nil {
				g += " (" + grp.Name + ")"
			}
			writers = append(writers, g)
		}
	}
	if !maskWrites || len(writers) == 0 {
		return "", nil
	}
	return "grants write to " + writers[0] + " in its access control list", nil
}
