package fingerprint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Directory listings: a Scan lists every directory it walks, and reading a
// directory costs the kernel several times what stat-ing it does. Creating,
// removing or renaming an entry sets the directory's mtime and ctime, and
// nothing a user can do sets a ctime back, so a directory whose (dev, inode,
// mode, size, mtime, ctime) are those it had when it was listed holds the
// entries it held then: the cache keeps each listing with that stat, and a
// later walk takes the entries from the cache when the stat matches.
//
// The stat alone does not tell one file system from another mounted since
// on the same device: an image rebuilt with every time fixed (reproducible
// builds do that) and loop-mounted where the last build was, or the next
// build flashed to the same card, has a root directory with the dev,
// inode, mode, size and times of the last one's, and other entries. So a
// listing is kept with the unique id of the mount it was read through
// (statx's STATX_MNT_ID_UNIQUE, Linux 6.8 on), which a new mount never
// reuses within a boot, hashed with the boot's id; where the kernel gives
// no such id, no listing is kept or taken. (A new boot drops every listing
// too, which also covers a clock set back at boot and what a crash's
// recovery may leave.)
//
// Three things guard that inference, as they guard the file hashes:
//   - the stat is taken before the directory is read, so a change made
//     while it is read leaves a newer stat than the one kept;
//   - a listing is kept only when the directory's mtime and ctime are
//     comfortably before the scan began (racyWindow): a change landing in
//     the same timestamp tick as the listing would leave the stat equal;
//   - it is kept only on file systems known to keep directory times this
//     way (trustedDirTimes); a network or FUSE file system may cache
//     attributes or not keep them at all, and there every directory is read.
//
// Nor is a listing kept or taken for an encrypted (fscrypt) directory:
// adding or removing its key changes every name it lists, and nothing of
// its stat.

// dirTable is the cache's directory listings, sorted by key (the
// directory's path as the walk names it: relative to the root, "" for the
// root itself; absolute for the walk of paths outside the root).
type dirTable struct {
	n    int
	recs []byte // n records of dirRecSize bytes
	data []byte // keys and listings, referenced by records
}

// Directory record layout, little-endian: key offset u32, key length u32,
// listing offset u32, listing length u32, then the stat as putStat writes
// it (dev u64, ino u64, size i64, mtime i64, ctime i64, mode u32), reserved
// u32, and the mount's id u64 (dirStat). A listing is its entries in the
// order the directory gave them, each a type byte (a d_type), the name,
// and a NUL: statAt can pass a name to the kernel where it lies.
const dirRecSize = 72

// check validates the records' offsets and listings, so that lookups and
// each may index without further checks.
func (t *dirTable) check() error {
	var prev []byte
	for i := range t.n {
		r := t.recs[i*dirRecSize:]
		for _, at := range []int{0, 8} {
			off, l := uint64(binary.LittleEndian.Uint32(r[at:])), uint64(binary.LittleEndian.Uint32(r[at+4:]))
			if off+l > uint64(len(t.data)) {
				return fmt.Errorf("directory record %d points outside its data", i)
			}
		}
		key := t.keyBytes(i)
		if i > 0 && bytes.Compare(key, prev) <= 0 {
			return fmt.Errorf("directory record %d is out of order", i)
		}
		prev = key
		if err := eachListed(t.listing(i), func([]byte, uint8) error { return nil }); err != nil {
			return fmt.Errorf("directory record %d: %w", i, err)
		}
	}
	return nil
}

func (t *dirTable) key(i int) string { return string(t.keyBytes(i)) }

func (t *dirTable) keyBytes(i int) []byte {
	r := t.recs[i*dirRecSize:]
	off, l := binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:])
	return t.data[off : off+l]
}

func (t *dirTable) listing(i int) []byte {
	r := t.recs[i*dirRecSize:]
	off, l := binary.LittleEndian.Uint32(r[8:]), binary.LittleEndian.Uint32(r[12:])
	return t.data[off : off+l]
}

func (t *dirTable) stat(i int) fileStat {
	return getStat(t.recs[i*dirRecSize+16:])
}

func (t *dirTable) mount(i int) uint64 {
	return binary.LittleEndian.Uint64(t.recs[i*dirRecSize+64:])
}

