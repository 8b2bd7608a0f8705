package fingerprint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/fingerprint/internal/treegen"
)

// Each test here is one way a change detector wrongly says "up to date"
// (see shared/reference/false-skips.md): it makes a change and requires both a
// different digest and a Diff naming the change, with and without a cache.

func requireChange(t *testing.T, before, after *Manifest, want ...Change) {
	t.Helper()
	if before.Digest == after.Digest {
		t.Errorf("digest unchanged (%s)", before.Digest)
	}
	if got := diff(before, after); !slices.Equal(got, want) {
		t.Errorf("Diff = %v, want %v", got, want)
	}
	data, err := before.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DiffEncoded(data, after); err != nil || !slices.Equal(got, want) {
		t.Errorf("DiffEncoded = %v, %v; want %v", got, err, want)
	}
}

// scanners returns, each on its own new root, a cold scanner and a warm one
// whose cache trusts everything on disk now (its clock runs an hour ahead).
func scanners(t *testing.T) map[string]*Scanner {
	return map[string]*Scanner{
		"cold": {Root: t.TempDir()},
		"warm": {Root: t.TempDir(), Cache: &Cache{}, now: laterClock(time.Hour)},
	}
}

func TestMoveBetweenDirectoriesChangesDigest(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			writeTree(t, s.Root, map[string]string{"src/a/z": "z", "src/aa/": ""})
			spec := Spec{Patterns: []string{"src/**"}}
			before := scanOne(t, s, spec)
			if err := os.Rename(filepath.Join(s.Root, "src/a/z"), filepath.Join(s.Root, "src/aa/z")); err != nil {
				t.Fatal(err)
			}
			requireChange(t, before, scanOne(t, s, spec),
				Change{"src/a/z", ChangeRemoved}, Change{"src/aa/z", ChangeAdded})
		})
	}
}

func TestChmodExecChangesDigest(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			writeTree(t, s.Root, map[string]string{"run.sh": "#!/bin/sh"})
			spec := Spec{Patterns: []string{"**"}}
			before := scanOne(t, s, spec)
			if err := os.Chmod(filepath.Join(s.Root, "run.sh"), 0o744); err != nil {
				t.Fatal(err)
			}
			after := scanOne(t, s, spec)
			requireChange(t, before, after, Change{"run.sh", ChangeModified})
			if after.Entries[0].Type != TypeExec {
				t.Errorf("type %q, want %q", after.Entries[0].Type, TypeExec)
			}
		})
	}
}

func TestSymlinkRetargetChangesDigest(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			// Same-length targets, same file contents: only the target differs.
			writeTree(t, s.Root, map[string]string{"l": "->t1", "t1": "same", "t2": "same"})
			spec := Spec{Patterns: []string{"l"}}
			before := scanOne(t, s, spec)
			p := filepath.Join(s.Root, "l")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("t2", p); err != nil {
				t.Fatal(err)
			}
			requireChange(t, before, scanOne(t, s, spec), Change{"l", ChangeModified})
		})
	}
}

// TestListedFileAppearsAndDisappears: a listed file that does not exist is
// recorded (so its appearance changes the digest) but reads as absent: it
// is "added" when it appears and "removed" when it goes, never "modified".
func TestListedFileAppearsAndDisappears(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			spec := Spec{Files: []string{"flake.lock", "sub/dir/new.nix"}}
			before := scanOne(t, s, spec)
			writeTree(t, s.Root, map[string]string{"sub/dir/new.nix": "{}"})
			appeared := scanOne(t, s, spec)
			requireChange(t, before, appeared, Change{"sub/dir/new.nix", ChangeAdded})
			if err := os.RemoveAll(filepath.Join(s.Root, "sub")); err != nil {
				t.Fatal(err)
			}
			requireChange(t, appeared, scanOne(t, s, spec), Change{"sub/dir/new.nix", ChangeRemoved})
		})
	}
}

