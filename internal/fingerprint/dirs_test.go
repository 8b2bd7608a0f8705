package fingerprint

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"
)

// requireTrustedDirTimes skips a test of kept listings on a file system
// where sysinit never keeps them.
func requireTrustedDirTimes(t *testing.T, dir string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if !trustedDirTimes(fd) {
		t.Skipf("%s is on a file system whose directory times sysinit does not trust, so it keeps no listings there", dir)
	}
}

// backdate sets the mtime of every directory under root an hour back, so
// that a change made in the same timestamp tick as the tree was written
// still gives its directory another mtime. (The scans in these tests run an
// hour on, past the racy window, so that they keep listings.)
func backdate(t *testing.T, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// nextCtimeTick returns once the file system's clock has moved past the
// ctime dir has now, so that the next change to dir gives it another ctime
// even when its mtime is put back. It polls the ctime of a scratch file.
func nextCtimeTick(t *testing.T, dir string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(t.TempDir(), "probe")
	for i := 0; ; i++ {
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var pst unix.Stat_t
		if err := unix.Stat(probe, &pst); err != nil {
			t.Fatal(err)
		}
		if pst.Ctim.Nano() > st.Ctim.Nano() {
			return
		}
		if i > 1e6 {
			t.Fatal("the file system's clock does not move")
		}
	}
}

// TestDirListingsKept: a second scan of an unchanged tree reads no
// directory, takes every listing from the cache, and gives the same
// manifests; the cache keeps the listings across MarshalBinary.
func TestDirListingsKept(t *testing.T) {
	root := t.TempDir()
	requireTrustedDirTimes(t, root)
	writeTree(t, root, map[string]string{"a/1": "1", "a/b/2": "2", "c/3": "3", ".h/4": "4", "top": "t", "link": "->a"})
	backdate(t, root)
	spec := Spec{Patterns: []string{"**", "!c/**"}}
	cold := scanOne(t, &Scanner{Root: root}, spec)

	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	first := scanOne(t, s, spec)
	if got, want := dirKeys(c), []string{"", ".h", "a", "a/b", "link", "link/b"}; s.lists != len(want) || !slices.Equal(got, want) {
		t.Fatalf("first scan read %d directories and kept the listings of %q; want %q", s.lists, got, want)
	}
	loaded := roundTrip(t, c)
	s = &Scanner{Root: root, Cache: loaded, now: laterClock(time.Hour)}
	second := scanOne(t, s, spec)
	if s.lists != 0 || s.hashed != 0 || loaded.Changed() {
		t.Errorf("second scan read %d directories, hashed %d files, changed the cache: %v; want 0, 0, false", s.lists, s.hashed, loaded.Changed())
	}
	for _, m := range []*Manifest{first, second} {
		if m.Digest != cold.Digest || !slices.Equal(m.Entries, cold.Entries) {
			t.Errorf("manifest with kept listings differs from a cold scan: %v", diff(cold, m))
		}
	}
}

// TestDirListingChanges: every way the entries of a directory can change
// is seen by a scan that holds listings of the tree as it was.
func TestDirListingChanges(t *testing.T) {
	type change struct {
		name string
		do   func(t *testing.T, root string)
	}
	p := func(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	changes := []change{
		{"add a file", func(t *testing.T, root string) { writeTree(t, root, map[string]string{"a/new": "n"}) }},
		{"add a hidden file deep down", func(t *testing.T, root string) { writeTree(t, root, map[string]string{"a/b/.new": "n"}) }},
		{"remove a file", func(t *testing.T, root string) { must(t, os.Remove(p(root, "a/1"))) }},
		{"rename in place", func(t *testing.T, root string) { must(t, os.Rename(p(root, "a/1"), p(root, "a/9"))) }},
		{"move to another directory", func(t *testing.T, root string) { must(t, os.Rename(p(root, "a/1"), p(root, "d/1"))) }},
		{"add a directory", func(t *testing.T, root string) { writeTree(t, root, map[string]string{"a/z/deep/f": "f"}) }},
		{"remove a directory", func(t *testing.T, root string) { must(t, os.RemoveAll(p(root, "a/b"))) }},
		{"a file becomes a directory", func(t *testing.T, root string) {
			must(t, os.Remove(p(root, "a/1")))
			writeTree(t, root, map[string]string{"a/1/x": "x"})
		}},
		{"a directory becomes a symlink", func(t *testing.T, root string) {
			must(t, os.RemoveAll(p(root, "a/b")))
			must(t, os.Symlink("../d", p(root, "a/b")))
		}},
		{"a linked directory is retargeted", func(t *testing.T, root string) {
			must(t, os.Remove(p(root, "link")))
			must(t, os.Symlink("d", p(root, "link")))
		}},
		{"add a file, then put the directory's times back", func(t *testing.T, root string) {
			fi, err := os.Stat(p(root, "a"))
			must(t, err)
			nextCtimeTick(t, p(root, "a"))
			writeTree(t, root, map[string]string{"a/new": "n"})
			must(t, os.Chtimes(p(root, "a"), fi.ModTime(), fi.ModTime()))
		}},
		{"a directory replaced by another of the same name and times", func(t *testing.T, root string) {
			fi, err := os.Stat(p(root, "a/b"))
			must(t, err)
			must(t, os.Rename(p(root, "a/b"), p(root, "d/old-b")))
			writeTree(t, root, map[string]string{"a/b/2": "2", "a/b/3": "3"})
			must(t, os.Chtimes(p(root, "a/b"), fi.ModTime(), fi.ModTime()))
			must(t, os.Chtimes(p(root, "a"), fi.ModTime(), fi.ModTime()))
		}},
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			root := t.TempDir()
			requireTrustedDirTimes(t, root)
			writeTree(t, root, map[string]string{"a/1": "1", "a/b/2": "2", "d/3": "3", "link": "->a"})
			backdate(t, root)
			spec := Spec{Patterns: []string{"**"}}
			c := &Cache{}
			s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
			before := scanOne(t, s, spec)
			if c.dirs.n == 0 {
				t.Fatal("the scan kept no listings")
			}
			ch.do(t, root)
			want := scanOne(t, &Scanner{Root: root}, spec)
			got := scanOne(t, s, spec)
			if got.Digest != want.Digest || !slices.Equal(got.Entries, want.Entries) {
				t.Errorf("scan with kept listings missed the change: %v", diff(want, got))
			}
			if got.Digest == before.Digest {
				t.Error("the change left the digest as it was")
			}
		})
	}
}

