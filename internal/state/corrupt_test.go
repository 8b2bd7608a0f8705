package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.etcd.io/bbolt"
)

// validStore writes a store with a few steps, large manifests and history to
// path, and returns the size bbolt's meta page claims for it.
func validStore(t *testing.T, path string) int64 {
	t.Helper()
	s, _ := openAt(t, path, false)
	for i := range 10 {
		mustPut(t, s, sampleRecord(fmt.Sprintf("step-%d", i)), bytes.Repeat([]byte{byte(i)}, 40000))
	}
	for i := range 5 {
		if err := s.AddRun(Run{ID: fmt.Sprintf("r%d", i), Steps: []RunStep{{Name: "a", Status: "ok"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutStatCache(bytes.Repeat([]byte("c"), 100000)); err != nil {
		t.Fatal(err)
	}
	return rawSize(t, path)
}

func rawSize(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int64
	db.View(func(tx *bbolt.Tx) error { size = tx.Size(); return nil })
	return size
}

func rawUpdate(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// unreadableStores are files a Store must refuse to trust. Each makes the
// file at path.
//
// valueLevel damage is only found when the damaged value is decoded: a write
// that does not decode it succeeds, and the store is moved aside (with that
// write) by the next read that does.
var unreadableStores = []struct {
	name       string
	make       func(t *testing.T, path string)
	valueLevel bool
	cause      string // in the warning's parentheses
}{
	{"random bytes", func(t *testing.T, path string) {
		b := make([]byte, 64<<10)
		rand.NewChaCha8([32]byte{7}).Read(b)
		writeFile(t, path, b)
	}, false, `invalid database`},
	{"shorter than two pages", func(t *testing.T, path string) {
		validStore(t, path)
		truncate(t, path, 5000)
	}, false, `file size too small`},
	{"truncated", func(t *testing.T, path string) {
		size := validStore(t, path)
		truncate(t, path, size/2)
	}, false, `truncated: `},
	{"truncated by one page", func(t *testing.T, path string) {
		size := validStore(t, path)
		truncate(t, path, size-4096)
	}, false, `truncated: `},
	{"scribbled pages", func(t *testing.T, path string) {
		validStore(t, path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Keep both meta pages valid so bbolt trusts the file, and
		// destroy every page they point to.
		for i := 2 * 4096; i < len(b); i++ {
			b[i] = 0xff
		}
		writeFile(t, path, b)
	}, false, `bbolt panicked: `},
	// Meta pages pointing outside the file make bbolt fault on its memory
	// map: past the end of the file but inside the map (SIGBUS), and past
	// the map (SIGSEGV).
	{"root in the mapped tail", func(t *testing.T, path string) {
		// Cut the slack bbolt grows files by, so the map (a power of
		// two) reaches past the end of the file.
		size := validStore(t, path)
		truncate(t, path, size)
		setRoot(t, path, uint64(size/4096)+1)
	}, false, `bbolt panicked: runtime error: invalid memory address`},
	{"root far past the end", func(t *testing.T, path string) {
		validStore(t, path)
		setRoot(t, path, 1<<24)
	}, false, `bbolt panicked: runtime error: invalid memory address`},
	{"newer schema", func(t *testing.T, path string) {
		validStore(t, path)
		rawUpdate(t, path, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte("2"))
		})
	}, false, `written by a newer sysinit: schema 2, this one reads 1`},
	{"garbage schema", func(t *testing.T, path string) {
		validStore(t, path)
		rawUpdate(t, path, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, []byte("one"))
		})
	}, false, `bad schema version "one"`},
	{"no schema", func(t *testing.T, path string) {
		rawUpdate(t, path, func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone-else"))
			return err
		})
	}, false, `no schema version`},
	{"undecodable record", func(t *testing.T, path string) {
		validStore(t, path)
		rawUpdate(t, path, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketSteps).Put([]byte("step-3"), []byte("{not json"))
		})
	}, true, `decoding record of step "step-3"`},
}

func TestUnreadableStoreReadWrite(t *testing.T) {
	for _, tt := range unreadableStores {
		for _, first := range []string{"read", "write"} {
			t.Run(tt.name+"/"+first+" first", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "sysinit", "dots-0123.db")
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				tt.make(t, path)
				before, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}

				s, warnings := openAt(t, path, false)
				if first == "read" {
					recs, err := s.Records()
					if err != nil || len(recs) != 0 {
						t.Fatalf("Records() = %v, %v; want empty, no error", keys(recs), err)
					}
				}
				mustPut(t, s, sampleRecord("new"), []byte("fresh"))
				lateFind := tt.valueLevel && first == "write"
				// Found at once or only by Records after the Put went into
				// the damaged store, the damage loses the old records but
				// not the one this Store made.
				if recs := mustRecords(t, s); len(recs) != 1 || recs["new"].InputsDigest != "in-new" {
					t.Errorf("records %v, want only new", keys(recs))
				}
				if m, err := s.Manifest("new"); err != nil || string(m) != "fresh" {
					t.Errorf("manifest of new = %q, %v; want fresh", m, err)
				}

				if len(*warnings) != 1 {
					t.Fatalf("warnings = %q, want exactly one", *warnings)
				}
				whatRuns := `every step will run`
				if lateFind {
					whatRuns = `kept what this run recorded \(1 step\); every other step will run`
				}
				re := regexp.MustCompile(`^state store ` + regexp.QuoteMeta(path) + ` was unreadable \(.*` + regexp.QuoteMeta(tt.cause) + `.*\); moved it to (` +
					regexp.QuoteMeta(path) + `\.corrupt-\d+); ` + whatRuns + `$`)
				m := re.FindStringSubmatch((*warnings)[0])
				if m == nil {
					t.Fatalf("warning %q does not match %s", (*warnings)[0], re)
				}
				aside, err := os.ReadFile(m[1])
				if err != nil {
					t.Fatalf("reading the moved-aside store: %v", err)
				}
				if !lateFind && !bytes.Equal(aside, before) {
					t.Errorf("moved-aside store differs from the unreadable one")
				}
			})
		}
	}
}