// TestStateInsideInputs: the state dir under a "**" input must never be part
// of the digest, or every run would see its own writes as a change.
func TestStateInsideInputs(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, ".sysinit")
	writeTree(t, root, map[string]string{"a": "a", ".sysinit/state.db": "1"})
	s := &Scanner{Root: root, Ignore: []string{state}, Cache: &Cache{}}
	spec := Spec{Patterns: []string{"**"}}
	before := scanOne(t, s, spec)
	writeTree(t, root, map[string]string{".sysinit/state.db": "2", ".sysinit/new": "n"})
	after := scanOne(t, s, spec)
	if before.Digest != after.Digest || !slices.Equal(paths(after), []string{"a"}) {
		t.Errorf("state changes leaked into the inputs: %q", paths(after))
	}
}

// TestSameSizeEdits: content edits that keep the size, with and without
// restoring the mtime, seen by a warm cache.
func TestSameSizeEdits(t *testing.T) {
	for _, restoreMtime := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "touch -r"}[restoreMtime], func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, "f")
			writeTree(t, root, map[string]string{"f": "aaaa"})
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
			// The cache was built long ago: the racy rule has nothing to say,
			// only the stat key can catch the edit.
			s := &Scanner{Root: root, Cache: &Cache{}, now: laterClock(time.Hour)}
			spec := Spec{Patterns: []string{"**"}}
			before := scanOne(t, s, spec)
			if s.Cache.Len() != 1 {
				t.Fatalf("cache has %d entries, want 1", s.Cache.Len())
			}
			// Let the coarse kernel clock that stamps ctime tick.
			time.Sleep(20 * time.Millisecond)
			if err := os.WriteFile(p, []byte("bbbb"), 0o644); err != nil {
				t.Fatal(err)
			}
			if restoreMtime {
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
			after := scanOne(t, s, spec)
			requireChange(t, before, after, Change{"f", ChangeModified})
			if s.hashed != 1 {
				t.Errorf("hashed %d files, want 1", s.hashed)
			}
		})
	}
}

// TestRacyFilesAreNotTrusted: a file modified within racyWindow of the scan
// is hashed but not cached, so a same-size edit in the same timestamp tick
// (which no stat field would show on a coarse filesystem) is still seen.
func TestRacyFilesAreNotTrusted(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"fresh": "aaaa", "old": "old"})
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(root, "old"), past, past); err != nil {
		t.Fatal(err)
	}
	// Pin "now" to the files' own time, as if the scan ran the instant after
	// they were written; "old" has an old mtime but a fresh ctime, so it is
	// racy too.
	st, err := os.Stat(filepath.Join(root, "fresh"))
	if err != nil {
		t.Fatal(err)
	}
	clock := st.ModTime()
	s := &Scanner{Root: root, Cache: &Cache{}, now: func() time.Time { return clock }}
	spec := Spec{Patterns: []string{"**"}}
	first := scanOne(t, s, spec)
	if s.hashed != 2 || s.Cache.Len() != 0 || s.Cache.Changed() {
		t.Fatalf("first scan: hashed %d, cached %d, changed %v; want 2, 0, false", s.hashed, s.Cache.Len(), s.Cache.Changed())
	}
	// Still within the window: hashed again, still not cached.
	clock = clock.Add(racyWindow - time.Millisecond)
	scanOne(t, s, spec)
	if s.hashed != 2 || s.Cache.Len() != 0 {
		t.Fatalf("inside the window: hashed %d, cached %d; want 2, 0", s.hashed, s.Cache.Len())
	}
	// Past the window: cached, and trusted from then on.
	clock = clock.Add(time.Hour)
	second := scanOne(t, s, spec)
	if s.hashed != 2 || s.Cache.Len() != 2 || !s.Cache.Changed() {
		t.Fatalf("past the window: hashed %d, cached %d, changed %v; want 2, 2, true", s.hashed, s.Cache.Len(), s.Cache.Changed())
	}
	third := scanOne(t, s, spec)
	if s.hashed != 0 {
		t.Fatalf("trusted scan hashed %d files, want 0", s.hashed)
	}
	if first.Digest != second.Digest || second.Digest != third.Digest {
		t.Error("digests differ between cold, racy and warm scans of the same tree")
	}
}

