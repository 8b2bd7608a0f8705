package ui

import (
	"fmt"
	"io"
	"slices"
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
//	still running after DURATION (PROGRESS)              the heartbeat
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
// News about the whole run (a notice: "stopping: …" after Ctrl-C) is
// printed as "sysinit: NOTICE". With Verbose, each output or progress line
// of a step is printed as
// "<step> | LINE". Durations are formatted by Duration.
//
// The summary line is the product of a run and goes to PlainOptions.Summary
// (the CLI gives it stdout); every other line is progress or a failure and
// goes to the view's writer (stderr), so `sysinit >/dev/null` still shows
// what failed and where its log is.

// PlainOptions configures a Plain view.
type PlainOptions struct {
	// Verbose also prints every output line (and each new progress line) of
	// a running step, prefixed by the step's name.
	Verbose bool
	// Summary receives the run's summary line; nil is the view's writer.
	Summary io.Writer
	// Heartbeat, when positive, prints "still running after DURATION" for
	// each step at every Heartbeat of its running, with its latest progress
	// (or output) line: a CI log that shows nothing for minutes looks hung,
	// and some CI systems kill a job that is silent for ten.
	Heartbeat time.Duration
	// Now is the heartbeat's clock; nil is time.Now.
	Now func() time.Time
}

// Plain prints one stable line per meaningful event, with no cursor
// movement, for pipes, CI and `--progress=never`. Apart from the heartbeat,
// its output depends only on the events, never on the clock. It is safe for
// concurrent use; each event's lines are written with a single Write.
type Plain struct {
	mu        sync.Mutex
	w         io.Writer
	summary   io.Writer
	verbose   bool
	heartbeat time.Duration
	now       func() time.Time
	buf       strings.Builder

	// atStart holds the steps whose final status run-start already printed,
	// so a step-end repeating it is not printed twice.
	atStart map[string]runner.Status
	running map[string]*plainStep
	order   []string // running steps, in the order they started
	seen    tally    // for a run-end that carries no Summary

	stop   chan struct{} // ends the heartbeat goroutine
	beats  sync.WaitGroup
	err    error // first write error, returned by Close
	closed bool
}

// plainStep is what the heartbeat says of a running step.
type plainStep struct {
	start    time.Time
	next     time.Time // when the next heartbeat is due
	progress string    // latest progress line
	output   string    // latest output line
}

// tally counts what Plain saw, as the fallback summary, the way the runner
// counts (ran = succeeded).
type tally struct {
	start                         time.Time
	ran, skipped, failed, blocked int
}

// NewPlain returns a Plain view writing to w (and its summary to
// opts.Summary). With a heartbeat it runs a goroutine until Close.
func NewPlain(w io.Writer, opts PlainOptions) *Plain {
	p := &Plain{
		w:         w,
		summary:   opts.Summary,
		verbose:   opts.Verbose,
		heartbeat: opts.Heartbeat,
		now:       opts.Now,
		atStart:   map[string]runner.Status{},
		running:   map[string]*plainStep{},
		stop:      make(chan struct{}),
	}
	if p.summary == nil {
		p.summary = w
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.heartbeat > 0 {
		// Checking every tenth of the period keeps each step's beat within
		// a tenth of when it is due, at no cost worth counting.
		t := time.NewTicker(max(p.heartbeat/10, time.Millisecond))
		p.beats.Go(func() {
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.beat(p.now())
				}
			}
		})
	}
	return p
}

// Event implements runner.Observer.
func (p *Plain) Event(e runner.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return
	}
	p.buf.Reset()
	if e.Type == runner.EventRunEnd {
		p.runEnd(e)
		return
	}
	p.render(e)
	p.flush(p.w)
}

// Hold stops the view writing — to ask a question on the same terminal —
// until release is called. Events wait meanwhile.
func (p *Plain) Hold() (release func()) {
	p.mu.Lock()
	return sync.OnceFunc(p.mu.Unlock)
}

// flush writes what buf holds to w.
func (p *Plain) flush(w io.Writer) {
	if p.buf.Len() == 0 || p.err != nil {
		return
	}
	defer p.buf.Reset()
	if _, err := io.WriteString(w, p.buf.String()); err != nil {
		p.err = fmt.Errorf("writing progress: %w", err)
		return
	}
	p.err = flush(w)
}

