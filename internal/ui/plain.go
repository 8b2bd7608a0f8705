package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

// The plain lines are a contract: scripts and tests grep for them. Every
// status line starts with "sysinit: <step>: " followed by one of
//
//	skipped (REASON)
//	not applicable (REASON)
//	running (REASON)
//	done in DURATION (NOTE)
//	failed after DURATION: ERROR      then "    TAIL LINE"… and "  log: PATH"
//	blocked by STEP
//	interrupted after DURATION
//
// where a parenthesis or ": ERROR" is left out when empty, " after DURATION"
// when the step never started (then "interrupted (REASON)", and "blocked
// (REASON)" for a reason other than the runner's "blocked by STEP"), and the
// run ends with
//
//	sysinit: interrupted                                  (only if it was)
//	sysinit: ran N, skipped N, failed N, blocked N in DURATION
//	sysinit: logs: DIR                                    (only if a step failed)
//
// With Verbose, each output or progress line of a step is printed as
// "<step> | LINE". Durations are formatted by Duration.

// PlainOptions configures a Plain view.
type PlainOptions struct {
	// Verbose also prints every output line (and each new progress line) of
	// a running step, prefixed by the step's name.
	Verbose bool
}

// Plain prints one stable line per meaningful event, with no cursor
// movement, for pipes, CI and `--progress=never`. Its output depends only on
// the events, never on the clock. It is safe for concurrent use; each event's
// lines are written with a single Write.
type Plain struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	buf     strings.Builder

	// atStart holds the steps whose final status run-start already printed,
	// so a step-end repeating it is not printed twice.
	atStart  map[string]runner.Status
	progress map[string]string // last progress line printed per step
	seen     tally             // for a run-end that carries no Summary

	err    error // first write error, returned by Close
	closed bool
}

// tally counts what Plain saw, as the fallback summary, the way the runner
// counts (ran = succeeded).
type tally struct {
	start                         time.Time
	ran, skipped, failed, blocked int
}

// NewPlain returns a Plain view writing to w.
func NewPlain(w io.Writer, opts PlainOptions) *Plain {
	return &Plain{
		w:        w,
		verbose:  opts.Verbose,
		atStart:  map[string]runner.Status{},
		progress: map[string]string{},
	}
}

// Event implements runner.Observer.
func (p *Plain) Event(e runner.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return
	}
	p.buf.Reset()
	p.render(e)
	if p.buf.Len() == 0 {
		return
	}
	if _, err := io.WriteString(p.w, p.buf.String()); err != nil {
		p.err = fmt.Errorf("writing progress: %w", err)
		return
	}
	p.err = flush(p.w)
}

// Close stops the view; later events are dropped. It returns the first
// write error, so a closed pipe is not lost.
func (p *Plain) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return p.err
}

func (p *Plain) render(e runner.Event) {
	switch e.Type {
	case runner.EventRunStart:
		clear(p.atStart)
		clear(p.progress)
		p.seen = tally{start: e.Time}
		for _, s := range e.Steps {
			switch s.Status {
			case runner.StatusSkipped, runner.StatusNotApplicable:
				p.atStart[s.Name] = s.Status
				p.seen.skipped++
				p.line(s.Name, statusPhrase(s.Status, s.Reason, "", 0))
			}
		}
	case runner.EventStepStart:
		p.line(e.Step, "running"+paren(e.Reason))
	case runner.EventStepOutput:
		if p.verbose {
			p.output(e.Step, e.Line)
		}
	case runner.EventStepProgress:
		if p.verbose && p.progress[e.Step] != e.Line {
			p.progress[e.Step] = e.Line
			p.output(e.Step, e.Line)
		}
	case runner.EventStepEnd:
		if st, ok := p.atStart[e.Step]; ok && st == e.Status {
			return
		}
		delete(p.progress, e.Step)
		switch e.Status {
		case runner.StatusDone:
			p.seen.ran++
		case runner.StatusSkipped, runner.StatusNotApplicable:
			p.seen.skipped++
		case runner.StatusFailed:
			p.seen.failed++
		case runner.StatusBlocked:
			p.seen.blocked++
		}
		p.line(e.Step, statusPhrase(e.Status, e.Reason, e.Note, e.Duration))
		if e.Status == runner.StatusFailed {
			for _, t := range e.Tail {
				p.buf.WriteString("    ")
				p.buf.WriteString(sanitize(t))
				p.buf.WriteByte('\n')
			}
			if e.LogPath != "" {
				fmt.Fprintf(&p.buf, "  log: %s\n", sanitize(e.LogPath))
			}
		}
	case runner.EventRunEnd:
		s := e.Summary
		if s == nil {
			s = &runner.Summary{Ran: p.seen.ran, Skipped: p.seen.skipped, Failed: p.seen.failed, Blocked: p.seen.blocked}
			if !p.seen.start.IsZero() && !e.Time.IsZero() {
				s.Wall = e.Time.Sub(p.seen.start)
			}
		}
		if s.Interrupted {
			p.buf.WriteString("sysinit: interrupted\n")
		}
		fmt.Fprintf(&p.buf, "sysinit: ran %d, skipped %d, failed %d, blocked %d in %s\n",
			s.Ran, s.Skipped, s.Failed, s.Blocked, Duration(s.Wall))
		if s.Failed > 0 && s.LogDir != "" {
			fmt.Fprintf(&p.buf, "sysinit: logs: %s\n", sanitize(s.LogDir))
		}
	}
}

func (p *Plain) line(step, phrase string) {
	fmt.Fprintf(&p.buf, "sysinit: %s: %s\n", sanitize(step), phrase)
}

func (p *Plain) output(step, line string) {
	fmt.Fprintf(&p.buf, "%s | %s\n", sanitize(step), sanitize(line))
}

// statusPhrase is the words after "sysinit: <step>: " for a step that
// reached status. A step that never started (blocked by a failed sudo, say)
// has no duration to show.
func statusPhrase(status runner.Status, reason, note string, d time.Duration) string {
	switch status {
	case runner.StatusSkipped:
		return "skipped" + paren(reason)
	case runner.StatusNotApplicable:
		return "not applicable" + paren(reason)
	case runner.StatusDone:
		return "done in " + Duration(d) + paren(note)
	case runner.StatusFailed:
		s := "failed"
		if d > 0 {
			s += " after " + Duration(d)
		}
		if r := sanitize(reason); r != "" {
			s += ": " + r
		}
		return s
	case runner.StatusBlocked:
		return blockedPhrase(reason)
	case runner.StatusInterrupted:
		if d > 0 {
			return "interrupted after " + Duration(d)
		}
		return "interrupted" + paren(reason)
	}
	return sanitize(string(status)) + paren(reason)
}

// blockedPhrase words a blocked step. The runner's Reason already reads
// "blocked by system"; any other reason ("not started: --fail-fast") goes in
// parentheses.
func blockedPhrase(reason string) string {
	r := sanitize(reason)
	switch {
	case r == "":
		return "blocked"
	case strings.HasPrefix(r, "blocked"):
		return r
	}
	return "blocked (" + r + ")"
}

func paren(s string) string {
	if s = sanitize(s); s == "" {
		return ""
	}
	return " (" + s + ")"
}