// TestSameSecondEditRealClock: write, scan, rewrite with the same size at
// once, scan: seen, whatever the timestamp granularity.
func TestSameSecondEditRealClock(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "f")
	s := &Scanner{Root: root, Cache: &Cache{}}
	spec := Spec{Patterns: []string{"f"}}
	writeTree(t, root, map[string]string{"f": "v1"})
	fi, _ := os.Stat(p)
	before := scanOne(t, s, spec)
	if err := os.WriteFile(p, []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	requireChange(t, before, scanOne(t, s, spec), Change{"f", ChangeModified})
}

func TestColdAndWarmAgree(t *testing.T) {
	root := t.TempDir()
	if err := treegen.Generate(root, 800); err != nil {
		t.Fatal(err)
	}
	specs := []Spec{
		{Patterns: []string{"**"}},
		{Patterns: []string{"modules/**"}},
		{Patterns: []string{"**/*.conf"}},
		{Patterns: []string{"scripts/**", "!scripts/*.tmp"}, Files: []string{"flake.lock", "nope"}},
	}
	scan := func(s *Scanner) []*Manifest {
		t.Helper()
		ms, err := s.Scan(context.Background(), specs)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	cold := scan(&Scanner{Root: root, workers: 1})
	c := &Cache{}
	warmer := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	scan(warmer)
	loaded := roundTrip(t, c)
	warm := &Scanner{Root: root, Cache: loaded, workers: 5, now: laterClock(time.Hour)}
	got := scan(warm)
	if warm.hashed != 0 || loaded.Changed() {
		t.Errorf("warm scan hashed %d files, changed %v; want 0, false", warm.hashed, loaded.Changed())
	}
	for i := range specs {
		if cold[i].Digest != got[i].Digest || !slices.Equal(cold[i].Entries, got[i].Entries) {
			t.Errorf("spec %d: cold and warm manifests differ: %v", i, diff(cold[i], got[i]))
		}
	}
}

// TestCacheAcrossSpecs: a scan of some specs keeps the cache entries of
// others, and drops entries of its own files that are gone.
func TestCacheAcrossSpecs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/1": "1", "a/2": "2", "b/1": "1", "b/2": "2"})
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	a, b := Spec{Patterns: []string{"a/**"}}, Spec{Patterns: []string{"b/**"}}
	if _, err := s.Scan(context.Background(), []Spec{a, b}); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 4 {
		t.Fatalf("cache has %d entries, want 4", c.Len())
	}
	c.changed = false
	scanOne(t, s, a)
	if c.Len() != 4 || c.Changed() || s.hashed != 0 {
		t.Errorf("scan of a alone: %d entries, changed %v, hashed %d; want 4, false, 0", c.Len(), c.Changed(), s.hashed)
	}
	if err := os.Remove(filepath.Join(root, "a/2")); err != nil {
		t.Fatal(err)
	}
	// One stale entry is not worth rewriting the cache for: it can never
	// hit again. The next rewrite, when a hash is stored, prunes it. (The
	// scan runs now, not an hour on, so that directory a, just changed,
	// is too recent to keep its listing, which would rewrite the cache.)
	scanOne(t, &Scanner{Root: root, Cache: c}, a)
	if c.Len() != 4 || c.Changed() {
		t.Errorf("after removing a/2: %d entries, changed %v; want 4 (a/2 left stale), false", c.Len(), c.Changed())
	}
	writeTree(t, root, map[string]string{"a/3": "3"})
	scanOne(t, s, a)
	if c.Len() != 4 || !c.Changed() || slices.Contains(cachePaths(c), "a/2") {
		t.Errorf("after adding a/3: entries %q, changed %v; want a/2 pruned", cachePaths(c), c.Changed())
	}
	scanOne(t, s, b)
	if s.hashed != 0 {
		t.Errorf("b's entries were lost: hashed %d", s.hashed)
	}
}

