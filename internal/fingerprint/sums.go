package fingerprint

import (
	"sort"

	"golang.org/x/sys/unix"
)

// Sums is a read-only view of a stat cache's content hashes, for a caller
// that needs a file's hash without reading it: the nix import graph keys
// what it found in a file by its content. It is the cache as it was when
// Sums was called — a later Scan replaces a Cache's records rather than
// changing them — so it is safe for concurrent use beside Scans.
type Sums struct {
	c Cache
}

// Sums returns a view of the cache as it is now.
func (c *Cache) Sums() *Sums {
	if c == nil {
		return &Sums{}
	}
	return &Sums{c: Cache{n: c.n, recs: c.recs, strs: c.strs}}
}

// Lstat lstats the file at abs, whose path relative to the scan root (as
// the cache keys it) is rel. It returns the file's entry type and, when
// the cache holds a hash taken of the file as it is now — the same device,
// inode, mode, size, mtime and ctime, which a Scan stores only for a file
// not modified just before it was hashed — that hash, with ok set. It
// reads nothing but the file's inode.
func (s *Sums) Lstat(abs, rel string) (typ byte, sum Sum, ok bool, err error) {
	return s.LstatAt(unix.AT_FDCWD, abs, rel)
}

// LstatAt is Lstat of name in the directory dirfd (as OpenDir opens it):
// the kernel resolves one name instead of a whole path.
func (s *Sums) LstatAt(dirfd int, name, rel string) (typ byte, sum Sum, ok bool, err error) {
	var st unix.Stat_t
	for {
		err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, Sum{}, false, err
	}
	return s.lookup(&st, rel)
}

func (s *Sums) lookup(st *unix.Stat_t, rel string) (typ byte, sum Sum, ok bool, err error) {
	fs := toFileStat(st)
	typ = kindOf(fs.mode)
	if s == nil || s.c.n == 0 || (typ != TypeFile && typ != TypeExec && typ != TypeSymlink) {
		return typ, Sum{}, false, nil
	}
	c := &s.c
	i := sort.Search(c.n, func(i int) bool { return c.path(i) >= rel })
	if i < c.n && c.path(i) == rel && c.stat(i) == fs {
		return typ, c.hash(i), true, nil
	}
	return typ, Sum{}, false, nil
}

// OpenDir opens a directory only to stat the names in it, for LstatAt;
// close it with CloseDir.
func OpenDir(path string) (int, error) {
	for {
		fd, err := unix.Open(path, statOnlyDir|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// CloseDir closes a directory OpenDir opened.
func CloseDir(fd int) error { return unix.Close(fd) }
