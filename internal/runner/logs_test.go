package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/step"
)

func logDirs(t *testing.T, logs string) []string {
	t.Helper()
	ents, err := os.ReadDir(logs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestPruneLogsSparesRunning: pruning keeps the newest runs' logs and
// never removes those of a run still going (its directory is locked from
// the moment it appears), however old, nor the pruning run's own; once
// that run ends its logs go like any other's.
func TestPruneLogsSparesRunning(t *testing.T) {
	base := t.TempDir()
	logs := filepath.Join(base, "sysinit", "logs")
	lock, err := makeRunDir(base, filepath.Join(logs, "20250101T000000-running"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"20240101T000000-old", "20250101T000000-mine", "20250102T000000-a", "20250103T000000-b", "20250104T000000-c"} {
		if err := os.Mkdir(filepath.Join(logs, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := PruneLogs(logs, 2, filepath.Join(logs, "20250101T000000-mine")); err != nil {
		t.Fatal(err)
	}
	want := []string{"20250101T000000-mine", "20250101T000000-running", "20250103T000000-b", "20250104T000000-c"}
	if got := logDirs(t, logs); !slices.Equal(got, want) {
		t.Errorf("after pruning: %q, want %q", got, want)
	}
	lock.Close()
	if err := PruneLogs(logs, 2, ""); err != nil {
		t.Fatal(err)
	}
	if got := logDirs(t, logs); !slices.Equal(got, want[2:]) {
		t.Errorf("after the run ended: %q, want %q", got, want[2:])
	}
}

// TestPruneLogsRefusesLinkedDir: a logs directory that is a link (to
// someone else's directories) is not pruned, and says why.
func TestPruneLogsRefusesLinkedDir(t *testing.T) {
	base := t.TempDir()
	theirs := filepath.Join(base, "theirs")
	for i := range 3 {
		if err := os.MkdirAll(filepath.Join(theirs, "dir"+string(rune('a'+i))), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	logs := filepath.Join(base, "sysinit", "logs")
	if err := os.MkdirAll(filepath.Dir(logs), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(theirs, logs); err != nil {
		t.Fatal(err)
	}
	if err := PruneLogs(logs, 1, ""); err == nil || !strings.Contains(err.Error(), "refusing state directory "+logs+": it is a symbolic link") {
		t.Errorf("PruneLogs: %v", err)
	}
	if got := logDirs(t, theirs); len(got) != 3 {
		t.Errorf("their directory holds %q", got)
	}
}

// TestRunLogDirIsLockedWhileRunning: a run's log directory appears
// already locked and stays locked until Run returns.
func TestRunLogDirIsLockedWhileRunning(t *testing.T) {
	h := newHarness(t)
	logs := filepath.Dir(h.opts.LogDir)
	var during []string
	h.run(t.Context(), decision("s", runs(func(_ context.Context, _ *step.RunContext) (step.Outcome, error) {
		if err := PruneLogs(logs, 0, ""); err != nil {
			t.Error(err)
		}
		during = logDirs(t, logs)
		return step.Outcome{}, nil
	})))
	if !slices.Equal(during, []string{filepath.Base(h.opts.LogDir)}) {
		t.Errorf("while running, the logs directory holds %q", during)
	}
	if err := PruneLogs(logs, 0, ""); err != nil {
		t.Fatal(err)
	}
	if got := logDirs(t, logs); len(got) != 0 {
		t.Errorf("after the run, pruning left %q", got)
	}
}
