package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestPath(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name    string
		env     map[string]string
		dir     string
		wantDir string // directory of the store file
		wantPfx string // file name prefix
		wantErr bool
	}{
		{"xdg", map[string]string{"XDG_CACHE_HOME": "/xdg", "HOME": "/home/u"}, "/src/dots", "/xdg/sysinit", "dots-", false},
		{"home fallback", map[string]string{"HOME": "/home/u"}, "/src/dots", "/home/u/.cache/sysinit", "dots-", false},
		{"relative xdg ignored", map[string]string{"XDG_CACHE_HOME": "rel", "HOME": "/home/u"}, "/src/dots", "/home/u/.cache/sysinit", "dots-", false},
		{"root dir", map[string]string{"HOME": "/home/u"}, "/", "/home/u/.cache/sysinit", "root-", false},
		{"unclean dir", map[string]string{"HOME": "/home/u"}, "/src/x/../dots/", "/home/u/.cache/sysinit", "dots-", false},
		{"no home", map[string]string{}, "/src/dots", "", "", true},
		{"relative home", map[string]string{"HOME": "home"}, "/src/dots", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LegacyPath(env(tt.env), tt.dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Path() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if filepath.Dir(got) != tt.wantDir {
				t.Errorf("Path() = %s, want it in %s", got, tt.wantDir)
			}
			base := filepath.Base(got)
			if !strings.HasPrefix(base, tt.wantPfx) || !strings.HasSuffix(base, ".db") {
				t.Errorf("Path() = %s, want %s<hash>.db", got, tt.wantPfx)
			}
		})
	}

	t.Run("same name, different dirs", func(t *testing.T) {
		e := env(map[string]string{"HOME": "/home/u"})
		a, _ := LegacyPath(e, "/src/a/dots")
		b, _ := LegacyPath(e, "/src/b/dots")
		c, _ := LegacyPath(e, "/src/a/./dots")
		if a == b {
			t.Errorf("two directories share store %s", a)
		}
		if a != c {
			t.Errorf("one directory has two stores: %s and %s", a, c)
		}
	})
}

// TestPathByIdentity: the store of a config is named by what the config
// directory is (device, inode, file name), never by the path it was
// reached through, which a bind mount or a case variant changes.
func TestPathByIdentity(t *testing.T) {
	e := func(k string) string { return map[string]string{"HOME": "/home/u"}[k] }
	dots := ConfigID{Dev: 7, Ino: 42, Path: "/home/u/src/dots"}
	path := func(c ConfigID) string {
		p, err := Path(e, c)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(p) != "/home/u/.cache/sysinit" || !strings.HasSuffix(p, ".db") {
			t.Errorf("Path() = %s, want /home/u/.cache/sysinit/….db", p)
		}
		return p
	}
	want := path(dots)
	for _, p := range []string{"/mnt/bound", "/Home/U/Src/Dots", "/System/Volumes/Data/home/u/src/dots"} {
		c := dots
		c.Path = p
		if got := path(c); got != want {
			t.Errorf("through %s: store %s, want %s", p, got, want)
		}
	}
	for _, c := range []ConfigID{{Dev: 7, Ino: 43, Path: dots.Path}, {Dev: 8, Ino: 42, Path: dots.Path}, {Dev: 7, Ino: 42, Name: "work.toml", Path: dots.Path}} {
		if got := path(c); got == want {
			t.Errorf("%+v shares the store of %+v", c, dots)
		}
	}
}

// newStore opens a read-write store in a fresh directory, collecting warnings.
func newStore(t testing.TB) (*Store, *[]string) {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "sysinit", "dots-0123.db"), false)
}