func TestCacheRoundTripAndCorruption(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"x": "x", "y/z": "z", "l": "->x"})
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	scanOne(t, s, Spec{Patterns: []string{"**"}})
	data, err := c.MarshalBinary()
	if err != nil || len(data) == 0 {
		t.Fatalf("MarshalBinary: %d bytes, %v", len(data), err)
	}
	got, err := LoadCache(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < c.Len(); i++ {
		if got.path(i) != c.path(i) || got.stat(i) != c.stat(i) || got.hash(i) != c.hash(i) {
			t.Errorf("record %d differs after a round trip", i)
		}
	}
	if again, _ := got.MarshalBinary(); !bytes.Equal(again, data) {
		t.Error("re-marshalled cache differs")
	}
	if empty, err := LoadCache(nil); err != nil || empty.Len() != 0 {
		t.Errorf("LoadCache(nil) = %d entries, %v", empty.Len(), err)
	}
	corrupt := map[string][]byte{
		"truncated":     data[:len(data)-1],
		"header only":   data[:cacheHeader],
		"wrong magic":   append([]byte("XXXXXXXX"), data[8:]...),
		"newer version": append(append([]byte(cacheMagic[:7]), cacheMagic[7]+1), data[8:]...),
		"trailing byte": append(slices.Clone(data), 0),
		"garbage":       []byte("not a cache at all, but long enough"),
	}
	for i := 8; i < len(data); i += 7 {
		flipped := slices.Clone(data)
		flipped[i] ^= 0x10
		corrupt["flip "+string(rune('0'+i%10))+"@"+strings.Repeat("|", i/7)] = flipped
	}
	for name, d := range corrupt {
		if _, err := LoadCache(d); err == nil {
			t.Errorf("%s: LoadCache accepted corrupt data", name)
		}
	}
}

// TestUnreadable: a file or directory the scan cannot read fails the scan
// instead of dropping out of the input set. Permissions do not stop root, so
// as root the check runs in a child process as nobody.
func TestUnreadable(t *testing.T) {
	base, err := os.MkdirTemp("", "fp-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(base, "closed"), 0o755); _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, base, map[string]string{"ok": "ok", "secret": "s", "closed/x": "x"})
	// A cache built while everything was readable must not paper over it.
	cache := &Cache{}
	scanOne(t, &Scanner{Root: base, Cache: cache, now: laterClock(time.Hour)}, Spec{Patterns: []string{"**"}})
	cacheData, err := cache.MarshalBinary()
	if err != nil || cache.Len() != 3 {
		t.Fatalf("building the cache: %d entries, %v", cache.Len(), err)
	}
	cacheFile := base + ".cache"
	if err := os.WriteFile(cacheFile, cacheData, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(cacheFile) })
	if err := os.Chmod(filepath.Join(base, "secret"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(base, "closed"), 0); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, pattern, cache string }{
		{"file", "secret", ""},
		{"directory", "closed/**", ""},
		{"file, warm cache", "secret", cacheFile},
		{"directory, warm cache", "closed/**", cacheFile},
	}
	if os.Geteuid() != 0 {
		for _, c := range cases {
			if err := unreadableScan(base, c.pattern, c.cache); err == nil {
				t.Errorf("%s: Scan succeeded on an unreadable input", c.name)
			}
		}
		return
	}
	for _, c := range cases {
		name := c.name
		out, err := asNobody(t, base, "TestUnreadableHelper", "FP_UNREADABLE_ROOT="+base, "FP_UNREADABLE_PATTERN="+c.pattern, "FP_UNREADABLE_CACHE="+c.cache)
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		} else if !strings.Contains(string(out), "permission denied") || !strings.Contains(string(out), "--- PASS: TestUnreadableHelper") {
			t.Errorf("%s: helper did not report the error:\n%s", name, out)
		} else {
			t.Logf("%s: %s", name, bytes.TrimSpace(out))
		}
	}
}

