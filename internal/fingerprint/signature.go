package fingerprint

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/zeebo/xxh3"
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

// Signature is StatSignature's description of a stat already taken (an
// lstat, say, that describes a link rather than what it leads to).
func Signature(st *unix.Stat_t) string {
	s := toFileStat(st)
	return fmt.Sprintf("%d:%d:%o:%d:%d:%d", s.dev, s.ino, s.mode, s.size, s.mtime, s.ctime)
}

// ErrChanged: the file is not the one expected — another size, or no
// longer a regular file — or changed while it was read.
var ErrChanged = errors.New("changed while being read")

// HashFileOfSize returns HashFile's hash of the file at path, which must be
// a regular file of size bytes. It does not follow a link at path (a link
// planted there is never read through), never opens a FIFO or device for
// reading (it fails with ErrChanged), and reads no more than size bytes and
// the one that says the file ends: a file swapped for a huge one costs
// nothing.
func HashFileOfSize(path string, size int64) (Sum, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return Sum{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	for {
		err = unix.Fstat(fd, &st)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return Sum{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		return Sum{}, fmt.Errorf("hashing %s: %w", path, ErrChanged)
	}
	buf := make([]byte, min(size+1, 64<<10))
	h := xxh3.New()
	var total int64
	for total <= size {
		n, err := readFull(fd, buf)
		if err != nil {
			return Sum{}, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		_, _ = h.Write(buf[:n])
		total += int64(n)
		if n < len(buf) {
			break
		}
	}
	if total != size {
		return Sum{}, fmt.Errorf("hashing %s: %w", path, ErrChanged)
	}
	return Sum(h.Sum128().Bytes()), nil
}
