package ui

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

// fakeClock is a settable clock shared by the test and the screen goroutine.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// syncBuffer is a bytes.Buffer safe to read while the screen goroutine
// writes, which also notices overlapping Write calls.
type syncBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	inFlight atomic.Int32
	overlaps atomic.Int32
	writes   atomic.Int32
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	if b.inFlight.Add(1) > 1 {
		b.overlaps.Add(1)
	}
	defer b.inFlight.Add(-1)
	b.writes.Add(1)
	time.Sleep(10 * time.Microsecond) // widen the window for an overlap
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// render interprets what was written so far on a screen of the given width.
func render(t *testing.T, out string, width int) *screen {
	t.Helper()
	s := newScreen(width)
	s.Write([]byte(out))
	for _, p := range s.problems {
		t.Errorf("screen: %s", p)
	}
	return s
}

// liveHarness is a Live view on a fake clock writing into a buffer.
type liveHarness struct {
	t     *testing.T
	clock *fakeClock
	out   *syncBuffer
	live  *Live
	width int
}

func newLiveHarness(t *testing.T, width int, opts LiveOptions) *liveHarness {
	h := &liveHarness{t: t, clock: newFakeClock(), out: &syncBuffer{}, width: width}
	opts.Now = h.clock.Now
	opts.Width = func() int { return width }
	if opts.Interval == 0 {
		opts.Interval = time.Hour // repaint only when the test asks
	}
	h.live = NewLive(h.out, opts)
	t.Cleanup(func() { h.live.Close() })
	return h
}

// send stamps e with the fake clock and hands it to the view.
func (h *liveHarness) send(e runner.Event) {
	e.Time = h.clock.Now()
	h.live.Event(e)
}

func (h *liveHarness) screen() *screen {
	h.live.sync()
	return render(h.t, h.out.String(), h.width)
}

func demoSteps() []runner.StepInfo {
	return []runner.StepInfo{
		{Name: "flake-update", Status: runner.StatusWaiting, Reason: "ttl expired", ETA: 2 * time.Second},
		{Name: "nix-conf", Status: runner.StatusSkipped, Reason: "up to date"},
		{Name: "system", Status: runner.StatusWaiting, Reason: "inputs changed: 2 files", ETA: 10 * time.Second},
		{Name: "brew", Status: runner.StatusNotApplicable, Reason: "brew not on PATH"},
		{Name: "fonts", Status: runner.StatusWaiting, Reason: "never succeeded here"},
	}
}

func TestLiveFinalFrame(t *testing.T) {
	h := newLiveHarness(t, 80, LiveOptions{})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: demoSteps()})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "flake-update", Reason: "ttl expired"})
	h.send(runner.Event{Type: runner.EventStepOutput, Step: "flake-update", Line: "unpacking 'github:NixOS/nixpkgs'"})
	h.clock.Add(1200 * time.Millisecond)
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "flake-update", Status: runner.StatusDone, Duration: 1200 * time.Millisecond, Note: "nothing to update"})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "system", LogPath: "/logs/r1/system.log"})
	h.clock.Add(3400 * time.Millisecond)
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusFailed, Reason: "exit status 1",
		Duration: 3400 * time.Millisecond, LogPath: "/logs/r1/system.log",
		Tail: []string{"error: attribute 'foo' missing", "       at /etc/nixos/flake.nix:12:5"}})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "fonts", Status: runner.StatusBlocked, Reason: "blocked by system"})
	h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{
		Ran: 1, Skipped: 2, Failed: 1, Blocked: 1, Wall: 4650 * time.Millisecond, LogDir: "/logs/r1"}})
	if err := h.live.Close(); err != nil {
		t.Fatal(err)
	}
	s := render(t, h.out.String(), 80)
	want := strings.Join([]string{
		"✗ system failed after 3.4s: exit status 1",
		"    error: attribute 'foo' missing",
		"           at /etc/nixos/flake.nix:12:5",
		"  log: /logs/r1/system.log",
		"✓ flake-update  done     1.2s  (nothing to update)",
		"· nix-conf      skipped (up to date)",
		"✗ system        failed   3.4s  exit status 1",
		"– brew          not applicable (brew not on PATH)",
		"⊘ fonts         blocked by system",
		"ran 1 · skipped 2 · failed 1 · blocked 1 · 4.7s",
		"logs: /logs/r1",
	}, "\n")
	if got := s.text(); got != want {
		t.Errorf("final screen:\n%s\n\nwant:\n%s", got, want)
	}
	if !s.cursorOn {
		t.Error("cursor left hidden")
	}
	if s.row != len(s.rows()) || s.col != 0 {
		t.Errorf("cursor at row %d col %d, want the start of the line after the summary (row %d)", s.row, s.col, len(s.rows()))
	}
}