// TestUnreadableHelper is TestUnreadable's child process.
func TestUnreadableHelper(t *testing.T) {
	root := os.Getenv("FP_UNREADABLE_ROOT")
	if root == "" {
		t.Skip("helper process for TestUnreadable; runs only when it sets FP_UNREADABLE_ROOT")
	}
	err := unreadableScan(root, os.Getenv("FP_UNREADABLE_PATTERN"), os.Getenv("FP_UNREADABLE_CACHE"))
	if err == nil {
		t.Fatal("Scan succeeded on an unreadable input")
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("got %v, want a permission error", err)
	}
	t.Log(err)
}

func unreadableScan(root, pattern, cacheFile string) error {
	s := &Scanner{Root: root, now: laterClock(time.Hour)}
	if cacheFile != "" {
		data, err := os.ReadFile(cacheFile)
		if err != nil {
			return err
		}
		if s.Cache, err = LoadCache(data); err != nil {
			return err
		}
	}
	_, err := s.Scan(context.Background(), []Spec{{Patterns: []string{pattern}}})
	return err
}

// TestCacheDropsIgnored: entries cached before a path became ignored are
// dropped, not carried forever.
func TestCacheDropsIgnored(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "a", "state/x": "x"})
	c := &Cache{}
	spec := Spec{Patterns: []string{"a"}}
	scanOne(t, &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}, Spec{Patterns: []string{"**"}})
	scanOne(t, &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}, spec)
	if c.Len() != 2 {
		t.Fatalf("out-of-scope entry should be kept: %d entries", c.Len())
	}
	writeTree(t, root, map[string]string{"a": "changed"})
	scanOne(t, &Scanner{Root: root, Cache: c, Ignore: []string{filepath.Join(root, "state")}, now: laterClock(time.Hour)}, spec)
	if c.Len() != 1 || c.path(0) != "a" {
		t.Errorf("ignored entry kept: %d entries", c.Len())
	}
}

// TestCachePrunesManyStale: stale entries are left in place only while
// they are few; past staleKept, a scan rewrites the cache without them
// even when it stores nothing new.
func TestCachePrunesManyStale(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("f%02d", i)] = "x"
	}
	writeTree(t, root, files)
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	spec := Spec{Patterns: []string{"**"}}
	scanOne(t, s, spec)
	c.changed = false
	for i := range staleKept(40) + 1 {
		if err := os.Remove(filepath.Join(root, fmt.Sprintf("f%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	scanOne(t, s, spec)
	if want := 40 - staleKept(40) - 1; c.Len() != want || !c.Changed() {
		t.Errorf("after removing %d files: %d entries, changed %v; want %d, true", staleKept(40)+1, c.Len(), c.Changed(), want)
	}
}

func cachePaths(c *Cache) []string {
	var out []string
	for i := range c.Len() {
		out = append(out, c.path(i))
	}
	return out
}

// countdownCtx reports cancellation after its Err has been asked n times, to
// stop a scan in the middle of its walk or its hashing.
type countdownCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestCancelMidScan: a scan stopped part way returns the cancellation, and
// leaves no directory open.
func TestCancelMidScan(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to count open files:", err)
	}
	root := t.TempDir()
	if err := treegen.Generate(root, 300); err != nil {
		t.Fatal(err)
	}
	openFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := openFDs()
	for _, after := range []int64{1, 3, 10, 30, 60, 100} {
		ctx := &countdownCtx{Context: context.Background()}
		ctx.n.Store(after)
		// Cold, so cancellation can land in the walk or in the hashing.
		_, err := (&Scanner{Root: root, Cache: &Cache{}}).Scan(ctx, []Spec{{Patterns: []string{"**"}}, {Files: []string{"flake.lock"}}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancel after %d checks: got %v, want context.Canceled", after, err)
		}
	}
	if _, err := (&Scanner{Root: root}).Scan(context.Background(), []Spec{{Patterns: []string{"**"}}}); err != nil {
		t.Fatal(err)
	}
	if got := openFDs(); got != before {
		t.Errorf("%d open files after scans, %d before", got, before)
	}
}

// TestBackgroundScanAgrees: a background scan (yielding system calls) sees
// exactly what a foreground one does.
func TestBackgroundScanAgrees(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "1", "b/c": "2", "b/d/e": "3"})
	specs := []Spec{{Patterns: []string{"**"}}, {Files: []string{"a", "b/d/e", "missing"}}}
	fg, err := (&Scanner{Root: root}).Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	bg, err := (&Scanner{Root: root, Background: true}).Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		if fg[i].Digest != bg[i].Digest || len(bg[i].Entries) == 0 {
			t.Errorf("spec %d: background %v, foreground %v", i, paths(bg[i]), paths(fg[i]))
		}
	}
}

