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
//
// It is a raw system call: it does not tell the scheduler that the thread
// may block. An lstat of a file whose directory is open returns in a
// microsecond or two, and telling the scheduler costs a tenth of that
// (9 % of a 20,000-file scan here). The price is that a stat stuck on a
// slow filesystem holds its P, delaying other goroutines and garbage
// collection until it returns: right for the plan, which waits for the
// scan anyway; background scans use statAtYielding.
func statAt(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		_, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd),
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

// statAtYielding is statAt as an ordinary system call, which the scheduler
// can hand the processor away from while it blocks.
func statAtYielding(dirfd int, name []byte, st *unix.Stat_t) error {
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

// statAtFollow stats name relative to the directory fd through symlinks,
// for a symlink the walk may follow; name is NUL-terminated as for statAt.
func statAtFollow(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		_, _, e := syscall.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd),
			uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(st)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
