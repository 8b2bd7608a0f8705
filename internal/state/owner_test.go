package state

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A store copied to another machine, another user's home, or into
// another repository's slot holds successes that are not this owner's:
// they read as absent (every step runs), and the first write drops them.
// A store written before owners existed is adopted.
func TestOwner(t *testing.T) {
	me := Owner{Machine: "m1", UID: 501, Config: "/src/dots"}
	others := map[string]Owner{
		"another machine":  {Machine: "m2", UID: 501, Config: "/src/dots"},
		"user 501":         {Machine: "m1", UID: 502, Config: "/src/dots"},
		"config /src/dots": {Machine: "m1", UID: 501, Config: "/src/other"},
	}
	for what, other := range others {
		t.Run(what, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			var warnings []string
			warn := func(m string) { warnings = append(warnings, m) }
			a, _ := Open(path, Options{Owner: &me})
			if err := a.Put(Record{Step: "fonts", DefinitionDigest: "d", InputsDigest: "i", Started: time.Now()}, []byte("m")); err != nil {
				t.Fatal(err)
			}
			if err := a.PutStatCache([]byte("cache")); err != nil {
				t.Fatal(err)
			}

			b, _ := Open(path, Options{Owner: &other, ReadOnly: true, Warn: warn})
			recs, err := b.Records()
			if err != nil || len(recs) != 0 {
				t.Fatalf("another owner's Records() = %v, %v; want none", recs, err)
			}
			if m, _ := b.Manifest("fonts"); m != nil {
				t.Errorf("another owner's Manifest = %q, want nil", m)
			}
			if c, _ := b.StatCache(); c != nil {
				t.Errorf("another owner's StatCache = %q, want nil", c)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], what) {
				t.Errorf("warnings = %q, want one naming %q", warnings, what)
			}

			// The owner itself still sees its records.
			if recs, _ := a.Records(); len(recs) != 1 {
				t.Fatalf("owner's Records() = %v, want fonts", recs)
			}

			// The other owner's first write drops them for good.
			w, _ := Open(path, Options{Owner: &other, Warn: warn})
			if err := w.Put(Record{Step: "fish", Started: time.Now()}, nil); err != nil {
				t.Fatal(err)
			}
			recs, _ = w.Records()
			if _, ok := recs["fonts"]; ok || len(recs) != 1 {
				t.Errorf("after the new owner's write, Records() = %v, want only fish", recs)
			}
			if recs, _ := a.Records(); len(recs) != 0 {
				t.Errorf("the first owner now sees %v, want nothing", recs)
			}
		})
	}

	t.Run("a store from before owners is adopted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.db")
		old, _ := Open(path, Options{})
		if err := old.Put(Record{Step: "fonts", Started: time.Now()}, nil); err != nil {
			t.Fatal(err)
		}
		s, _ := Open(path, Options{Owner: &me})
		if recs, _ := s.Records(); len(recs) != 1 {
			t.Fatalf("Records() = %v, want the old record", recs)
		}
		if err := s.Put(Record{Step: "fish", Started: time.Now()}, nil); err != nil {
			t.Fatal(err)
		}
		if recs, _ := s.Records(); len(recs) != 2 {
			t.Fatalf("after adopting, Records() = %v, want fonts and fish", recs)
		}
	})
}

func TestRetire(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	for _, n := range []string{"a", "b", "c"} {
		if err := s.Put(Record{Step: n, Started: time.Now()}, []byte("m"+n)); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ := s.Records()
	if err := s.Retire(recs, func(n string) bool { return n != "b" }); err != nil {
		t.Fatal(err)
	}
	recs, _ = s.Records()
	if _, ok := recs["b"]; ok || len(recs) != 2 {
		t.Errorf("Records() after retiring b = %v", recs)
	}
	if m, _ := s.Manifest("b"); m != nil {
		t.Errorf("b's manifest survived: %q", m)
	}
}

func TestLocalMachineID(t *testing.T) {
	if id := LocalMachineID(); id == "" || id == "unknown" {
		t.Errorf("LocalMachineID() = %q", id)
	}
}