func TestLiveRunningFrames(t *testing.T) {
	h := newLiveHarness(t, 80, LiveOptions{})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: demoSteps()[2:3]})
	if got, want := h.screen().text(), "○ system  waiting  inputs changed: 2 files"; got != want {
		t.Errorf("at run-start:\n%s\nwant:\n%s", got, want)
	}

	h.send(runner.Event{Type: runner.EventStepStart, Step: "system", Reason: "inputs changed: 2 files"})
	h.clock.Add(300 * time.Millisecond)
	want := "⠸ system  running  0.3s  ~10s left\n    inputs changed: 2 files"
	if got := h.screen().text(); got != want {
		t.Errorf("before output:\n%s\nwant:\n%s", got, want)
	}

	h.send(runner.Event{Type: runner.EventStepOutput, Step: "system", Line: "\x1b[1mbuilding\x1b[0m '/nix/store/abc-system.drv'\t..."})
	h.send(runner.Event{Type: runner.EventStepProgress, Step: "system", Line: "building 3/7"})
	h.clock.Add(12 * time.Second)
	// The counter goes on the row; the output line stays under it.
	want = "⠸ system  running  12.3s  (over by 3s)  building 3/7\n    building '/nix/store/abc-system.drv' ..."
	if got := h.screen().text(); got != want {
		t.Errorf("after progress:\n%s\nwant:\n%s", got, want)
	}

	// Nothing changed: no bytes.
	before := h.out.writes.Load()
	h.live.sync()
	if after := h.out.writes.Load(); after != before {
		t.Errorf("repaint with nothing changed wrote %d times", after-before)
	}

	// Log lines pass under the row; the counter stays until the next one.
	h.send(runner.Event{Type: runner.EventStepOutput, Step: "system", Line: "copying path '/nix/store/xyz'"})
	want = "⠸ system  running  12.3s  (over by 3s)  building 3/7\n    copying path '/nix/store/xyz'"
	if got := h.screen().text(); got != want {
		t.Errorf("after output:\n%s\nwant:\n%s", got, want)
	}
	h.send(runner.Event{Type: runner.EventStepProgress, Step: "system", Line: "building 4/7, 2 downloading"})
	h.send(runner.Event{Type: runner.EventStepOutput, Step: "system", Line: "building '/nix/store/def-etc.drv'"})
	want = "⠸ system  running  12.3s  (over by 3s)  building 4/7, 2 downloading\n    building '/nix/store/def-etc.drv'"
	if got := h.screen().text(); got != want {
		t.Errorf("after more progress and output:\n%s\nwant:\n%s", got, want)
	}
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: 12300 * time.Millisecond})
	if got, want := h.screen().text(), "✓ system  done     12.3s"; got != want {
		t.Errorf("after the end:\n%s\nwant (no counter, no output line):\n%s", got, want)
	}
}