// TestFileGoneBeforeHashing: a file the walk listed that is gone when it
// is read (a lock file git removes, an editor's temp file) is left out as
// if the walk had not seen it — but stays, missing, where it is listed by
// name. It fails nothing, and no other spec's entries change.
func TestFileGoneBeforeHashing(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			writeTree(t, s.Root, map[string]string{"a": "a", "lock": "l", "listed": "x", "link": "->a", "keep": "k"})
			specs := []Spec{{Patterns: []string{"**"}}, {Files: []string{"listed", "keep"}}, {Patterns: []string{"*"}, Files: []string{"listed"}}}
			s.beforeHash = func() {
				for _, n := range []string{"lock", "listed", "link"} {
					if err := os.Remove(filepath.Join(s.Root, n)); err != nil {
						t.Fatal(err)
					}
				}
			}
			ms, err := s.Scan(context.Background(), specs)
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"a", "keep"}, {"keep", "listed"}, {"a", "keep", "listed"}}
			for i, m := range ms {
				checkSorted(t, m)
				if got := paths(m); !slices.Equal(got, want[i]) {
					t.Errorf("spec %d: got %q, want %q", i, got, want[i])
				}
				for _, e := range m.Entries {
					if e.Path == "listed" && e.Type != TypeMissing {
						t.Errorf("spec %d: listed has type %q, want missing", i, e.Type)
					}
				}
			}
			s.beforeHash = nil
			again, err := s.Scan(context.Background(), specs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range ms {
				if again[i].Digest != ms[i].Digest {
					t.Errorf("spec %d: a scan after the files went differs: %v", i, diff(ms[i], again[i]))
				}
			}
		})
	}
}

// TestSymlinkTargetChangesDigest: a symlinked input is read through by
// whatever uses it, so the content it leads to is part of it — not only
// its target string. An edit of the file it leads to (outside the repo,
// same size), and a link further down the chain pointed elsewhere (a
// profile link repointed, as home-manager does: ~/.config/x ->
// …-home-manager-files/x -> /nix/store/…-x), are changes, with and
// without a cache.
func TestSymlinkTargetChangesDigest(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			writeTree(t, out, map[string]string{"x1": "one", "x2": "two", "mid": "->x1"})
			link := filepath.Join(s.Root, "cfg")
			if err := os.Symlink(filepath.Join(out, "mid"), link); err != nil {
				t.Fatal(err)
			}
			spec := Spec{Patterns: []string{"cfg"}}
			before := scanOne(t, s, spec)
			if again := scanOne(t, s, spec); again.Digest != before.Digest {
				t.Fatalf("nothing changed, yet the digest did")
			}

			// Repoint the link in the middle of the chain.
			mid := filepath.Join(out, "mid")
			if err := os.Remove(mid); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("x2", mid); err != nil {
				t.Fatal(err)
			}
			repointed := scanOne(t, s, spec)
			requireChange(t, before, repointed, Change{"cfg", ChangeModified})

			// Edit the file at the end of the chain, keeping its size.
			if err := os.WriteFile(filepath.Join(out, "x2"), []byte("TWO"), 0o644); err != nil {
				t.Fatal(err)
			}
			requireChange(t, repointed, scanOne(t, s, spec), Change{"cfg", ChangeModified})
		})
	}
}

