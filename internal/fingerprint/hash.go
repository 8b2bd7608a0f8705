package fingerprint

import (
	"errors"
	"fmt"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"
)

// fileStat is the part of a stat result the cache keys on, plus the mode that
// decides the entry type.
type fileStat struct {
	dev, ino     uint64
	mode         uint32 // st_mode: file type and permission bits
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// kindOf maps st_mode to an entry type.
func kindOf(mode uint32) byte {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		if mode&0o111 != 0 {
			return TypeExec
		}
		return TypeFile
	case unix.S_IFLNK:
		return TypeSymlink
	case unix.S_IFDIR:
		return TypeDir
	}
	return TypeOther
}

// hashBufSize is what one hashing worker reads at a time; files up to this
// size are hashed in one call.
const hashBufSize = 256 << 10

// HashFile returns the content hash of the file at path, following symlinks,
// as Scan computes it for a regular file's Entry.Hash.
func HashFile(path string) (Sum, error) {
	buf := make([]byte, 64<<10)
	sum, _, _, err := hashRegular(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, buf)
	if err != nil {
		return Sum{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return sum, nil
}

var errNotRegular = errors.New("not a regular file")

// hashRegular opens path with flags, and returns the hash of its content, the
// stat of the open file taken before reading (what the cache may key on), and
// how many bytes were read. A count different from the stat's size means the
// file changed while being read.
func hashRegular(path string, flags int, buf []byte) (Sum, fileStat, int64, error) {
	var fd int
	var err error
	for {
		// O_NONBLOCK: if a fifo took the file's place since it was listed,
		// opening must not wait for a writer.
		fd, err = unix.Open(path, flags, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return Sum{}, fileStat{}, 0, err
	}
	defer unix.Close(fd)
	var ust unix.Stat_t
	for {
		err = unix.Fstat(fd, &ust)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return Sum{}, fileStat{}, 0, err
	}
	st := toFileStat(&ust)
	if st.mode&unix.S_IFMT != unix.S_IFREG {
		return Sum{}, st, 0, errNotRegular
	}
	n, err := readFull(fd, buf)
	if err != nil {
		return Sum{}, st, 0, err
	}
	if n < len(buf) {
		return Sum(xxh3.Hash128(buf[:n]).Bytes()), st, int64(n), nil
	}
	// Larger than the buffer: stream. Hasher128 gives the same sum as Hash128
	// over the whole content (TestStreamingHashMatchesOneShot).
	h := xxh3.New()
	total := int64(n)
	for n == len(buf) {
		_, _ = h.Write(buf[:n])
		if n, err = readFull(fd, buf); err != nil {
			return Sum{}, st, 0, err
		}
		total += int64(n)
	}
	_, _ = h.Write(buf[:n])
	return Sum(h.Sum128().Bytes()), st, total, nil
}

// readFull reads until buf is full or the file ends.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// hashSymlink returns the hash of the target of the symlink at path and its
// lstat, taken after reading it.
func hashSymlink(path string, buf []byte) (Sum, fileStat, error) {
	for {
		n, err := unix.Readlink(path, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Sum{}, fileStat{}, err
		}
		if n == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		var ust unix.Stat_t
		for {
			err = unix.Lstat(path, &ust)
			if err != unix.EINTR {
				break
			}
		}
		if err != nil {
			return Sum{}, fileStat{}, err
		}
		return Sum(xxh3.Hash128(buf[:n]).Bytes()), toFileStat(&ust), nil
	}
}
