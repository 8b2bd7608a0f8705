package state

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestGraphCache: the nix graph cache is stored apart from the stat cache,
// both come back from one read, nil removes it, a read-only store refuses
// to write it, and another owner's is not handed over.
func TestGraphCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sysinit")
	path := filepath.Join(dir, "dots-0123.db")
	s, err := Open(path, Options{Owner: &Owner{Machine: "here", UID: 1, Config: ConfigID{Path: "/x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if stat, graph, err := s.Caches(); err != nil || stat != nil || graph != nil {
		t.Fatalf("empty store: Caches() = %v, %v, %v", stat, graph, err)
	}
	edges := bytes.Repeat([]byte("edges"), 1000)
	if err := s.PutStatCache([]byte("stat")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGraphCache(edges); err != nil {
		t.Fatal(err)
	}
	stat, graph, err := s.Caches()
	if err != nil || string(stat) != "stat" || !bytes.Equal(graph, edges) {
		t.Fatalf("Caches() = %q, %d bytes, %v", stat, len(graph), err)
	}
	if got, err := s.GraphCache(); err != nil || !bytes.Equal(got, edges) {
		t.Fatalf("GraphCache() = %d bytes, %v", len(got), err)
	}

	ro, _ := openAt(t, path, true)
	if err := ro.PutGraphCache([]byte("x")); err == nil {
		t.Error("a read-only store wrote the graph cache")
	}
	other, err := Open(path, Options{Owner: &Owner{Machine: "elsewhere", UID: 1, Config: ConfigID{Path: "/x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if stat, graph, err := other.Caches(); err != nil || stat != nil || graph != nil {
		t.Errorf("another owner's caches were handed over: %q, %d bytes, %v", stat, len(graph), err)
	}

	if err := s.PutGraphCache(nil); err != nil {
		t.Fatal(err)
	}
	if stat, graph, err := s.Caches(); err != nil || string(stat) != "stat" || graph != nil {
		t.Errorf("after PutGraphCache(nil): Caches() = %q, %q, %v", stat, graph, err)
	}
}