func openAt(t testing.TB, path string, readOnly bool) (*Store, *[]string) {
	t.Helper()
	var mu sync.Mutex
	warnings := new([]string)
	s, err := Open(path, Options{ReadOnly: readOnly, Warn: func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		*warnings = append(*warnings, msg)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, warnings
}

func sampleRecord(step string) Record {
	return Record{
		Step:             step,
		Definition:       []string{"kind=command", "run=./install.sh " + step},
		DefinitionDigest: "def-" + step,
		InputsDigest:     "in-" + step,
		Token:            "/nix/store/abc-" + step,
		Started:          time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC),
		Duration:         1500 * time.Millisecond,
		RunID:            "run-1",
	}
}

func mustPut(t testing.TB, s *Store, r Record, manifest []byte) {
	t.Helper()
	if err := s.Put(r, manifest); err != nil {
		t.Fatal(err)
	}
}

func mustRecords(t testing.TB, s *Store) map[string]Record {
	t.Helper()
	recs, err := s.Records()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestEmptyStore(t *testing.T) {
	s, warnings := newStore(t)
	recs := mustRecords(t, s)
	if recs == nil || len(recs) != 0 {
		t.Errorf("Records() = %#v, want an empty map", recs)
	}
	if m, err := s.Manifest("x"); err != nil || m != nil {
		t.Errorf("Manifest() = %v, %v; want nil, nil", m, err)
	}
	if c, err := s.StatCache(); err != nil || c != nil {
		t.Errorf("StatCache() = %v, %v; want nil, nil", c, err)
	}
	if runs, err := s.Runs(0); err != nil || len(runs) != 0 {
		t.Errorf("Runs() = %v, %v; want none", runs, err)
	}
	if d, err := s.Durations("x", 5); err != nil || len(d) != 0 {
		t.Errorf("Durations() = %v, %v; want none", d, err)
	}
	// Reading must not create the store.
	if _, err := os.Stat(s.path); !os.IsNotExist(err) {
		t.Errorf("reading an empty store created %s (stat error %v)", s.path, err)
	}
	if len(*warnings) != 0 {
		t.Errorf("warnings on an empty store: %q", *warnings)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	a, b := sampleRecord("a"), sampleRecord("b")
	b.Definition = nil
	b.Token = ""
	manifest := bytes.Repeat([]byte("manifest-a "), 1000)
	mustPut(t, s, a, manifest)
	mustPut(t, s, b, nil)

	// A second Store on the same file sees what the first wrote.
	other, _ := openAt(t, s.path, true)
	recs := mustRecords(t, other)
	if len(recs) != 2 {
		t.Fatalf("Records() has %d records, want 2: %v", len(recs), recs)
	}
	for _, want := range []Record{a, b} {
		got := recs[want.Step]
		if !got.Started.Equal(want.Started) {
			t.Errorf("%s: Started = %v, want %v", want.Step, got.Started, want.Started)
		}
		got.Started = want.Started
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: record = %#v, want %#v", want.Step, got, want)
		}
	}
	got, err := other.Manifest("a")
	if err != nil || !bytes.Equal(got, manifest) {
		t.Errorf("Manifest(a) = %d bytes, %v; want the %d bytes put", len(got), err, len(manifest))
	}
	if got, err := other.Manifest("b"); err != nil || got != nil {
		t.Errorf("Manifest(b) = %v, %v; want nil", got, err)
	}

	// Replacing a record with no manifest drops the old manifest.
	a.InputsDigest = "in-a-2"
	mustPut(t, s, a, nil)
	if got, err := s.Manifest("a"); err != nil || got != nil {
		t.Errorf("after Put(a, nil): Manifest(a) = %d bytes, %v; want nil", len(got), err)
	}
	if got := mustRecords(t, s)["a"].InputsDigest; got != "in-a-2" {
		t.Errorf("after replacing: InputsDigest = %q, want in-a-2", got)
	}
}

func TestValuesOutliveTransactions(t *testing.T) {
	s, _ := newStore(t)
	mustPut(t, s, sampleRecord("a"), []byte("first manifest"))
	if err := s.PutStatCache([]byte("first cache")); err != nil {
		t.Fatal(err)
	}
	m, err := s.Manifest("a")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.StatCache()
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite both so the old pages are reused, then check the copies.
	for i := range 20 {
		mustPut(t, s, sampleRecord("a"), bytes.Repeat([]byte{byte(i)}, 5000))
		if err := s.PutStatCache(bytes.Repeat([]byte{byte(i)}, 5000)); err != nil {
			t.Fatal(err)
		}
	}
	if string(m) != "first manifest" || string(c) != "first cache" {
		t.Errorf("returned values changed after later writes: %q, %q", m, c)
	}
}

func TestStatCache(t *testing.T) {
	s, _ := newStore(t)
	blob := bytes.Repeat([]byte{1, 2, 3, 4}, 1<<18)
	if err := s.PutStatCache(blob); err != nil {
		t.Fatal(err)
	}
	got, err := s.StatCache()
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("StatCache() = %d bytes, %v; want the %d bytes put", len(got), err, len(blob))
	}
	if err := s.PutStatCache(nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.StatCache(); err != nil || got != nil {
		t.Errorf("after PutStatCache(nil): StatCache() = %d bytes, %v; want nil", len(got), err)
	}
}

func TestForget(t *testing.T) {
	s, _ := newStore(t)
	for _, step := range []string{"a", "b", "c"} {
		mustPut(t, s, sampleRecord(step), []byte("m-"+step))
	}
	if err := s.AddRun(Run{ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStatCache([]byte("cache")); err != nil {
		t.Fatal(err)
	}

	if err := s.Forget("a", "nope"); err != nil {
		t.Fatal(err)
	}
	recs := mustRecords(t, s)
	if _, ok := recs["a"]; ok || len(recs) != 2 {
		t.Errorf("after Forget(a): records %v, want b and c", keys(recs))
	}
	if m, _ := s.Manifest("a"); m != nil {
		t.Errorf("after Forget(a): manifest %q is still there", m)
	}
	if m, _ := s.Manifest("b"); string(m) != "m-b" {
		t.Errorf("Forget(a) changed manifest of b to %q", m)
	}
	if err := s.Forget(""); err == nil {
		t.Error("Forget(\"\") succeeded, want an error")
	}

	if err := s.ForgetAll(); err != nil {
		t.Fatal(err)
	}
	if recs := mustRecords(t, s); len(recs) != 0 {
		t.Errorf("after ForgetAll: records %v, want none", keys(recs))
	}
	if m, _ := s.Manifest("b"); m != nil {
		t.Errorf("after ForgetAll: manifest of b %q is still there", m)
	}
	// History, durations and the stat cache are not "last success".
	if runs, _ := s.Runs(0); len(runs) != 1 {
		t.Errorf("ForgetAll dropped the history: %d runs left", len(runs))
	}
	if d, _ := s.Durations("b", 0); len(d) != 1 {
		t.Errorf("ForgetAll dropped durations: %v", d)
	}
	if c, _ := s.StatCache(); string(c) != "cache" {
		t.Errorf("ForgetAll dropped the stat cache: %q", c)
	}
	// Still writable afterwards.
	mustPut(t, s, sampleRecord("a"), nil)
	if recs := mustRecords(t, s); len(recs) != 1 {
		t.Errorf("Put after ForgetAll: records %v, want a", keys(recs))
	}
}

func TestForgetMissingStoreCreatesNothing(t *testing.T) {
	s, _ := newStore(t)
	if err := s.Forget("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(s.path)); !os.IsNotExist(err) {
		t.Errorf("forgetting in a missing store created %s (stat error %v)", filepath.Dir(s.path), err)
	}
}

func TestRunsOrderAndPruning(t *testing.T) {
	s, _ := newStore(t)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	total := MaxRuns + 15
	for i := range total {
		r := Run{
			ID:      fmt.Sprintf("run-%03d", i),
			Command: "refresh",
			// Clocks go backwards; order must follow insertion anyway.
			Start: start.Add(-time.Duration(i) * time.Minute),
			Wall:  time.Duration(i) * time.Second,
			Steps: []RunStep{{Name: "a", Status: "ok", Reason: "inputs changed", Duration: time.Second}},
		}
		if i == 3 {
			r.Interrupted = true
		}
		if err := s.AddRun(r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.Runs(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != MaxRuns {
		t.Fatalf("Runs(0) returned %d runs, want %d", len(runs), MaxRuns)
	}
	for i, r := range runs {
		if want := fmt.Sprintf("run-%03d", total-1-i); r.ID != want {
			t.Fatalf("Runs(0)[%d].ID = %s, want %s (newest first)", i, r.ID, want)
		}
	}
	last := runs[0]
	if last.Command != "refresh" || last.Wall != time.Duration(total-1)*time.Second ||
		!last.Start.Equal(start.Add(-time.Duration(total-1)*time.Minute)) ||
		!reflect.DeepEqual(last.Steps, []RunStep{{Name: "a", Status: "ok", Reason: "inputs changed", Duration: time.Second}}) {
		t.Errorf("newest run = %#v, fields did not round-trip", last)
	}
	if runs, _ := s.Runs(3); len(runs) != 3 || runs[0].ID != fmt.Sprintf("run-%03d", total-1) {
		t.Errorf("Runs(3) = %d runs starting %v, want the 3 newest", len(runs), runs)
	}
	// EachRun: newest first, stopping when told.
	var seen []string
	if err := s.EachRun(func(r Run) bool { seen = append(seen, r.ID); return len(seen) < 2 }); err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("run-%03d", total-1), fmt.Sprintf("run-%03d", total-2)}; !reflect.DeepEqual(seen, want) {
		t.Errorf("EachRun saw %q, want %q", seen, want)
	}

	// Interrupted survives the round trip (run 3 was pruned; add another).
	if err := s.AddRun(Run{ID: "cut", Interrupted: true}); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Runs(1); len(runs) != 1 || !runs[0].Interrupted {
		t.Errorf("Runs(1) = %#v, want the interrupted run", runs)
	}
}

func TestDurations(t *testing.T) {
	s, _ := newStore(t)
	for i := 1; i <= maxDurations+5; i++ {
		r := sampleRecord("a")
		r.Duration = time.Duration(i) * time.Second
		mustPut(t, s, r, nil)
	}
	r := sampleRecord("b")
	r.Duration = -time.Second // a clock step must not wrap around
	mustPut(t, s, r, nil)

	tests := []struct {
		step string
		n    int
		want []time.Duration
	}{
		{"a", 3, []time.Duration{37 * time.Second, 36 * time.Second, 35 * time.Second}},
		{"a", 1, []time.Duration{37 * time.Second}},
		{"b", 5, []time.Duration{0}},
		{"none", 5, nil},
	}
	for _, tt := range tests {
		got, err := s.Durations(tt.step, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Durations(%s, %d) = %v, want %v", tt.step, tt.n, got, tt.want)
		}
	}
	all, err := s.Durations("a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != maxDurations || all[len(all)-1] != 6*time.Second {
		t.Errorf("Durations(a, 0) = %d entries ending %v, want the last %d ending 6s", len(all), all[len(all)-1], maxDurations)
	}
}

func TestPutRejectsBadStep(t *testing.T) {
	s, _ := newStore(t)
	for _, step := range []string{"", strings.Repeat("x", bbolt.MaxKeySize+1)} {
		if err := s.Put(Record{Step: step}, nil); err == nil {
			t.Errorf("Put with a %d-byte step name succeeded, want an error", len(step))
		}
	}
}

func TestClosed(t *testing.T) {
	s, _ := newStore(t)
	s.Close()
	if _, err := s.Records(); err == nil {
		t.Error("Records after Close succeeded, want an error")
	}
	if err := s.Put(sampleRecord("a"), nil); err == nil {
		t.Error("Put after Close succeeded, want an error")
	}
}

func TestFilePermissions(t *testing.T) {
	s, _ := newStore(t)
	mustPut(t, s, sampleRecord("a"), nil)
	l, err := Acquire(s.path, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for path, want := range map[string]os.FileMode{
		filepath.Dir(s.path): os.ModeDir | 0o700,
		s.path:               0o600,
		LockPath(s.path):     0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode(), want)
		}
	}
}

// A read-only Store must keep working while a read-write one writes: the
// bbolt file is only held for one transaction at a time.
func TestReadWhileWriting(t *testing.T) {
	s, _ := newStore(t)
	mustPut(t, s, sampleRecord("seed"), nil)
	ro, _ := openAt(t, s.path, true)

	done := make(chan error, 1)
	go func() {
		for i := range 100 {
			if err := s.Put(sampleRecord(fmt.Sprintf("s%d", i%10)), bytes.Repeat([]byte("m"), 10000)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reads := 0
	for writing := true; writing; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			writing = false
		default:
		}
		recs, err := ro.Records()
		if err != nil {
			t.Fatalf("reading while another store writes: %v", err)
		}
		if _, ok := recs["seed"]; !ok {
			t.Fatalf("read while writing saw %v, missing seed", keys(recs))
		}
		reads++
	}
	if reads < 2 {
		t.Errorf("only %d reads completed during 100 writes", reads)
	}
}

// While something holds the bbolt file open for writing, an open gives up
// after the timeout and says why.
func TestOpenTimeout(t *testing.T) {
	s, _ := newStore(t)
	mustPut(t, s, sampleRecord("a"), nil)
	db, err := bbolt.Open(s.path, 0o600, nil) // exclusive flock, held
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, readOnly := range []bool{true, false} {
		st, _ := openAt(t, s.path, readOnly)
		st.timeout = 100 * time.Millisecond
		var err error
		if readOnly {
			_, err = st.Records()
		} else {
			err = st.Put(sampleRecord("b"), nil)
		}
		if err == nil || !strings.Contains(err.Error(), "is another sysinit running?") {
			t.Errorf("readOnly=%v: error = %v, want one asking whether another sysinit is running", readOnly, err)
		}
		var ce *corruptError
		if errors.As(err, &ce) {
			t.Errorf("readOnly=%v: a held lock was taken for corruption: %v", readOnly, err)
		}
	}
	if _, err := os.Stat(s.path); err != nil {
		t.Errorf("store gone after lock timeouts: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// writeAttempts calls every write method and checks each fails.
func writeAttempts(t *testing.T, s *Store) {
	t.Helper()
	for name, err := range map[string]error{
		"Put":          s.Put(sampleRecord("a"), []byte("m")),
		"Forget":       s.Forget("step-1"),
		"ForgetAll":    s.ForgetAll(),
		"PutStatCache": s.PutStatCache([]byte("c")),
		"AddRun":       s.AddRun(Run{ID: "r"}),
	} {
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("read-only %s: error = %v, want a read-only error", name, err)
		}
	}
}

func TestReadOnlyWritesNothing(t *testing.T) {
	t.Run("missing store", func(t *testing.T) {
		root := t.TempDir()
		path := filepath.Join(root, "sysinit", "dots-0123.db")
		before := snapshot(t, root)
		s, warnings := openAt(t, path, true)
		readEverything(t, s, true)
		writeAttempts(t, s)
		if after := snapshot(t, root); after != before {
			t.Errorf("read-only store changed the cache directory:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if len(*warnings) != 0 {
			t.Errorf("warnings for a missing store: %q", *warnings)
		}
	})

	t.Run("valid store", func(t *testing.T) {
		root := t.TempDir()
		path := filepath.Join(root, "sysinit", "dots-0123.db")
		validStore(t, path)
		l, err := Acquire(path, false, nil) // a refresh holding the run lock
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		before := snapshot(t, root)

		s, warnings := openAt(t, path, true)
		readEverything(t, s, false)
		if recs := mustRecords(t, s); len(recs) != 10 {
			t.Errorf("read-only Records() = %d records, want 10", len(recs))
		}
		if m, _ := s.Manifest("step-1"); len(m) != 40000 {
			t.Errorf("read-only Manifest() = %d bytes, want 40000", len(m))
		}
		writeAttempts(t, s)
		if after := snapshot(t, root); after != before {
			t.Errorf("read-only store changed the cache directory:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if len(*warnings) != 0 {
			t.Errorf("warnings for a valid store: %q", *warnings)
		}
	})
}
