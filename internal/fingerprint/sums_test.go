package fingerprint

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

// TestSums: a file's hash is handed over only while the file is as the
// cache hashed it: an edit (even one keeping the size), a replacement by a
// symlink, a file the cache never held, or one hashed too recently to
// store, gives none. The view does not change when a later Scan updates
// the cache.
func TestSums(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.nix": "{ }", "b.nix": "{ x = 1; }", "link": "->a.nix", "sub/c.nix": "c"})
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	m := scanOne(t, s, Spec{Patterns: []string{"**"}})
	want := map[string]Entry{}
	for _, e := range m.Entries {
		want[e.Path] = e
	}
	// A link's sum is of its target string (what the nix import graph
	// keys a link by); its entry adds the content it leads to.
	want["link"] = Entry{Path: "link", Type: TypeSymlink, Hash: Sum(xxh3.Hash128([]byte("a.nix")).Bytes())}
	sums := c.Sums()
	for _, p := range []string{"a.nix", "b.nix", "link", "sub/c.nix"} {
		typ, sum, ok, err := sums.Lstat(filepath.Join(root, p), p)
		if err != nil || !ok || sum != want[p].Hash || typ != want[p].Type {
			t.Errorf("%s: type %c, sum %v, ok %v, err %v; want %c %v", p, typ, sum, ok, err, want[p].Type, want[p].Hash)
		}
	}
	// The same size, another content: the ctime moved.
	if err := os.WriteFile(filepath.Join(root, "b.nix"), []byte("{ x = 2; }"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := sums.Lstat(filepath.Join(root, "b.nix"), "b.nix"); ok {
		t.Error("b.nix edited: its old hash was handed over")
	}
	if err := os.Remove(filepath.Join(root, "a.nix")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("b.nix", filepath.Join(root, "a.nix")); err != nil {
		t.Fatal(err)
	}
	if typ, _, ok, _ := sums.Lstat(filepath.Join(root, "a.nix"), "a.nix"); ok || typ != TypeSymlink {
		t.Errorf("a.nix replaced by a symlink: type %c, ok %v", typ, ok)
	}
	// A path the cache keys otherwise, or never held.
	if _, _, ok, _ := sums.Lstat(filepath.Join(root, "sub/c.nix"), "c.nix"); ok {
		t.Error("a hash handed over under another path")
	}
	if _, _, _, err := sums.Lstat(filepath.Join(root, "gone"), "gone"); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
	// A rescan updates the cache, not the view; a fresh view sees it.
	scanOne(t, s, Spec{Patterns: []string{"**"}})
	if _, _, ok, _ := sums.Lstat(filepath.Join(root, "b.nix"), "b.nix"); ok {
		t.Error("the view changed with the cache")
	}
	if _, sum, ok, _ := c.Sums().Lstat(filepath.Join(root, "b.nix"), "b.nix"); !ok || sum != Sum(xxh3.Hash128([]byte("{ x = 2; }")).Bytes()) {
		t.Error("a fresh view does not hand over the new hash")
	}
	// Hashed just now: not stored, so not handed over.
	recent := &Cache{}
	scanOne(t, &Scanner{Root: root, Cache: recent}, Spec{Patterns: []string{"**"}})
	if _, _, ok, _ := recent.Sums().Lstat(filepath.Join(root, "b.nix"), "b.nix"); ok {
		t.Error("a racy hash was handed over")
	}
	var none *Sums
	if typ, _, ok, err := none.Lstat(filepath.Join(root, "b.nix"), "b.nix"); ok || err != nil || typ != TypeFile {
		t.Errorf("nil Sums: type %c, ok %v, err %v", typ, ok, err)
	}
}
