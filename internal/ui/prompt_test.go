package ui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

const summary = "switch from /nix/store/a-system\n        to /nix/store/b-system\n  hello: 2.10 → 2.12\n1 package changed"

func TestPromptAnswers(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		yes     bool
		wantErr error
		errText string
	}{
		{"y", "y\n", false, nil, ""},
		{"YES", " YES \n", false, nil, ""},
		{"n", "n\n", false, ErrDeclined, ""},
		{"enter is no", "\n", false, ErrDeclined, ""},
		{"anything else is no", "sure\n", false, ErrDeclined, ""},
		{"end of input is no", "", false, ErrDeclined, "end of input"},
		{"--yes asks nothing", "", true, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			held, released := 0, 0
			p := &Prompter{In: strings.NewReader(tt.input), Out: &out, Yes: tt.yes, Hold: func() func() {
				held++
				return func() { released++ }
			}}
			err := p.Confirm(context.Background(), "system", summary)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) || !strings.Contains(errText(err), tt.errText) {
				t.Errorf("Confirm = %v, want %v", err, tt.wantErr)
			}
			if held != 1 || released != 1 {
				t.Errorf("view held %d times, released %d", held, released)
			}
			wantOut := "sysinit: system is ready to apply:\n" +
				"  switch from /nix/store/a-system\n" +
				"          to /nix/store/b-system\n" +
				"    hello: 2.10 → 2.12\n" +
				"  1 package changed\n"
			if tt.yes {
				wantOut += "sysinit: applying system (--yes)\n"
			} else {
				wantOut += "sysinit: apply system? [y/N] "
			}
			if got := strings.TrimSuffix(out.String(), "\n"); tt.yes && out.String() != wantOut || !tt.yes && got != wantOut {
				t.Errorf("shown:\n%q\nwant:\n%q", out.String(), wantOut)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPromptOneReaderManyQuestions: answers are read in order by one
// reader, whichever step asks; control sequences in what is shown are
// made harmless.
func TestPromptOneReaderManyQuestions(t *testing.T) {
	var out strings.Builder
	p := &Prompter{In: strings.NewReader("n\ny\n"), Out: &out}
	if err := p.Confirm(context.Background(), "a", "x\x1b]0;pwned\x07 y"); !errors.Is(err, ErrDeclined) {
		t.Errorf("first: %v", err)
	}
	if err := p.Confirm(context.Background(), "b", "z"); err != nil {
		t.Errorf("second: %v", err)
	}
	if strings.Contains(out.String(), "\x1b") || strings.Contains(out.String(), "\x07") {
		t.Errorf("control characters reached the terminal: %q", out.String())
	}
}

// TestPromptInterrupted: an interrupt at the prompt ends it with the
// context's error, the line ended.
func TestPromptInterrupted(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	var out strings.Builder
	p := &Prompter{In: r, Out: &out}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Confirm(ctx, "system", summary); !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm = %v, want context.Canceled", err)
	}
	if !strings.HasSuffix(out.String(), "[y/N] \n") {
		t.Errorf("the prompt line was not ended: %q", out.String())
	}
}

// TestLiveHold: the live block is erased while the terminal is held, its
// pending failure reports printed first; what is written meanwhile stays
// above the block, which is drawn again, with what happened meanwhile,
// once released.
func TestLiveHold(t *testing.T) {
	h := newLiveHarness(t, 60, LiveOptions{})
	h.send(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{
		{Name: "system", Status: runner.StatusWaiting}, {Name: "brew", Status: runner.StatusWaiting}}})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "system"})
	h.send(runner.Event{Type: runner.EventStepStart, Step: "brew"})
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1", Duration: time.Second})
	if s := h.screen(); !strings.Contains(s.text(), "brew") {
		t.Fatalf("block not drawn:\n%s", s.text())
	}
	release := h.live.Hold()
	s := render(t, h.out.String(), 60)
	if got := s.text(); got != "✗ brew failed after 1.0s: exit status 1" {
		t.Errorf("held screen:\n%s", got)
	}
	if !s.cursorOn {
		t.Error("cursor hidden while held")
	}
	// The caller asks; events arrive meanwhile and wait.
	h.out.Write([]byte("sysinit: apply system? [y/N] y\r\n"))
	h.send(runner.Event{Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: 2 * time.Second})
	release()
	release() // twice is harmless
	h.send(runner.Event{Type: runner.EventRunEnd, Summary: &runner.Summary{Ran: 1, Failed: 1, Wall: 2 * time.Second}})
	if err := h.live.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"✗ brew failed after 1.0s: exit status 1",
		"sysinit: apply system? [y/N] y",
		"✓ system  done     2.0s",
		"✗ brew    failed   1.0s  exit status 1",
		"ran 1 · skipped 0 · failed 1 · 2.0s",
	}, "\n")
	if got := render(t, h.out.String(), 60).text(); got != want {
		t.Errorf("final screen:\n%s\n\nwant:\n%s", got, want)
	}
	// Held after the view closed: nothing to hold.
	h.live.Hold()()
}

// TestPlainHold: plain lines wait while the terminal is held: the view's
// lock is the caller's until release.
func TestPlainHold(t *testing.T) {
	var out syncBuffer
	p := NewPlain(&out, PlainOptions{})
	release := p.Hold()
	if p.mu.TryLock() {
		t.Fatal("the view can write while held")
	}
	out.Write([]byte("question? "))
	release()
	release() // twice is harmless
	if !p.mu.TryLock() {
		t.Fatal("the view is still held after release")
	}
	p.mu.Unlock()
	p.Event(runner.Event{Type: runner.EventStepStart, Step: "brew", Reason: "never ran"})
	if got := out.String(); got != "question? sysinit: brew: running (never ran)\n" {
		t.Errorf("output %q", got)
	}
	p.Close()
}
