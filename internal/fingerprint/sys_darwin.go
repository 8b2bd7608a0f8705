//go:build darwin

package fingerprint

import (
	"bytes"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// statOnlyDir opens a directory that is only a base for fstatat; darwin
// has no O_PATH.
const statOnlyDir = unix.O_RDONLY

// listDir calls fn for each entry of the open directory fd, with the name in
// buf followed by a NUL. Darwin has no getdents; os.File.ReadDir is the
// portable way to read d_type.
func listDir(fd int, buf []byte, fn func(name []byte, dtype uint8) error) error {
	nfd, err := unix.Dup(fd)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(nfd), "")
	defer f.Close()
	for {
		ents, err := f.ReadDir(512)
		for _, e := range ents {
			name := append(append(buf[:0], e.Name()...), 0)
			if err := fn(name[:len(name)-1], dtypeOf(e.Type())); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func dtypeOf(m fs.FileMode) uint8 {
	switch {
	case m.IsDir():
		return unix.DT_DIR
	case m&fs.ModeSymlink != 0:
		return unix.DT_LNK
	case m.IsRegular():
		return unix.DT_REG
	}
	return unix.DT_UNKNOWN
}

func toFileStat(st *unix.Stat_t) fileStat {
	return fileStat{
		dev:   uint64(uint32(st.Dev)),
		ino:   st.Ino,
		mode:  uint32(st.Mode),
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}

// trustedDirTimes reports whether the file system holding the open
// directory fd is one whose directory mtime and ctime change with every
// entry created, removed or renamed: the Mac's own disks, APFS and HFS+.
// Network (smbfs, nfs, webdav), FUSE (macfuse) and others are not.
func trustedDirTimes(fd int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil {
		return false
	}
	name := st.Fstypename[:]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	switch string(name) {
	case "apfs", "hfs":
		return true
	}
	return false
}

// dirStat returns the stat of the open directory fd. Darwin has no mount
// id to tell a volume from one mounted since on the same device: a disk
// image rebuilt with fixed times and attached again can stand for the last
// (dirs.go); ok is false only when the stat fails.
func dirStat(fd int) (st fileStat, mount uint64, ok bool) {
	var ust unix.Stat_t
	for {
		err := unix.Fstat(fd, &ust)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fileStat{}, 0, false
		}
		return toFileStat(&ust), 0, true
	}
}