// find returns the index of key's record, or -1.
func (t *dirTable) find(key string) int {
	lo, hi := 0, t.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.keyCmp(m, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < t.n && t.keyCmp(lo, key) == 0 {
		return lo
	}
	return -1
}

// keyCmp compares record i's key with key without copying it.
func (t *dirTable) keyCmp(i int, key string) int {
	k := t.keyBytes(i)
	return strings.Compare(unsafe.String(unsafe.SliceData(k), len(k)), key)
}

var errBadListing = errors.New("malformed listing")

// eachListed calls fn for each entry of a listing, with the name followed
// by its NUL in memory, as listDir does.
func eachListed(listing []byte, fn func(name []byte, dtype uint8) error) error {
	for len(listing) > 0 {
		nul := bytes.IndexByte(listing[1:], 0) + 1
		if nul < 2 {
			return errBadListing
		}
		if err := fn(listing[1:nul], listing[0]); err != nil {
			return err
		}
		listing = listing[nul+1:]
	}
	return nil
}

// dirListing is a listing the walk read, to keep in the cache.
type dirListing struct {
	key     string
	st      fileStat
	mount   uint64
	listing []byte
}

// dirRun is what one scan's walks do with the cache's listings.
type dirRun struct {
	old *dirTable // the cache's, read-only during the walk
	// racyBefore: a directory whose mtime or ctime is at or after it is
	// listed afresh and not kept (see racyWindow).
	racyBefore int64

	mu      sync.Mutex
	trusted map[uint64]bool // by st_dev: whether directory times can be trusted there
	used    []string        // keys of the old listings the walk took
	read    []string        // keys of the directories the walk read
	fresh   []dirListing    // listings read that may be kept
}

// trust reports whether directory times on the file system of the
// directory fd (device dev) tell every change of its entries.
func (d *dirRun) trust(dev uint64, fd int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ok, seen := d.trusted[dev]
	if !seen {
		ok = trustedDirTimes(fd)
		if d.trusted == nil {
			d.trusted = map[uint64]bool{}
		}
		d.trusted[dev] = ok
	}
	return ok
}

// list calls fn for each entry of directory key, open as fd: from the
// cache when the directory's stat is the one it had when it was listed,
// else from the file system, keeping the listing when it may be trusted.
// With a cache (d set), fd may be open only to locate the directory.
func (w *walker) list(d *dirRun, key string, fd int, fn func(name []byte, dtype uint8) error) error {
	if d == nil {
		return listDir(fd, w.dents, fn)
	}
	keep := false
	st, mount, ok := dirStat(fd)
	if ok {
		if i := d.old.find(key); i >= 0 && d.old.stat(i) == st && d.old.mount(i) == mount {
			w.dirsUsed = append(w.dirsUsed, key)
			return eachListed(d.old.listing(i), fn)
		}
		keep = st.mtime < d.racyBefore && st.ctime < d.racyBefore && d.trust(st.dev, fd)
	}
	w.dirsRead = append(w.dirsRead, key)
	if statOnlyDir != unix.O_RDONLY {
		// fd only locates the directory (O_PATH); reading takes a
		// descriptor opened for it.
		rfd, err := openDirAt(fd, ".", unix.O_RDONLY)
		if err == unix.EACCES {
			// "." is a lookup in the directory, which needs its search
			// permission; listing it needs only the read permission,
			// which is all reopening the descriptor through /proc asks
			// (a directory mode 0644 lists, as it did opened by name).
			if pfd, perr := openDirAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY); perr == nil {
				rfd, err = pfd, nil
			}
		}
		if err != nil {
			return err
		}
		defer unix.Close(rfd)
		fd = rfd
	}
	w.rec = w.rec[:0]
	err := listDir(fd, w.dents, func(name []byte, dtype uint8) error {
		if keep {
			w.rec = append(append(append(w.rec, dtype), name...), 0)
		}
		return fn(name, dtype)
	})
	if err == nil && keep {
		w.dirsFresh = append(w.dirsFresh, dirListing{key: key, st: st, mount: mount, listing: slices.Clone(w.rec)})
	}
	return err
}

// collect takes in what walker w did with the listings.
func (d *dirRun) collect(w *walker) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.used = append(d.used, w.dirsUsed...)
	d.read = append(d.read, w.dirsRead...)
	d.fresh = append(d.fresh, w.dirsFresh...)
}

// saveDirs rewrites c's listings after the walks of runs when there are
// listings to keep: those read afresh replace the old ones of their
// directories (a directory read but not kept, changed just now, loses
// its old listing), and the old listings the walks took stay. Listings of
// directories no walk entered (gone, or walked by another set of specs)
// stay too, until they outnumber those in use: then they go. An old
// listing that no longer matches its directory can never be taken again
// (its ctime would have to go back), so it alone is not worth a rewrite.
func (c *Cache) saveDirs(runs ...*dirRun) {
	var used, read []string
	var fresh []dirListing
	for _, d := range runs {
		if d != nil {
			used, read, fresh = append(used, d.used...), append(read, d.read...), append(fresh, d.fresh...)
		}
	}
	t := &c.dirs
	replaced := 0
	for _, k := range read {
		if t.find(k) >= 0 {
			replaced++
		}
	}
	idle := t.n - len(used) - replaced
	prune := idle > len(used)+len(fresh)
	if len(fresh) == 0 && !prune {
		return
	}
	slices.Sort(used)
	slices.Sort(read)
	all := fresh
	for i := range t.n {
		k := t.key(i)
		_, isUsed := slices.BinarySearch(used, k)
		_, isRead := slices.BinarySearch(read, k)
		if isRead || !isUsed && prune {
			continue
		}
		all = append(all, dirListing{key: k, st: t.stat(i), mount: t.mount(i), listing: t.listing(i)})
	}
	slices.SortFunc(all, func(a, b dirListing) int { return strings.Compare(a.key, b.key) })
	all = slices.CompactFunc(all, func(a, b dirListing) bool { return a.key == b.key })
	var nt dirTable
	nt.recs = make([]byte, 0, len(all)*dirRecSize)
	for _, l := range all {
		var r [dirRecSize]byte
		binary.LittleEndian.PutUint32(r[0:], uint32(len(nt.data)))
		binary.LittleEndian.PutUint32(r[4:], uint32(len(l.key)))
		nt.data = append(nt.data, l.key...)
		binary.LittleEndian.PutUint32(r[8:], uint32(len(nt.data)))
		binary.LittleEndian.PutUint32(r[12:], uint32(len(l.listing)))
		nt.data = append(nt.data, l.listing...)
		putStat(r[16:], l.st)
		binary.LittleEndian.PutUint64(r[64:], l.mount)
		nt.recs = append(nt.recs, r[:]...)
		nt.n++
	}
	c.dirs, c.changed = nt, true
}

// openDirAt opens directory name in dirfd with flags, retrying on EINTR.
func openDirAt(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