// Close stops the view and its heartbeat; later events are dropped. It
// returns the first write error, so a closed pipe is not lost.
func (p *Plain) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stop)
	}
	p.mu.Unlock()
	p.beats.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// beat prints the heartbeat of every running step that is due at now.
func (p *Plain) beat(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil || p.heartbeat <= 0 {
		return
	}
	p.buf.Reset()
	for _, name := range p.order {
		st := p.running[name]
		if now.Before(st.next) {
			continue
		}
		phrase := "still running after " + Duration(now.Sub(st.start))
		switch {
		case st.progress != "":
			phrase += " (" + st.progress + ")"
		case st.output != "":
			phrase += " (last output: " + st.output + ")"
		}
		p.line(name, phrase)
		// A machine that slept owes one line, not one per missed period.
		for !st.next.After(now) {
			st.next = st.next.Add(p.heartbeat)
		}
	}
	p.flush(p.w)
}

// step returns the running step name, starting its record at at if the
// step-start was not seen.
func (p *Plain) step(name string, at time.Time) *plainStep {
	if st, ok := p.running[name]; ok {
		return st
	}
	if at.IsZero() {
		at = p.now()
	}
	st := &plainStep{start: at, next: at.Add(p.heartbeat)}
	p.running[name] = st
	p.order = append(p.order, name)
	return st
}

func (p *Plain) ended(name string) {
	if _, ok := p.running[name]; !ok {
		return
	}
	delete(p.running, name)
	p.order = slices.DeleteFunc(p.order, func(n string) bool { return n == name })
}

// maxHeartbeatLine bounds the output line a heartbeat repeats: it says
// what the step is doing, the log has the whole line.
const maxHeartbeatLine = 120

func (p *Plain) render(e runner.Event) {
	switch e.Type {
	case runner.EventRunStart:
		clear(p.atStart)
		clear(p.running)
		p.order = p.order[:0]
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
		p.ended(e.Step)
		p.step(e.Step, e.Time)
		p.line(e.Step, "running"+paren(e.Reason))
	case runner.EventNotice:
		fmt.Fprintf(&p.buf, "sysinit: %s\n", sanitize(e.Line))
	case runner.EventStepOutput:
		st := p.step(e.Step, e.Time)
		if line := p.heartbeatLine(e.Line); line != "" {
			st.output = line
		}
		if p.verbose {
			p.output(e.Step, e.Line)
		}
	case runner.EventStepProgress:
		st := p.step(e.Step, e.Time)
		line := sanitize(e.Line)
		if line == st.progress {
			return
		}
		st.progress = line
		if p.verbose {
			p.output(e.Step, e.Line)
		}
	case runner.EventStepEnd:
		if st, ok := p.atStart[e.Step]; ok && st == e.Status {
			return
		}
		p.ended(e.Step)
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
	}
}

// heartbeatLine is an output line as a heartbeat would repeat it; "" when
// there is no heartbeat (the cleaning is not free, and output is plenty).
func (p *Plain) heartbeatLine(line string) string {
	if p.heartbeat <= 0 {
		return ""
	}
	line = strings.TrimSpace(sanitize(line))
	if cut, ok := cutCells(line, maxHeartbeatLine); ok {
		line = cut + "..."
	}
	return line
}

// runEnd prints the end of the run: the summary to its writer, the lines
// around it (interrupted, where the logs are) to the view's.
func (p *Plain) runEnd(e runner.Event) {
	clear(p.running)
	p.order = p.order[:0]
	s := e.Summary
	if s == nil {
		s = &runner.Summary{Ran: p.seen.ran, Skipped: p.seen.skipped, Failed: p.seen.failed, Blocked: p.seen.blocked}
		if !p.seen.start.IsZero() && !e.Time.IsZero() {
			s.Wall = e.Time.Sub(p.seen.start)
		}
	}
	if s.Interrupted {
		p.buf.WriteString("sysinit: interrupted\n")
		p.flush(p.w)
	}
	fmt.Fprintf(&p.buf, "sysinit: ran %d, skipped %d, failed %d, blocked %d in %s\n",
		s.Ran, s.Skipped, s.Failed, s.Blocked, Duration(s.Wall))
	p.flush(p.summary)
	if s.Failed > 0 && s.LogDir != "" {
		fmt.Fprintf(&p.buf, "sysinit: logs: %s\n", sanitize(s.LogDir))
		p.flush(p.w)
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
