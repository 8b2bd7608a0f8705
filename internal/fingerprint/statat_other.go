//go:build !(linux && (amd64 || arm64))

package fingerprint

import "golang.org/x/sys/unix"

// statAt lstats name relative to the directory fd.
func statAt(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, string(name), st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// statAtYielding is statAt: here it is an ordinary system call already.
func statAtYielding(dirfd int, name []byte, st *unix.Stat_t) error {
	return statAt(dirfd, name, st)
}

// statAtFollow stats name relative to the directory fd through symlinks.
func statAtFollow(dirfd int, name []byte, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, string(name), st, 0)
		if err != unix.EINTR {
			return err
		}
	}
}
