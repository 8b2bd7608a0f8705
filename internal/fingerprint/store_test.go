package fingerprint

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storeAdd copies path (a file, directory or symlink) into the real nix
// store with nix-store --add and returns its store path. It skips without
// nix-store, or fails when SYSINIT_REQUIRE_NIX=1.
func storeAdd(t testing.TB, path string) string {
	t.Helper()
	bin, err := exec.LookPath("nix-store")
	if err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix-store not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skip("nix-store is not installed")
	}
	out, err := exec.Command(bin, "--add", path).Output()
	if err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix-store --add %s: %v", path, err)
		}
		t.Skipf("nix-store --add %s: %v", path, err)
	}
	p := strings.TrimSpace(string(out))
	if _, ok := storeObject(p); !ok {
		// A store elsewhere: links into it are followed like any.
		t.Skipf("store path %s is not in %s", p, nixStore)
	}
	return p
}

// TestStoreDirCheckedOnce: whether a store path has links leading out is
// decided once and kept in the stat cache: a later scan, by a new Scanner
// with the cache as the state store keeps it, walks no store path again.
// A store path whose links all stay in the store is not followed: its
// link's target names its content, as before.
func TestStoreDirCheckedOnce(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other")
	writeTree(t, other, map[string]string{"f": "content"})
	otherPath := storeAdd(t, other)
	src := filepath.Join(t.TempDir(), "pkg")
	writeTree(t, src, map[string]string{
		"bin/tool":  "#!/bin/sh",
		"lib/a":     "a",
		"lib/rel":   "->a",
		"lib/up":    "->../bin",
		"share/dep": "->" + otherPath,
		"share/f":   "->" + otherPath + "/f",
	})
	pkg := storeAdd(t, src)
	outside := filepath.Join(t.TempDir(), "pkg2")
	writeTree(t, outside, map[string]string{"cfg": "->/etc/hostname"})
	leaky := storeAdd(t, outside)

	root := t.TempDir()
	must(t, os.Symlink(pkg, filepath.Join(root, "pkg")))
	must(t, os.Symlink(leaky, filepath.Join(root, "leaky")))
	spec := Spec{Patterns: []string{"**"}}
	s := &Scanner{Root: root, Cache: &Cache{}, now: laterClock(time.Hour)}
	first := scanOne(t, s, spec)
	if s.storeChecks == 0 {
		t.Fatalf("first scan checked no store path")
	}
	var paths []string
	for _, e := range first.Entries {
		paths = append(paths, e.Path)
	}
	if got, want := strings.Join(paths, " "), "leaky leaky/cfg pkg"; got != want {
		t.Errorf("entries %q, want %q: the store path with a link out is followed, the other not", got, want)
	}

	data, err := s.Cache.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCache(data)
	if err != nil {
		t.Fatal(err)
	}
	s2 := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	second := scanOne(t, s2, spec)
	if s2.storeChecks != 0 {
		t.Errorf("second scan walked %d store paths again", s2.storeChecks)
	}
	if second.Digest != first.Digest {
		t.Errorf("digest changed with nothing changed")
	}
	if s2.Cache.Changed() {
		t.Errorf("a no-change scan rewrote the cache")
	}
	if len(first.Notes)+len(second.Notes) != 0 {
		t.Errorf("notes %q, %q; want none: a link out is no reason for one", first.Notes, second.Notes)
	}

	// A file edit rewrites the cache; the verdicts stay in it.
	writeTree(t, root, map[string]string{"new": "file"})
	scanOne(t, s2, spec)
	if !s2.Cache.Changed() {
		t.Fatalf("a new file did not rewrite the cache")
	}
	scanOne(t, s2, spec)
	if s2.storeChecks != 0 {
		t.Errorf("after a cache rewrite, a scan walked %d store paths again", s2.storeChecks)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoreDirTooBigIsFollowed: a store path too big to check within
// maxStoreCheck entries is followed — its files fingerprinted like any
// linked directory's — and that verdict is kept too, for the path never
// gets smaller.
func TestStoreDirTooBigIsFollowed(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big")
	writeTree(t, src, map[string]string{"a": "a", "b": "b", "c/d": "d"})
	big := storeAdd(t, src)
	defer func(n int) { maxStoreCheck = n }(maxStoreCheck)
	maxStoreCheck = 2

	root := t.TempDir()
	must(t, os.Symlink(big, filepath.Join(root, "big")))
	spec := Spec{Patterns: []string{"**"}}
	s := &Scanner{Root: root, Cache: &Cache{}, now: laterClock(time.Hour)}
	first := scanOne(t, s, spec)
	if got := len(first.Entries); got != 4 {
		t.Errorf("%d entries, want the link and its 3 files: %v", got, first.Entries)
	}
	second := scanOne(t, s, spec)
	if s.storeChecks != 0 {
		t.Errorf("second scan walked %d store paths again", s.storeChecks)
	}
	if second.Digest != first.Digest {
		t.Errorf("digest changed with nothing changed")
	}
	for _, m := range []*Manifest{first, second} {
		if len(m.Notes) != 1 || !strings.Contains(m.Notes[0], "more than 2 entries") {
			t.Errorf("notes %q, want one saying the store path is too big to check", m.Notes)
		}
	}
}

// TestStoreDirBeingBuiltIsFollowed: a store path whose mtime is not nix's
// 1 is still being written (nix canonicalises it when done), so its
// content is not yet what its name stands for: it is followed, and no
// verdict is kept. Needs write access to /nix/store.
func TestStoreDirBeingBuiltIsFollowed(t *testing.T) {
	storeAdd(t, t.TempDir()) // skips without nix
	dir := fmt.Sprintf("%s%s-sysinit-test-building-%d", nixStore, strings.Repeat("0", 32), os.Getpid())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot write to the store: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	writeTree(t, dir, map[string]string{"x": "one"})

	root := t.TempDir()
	must(t, os.Symlink(dir, filepath.Join(root, "wip")))
	spec := Spec{Patterns: []string{"**"}}
	s := &Scanner{Root: root, Cache: &Cache{}, now: laterClock(time.Hour)}
	before := scanOne(t, s, spec)
	if s.Cache.Len() != 0 && strings.HasPrefix(s.Cache.path(0), storeKeyPrefix) {
		t.Errorf("a verdict was kept for a store path still being built")
	}
	if len(before.Notes) != 1 || !strings.Contains(before.Notes[0], "still being built") {
		t.Errorf("notes %q, want one saying the store path is still being built", before.Notes)
	}
	must(t, os.WriteFile(filepath.Join(dir, "x"), []byte("two"), 0o644))
	requireChange(t, before, scanOne(t, s, spec), Change{"wip/x", ChangeModified})
}
