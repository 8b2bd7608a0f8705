package ui

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/sysinit/sysinit/internal/runner"
)

// TestLiveThroughPTY drives the live view into a real pseudo-terminal (so the
// kernel's line discipline, e.g. ONLCR, applies) and checks the final screen.
func TestLiveThroughPTY(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pseudo-terminal available: %v", err)
	}
	defer master.Close()
	const cols = 60
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: cols}); err != nil {
		t.Fatalf("setting the pty size: %v", err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&out, master) // ends with EIO once the tty side is closed
	}()

	width := func() int {
		_, c, err := pty.Getsize(tty)
		if err != nil {
			return 0
		}
		return c
	}
	l := NewLive(tty, LiveOptions{Width: width, Interval: 2 * time.Millisecond})
	ev := func(e runner.Event) {
		e.Time = time.Now()
		l.Event(e)
		time.Sleep(5 * time.Millisecond) // let a few repaints happen in between
	}
	ev(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
		{Name: "flake-update", Status: runner.StatusWaiting, ETA: time.Second},
		{Name: "system", Status: runner.StatusWaiting},
		{Name: "brew", Status: runner.StatusWaiting},
	}})
	ev(runner.Event{Type: runner.EventStepStart, Step: "flake-update"})
	ev(runner.Event{Type: runner.EventStepStart, Step: "brew"})
	for _, line := range []string{"==> Fetching \x1b[32mwget\x1b[0m", "==> Downloading https://example.invalid/" + strings.Repeat("x", 80)} {
		ev(runner.Event{Type: runner.EventStepOutput, Step: "brew", Line: line})
	}
	ev(runner.Event{Type: runner.EventStepEnd, Step: "flake-update", Status: runner.StatusDone, Duration: 800 * time.Millisecond})
	ev(runner.Event{Type: runner.EventStepStart, Step: "system"})
	ev(runner.Event{Type: runner.EventStepEnd, Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1",
		Duration: 1500 * time.Millisecond, LogPath: "/logs/r1/brew.log",
		Tail: []string{"Error: wget: no bottle available!", "Error: 1 formula failed"}})
	ev(runner.Event{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: 2100 * time.Millisecond, Note: "nothing to switch"})
	ev(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: 2, Failed: 1, Wall: 2300 * time.Millisecond, LogDir: "/logs/r1"}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	<-copied

	s := render(t, out.String(), cols)
	want := strings.Join([]string{
		"✗ brew failed after 1.5s: exit status 1",
		"    Error: wget: no bottle available!",
		"    Error: 1 formula failed",
		"  log: /logs/r1/brew.log",
		"✓ flake-update  done     800ms",
		"✓ system        done     2.1s  (nothing to switch)",
		"✗ brew          failed   1.5s  exit status 1",
		"ran 2 · skipped 0 · failed 1 · 2.3s",
		"logs: /logs/r1",
	}, "\n")
	if got := s.text(); got != want {
		t.Errorf("final pty screen:\n%s\n\nwant:\n%s\n\nraw: %q", got, want, out.String())
	}
	if !s.cursorOn {
		t.Error("cursor left hidden")
	}
	if !bytes.Contains(out.Bytes(), []byte("\r\n")) {
		t.Error("no CRLF seen: the output did not pass through the tty line discipline")
	}
}