func TestUnreadableStoreReadOnly(t *testing.T) {
	for _, tt := range unreadableStores {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sysinit", "dots-0123.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			tt.make(t, path)
			before := snapshot(t, filepath.Dir(path))

			s, warnings := openAt(t, path, true)
			for range 2 {
				readEverything(t, s, true)
			}
			if len(*warnings) != 1 {
				t.Fatalf("warnings = %q, want exactly one", *warnings)
			}
			re := regexp.MustCompile(`^state store ` + regexp.QuoteMeta(path) + ` is unreadable \(.*` + regexp.QuoteMeta(tt.cause) + `.*\); ignoring it: every step will run$`)
			if !re.MatchString((*warnings)[0]) {
				t.Errorf("warning %q does not match %s", (*warnings)[0], re)
			}
			if after := snapshot(t, filepath.Dir(path)); after != before {
				t.Errorf("read-only store changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// A zero-length file is what a crash inside the very first write leaves: it
// holds nothing, and is no reason to warn.
func TestZeroLengthStore(t *testing.T) {
	for _, readOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("readOnly=%v", readOnly), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dots.db")
			writeFile(t, path, nil)
			s, warnings := openAt(t, path, readOnly)
			readEverything(t, s, true)
			if !readOnly {
				mustPut(t, s, sampleRecord("a"), nil)
				if len(mustRecords(t, s)) != 1 {
					t.Error("Put on a zero-length store did not stick")
				}
			}
			if len(*warnings) != 0 {
				t.Errorf("warnings = %q, want none", *warnings)
			}
		})
	}
}

// readEverything calls every read method; with wantEmpty it checks they all
// found nothing.
func readEverything(t *testing.T, s *Store, wantEmpty bool) {
	t.Helper()
	recs, err := s.Records()
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	m, err := s.Manifest("step-1")
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	c, err := s.StatCache()
	if err != nil {
		t.Fatalf("StatCache: %v", err)
	}
	runs, err := s.Runs(0)
	if err != nil {
		t.Fatalf("Runs: %v", err)
	}
	d, err := s.Durations("step-1", 5)
	if err != nil {
		t.Fatalf("Durations: %v", err)
	}
	if wantEmpty && (len(recs)+len(m)+len(c)+len(runs)+len(d) != 0) {
		t.Errorf("want an empty store, got %d records, manifest %d bytes, stat cache %d bytes, %d runs, %d durations",
			len(recs), len(m), len(c), len(runs), len(d))
	}
}

// snapshot describes every file under root: name, mode, size, mtime and a
// content hash.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b bytes.Buffer
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d", path, info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// setRoot points both meta pages of the bbolt file at path to root as the
// root bucket's page, keeping their checksums valid.
func setRoot(t *testing.T, path string, root uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const header = 16 // page header before the meta
	pageSize := int(binary.LittleEndian.Uint32(b[header+8:]))
	for _, off := range []int{header, pageSize + header} {
		meta := b[off : off+64]
		binary.LittleEndian.PutUint64(meta[16:], root)
		h := fnv.New64a()
		h.Write(meta[:56])
		binary.LittleEndian.PutUint64(meta[56:], h.Sum64())
	}
	writeFile(t, path, b)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptCopiesPruned: each unreadable store moved aside is kept for a
// look, but only the newest few: a store that keeps breaking (a full disk,
// a bad sector) must not fill the cache directory run after run. The
// warning says how many older copies went.
func TestCorruptCopiesPruned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sysinit")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dots-0123.db")
	// Older copies, oldest first by their stamp, and another store's copy
	// that is not this store's to delete.
	old := []string{path + ".corrupt-1000", path + ".corrupt-2000", path + ".corrupt-3000-1", path + ".corrupt-4000"}
	for _, p := range old {
		writeFile(t, p, []byte("old"))
	}
	other := filepath.Join(dir, "other-4567.db.corrupt-500")
	writeFile(t, other, []byte("other"))
	writeFile(t, path, bytes.Repeat([]byte("garbage!"), 4096))

	s, warnings := openAt(t, path, false)
	mustPut(t, s, sampleRecord("new"), nil)
	if len(*warnings) != 1 {
		t.Fatalf("warnings = %q, want one", *warnings)
	}
	if want := "removed 2 older copies"; !bytes.Contains([]byte((*warnings)[0]), []byte(want)) {
		t.Errorf("warning %q does not say %q", (*warnings)[0], want)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := map[string]bool{
		"dots-0123.db.corrupt-3000-1": true, "dots-0123.db.corrupt-4000": true,
		"other-4567.db.corrupt-500": true, "dots-0123.db": true,
	}
	var asides int
	for _, n := range left {
		if regexp.MustCompile(`^dots-0123\.db\.corrupt-\d{6,}$`).MatchString(n) {
			asides++ // the one just moved aside
			continue
		}
		if !want[n] {
			t.Errorf("unexpected file %s left (all: %q)", n, left)
		}
		delete(want, n)
	}
	if asides != 1 || len(want) != 0 {
		t.Errorf("left %q: want the new copy, the two newest old ones, the other store's copy and the store", left)
	}
}
