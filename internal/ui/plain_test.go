package ui

import (
	"bufio"
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

var t0 = time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)

func TestPlain(t *testing.T) {
	runStart := runner.Event{Type: runner.EventRunStart, Time: t0, Steps: []runner.StepInfo{
		{Name: "fonts", Status: runner.StatusSkipped, Reason: "up to date"},
		{Name: "system", Status: runner.StatusWaiting, Reason: "inputs changed: 2 files"},
		{Name: "x", Status: runner.StatusNotApplicable, Reason: "brew not on PATH"},
		{Name: "brew", Status: runner.StatusWaiting},
		{Name: "quiet", Status: runner.StatusSkipped},
	}}
	tests := []struct {
		name    string
		verbose bool
		events  []runner.Event
		want    string
	}{{
		name:   "skipped steps are printed at run-start",
		events: []runner.Event{runStart},
		want: "sysinit: fonts: skipped (up to date)\n" +
			"sysinit: x: not applicable (brew not on PATH)\n" +
			"sysinit: quiet: skipped\n",
	}, {
		name: "a full run",
		events: []runner.Event{
			runStart,
			{Type: runner.EventStepStart, Step: "system", Reason: "inputs changed: 2 files"},
			{Type: runner.EventStepOutput, Step: "system", Line: "building..."},
			{Type: runner.EventStepStart, Step: "brew"},
			{Type: runner.EventStepEnd, Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1",
				Duration: 1234 * time.Millisecond, LogPath: "/logs/r1/brew.log",
				Tail: []string{"Error: No such keg", "  at \x1b[1mbundle\x1b[0m"}},
			{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: 12345 * time.Millisecond, Note: "nothing to switch"},
			{Type: runner.EventStepEnd, Step: "fonts", Status: runner.StatusBlocked, Reason: "blocked by system"},
			{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: 1, Skipped: 3, Failed: 1, Wall: 1234 * time.Millisecond, LogDir: "/logs/r1"}},
		},
		want: "sysinit: fonts: skipped (up to date)\n" +
			"sysinit: x: not applicable (brew not on PATH)\n" +
			"sysinit: quiet: skipped\n" +
			"sysinit: system: running (inputs changed: 2 files)\n" +
			"sysinit: brew: running\n" +
			"sysinit: brew: failed after 1.2s: exit status 1\n" +
			"    Error: No such keg\n" +
			"      at bundle\n" +
			"  log: /logs/r1/brew.log\n" +
			"sysinit: system: done in 12.3s (nothing to switch)\n" +
			"sysinit: fonts: blocked by system\n" +
			"sysinit: ran 1, skipped 3, failed 1, blocked 0 in 1.2s\n" +
			"sysinit: logs: /logs/r1\n",
	}, {
		name:    "verbose prints output and new progress lines",
		verbose: true,
		events: []runner.Event{
			{Type: runner.EventStepStart, Step: "system"},
			{Type: runner.EventStepOutput, Step: "system", Line: "evaluating\tflake"},
			{Type: runner.EventStepProgress, Step: "system", Line: "building 1/7"},
			{Type: runner.EventStepProgress, Step: "system", Line: "building 1/7"},
			{Type: runner.EventStepProgress, Step: "system", Line: "building 2/7"},
			{Type: runner.EventStepOutput, Step: "system", Line: "two\nlines"},
			{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: 340 * time.Millisecond},
		},
		want: "sysinit: system: running\n" +
			"system | evaluating flake\n" +
			"system | building 1/7\n" +
			"system | building 2/7\n" +
			"system | two lines\n" +
			"sysinit: system: done in 340ms\n",
	}, {
		name: "a step-end repeating a run-start skip is not printed twice",
		events: []runner.Event{
			runStart,
			{Type: runner.EventStepEnd, Step: "fonts", Status: runner.StatusSkipped, Reason: "up to date"},
		},
		want: "sysinit: fonts: skipped (up to date)\n" +
			"sysinit: x: not applicable (brew not on PATH)\n" +
			"sysinit: quiet: skipped\n",
	}, {
		name: "steps that never started",
		events: []runner.Event{
			{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusFailed, Reason: "could not get root: sudo: a password is required"},
			{Type: runner.EventStepEnd, Step: "brew", Status: runner.StatusBlocked, Reason: "not started: --fail-fast"},
			{Type: runner.EventStepEnd, Step: "fonts", Status: runner.StatusInterrupted, Reason: "not started: interrupted"},
			{Type: runner.EventStepEnd, Step: "nix", Status: runner.StatusBlocked},
			{Type: runner.EventStepEnd, Step: "odd", Status: "weird\x1b[2J", Reason: "?"},
		},
		want: "sysinit: system: failed: could not get root: sudo: a password is required\n" +
			"sysinit: brew: blocked (not started: --fail-fast)\n" +
			"sysinit: fonts: interrupted (not started: interrupted)\n" +
			"sysinit: nix: blocked\n" +
			"sysinit: odd: weird (?)\n",
	}, {
		name: "an interrupted run",
		events: []runner.Event{
			{Type: runner.EventStepStart, Step: "system"},
			{Type: runner.EventNotice, Line: "stopping: running steps get SIGTERM"},
			{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusInterrupted, Duration: 65 * time.Second},
			{Type: runner.EventRunEnd, Summary: &runner.Summary{Interrupted: true, Wall: 65500 * time.Millisecond, LogDir: "/l"}},
		},
		want: "sysinit: system: running\n" +
			"sysinit: stopping: running steps get SIGTERM\n" +
			"sysinit: system: interrupted after 1m05s\n" +
			"sysinit: interrupted\n" +
			"sysinit: ran 0, skipped 0, failed 0, blocked 0 in 1m06s\n",
	}, {
		name: "a run-end without a summary counts what it saw",
		events: []runner.Event{
			runStart,
			{Type: runner.EventStepStart, Step: "system"},
			{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: time.Second},
			{Type: runner.EventRunEnd, Time: t0.Add(1500 * time.Millisecond)},
		},
		want: "sysinit: fonts: skipped (up to date)\n" +
			"sysinit: x: not applicable (brew not on PATH)\n" +
			"sysinit: quiet: skipped\n" +
			"sysinit: system: running\n" +
			"sysinit: system: done in 1.0s\n" +
			"sysinit: ran 1, skipped 3, failed 0, blocked 0 in 1.5s\n",
	}, {
		name: "output is dropped unless verbose",
		events: []runner.Event{
			{Type: runner.EventStepOutput, Step: "system", Line: "noise"},
			{Type: runner.EventStepProgress, Step: "system", Line: "building 1/7"},
		},
		want: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := NewPlain(&out, PlainOptions{Verbose: tt.verbose})
			for _, e := range tt.events {
				p.Event(e)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestPlainAfterCloseAndFlush(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	p := NewPlain(bw, PlainOptions{})
	p.Event(runner.Event{Type: runner.EventStepStart, Step: "a"})
	if got := out.String(); got != "sysinit: a: running\n" {
		t.Errorf("after one event the reader sees %q: a buffered writer was not flushed", got)
	}
	p.Close()
	p.Event(runner.Event{Type: runner.EventStepStart, Step: "b"})
	bw.Flush()
	if strings.Contains(out.String(), "b:") {
		t.Error("an event after Close was printed")
	}
}

func TestPlainWriteError(t *testing.T) {
	w := &failingWriter{}
	p := NewPlain(w, PlainOptions{})
	p.Event(runner.Event{Type: runner.EventStepStart, Step: "a"})
	p.Event(runner.Event{Type: runner.EventStepStart, Step: "b"})
	err := p.Close()
	if err == nil || !strings.Contains(err.Error(), "writing progress: input/output error") {
		t.Errorf("Close = %v, want the write error", err)
	}
	if w.n != 1 {
		t.Errorf("kept writing after the first error: %d writes", w.n)
	}
}

// TestPlainStreams: the summary is the product and goes to its own writer
// (stdout); progress, failures, their logs and the interruption go to the
// view's writer (stderr), so `sysinit >/dev/null` still shows a failure.
func TestPlainStreams(t *testing.T) {
	var progress, summary bytes.Buffer
	p := NewPlain(&progress, PlainOptions{Summary: &summary})
	for _, e := range []runner.Event{
		{Type: runner.EventRunStart, Time: t0, Steps: []runner.StepInfo{{Name: "fonts", Status: runner.StatusSkipped, Reason: "up to date"}}},
		{Type: runner.EventStepStart, Step: "brew"},
		{Type: runner.EventStepEnd, Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1",
			Duration: time.Second, LogPath: "/l/brew.log", Tail: []string{"Error: No such keg"}},
		{Type: runner.EventRunEnd, Summary: &runner.Summary{Skipped: 1, Failed: 1, Interrupted: true, Wall: time.Second, LogDir: "/l"}},
	} {
		p.Event(e)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantProgress := "sysinit: fonts: skipped (up to date)\n" +
		"sysinit: brew: running\n" +
		"sysinit: brew: failed after 1.0s: exit status 1\n" +
		"    Error: No such keg\n" +
		"  log: /l/brew.log\n" +
		"sysinit: interrupted\n" +
		"sysinit: logs: /l\n"
	if got := progress.String(); got != wantProgress {
		t.Errorf("progress:\n%s\nwant:\n%s", got, wantProgress)
	}
	if got, want := summary.String(), "sysinit: ran 0, skipped 1, failed 1, blocked 0 in 1.0s\n"; got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
}

// TestPlainHeartbeat: a running step gets a line at each period of its
// running, with its latest progress, or else its latest output line.
func TestPlainHeartbeat(t *testing.T) {
	var out bytes.Buffer
	// No goroutine: the test calls beat itself (Heartbeat is set by hand).
	p := NewPlain(&out, PlainOptions{})
	p.heartbeat = 30 * time.Second
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	p.Event(runner.Event{Type: runner.EventRunStart, Time: t0, Steps: []runner.StepInfo{
		{Name: "system", Status: runner.StatusWaiting}, {Name: "fonts", Status: runner.StatusWaiting}, {Name: "quick", Status: runner.StatusWaiting}}})
	p.Event(runner.Event{Type: runner.EventStepStart, Time: at(0), Step: "system"})
	p.Event(runner.Event{Type: runner.EventStepStart, Time: at(0), Step: "quick"})
	p.Event(runner.Event{Type: runner.EventStepEnd, Time: at(time.Second), Step: "quick", Status: runner.StatusDone, Duration: time.Second})
	p.Event(runner.Event{Type: runner.EventStepStart, Time: at(10 * time.Second), Step: "fonts"})
	p.Event(runner.Event{Type: runner.EventStepOutput, Time: at(11 * time.Second), Step: "system", Line: "evaluating flake"})
	p.Event(runner.Event{Type: runner.EventStepProgress, Time: at(12 * time.Second), Step: "system", Line: "building 3/17, 2 downloading"})
	p.Event(runner.Event{Type: runner.EventStepOutput, Time: at(13 * time.Second), Step: "system", Line: "building '/nix/store/abc-x.drv'"})
	p.Event(runner.Event{Type: runner.EventStepOutput, Time: at(14 * time.Second), Step: "fonts", Line: "\x1b[1mcopying\x1b[0m " + strings.Repeat("x", 200)})
	out.Reset()

	beats := []struct {
		at   time.Duration
		want string
	}{
		{29 * time.Second, ""},
		{30 * time.Second, "sysinit: system: still running after 30.0s (building 3/17, 2 downloading)\n"},
		{35 * time.Second, ""},
		{40 * time.Second, "sysinit: fonts: still running after 30.0s (last output: copying " + strings.Repeat("x", 112) + "...)\n"},
		{60 * time.Second, "sysinit: system: still running after 1m00s (building 3/17, 2 downloading)\n"},
		// The machine slept through several periods: one line each.
		{5 * time.Minute, "sysinit: system: still running after 5m00s (building 3/17, 2 downloading)\n" +
			"sysinit: fonts: still running after 4m50s (last output: copying " + strings.Repeat("x", 112) + "...)\n"},
		{5*time.Minute + 9*time.Second, ""},
	}
	for _, b := range beats {
		out.Reset()
		p.beat(at(b.at))
		if got := out.String(); got != b.want {
			t.Errorf("beat at %v:\n%q\nwant:\n%q", b.at, got, b.want)
		}
	}
	// An ended step has no heartbeat.
	p.Event(runner.Event{Type: runner.EventStepEnd, Time: at(6 * time.Minute), Step: "system", Status: runner.StatusDone, Duration: 6 * time.Minute})
	out.Reset()
	p.beat(at(10 * time.Minute))
	if got, want := out.String(), "sysinit: fonts: still running after 9m50s (last output: copying "+strings.Repeat("x", 112)+"...)\n"; got != want {
		t.Errorf("after system ended:\n%q\nwant:\n%q", got, want)
	}
	p.Close()
	out.Reset()
	p.beat(at(20 * time.Minute))
	if out.Len() > 0 {
		t.Errorf("a heartbeat after Close: %q", out.String())
	}
}

// signalWriter tells on each write.
type signalWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	select {
	case w.writes <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestPlainHeartbeatTicks: with a heartbeat the view beats by itself, and
// Close stops it.
func TestPlainHeartbeatTicks(t *testing.T) {
	clock := newFakeClock()
	w := &signalWriter{writes: make(chan struct{}, 1)}
	p := NewPlain(w, PlainOptions{Heartbeat: 10 * time.Millisecond, Now: clock.Now})
	p.Event(runner.Event{Type: runner.EventStepStart, Time: clock.Now(), Step: "system"})
	<-w.writes // "running"
	clock.Add(time.Minute)
	select {
	case <-w.writes:
	case <-time.After(30 * time.Second):
		t.Fatal("no heartbeat 30s after it was due")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := w.String(), "sysinit: system: running\nsysinit: system: still running after 1m00s\n"; got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}