func TestLiveWaitingSaysForWhat(t *testing.T) {
	after := map[string][]string{"system": {"flake-update", "nix-conf"}, "fonts": {"system"}}
	h := newLiveHarness(t, 80, LiveOptions{After: func(s string) []string { return after[s] }})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
		{Name: "flake-update", Status: runner.StatusWaiting, Reason: "ttl expired"},
		{Name: "nix-conf", Status: runner.StatusWaiting, Reason: "never ran"},
		{Name: "system", Status: runner.StatusWaiting, Reason: "inputs changed"},
		{Name: "fonts", Status: runner.StatusWaiting, Reason: "never ran"},
	}})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "flake-update"})
	h.send(runner.Event{Type: runner.EventStepOutput, Step: "flake-update", Line: "fetching"})
	want := strings.Join([]string{
		"⠋ flake-update  running  0.0s",
		"    fetching",
		"○ nix-conf      waiting  never ran",
		"○ system        waiting for flake-update, nix-conf",
		"○ fonts         waiting for system",
	}, "\n")
	if got := h.screen().text(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
	// Finished dependencies drop out of the list; a step with none left
	// waits for a free slot (or its recheck) and shows why it will run.
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "flake-update", Status: runner.StatusDone, Duration: time.Second})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "nix-conf", Status: runner.StatusSkipped, Reason: "up to date"})
	want = strings.Join([]string{
		"✓ flake-update  done     1.0s",
		"· nix-conf      skipped (up to date)",
		"○ system        waiting  inputs changed",
		"○ fonts         waiting for system",
	}, "\n")
	if got := h.screen().text(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
}

func TestLiveNoLineExceedsWidth(t *testing.T) {
	for _, width := range []int{12, 30, 47} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			h := newLiveHarness(t, width, LiveOptions{Color: true})
			h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
				{Name: "a-very-long-step-name-indeed", Status: runner.StatusWaiting, ETA: time.Minute},
				{Name: "字体", Status: runner.StatusSkipped, Reason: "上面的文字很长很长很长很长很长"},
				{Name: "b", Status: runner.StatusWaiting},
				{Name: "☕-brew", Status: runner.StatusSkipped, Reason: "⚡ up to date ✔️ 🧑‍💻👍🏽🇩🇪"},
			}})
			h.send(runner.Event{Type: runner.EventStepStart, Step: "a-very-long-step-name-indeed"})
			h.send(runner.Event{Type: runner.EventStepOutput, Step: "a-very-long-step-name-indeed",
				Line: "\x1b[31mred\x1b[0m and a bell\a and a tab\there and 中文中文中文中文中文中文中文"})
			h.send(runner.Event{Type: runner.EventStepStart, Step: "b"})
			h.send(runner.Event{Type: runner.EventStepOutput, Step: "b", Line: "\x1b]0;title\x07progress 10%\rprogress 99%"})
			h.send(runner.Event{Type: runner.EventStepOutput, Step: "a-very-long-step-name-indeed",
				Line: "☕☕☕ 🧑‍💻🧑‍💻🧑‍💻 ⚡⚡⚡ 中文中文中文中文 ✔️✔️✔️✔️ 🇩🇪🇩🇪🇩🇪 👍🏽👍🏽👍🏽👍🏽"})
			s := h.screen() // render reports any character written past the width
			rows := s.rows()
			if len(rows) != 6 {
				t.Fatalf("want 6 rows (4 steps, 2 output lines), got:\n%s", s.text())
			}
			for _, r := range rows {
				if w := stringWidth(r); w > width-1 {
					t.Errorf("row %q is %d cells, want <= %d", r, w, width-1)
				}
				if strings.ContainsAny(r, "\a\x1b") || strings.Contains(r, "title") {
					t.Errorf("row %q carries the child's control text", r)
				}
			}
			if width == 47 && rows[4] != "    progress 99%" {
				t.Errorf("carriage-return progress: got %q, want %q", rows[4], "    progress 99%")
			}
		})
	}
}

func TestLiveConcurrentEvents(t *testing.T) {
	const n = 40
	h := newLiveHarness(t, 60, LiveOptions{Interval: time.Millisecond})
	var steps []runner.StepInfo
	for i := range n {
		steps = append(steps, runner.StepInfo{Name: fmt.Sprintf("step-%02d", i), Status: runner.StatusWaiting})
	}
	h.send(runner.Event{Type: runner.EventRunStart, Steps: steps})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := steps[i].Name
			h.send(runner.Event{Type: runner.EventStepStart, Step: name})
			for j := range 200 {
				h.send(runner.Event{Type: runner.EventStepOutput, Step: name, Line: fmt.Sprintf("line %d of %s", j, name)})
			}
			h.send(runner.Event{Type: runner.EventStepEnd, Step: name, Status: runner.StatusDone, Duration: time.Second})
		})
	}
	wg.Wait()
	h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: n, Wall: 2 * time.Second}})
	if err := h.live.Close(); err != nil {
		t.Fatal(err)
	}
	if o := h.out.overlaps.Load(); o > 0 {
		t.Errorf("%d overlapping writes", o)
	}
	rows := render(t, h.out.String(), 60).rows()
	if len(rows) != n+1 {
		t.Fatalf("want %d rows, got %d:\n%s", n+1, len(rows), strings.Join(rows, "\n"))
	}
	for i, r := range rows[:n] {
		if want := fmt.Sprintf("✓ step-%02d  done     1.0s", i); r != want {
			t.Errorf("row %d = %q, want %q", i, r, want)
		}
	}
	if rows[n] != "ran 40 · skipped 0 · 2.0s" {
		t.Errorf("summary = %q", rows[n])
	}
}