// TestSymlinkChainThroughNixStore: the home-manager chain with real store
// paths: a link in the repo leads to a profile-like link outside it, which
// leads into /nix/store. Pointing the profile at another store path is a
// change, though the repo's link is untouched.
func TestSymlinkChainThroughNixStore(t *testing.T) {
	nixStore, err := exec.LookPath("nix-store")
	if err != nil {
		t.Skip("nix-store is not installed")
	}
	src := t.TempDir()
	var paths []string
	for _, content := range []string{"generation one\n", "generation two\n"} {
		f := filepath.Join(src, "x")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(nixStore, "--add", f).Output()
		if err != nil {
			t.Skipf("nix-store --add: %v", err)
		}
		paths = append(paths, strings.TrimSpace(string(out)))
	}
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			profile := filepath.Join(t.TempDir(), "home-files-x")
			if err := os.Symlink(paths[0], profile); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(profile, filepath.Join(s.Root, "x")); err != nil {
				t.Fatal(err)
			}
			spec := Spec{Patterns: []string{"x"}}
			before := scanOne(t, s, spec)
			if err := os.Remove(profile); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(paths[1], profile); err != nil {
				t.Fatal(err)
			}
			requireChange(t, before, scanOne(t, s, spec), Change{"x", ChangeModified})
		})
	}
}

// TestStoreDirLinkingOutChangesDigest (trap S1): a store directory can hold
// links that lead out of the store — home-manager's home-files holds links
// to mkOutOfStoreSymlink paths, themselves links to ~/dotfiles/…. A link in
// the repo to such a directory reaches, through it, files that change: an
// edit there is a change, whether the way out is a link in the directory
// itself, one in a store path it links to, or one deeper down.
func TestStoreDirLinkingOutChangesDigest(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			testStoreDirLinkingOut(t, s)
		})
	}
}

func testStoreDirLinkingOut(t *testing.T, s *Scanner) {
	// Each run edits files of its own.
	dotfiles := t.TempDir()
	writeTree(t, dotfiles, map[string]string{"foo": "one", "bar": "uno", "baz/qux": "eins"})
	// The mkOutOfStoreSymlink shape: a store path that is itself a link
	// out.
	outLink := filepath.Join(t.TempDir(), "hm_bar")
	must(t, os.Symlink(filepath.Join(dotfiles, "bar"), outLink))
	hmBar := storeAdd(t, outLink)

	src := filepath.Join(t.TempDir(), "home-files")
	writeTree(t, src, map[string]string{
		"plain":       "same",
		"foo":         "->" + filepath.Join(dotfiles, "foo"),
		"bar":         "->" + hmBar,
		"deep/dir/ln": "->" + filepath.Join(dotfiles, "baz"),
	})
	homeFiles := storeAdd(t, src)

	must(t, os.Symlink(homeFiles, filepath.Join(s.Root, "hf")))
	spec := Spec{Patterns: []string{"**"}}
	before := scanOne(t, s, spec)
	if again := scanOne(t, s, spec); again.Digest != before.Digest {
		t.Fatalf("nothing changed, yet the digest did")
	}
	// Same sizes: only the content tells.
	for _, c := range []struct{ file, content, path string }{
		{"foo", "two", "hf/foo"},
		{"bar", "dos", "hf/bar"},
		{"baz/qux", "zwei", "hf/deep/dir/ln/qux"},
	} {
		must(t, os.WriteFile(filepath.Join(dotfiles, c.file), []byte(c.content), 0o644))
		after := scanOne(t, s, spec)
		requireChange(t, before, after, Change{c.path, ChangeModified})
		before = after
	}
}

