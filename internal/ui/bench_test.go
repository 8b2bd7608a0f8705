package ui

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

// benchRows fills a Live model with n steps in assorted states, as the
// screen goroutine would hold them mid-run.
func benchLive(n int) *Live {
	l := &Live{width: func() int { return 120 }, color: true, sym: unicodeSymbols, byName: map[string]*row{}, now: time.Now}
	l.epoch = t0
	states := []runner.Status{runner.StatusDone, runner.StatusRunning, runner.StatusSkipped, runner.StatusWaiting, runner.StatusFailed}
	for i := range n {
		r := l.row(fmt.Sprintf("step-%03d", i))
		r.status = states[i%len(states)]
		r.start, r.dur, r.eta = t0, 1500*time.Millisecond, 10*time.Second
		r.reason, r.detail = "inputs changed: 3 files", "building '/nix/store/0123456789abcdef-system-path.drv'..."
	}
	return l
}

func BenchmarkLiveFrame(b *testing.B) {
	for _, n := range []int{5, 50} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			l := benchLive(n)
			now := t0.Add(3 * time.Second)
			b.ReportAllocs()
			for b.Loop() {
				l.frame(now, false)
			}
		})
	}
}

func BenchmarkLiveEvent(b *testing.B) {
	// The cost the runner pays per output line: a channel send.
	b.Run("output", func(b *testing.B) {
		l := NewLive(io.Discard, LiveOptions{Interval: time.Millisecond})
		l.Event(runner.Event{Type: runner.EventRunStart, Steps: []runner.StepInfo{{Name: "a", Status: runner.StatusWaiting}}})
		l.Event(runner.Event{Type: runner.EventStepStart, Step: "a"})
		e := runner.Event{Type: runner.EventStepOutput, Step: "a", Line: "copying path '/nix/store/0123456789abcdef-foo' from cache"}
		b.ReportAllocs()
		for b.Loop() {
			l.Event(e)
		}
		b.StopTimer()
		l.Close()
	})
}

func BenchmarkPlainEvent(b *testing.B) {
	cases := map[string]runner.Event{
		"output-verbose": {Type: runner.EventStepOutput, Step: "system", Line: "copying path '/nix/store/0123456789abcdef-foo' from cache"},
		"step-end":       {Type: runner.EventStepEnd, Step: "system", Status: runner.StatusDone, Duration: 12 * time.Second, Note: "nothing to switch"},
	}
	for name, e := range cases {
		b.Run(name, func(b *testing.B) {
			p := NewPlain(io.Discard, PlainOptions{Verbose: true})
			b.ReportAllocs()
			for b.Loop() {
				p.Event(e)
			}
		})
	}
}

func BenchmarkJSONEvent(b *testing.B) {
	b.Run("output", func(b *testing.B) {
		j := NewJSON(io.Discard, JSONOptions{})
		e := runner.Event{Type: runner.EventStepOutput, Time: t0, RunID: "r1", Step: "system", Line: "copying path '/nix/store/0123456789abcdef-foo' from cache"}
		b.ReportAllocs()
		for b.Loop() {
			j.Event(e)
		}
	})
}

func BenchmarkSanitize(b *testing.B) {
	cases := map[string]string{
		"clean":   "copying path '/nix/store/0123456789abcdef-foo' from cache",
		"escapes": "\x1b[1m\x1b[32m==>\x1b[0m \x1b[1mPouring\x1b[0m wget--1.24.5.arm64_sonoma.bottle.tar.gz\r" + strings.Repeat("#", 40),
	}
	for name, s := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sanitize(s)
			}
		})
	}
}