func TestLiveClose(t *testing.T) {
	t.Run("nothing sent writes nothing", func(t *testing.T) {
		h := newLiveHarness(t, 80, LiveOptions{})
		if err := h.live.Close(); err != nil {
			t.Fatal(err)
		}
		if out := h.out.String(); out != "" {
			t.Errorf("wrote %q", out)
		}
	})
	t.Run("mid-run restores the cursor", func(t *testing.T) {
		h := newLiveHarness(t, 80, LiveOptions{})
		h.send(runner.Event{Type: runner.EventRunStart, Steps: demoSteps()[:1]})
		h.send(runner.Event{Type: runner.EventStepStart, Step: "flake-update"})
		h.send(runner.Event{Type: runner.EventStepOutput, Step: "flake-update", Line: "fetching"})
		if s := h.screen(); s.cursorOn {
			t.Error("cursor visible while the block is live")
		}
		h.clock.Add(time.Second)
		if err := h.live.Close(); err != nil {
			t.Fatal(err)
		}
		out := h.out.String()
		if !strings.HasSuffix(out, escShowCursor) {
			t.Errorf("output does not end by showing the cursor: %q", out[max(0, len(out)-40):])
		}
		s := render(t, out, 80)
		if want := "⠋ flake-update  running  1.0s  ~1s left"; s.text() != want {
			t.Errorf("final screen:\n%s\nwant (static, without the output line):\n%s", s.text(), want)
		}
		if err := h.live.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		h.live.Event(runner.Event{Type: runner.EventStepEnd, Step: "flake-update"}) // must not panic
		if h.out.String() != out {
			t.Error("an event after Close was drawn")
		}
	})
}

func TestLiveFailureReportPrintedOnce(t *testing.T) {
	h := newLiveHarness(t, 80, LiveOptions{})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
		{Name: "brew", Status: runner.StatusWaiting}, {Name: "fonts", Status: runner.StatusWaiting}}})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "brew"})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "fonts"})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1",
		Duration: 1200 * time.Millisecond, Tail: []string{"Error: No such keg"}, LogPath: "/l/brew.log"})
	for range 5 {
		h.clock.Add(150 * time.Millisecond)
		h.live.sync()
	}
	want := strings.Join([]string{
		"✗ brew failed after 1.2s: exit status 1",
		"    Error: No such keg",
		"  log: /l/brew.log",
		"✗ brew   failed   1.2s  exit status 1",
		"⠧ fonts  running  0.8s",
	}, "\n")
	if got := render(t, h.out.String(), 80).text(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
}

func TestLiveInterruptedSummary(t *testing.T) {
	h := newLiveHarness(t, 80, LiveOptions{})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
		{Name: "system", Status: runner.StatusWaiting}, {Name: "fonts", Status: runner.StatusWaiting}}})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "system"})
	h.clock.Add(2 * time.Second)
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusInterrupted, Duration: 2 * time.Second})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "fonts", Status: runner.StatusInterrupted, Reason: "not started: interrupted"})
	h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Interrupted: true, Wall: 2 * time.Second, LogDir: "/l"}})
	h.live.Close()
	want := strings.Join([]string{
		"! system  interrupted  2.0s",
		"! fonts   interrupted",
		"interrupted · ran 0 · skipped 0 · 2.0s",
	}, "\n")
	if got := render(t, h.out.String(), 80).text(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
}