// TestStoreLinkHopRetargetChangesDigest: a link in the repo leads to a
// store directory through a link outside the store (a profile). Pointing
// the profile at another store directory is a change, though the repo's
// link is untouched and both directories never change.
func TestStoreLinkHopRetargetChangesDigest(t *testing.T) {
	var dirs []string
	for _, content := range []string{"generation one\n", "generation two\n"} {
		d := filepath.Join(t.TempDir(), "pkg")
		writeTree(t, d, map[string]string{"share/x": content})
		dirs = append(dirs, storeAdd(t, d))
	}
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			profile := filepath.Join(t.TempDir(), "profile")
			must(t, os.Symlink(dirs[0], profile))
			must(t, os.Symlink(profile, filepath.Join(s.Root, "p")))
			spec := Spec{Patterns: []string{"p"}}
			before := scanOne(t, s, spec)
			if again := scanOne(t, s, spec); again.Digest != before.Digest {
				t.Fatalf("nothing changed, yet the digest did")
			}
			must(t, os.Remove(profile))
			must(t, os.Symlink(dirs[1], profile))
			requireChange(t, before, scanOne(t, s, spec), Change{"p", ChangeModified})
		})
	}
}

// TestListableNotSearchable: a directory its user may list but not search
// (mode 0644, as `chmod -R 644` leaves directories) holds nothing the
// scan needs to stat when no pattern selects its entries: the scan reads
// its names and goes on, with a cache as without one. With a cache the
// walk opens directories O_PATH, and reopening one through "." needs the
// search permission that listing it does not. Permissions do not stop
// root, so as root the check runs in a child process as nobody.
func TestListableNotSearchable(t *testing.T) {
	base, err := os.MkdirTemp("", "fp-nosearch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(base, "docs"), 0o755); _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, base, map[string]string{"main.conf": "m", "docs/README": "r"})
	if err := os.Chmod(filepath.Join(base, "docs"), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := listableScans(base); err != nil {
			t.Error(err)
		}
		return
	}
	out, err := asNobody(t, base, "TestListableNotSearchableHelper", "FP_NOSEARCH_ROOT="+base)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestListableNotSearchableHelper") {
		t.Errorf("as nobody: %v\n%s", err, out)
	}
}

// TestListableNotSearchableHelper is TestListableNotSearchable's child
// process.
func TestListableNotSearchableHelper(t *testing.T) {
	root := os.Getenv("FP_NOSEARCH_ROOT")
	if root == "" {
		t.Skip("helper process for TestListableNotSearchable; runs only when it sets FP_NOSEARCH_ROOT")
	}
	if err := listableScans(root); err != nil {
		t.Fatal(err)
	}
}

// listableScans scans root cold, then with a cache twice (the second
// taking the listings the first kept), and wants the same digest each time.
func listableScans(root string) error {
	specs := []Spec{{Patterns: []string{"**/*.conf"}}}
	cold, err := (&Scanner{Root: root}).Scan(context.Background(), specs)
	if err != nil {
		return fmt.Errorf("cold scan: %w", err)
	}
	s := &Scanner{Root: root, Cache: &Cache{}, now: laterClock(time.Hour)}
	for i := range 2 {
		m, err := s.Scan(context.Background(), specs)
		if err != nil {
			return fmt.Errorf("scan %d with a cache: %w", i+1, err)
		}
		if m[0].Digest != cold[0].Digest {
			return fmt.Errorf("scan %d with a cache: digest differs from the cold scan's", i+1)
		}
	}
	return nil
}

// asNobody runs the test helper of this binary as nobody, with env added,
// and returns its output. The test binary's own directory is closed to
// nobody: it runs a copy, beside base.
func asNobody(t *testing.T, base, helper string, env ...string) ([]byte, error) {
	t.Helper()
	bin := base + ".test"
	if _, err := os.Stat(bin); err != nil {
		self, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, self, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(bin) })
	}
	cmd := exec.Command(bin, "-test.run=^"+helper+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd.CombinedOutput()
}
