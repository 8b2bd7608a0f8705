package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func resultRecord(step, inputs, token string, n int) Record {
	r := sampleRecord(step)
	r.InputsDigest, r.Token, r.KeepResult = inputs, token, true
	r.Label = fmt.Sprintf("generation %d", n)
	r.Started = r.Started.Add(time.Duration(n) * time.Hour)
	r.RunID = fmt.Sprintf("run-%d", n)
	return r
}

func mustResults(t *testing.T, s *Store, step string) []Result {
	t.Helper()
	rs, err := s.Results(step)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestResults: each success of a step that keeps results adds its token by
// inputs and definition, in the same transaction as the record; the same
// inputs again replace the older entry; only the newest 16 stay; a record
// without KeepResult, a token or an inputs digest adds nothing.
func TestResults(t *testing.T) {
	s, _ := newStore(t)
	if rs := mustResults(t, s, "system"); len(rs) != 0 {
		t.Fatalf("empty store: %v", rs)
	}
	mustPut(t, s, resultRecord("system", "in-a", "/nix/store/a", 1), []byte("m"))
	mustPut(t, s, resultRecord("system", "in-b", "/nix/store/b", 2), []byte("m"))
	rs := mustResults(t, s, "system")
	want := Result{InputsDigest: "in-a", DefinitionDigest: "def-system", Token: "/nix/store/a", Label: "generation 1", Started: resultRecord("system", "", "", 1).Started, RunID: "run-1"}
	if len(rs) != 2 || rs[0] != want || rs[1].Token != "/nix/store/b" {
		t.Fatalf("results = %+v", rs)
	}

	// Back to a: the old entry goes, the new one is the newest.
	mustPut(t, s, resultRecord("system", "in-a", "/nix/store/a2", 3), nil)
	rs = mustResults(t, s, "system")
	if len(rs) != 2 || rs[0].Token != "/nix/store/b" || rs[1].Token != "/nix/store/a2" || rs[1].Label != "generation 3" {
		t.Fatalf("after going back: %+v", rs)
	}
	// The same inputs under another definition are another result.
	other := resultRecord("system", "in-a", "/nix/store/a3", 4)
	other.DefinitionDigest = "def-2"
	mustPut(t, s, other, nil)
	if rs = mustResults(t, s, "system"); len(rs) != 3 {
		t.Fatalf("another definition: %+v", rs)
	}

	for _, r := range []Record{
		func() Record { r := resultRecord("system", "in-x", "/nix/store/x", 5); r.KeepResult = false; return r }(),
		resultRecord("system", "", "/nix/store/y", 6),
		resultRecord("system", "in-z", "", 7),
	} {
		mustPut(t, s, r, nil)
	}
	if rs = mustResults(t, s, "system"); len(rs) != 3 {
		t.Errorf("records that keep nothing added results: %+v", rs)
	}

	for i := 0; i < 20; i++ {
		mustPut(t, s, resultRecord("system", fmt.Sprintf("in-%d", i), fmt.Sprintf("/nix/store/%d", i), 10+i), nil)
	}
	rs = mustResults(t, s, "system")
	if len(rs) != maxResults || rs[0].InputsDigest != "in-4" || rs[len(rs)-1].InputsDigest != "in-19" {
		t.Errorf("bounded: %d results, %s … %s", len(rs), rs[0].InputsDigest, rs[len(rs)-1].InputsDigest)
	}
	if rs := mustResults(t, s, "brew"); len(rs) != 0 {
		t.Errorf("another step's results: %v", rs)
	}

	// Forgetting a step forgets its results: the next run is a full one.
	mustPut(t, s, resultRecord("brew", "in-1", "tok", 1), nil)
	if err := s.Forget("system"); err != nil {
		t.Fatal(err)
	}
	if rs := mustResults(t, s, "system"); len(rs) != 0 {
		t.Errorf("after forget: %v", rs)
	}
	if rs := mustResults(t, s, "brew"); len(rs) != 1 {
		t.Errorf("forget took another step's results: %v", rs)
	}
	if err := s.ForgetAll(); err != nil {
		t.Fatal(err)
	}
	if rs := mustResults(t, s, "brew"); len(rs) != 0 {
		t.Errorf("after forget --all: %v", rs)
	}
}

// TestResultsOwner: results are another owner's like records are: they
// read as absent, and the first write drops them.
func TestResultsOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	me := Owner{Machine: "m1", UID: 501, Config: ConfigID{Path: "/src/dots"}}
	other := Owner{Machine: "m2", UID: 501, Config: ConfigID{Path: "/src/dots"}}
	a, _ := Open(path, Options{Owner: &me})
	mustPut(t, a, resultRecord("system", "in-a", "/nix/store/a", 1), nil)
	b, _ := Open(path, Options{Owner: &other, Warn: func(string) {}})
	if rs := mustResults(t, b, "system"); len(rs) != 0 {
		t.Fatalf("another owner's results: %v", rs)
	}
	mustPut(t, b, resultRecord("brew", "in", "tok", 1), nil)
	if rs := mustResults(t, a, "system"); len(rs) != 0 {
		t.Errorf("results survived another owner's write: %v", rs)
	}
}

// TestResultsReadOnly: a read-only store reads results and writes nothing.
func TestResultsReadOnly(t *testing.T) {
	s, _ := newStore(t)
	mustPut(t, s, resultRecord("system", "in-a", "/nix/store/a", 1), nil)
	ro, _ := openAt(t, s.path, true)
	if rs := mustResults(t, ro, "system"); len(rs) != 1 {
		t.Errorf("read-only: %v", rs)
	}
	if _, err := ro.Results(""); err == nil {
		t.Error("an empty step name: no error")
	}
}
