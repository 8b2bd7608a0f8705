package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// A store copied to another machine, another user's home, or into
// another repository's slot holds successes that are not this owner's:
// they read as absent (every step runs), and the first write drops them.
// The warning says whose they are. A store written before owners existed
// is adopted.
func TestOwner(t *testing.T) {
	dots := ConfigID{Dev: 1, Ino: 2, Path: "/src/dots"}
	me := Owner{Machine: "m1", UID: 501, Home: "/Users/me", User: "me", Host: "lv426", Config: dots}
	others := map[string]Owner{
		"another machine":  {Machine: "m2", UID: 501, Home: "/Users/me", User: "me", Host: "nostromo", Config: dots},
		"uid 502":          {Machine: "m1", UID: 502, Home: "/Users/me", User: "me", Host: "lv426", Config: dots},
		"HOME /Users/them": {Machine: "m1", UID: 501, Home: "/Users/them", User: "me", Host: "lv426", Config: dots},
		"config /src/other": {Machine: "m1", UID: 501, Home: "/Users/me", User: "me", Host: "lv426",
			Config: ConfigID{Dev: 1, Ino: 3, Path: "/src/other"}},
	}
	for what, other := range others {
		t.Run(what, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			var warnings []string
			warn := func(m string) { warnings = append(warnings, m) }
			a, _ := Open(path, Options{Owner: &other})
			if err := a.Put(Record{Step: "fonts", DefinitionDigest: "d", InputsDigest: "i", Started: time.Now()}, []byte("m")); err != nil {
				t.Fatal(err)
			}
			if err := a.PutStatCache([]byte("cache")); err != nil {
				t.Fatal(err)
			}

			b, _ := Open(path, Options{Owner: &me, ReadOnly: true, Warn: warn})
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
			whose := "the state store belongs to " + other.User + "@" + other.Host + " (HOME " + other.Home + "): "
			if len(warnings) != 1 || !strings.Contains(warnings[0], whose) || !strings.Contains(warnings[0], what) {
				t.Errorf("warnings = %q, want one saying %q and naming %q", warnings, whose, what)
			}

			// The owner itself still sees its records.
			if recs, _ := a.Records(); len(recs) != 1 {
				t.Fatalf("owner's Records() = %v, want fonts", recs)
			}

			// The other owner's first write drops them for good.
			w, _ := Open(path, Options{Owner: &me, Warn: warn})
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

// TestOwnerConfigIdentity: records belong to the config directory itself,
// not to the path it was reached by. A second path to it (a bind mount, a
// case variant, a firmlink; here a symlink left unresolved) sees them, and
// its runs replace them; a directory that only has the recorded inode
// number (the recorded one deleted, or moved) does not.
func TestOwnerConfigIdentity(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(root, "second")
	if err := os.Symlink(repo, second); err != nil {
		t.Fatal(err)
	}
	id, err := IdentifyConfig(repo, "")
	if err != nil {
		t.Fatal(err)
	}
	viaSecond := id
	viaSecond.Path = second
	owner := func(c ConfigID) *Owner {
		return &Owner{Machine: "m1", UID: 501, Home: "/home/me", User: "me", Host: "h", Config: c}
	}
	dbPath := filepath.Join(t.TempDir(), "s.db")
	a, _ := Open(dbPath, Options{Owner: owner(id)})
	mustPut(t, a, Record{Step: "s", InputsDigest: "v1", Started: time.Now()}, nil)

	var warnings []string
	b, _ := Open(dbPath, Options{Owner: owner(viaSecond), Warn: func(m string) { warnings = append(warnings, m) }})
	if recs := mustRecords(t, b); recs["s"].InputsDigest != "v1" {
		t.Fatalf("through the second path, Records() = %v; want the first path's", recs)
	}
	// A run through the second path replaces the first path's record.
	mustPut(t, b, Record{Step: "s", InputsDigest: "v2", Started: time.Now()}, nil)
	if recs := mustRecords(t, a); recs["s"].InputsDigest != "v2" {
		t.Errorf("through the first path after a run through the second, Records() = %v; want v2", recs)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}

	// The same device and inode, reached by a path that is not (and both
	// recorded paths no longer lead to) that directory.
	if err := os.Remove(second); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repo, filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	reused := id
	reused.Path = filepath.Join(root, "elsewhere")
	c, _ := Open(dbPath, Options{Owner: owner(reused), ReadOnly: true, Warn: func(m string) { warnings = append(warnings, m) }})
	if recs := mustRecords(t, c); len(recs) != 0 {
		t.Errorf("a directory with the recorded inode number sees %v; want nothing", recs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "which is no longer "+reused.Path) {
		t.Errorf("warnings = %q; want one saying the recorded path no longer leads here", warnings)
	}
}

// TestOwnerLegacyForm: a store whose owner was written before owners held
// a HOME and the config's identity (config=PATH) keeps its records when
// PATH is this config, and gets the new form at the next write; one whose
// PATH is another directory does not.
func TestOwnerLegacyForm(t *testing.T) {
	repo := t.TempDir()
	id, err := IdentifyConfig(repo, "")
	if err != nil {
		t.Fatal(err)
	}
	me := Owner{Machine: "m1", UID: 501, Home: "/home/me", User: "me", Host: "h", Config: id}
	for _, tt := range []struct {
		config string
		ours   bool
	}{{repo, true}, {t.TempDir(), false}} {
		path := filepath.Join(t.TempDir(), "s.db")
		old, _ := Open(path, Options{})
		mustPut(t, old, Record{Step: "s", Started: time.Now()}, nil)
		if err := old.update(false, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyOwner, []byte("machine=m1\nuid=501\nconfig="+tt.config))
		}); err != nil {
			t.Fatal(err)
		}
		s, _ := Open(path, Options{Owner: &me})
		if recs := mustRecords(t, s); (len(recs) == 1) != tt.ours {
			t.Errorf("config=%s: Records() = %v; want ours=%v", tt.config, recs, tt.ours)
		}
		mustPut(t, s, Record{Step: "t", Started: time.Now()}, nil)
		s.view(func(tx *bbolt.Tx) error {
			if got := string(tx.Bucket(bucketMeta).Get(keyOwner)); got != me.String() {
				t.Errorf("owner after a write = %q, want %q", got, me.String())
			}
			return nil
		})
	}
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