func TestLiveFitsHeight(t *testing.T) {
	h := newLiveHarness(t, 80, LiveOptions{Height: func() int { return 6 }})
	var steps []runner.StepInfo
	for i := range 10 {
		st := runner.StatusWaiting
		if i%3 == 0 {
			st = runner.StatusSkipped
		}
		steps = append(steps, runner.StepInfo{Name: fmt.Sprintf("s%d", i), Status: st})
	}
	h.send(runner.Event{Type: runner.EventRunStart, Steps: steps})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "s8"})
	h.send(runner.Event{Type: runner.EventStepOutput, Step: "s8", Line: "working"})
	want := strings.Join([]string{
		"○ s4  waiting",
		"○ s5  waiting",
		"○ s7  waiting",
		"⠋ s8  running  0.0s",
		"  … 6 more: 2 waiting, 4 skipped",
	}, "\n")
	if got := h.screen().text(); got != want {
		t.Errorf("live block on a 6-row screen:\n%s\nwant:\n%s", got, want)
	}
	h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Skipped: 4}})
	h.live.Close()
	if rows := render(t, h.out.String(), 80).rows(); len(rows) != 11 {
		t.Errorf("final block should list all 10 steps and the summary, got:\n%s", strings.Join(rows, "\n"))
	}
}

func TestLiveColor(t *testing.T) {
	for _, color := range []bool{false, true} {
		t.Run(fmt.Sprint(color), func(t *testing.T) {
			h := newLiveHarness(t, 80, LiveOptions{Color: color})
			h.send(runner.Event{Type: runner.EventRunStart, Steps: demoSteps()[:2]})
			h.send(runner.Event{Type: runner.EventStepEnd, Step: "flake-update", Status: runner.StatusDone, Duration: time.Second})
			h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: 1, Skipped: 1}})
			h.live.Close()
			out := h.out.String()
			if has := strings.Contains(out, styleGreen+"✓"+styleReset); has != color {
				t.Errorf("green check mark present = %v, want %v", has, color)
			}
			if !color && (strings.Contains(out, styleReset) || strings.Contains(out, "\x1b[3")) {
				t.Errorf("SGR emitted without color: %q", out)
			}
			// With or without color, the user sees the same text.
			if got, want := render(t, out, 80).rows()[0], "✓ flake-update  done     1.0s"; got != want {
				t.Errorf("row = %q, want %q", got, want)
			}
		})
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("input/output error")
}

func TestLiveWriteError(t *testing.T) {
	w := &failingWriter{}
	l := NewLive(w, LiveOptions{Interval: time.Hour})
	l.Event(runner.Event{Type: runner.EventRunStart, Steps: demoSteps()})
	l.Event(runner.Event{Type: runner.EventStepStart, Step: "system"})
	l.Event(runner.Event{Type: runner.EventRunEnd})
	err := l.Close()
	if err == nil || !strings.Contains(err.Error(), "writing to terminal: input/output error") {
		t.Errorf("Close = %v, want the write error", err)
	}
	if w.n != 1 {
		t.Errorf("kept writing after the first error: %d writes", w.n)
	}
}

func TestScreenModel(t *testing.T) {
	s := newScreen(10)
	s.Write([]byte("\x1b[?25labc\x1b[K\r\ndef\x1b[K\r\n\x1b[2A\rX\x1b[K\r\n\x1b[J"))
	if got, want := s.text(), "X"; got != want {
		t.Errorf("screen = %q, want %q (cursor up, rewrite, clear below)", got, want)
	}
	if s.cursorOn || len(s.problems) != 0 {
		t.Errorf("cursorOn=%v problems=%v", s.cursorOn, s.problems)
	}
	s.Write([]byte("0123456789A\x1b[5X"))
	if len(s.problems) != 2 {
		t.Errorf("want a wrap and an unknown sequence reported, got %v", s.problems)
	}
}

// blockedWriter stands for a terminal that stopped reading (Ctrl-S, a
// stalled ssh session): Write waits until release is closed.
type blockedWriter struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

