package fingerprint

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// StatSignature describes path by its metadata alone — device, inode, mode,
// size, mtime and ctime — for files sysinit may stat but not read (a
// root-only destination): any write or replacement changes it, and ctime
// cannot be put back by touch -r. It follows symlinks, as HashFile does.
func StatSignature(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	s := toFileStat(&st)
	return fmt.Sprintf("%d:%d:%o:%d:%d:%d", s.dev, s.ino, s.mode, s.size, s.mtime, s.ctime), nil
}
