//go:build linux

package fingerprint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"
)

// statOnlyDir opens a directory that is only a base for fstatat: an
// O_PATH descriptor, which costs the kernel less to open and close than a
// readable one.
const statOnlyDir = unix.O_PATH

// listDir calls fn for each entry of the open directory fd except "." and
// "..", with the name as it sits in buf: a NUL follows it in memory, so statAt
// can pass it to the kernel without copying. buf is reused: fn must copy what
// it keeps.
func listDir(fd int, buf []byte, fn func(name []byte, dtype uint8) error) error {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen < 20 || off+reclen > n {
				return unix.EIO
			}
			dtype := buf[off+18]
			name := buf[off+19 : off+reclen]
			off += reclen
			nul := bytes.IndexByte(name, 0)
			if nul <= 0 {
				continue
			}
			name = name[:nul]
			if name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
				continue
			}
			if err := fn(name, dtype); err != nil {
				return err
			}
		}
	}
}

func toFileStat(st *unix.Stat_t) fileStat {
	return fileStat{
		dev:   uint64(st.Dev),
		ino:   st.Ino,
		mode:  st.Mode,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}

// zfsSuperMagic is OpenZFS's f_type, which x/sys/unix does not name.
const zfsSuperMagic = 0x2fc12fc1

// trustedDirTimes reports whether the file system holding the open
// directory fd is one whose directory mtime and ctime change with every
// entry created, removed or renamed, as the kernel keeps them for local
// disks and memory: ext2/3/4, xfs, btrfs, bcachefs, f2fs, zfs and tmpfs.
// Network, FUSE, 9p and overlay file systems are not on the list.
func trustedDirTimes(fd int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC, unix.BCACHEFS_SUPER_MAGIC,
		unix.F2FS_SUPER_MAGIC, zfsSuperMagic, unix.TMPFS_MAGIC:
		return true
	}
	return false
}

// bootSeed returns a hash of this boot's id. Unique mount ids are unique
// within a boot only: a machine that boots the same way mounts the same
// things in the same order and numbers them alike. A variable for tests.
var bootSeed = sync.OnceValues(func() (uint64, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err == nil && len(bytes.TrimSpace(b)) == 0 {
		err = fmt.Errorf("it is empty")
	}
	if err != nil {
		return 0, fmt.Errorf("reading the boot id: %w", err)
	}
	return xxh3.Hash(bytes.TrimSpace(b)), nil
})

// dirStat returns the stat of the open directory fd and an id of the mount
// it is open through that no other mount has had, on this boot or another:
// the unique mount id (one statx gives it with the stat) hashed with the
// boot's id. ok is false when the kernel gives no unique mount id (before
// Linux 6.8) or the boot id cannot be read, or the directory is encrypted
// (fscrypt): then no listing is kept or taken (dirs.go says why).
func dirStat(fd int) (st fileStat, mount uint64, ok bool) {
	seed, err := bootSeed()
	if err != nil {
		return fileStat{}, 0, false
	}
	const want = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_INO | unix.STATX_SIZE |
		unix.STATX_MTIME | unix.STATX_CTIME | unix.STATX_MNT_ID_UNIQUE
	var sx unix.Statx_t
	var id [8]byte
	for {
		err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, want, &sx)
		if err == unix.EINTR {
			continue
		}
		if err != nil || sx.Mask&want != want {
			return fileStat{}, 0, false
		}
		break
	}
	if sx.Attributes&unix.STATX_ATTR_ENCRYPTED != 0 {
		// fscrypt: adding or removing the key turns the names the
		// directory lists into others (no-key forms) without touching its
		// stat, so a listing kept while it was locked would hide what
		// unlocking shows.
		return fileStat{}, 0, false
	}
	return fileStat{
		dev:   unix.Mkdev(sx.Dev_major, sx.Dev_minor),
		ino:   sx.Ino,
		mode:  uint32(sx.Mode),
		size:  int64(sx.Size),
		mtime: sx.Mtime.Sec*1e9 + int64(sx.Mtime.Nsec),
		ctime: sx.Ctime.Sec*1e9 + int64(sx.Ctime.Nsec),
	}, xxh3.HashSeed(binary.LittleEndian.AppendUint64(id[:0], sx.Mnt_id), seed), true
}