func TestLiveOutputNeverWaitsForTheTerminal(t *testing.T) {
	w := &blockedWriter{release: make(chan struct{}), entered: make(chan struct{})}
	l := NewLive(w, LiveOptions{Interval: time.Hour})
	l.Event(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{{Name: "a", Status: runner.StatusWaiting}}})
	<-w.entered // the screen goroutine is now stuck in Write
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range 3 * queueSize {
			l.Event(runner.Event{Type: runner.EventStepOutput, Step: "a", Line: fmt.Sprint("line ", i)})
		}
	}()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("Event blocked on output lines while the terminal was stuck")
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLiveNarrow: on a narrow terminal a long step name is cut while the
// block is live, so that the state and time still show on every row; the
// final frame, which stays on the screen, is never cut: the terminal wraps
// it, and every row, error, note and path is there whole.
func TestLiveNarrow(t *testing.T) {
	long := "a-step-with-a-very-long-descriptive-name"
	for _, tt := range []struct {
		width int
		live  []string // rows while running
		final string   // the lines as written, wrapped rows joined
	}{{
		width: 40,
		live: []string{
			"✓ a-step-with-…  done     1.2s",
			"⠹ short          running  0.0s",
			"⠹ 字体-☕        running  0.0s  buildi…",
		},
		final: strings.Join([]string{
			"✗ 字体-☕ failed after 2.0s: exit status 1: the font cache at /var/folders/xy/T/fontconfig is locked",
			"    fc-cache: 🧑‍💻 cannot lock /var/folders/xy/T/fontconfig/cache-9.lock",
			"  log: /Users/someone/.local/state/sysinit/logs/20251125T100000-abcdef/字体-☕.log",
			"✓ " + long + "  done     1.2s",
			"✓ short          done     300ms  (switched to generation 42)",
			"✗ 字体-☕        failed   2.0s  exit status 1: the font cache at /var/folders/xy/T/fontconfig is locked",
			"ran 2 · skipped 0 · failed 1 · 3.5s",
			"logs: /Users/someone/.local/state/sysinit/logs/20251125T100000-abcdef",
		}, "\n"),
	}, {
		width: 20,
		live: []string{
			"✓ a-step-…  done  …",
			"⠹ short     runnin…",
			"⠹ 字体-☕   runnin…",
		},
		final: strings.Join([]string{
			"✗ 字体-☕ failed after 2.0s: exit status 1: the font cache at /var/folders/xy/T/fontconfig is locked",
			"    fc-cache: 🧑‍💻 cannot lock /var/folders/xy/T/fontconfig/cache-9.lock",
			"  log: /Users/someone/.local/state/sysinit/logs/20251125T100000-abcdef/字体-☕.log",
			"✓ " + long + "  done     1.2s",
			"✓ short     done     300ms  (switched to generation 42)",
			"✗ 字体-☕   failed   2.0s  exit status 1: the font cache at /var/folders/xy/T/fontconfig is locked",
			"ran 2 · skipped 0 · failed 1 · 3.5s",
			"logs: /Users/someone/.local/state/sysinit/logs/20251125T100000-abcdef",
		}, "\n"),
	}} {
		t.Run(fmt.Sprint(tt.width), func(t *testing.T) {
			h := newLiveHarness(t, tt.width, LiveOptions{})
			h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
				{Name: long, Status: runner.StatusWaiting},
				{Name: "short", Status: runner.StatusWaiting},
				{Name: "字体-☕", Status: runner.StatusWaiting},
			}})
			h.send(runner.Event{Type: runner.EventStepStart, Step: long})
			h.clock.Add(1200 * time.Millisecond)
			h.send(runner.Event{Type: runner.EventStepEnd, Step: long, Status: runner.StatusDone, Duration: 1200 * time.Millisecond})
			h.send(runner.Event{Type: runner.EventStepStart, Step: "short"})
			h.send(runner.Event{Type: runner.EventStepStart, Step: "字体-☕"})
			h.send(runner.Event{Type: runner.EventStepProgress, Step: "字体-☕", Line: "building 3/17"})
			s := h.screen() // render reports any row that wraps while live
			var rows []string
			for _, r := range s.rows() {
				if !strings.HasPrefix(r, "    ") {
					rows = append(rows, r)
				}
			}
			if got, want := strings.Join(rows, "\n"), strings.Join(tt.live, "\n"); got != want {
				t.Errorf("live rows:\n%s\nwant:\n%s", got, want)
			}

			h.send(runner.Event{Type: runner.EventStepEnd, Step: "short", Status: runner.StatusDone, Duration: 300 * time.Millisecond, Note: "switched to generation 42"})
			h.send(runner.Event{Type: runner.EventStepEnd, Step: "字体-☕", Status: runner.StatusFailed, Duration: 2 * time.Second,
				Reason:  "exit status 1: the font cache at /var/folders/xy/T/fontconfig is locked",
				Tail:    []string{"fc-cache: 🧑‍💻 cannot lock /var/folders/xy/T/fontconfig/cache-9.lock"},
				LogPath: "/Users/someone/.local/state/sysinit/logs/20251125T100000-abcdef/字体-☕.log"})
			h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: 2, Failed: 1, Wall: 3500 * time.Millisecond,
				LogDir: "/Users/someone/.local/state/sysinit/logs/20251125T100000-abcdef"}})
			if err := h.live.Close(); err != nil {
				t.Fatal(err)
			}
			fs := newScreen(tt.width)
			fs.allowWrap = true
			fs.Write([]byte(h.out.String()))
			for _, p := range fs.problems {
				t.Errorf("screen: %s", p)
			}
			if got := fs.joined(); got != tt.final {
				t.Errorf("final screen, wrapped lines joined:\n%s\nwant:\n%s\n\nas shown:\n%s", got, tt.final, fs.text())
			}
			if !fs.cursorOn {
				t.Error("cursor left hidden")
			}
		})
	}
}

