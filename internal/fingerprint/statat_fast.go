//go:build linux && (amd64 || arm64)

package fingerprint

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statAt lstats name relative to the directory fd. name must be followed by a
// NUL in memory (listDir and nulName guarantee it): passing it straight to the
// kernel saves the allocation unix.Fstatat makes to terminate the string, once
// per file on the hottest loop.
func statAt(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		_, _, e := syscall.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd),
			uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(st)),
			unix.AT_SYMLINK_NOFOLLOW, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
