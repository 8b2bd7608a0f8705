package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/state"
)

// TestLastRuns: what plan and why say of a step's last run, from the
// history, newest first.
func TestLastRuns(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	step := func(name, status, reason string, dur time.Duration) state.RunStep {
		return state.RunStep{Name: name, Status: status, Reason: reason, Duration: dur}
	}
	// Oldest first, as they happened.
	history := []state.Run{
		{ID: "r1", Command: "refresh", Steps: []state.RunStep{step("a", "failed", "old failure", time.Second), step("b", "done", "", time.Second), step("e", "failed", "before its success", time.Second)}},
		{ID: "r2", Command: "refresh", Steps: []state.RunStep{step("a", "done", "", time.Second), step("b", "failed", "exit 3", time.Second), step("e", "skipped", "", 0)}},
		{ID: "r3", Command: "rollback", Steps: []state.RunStep{step("c", "rolled-back", "from generation 2 to 1, /nix/store/x", time.Second)}},
		{ID: "r4", Command: "refresh", Steps: []state.RunStep{step("b", "skipped", "up to date", 0), step("d", "failed", "could not get root", 0)}},
		{ID: "r5", Command: "refresh", Steps: []state.RunStep{step("d", "interrupted", "not started", 0), step("f", "interrupted", "interrupted", time.Second)}},
	}
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "s.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// b's failure in r2 kept its end: "failed at" is then, not the run's
	// start.
	history[1].Steps[1].End = t0.Add(time.Minute + 30*time.Second)
	for i, r := range history {
		r.Start = t0.Add(time.Duration(i) * time.Minute)
		if err := st.AddRun(r); err != nil {
			t.Fatal(err)
		}
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(filepath.Join(logs, "r2"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "r2", "b.log"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// e's success is recorded from r2 although the history lost that
	// entry's status: the record settles it.
	records := map[string]state.Record{"e": {Step: "e", RunID: "r2"}}
	got, err := lastRuns(st, logs, []string{"a", "b", "c", "d", "e", "f", "g"}, records)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]lastRun{
		"b": {RunID: "r2", Command: "refresh", Time: t0.Add(time.Minute + 30*time.Second), Status: "failed", Detail: "exit 3", Log: filepath.Join(logs, "r2", "b.log")},
		"c": {RunID: "r3", Command: "rollback", Time: t0.Add(2 * time.Minute), Status: "rolled-back", Detail: "from generation 2 to 1, /nix/store/x"},
		"d": {RunID: "r4", Command: "refresh", Time: t0.Add(3 * time.Minute), Status: "failed", Detail: "could not get root"},
		"f": {RunID: "r5", Command: "refresh", Time: t0.Add(4 * time.Minute), Status: "interrupted", Detail: "interrupted"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d steps, want %d: %+v", len(got), len(want), got)
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok || g.RunID != w.RunID || g.Command != w.Command || !g.Time.Equal(w.Time) || g.Status != w.Status || g.Detail != w.Detail || g.Log != w.Log {
			t.Errorf("%s: got %+v, want %+v", name, g, w)
		}
	}
	// Only the steps asked about.
	if got, _ := lastRuns(st, logs, []string{"a"}, nil); len(got) != 0 {
		t.Errorf("a succeeded after failing, yet: %+v", got)
	}
	if got, _ := lastRuns(st, logs, nil, nil); len(got) != 0 {
		t.Errorf("no steps asked about, yet: %+v", got)
	}
}