// TestDirListingRacy: a directory changed just before the scan is read but
// its listing is not kept, as a file is hashed but not cached: a change in
// the same timestamp tick would leave its stat equal. The scan's clock is
// set just past the racy window after the rest of the tree last changed.
func TestDirListingRacy(t *testing.T) {
	root := t.TempDir()
	requireTrustedDirTimes(t, root)
	writeTree(t, root, map[string]string{"a/1": "1", "b/2": "2"})
	backdate(t, root)
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		t.Fatal(err)
	}
	settled := st.Ctim.Nano() // backdate touched the root last
	nextCtimeTick(t, root)
	writeTree(t, root, map[string]string{"a/new": "n"}) // a is fresh now
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: func() time.Time { return time.Unix(0, settled+1).Add(racyWindow) }}
	scanOne(t, s, Spec{Patterns: []string{"**"}})
	if got := dirKeys(c); !slices.Equal(got, []string{"", "b"}) {
		t.Errorf("kept listings %q; want the root's and b's, not a's, changed just now", got)
	}
	scanOne(t, s, Spec{Patterns: []string{"**"}})
	if s.lists != 1 {
		t.Errorf("second scan read %d directories, want 1 (a)", s.lists)
	}
}

// TestTrustedDirTimes: listings are kept only on file systems known to
// keep directory times: not on /proc, say.
func TestTrustedDirTimes(t *testing.T) {
	fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer unix.Close(fd)
	if trustedDirTimes(fd) {
		t.Error("directory times on /proc are trusted")
	}
}

// TestDirListingsPruned: listings of directories that are gone stay until
// they outnumber those in use, then go in one rewrite.
func TestDirListingsPruned(t *testing.T) {
	root := t.TempDir()
	requireTrustedDirTimes(t, root)
	writeTree(t, root, map[string]string{"keep/1": "1", "gone1/x": "x", "gone2/x": "x", "gone3/x": "x"})
	backdate(t, root)
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	spec := Spec{Patterns: []string{"**"}}
	scanOne(t, s, spec)
	if got := dirKeys(c); !slices.Equal(got, []string{"", "gone1", "gone2", "gone3", "keep"}) {
		t.Fatalf("kept listings %q", got)
	}
	for _, d := range []string{"gone1", "gone2", "gone3"} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	scanOne(t, s, spec)
	if got := dirKeys(c); !slices.Equal(got, []string{"", "keep"}) {
		t.Errorf("after removing three of four directories, kept listings %q; want the root's and keep's", got)
	}
}

func dirKeys(c *Cache) []string {
	var out []string
	for i := range c.dirs.n {
		out = append(out, c.dirs.key(i))
	}
	return out
}

// TestCacheV1Loads: a cache written before listings were kept loads, with
// its hashes and no listings.
func TestCacheV1Loads(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "a", "b/c": "c"})
	c := &Cache{}
	scanOne(t, &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}, Spec{Patterns: []string{"**"}})
	// Version 1: its magic, the two counts, records, strings, checksum.
	v1 := []byte(cacheMagicV1)
	v1 = append(v1, le32(c.n)...)
	v1 = append(v1, le32(len(c.strs))...)
	v1 = append(v1, c.recs...)
	v1 = append(v1, c.strs...)
	v1 = append(v1, le64(xxh3Hash(v1))...)
	got, err := LoadCache(v1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 2 || got.dirs.n != 0 || got.hash(0) != c.hash(0) {
		t.Errorf("v1 cache loaded as %d entries and %d listings", got.Len(), got.dirs.n)
	}
	s := &Scanner{Root: root, Cache: got, now: laterClock(time.Hour)}
	scanOne(t, s, Spec{Patterns: []string{"**"}})
	if s.hashed != 0 {
		t.Errorf("scan with the v1 cache hashed %d files, want 0", s.hashed)
	}
}

func le32(n int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(n)) }

func le64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

func xxh3Hash(b []byte) uint64 { return xxh3.Hash(b) }
