package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/step"
)

// TestRunDirsByLabel: a run's directory carries its config's label, so the
// runs of one config are found among those of every other; runs from
// before labels are found by id.
func TestRunDirsByLabel(t *testing.T) {
	base := t.TempDir()
	logs := filepath.Join(base, "sysinit", "logs")
	for _, r := range []struct{ id, label string }{
		{"20250101T000000-aaaaaa", "/repo/mine"},
		{"20250102T000000-bbbbbb", "/repo/theirs"},
		{"20250103T000000-cccccc", "/repo/mine"},
		{"20250104T000000-dddddd", ""},
		{"20250105T000000-eeeeee", "/repo/mine/sub"},
	} {
		lock, err := makeRunDir(base, filepath.Join(logs, r.id), r.label)
		if err != nil {
			t.Fatal(err)
		}
		lock.Close()
	}
	got, err := RunDirs(logs, "/repo/mine", map[string]bool{"20250104T000000-dddddd": true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"20250104T000000-dddddd", "20250103T000000-cccccc", "20250101T000000-aaaaaa"}; !slices.Equal(got, want) {
		t.Errorf("RunDirs = %q, want %q", got, want)
	}
	// Two runs in one second: the one that made its directory last is the
	// newer, whatever its random suffix.
	for i, id := range []string{"20250106T000000-ffffff", "20250106T000000-000000"} {
		lock, err := makeRunDir(base, filepath.Join(logs, id), "/repo/mine")
		if err != nil {
			t.Fatal(err)
		}
		lock.Close()
		made := time.Date(2025, 1, 6, 0, 0, 0, i*1000, time.UTC)
		if err := os.Chtimes(filepath.Join(logs, id, runLock), made, made); err != nil {
			t.Fatal(err)
		}
	}
	got, err = RunDirs(logs, "/repo/mine", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"20250106T000000-000000", "20250106T000000-ffffff", "20250103T000000-cccccc", "20250101T000000-aaaaaa"}; !slices.Equal(got, want) {
		t.Errorf("RunDirs = %q, want %q", got, want)
	}
	if got, err := RunDirs(filepath.Join(base, "none"), "x", nil); err != nil || got != nil {
		t.Errorf("no logs directory: %q, %v", got, err)
	}
}

// TestRunWritesLabel: the runner labels its log directory with
// Options.Label, and hands Options.Confirm to the step with its name.
func TestRunWritesLabel(t *testing.T) {
	h := newHarness(t)
	h.opts.Label = "/home/me/config"
	var asked []string
	h.opts.Confirm = func(_ context.Context, name, summary string) error {
		asked = append(asked, name+": "+summary)
		return nil
	}
	res := h.run(context.Background(), decision("sys", runs(func(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
		return step.Outcome{}, rc.Confirm(ctx, "switch to x")
	})))
	want(t, res, map[string]Status{"sys": StatusDone}, nil)
	if got := readLabel(h.opts.LogDir); got != "/home/me/config" {
		t.Errorf("label %q", got)
	}
	if !slices.Equal(asked, []string{"sys: switch to x"}) {
		t.Errorf("asked %q", asked)
	}
	// Without Options.Confirm, steps are not asked.
	h2 := newHarness(t)
	res = h2.run(context.Background(), decision("sys", runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
		if rc.Confirm != nil {
			t.Error("Confirm set without Options.Confirm")
		}
		return step.Outcome{}, nil
	})))
	want(t, res, map[string]Status{"sys": StatusDone}, nil)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFollow: the log of a running run is copied as it grows and Follow
// returns once the run lets its lock go, with every line; a log the run
// has not started is waited for; a run that ends without it says so.
func TestFollow(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "sysinit", "logs", "20250101T000000-aaaaaa")
	lock, err := makeRunDir(base, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if running, err := Running(dir); !running || err != nil {
		t.Fatalf("Running = %v, %v while the lock is held", running, err)
	}
	var out syncBuffer
	type result struct {
		found bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		found, err := Follow(context.Background(), dir, "sys", &out, time.Millisecond)
		done <- result{found, err}
	}()
	log, err := os.OpenFile(LogPath(dir, "sys"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.WriteString("first\n"); err != nil {
		t.Fatal(err)
	}
	// Follow has copied the first line (and so is following) before the
	// second is written.
	deadline := time.Now().Add(guard)
	for out.String() != "first\n" {
		if time.Now().After(deadline) {
			t.Fatalf("follow never copied the first line: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("Follow returned while the run goes on: %+v", r)
	default:
	}
	if _, err := log.WriteString("second\n"); err != nil {
		t.Fatal(err)
	}
	log.Close()
	lock.Close() // the run ends
	select {
	case r := <-done:
		if !r.found || r.err != nil || out.String() != "first\nsecond\n" {
			t.Errorf("Follow = %+v, copied %q", r, out.String())
		}
	case <-time.After(guard):
		t.Fatal("Follow did not return after the run ended")
	}
	if running, err := Running(dir); running || err != nil {
		t.Errorf("Running = %v, %v after the run", running, err)
	}

	// A run that ends without the step's log.
	dir2 := filepath.Join(base, "sysinit", "logs", "20250102T000000-bbbbbb")
	lock2, err := makeRunDir(base, dir2, "")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		found, err := Follow(context.Background(), dir2, "sys", &out, time.Millisecond)
		done <- result{found, err}
	}()
	lock2.Close()
	if r := <-done; r.found || r.err != nil {
		t.Errorf("a run without the log: %+v", r)
	}
	// Cancelled while following.
	lock3, err := makeRunDir(base, filepath.Join(base, "sysinit", "logs", "20250103T000000-cccccc"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer lock3.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Follow(ctx, filepath.Join(base, "sysinit", "logs", "20250103T000000-cccccc"), "sys", &out, time.Millisecond); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}