// TestLiveASCII: without a UTF-8 locale every mark, the spinner, the cut
// and the summary are ASCII.
func TestLiveASCII(t *testing.T) {
	h := newLiveHarness(t, 40, LiveOptions{ASCII: true, After: func(s string) []string {
		if s == "fonts" {
			return []string{"system"}
		}
		return nil
	}})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
		{Name: "nix-conf", Status: runner.StatusSkipped, Reason: "up to date"},
		{Name: "brew", Status: runner.StatusNotApplicable, Reason: "not on PATH"},
		{Name: "system", Status: runner.StatusWaiting},
		{Name: "fonts", Status: runner.StatusWaiting},
		{Name: "x", Status: runner.StatusWaiting},
		{Name: "a-step-with-a-long-name", Status: runner.StatusWaiting},
	}})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "system"})
	h.send(runner.Event{Type: runner.EventStepProgress, Step: "system", Line: "building 3/17, 2 downloading"})
	h.clock.Add(150 * time.Millisecond)
	want := strings.Join([]string{
		"- nix-conf       skipped (up to date)",
		"- brew           not applicable (not...",
		"/ system         running  0.2s  buil...",
		"o fonts          waiting for system",
		"o x              waiting",
		"o a-step-wit...  waiting",
	}, "\n")
	if got := h.screen().text(); got != want {
		t.Errorf("live screen:\n%s\nwant:\n%s", got, want)
	}
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusFailed, Reason: "exit status 1", Duration: time.Second})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "fonts", Status: runner.StatusBlocked, Reason: "blocked by system"})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "x", Status: runner.StatusDone, Duration: time.Second})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "a-step-with-a-long-name", Status: runner.StatusInterrupted, Duration: time.Second})
	h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: 1, Skipped: 2, Failed: 1, Blocked: 1, Interrupted: true, Wall: 2 * time.Second}})
	h.live.Close()
	out := h.out.String()
	for i, r := range out {
		if r >= 0x80 {
			t.Fatalf("non-ASCII %q at byte %d of %q", r, i, out)
		}
	}
	fs := newScreen(40)
	fs.allowWrap = true
	fs.Write([]byte(out))
	want = strings.Join([]string{
		"x system failed after 1.0s: exit status 1",
		"- nix-conf       skipped (up to date)",
		"- brew           not applicable (not on PATH)",
		"x system         failed   1.0s  exit status 1",
		"# fonts          blocked by system",
		"+ x              done     1.0s",
		"! a-step-with-a-long-name  interrupted  1.0s",
		"interrupted, ran 1, skipped 2, failed 1, blocked 1, 2.0s",
	}, "\n")
	if got := fs.joined(); got != want {
		t.Errorf("final screen:\n%s\nwant:\n%s", got, want)
	}
}
