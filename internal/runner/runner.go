// Package runner executes a plan: steps run as soon as the steps they come
// after are done, as many at once as allowed; each writes its output to a
// log; a success is recorded with the fingerprint taken before it ran, and
// nothing is recorded for a step that failed or was interrupted. Progress
// goes to an Observer; the runner never touches the terminal.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// Recorder keeps the last success of each step.
type Recorder interface {
	Put(r state.Record, manifest []byte) error
	// Start marks a step as started by a run, before it runs; Put clears
	// the mark. A mark left says the step's last run did not finish.
	Start(step, run string) error
}

// Options tune a run.
type Options struct {
	RunID    string
	LogDir   string // this run's log directory; created when the first step starts
	Jobs     int    // steps running at once; <= 0 = no limit
	FailFast bool   // stop everything at the first failure
	Update   bool   // passed to steps (`refresh --update`)
	// LogBase is the user's directory below which the log directories are
	// sysinit's own: those from it down to LogDir are made private and
	// checked (see state.PrivateDir). "" = LogDir's parent's parent.
	LogBase string
	// Redecide decides a step again after a step it depends on ran, and
	// fingerprints an unscanned one, just before it would run. Nil keeps
	// the plan's decision.
	Redecide func(ctx context.Context, name string) *plan.Decision
	// Elevate obtains root once before any step that needs it starts; the
	// returned func releases whatever keeps the ticket alive.
	Elevate func(ctx context.Context) (release func(), err error)
	// Background, when set, runs once every step that can start at once
	// has been decided (so it never holds up the first steps), until the
	// run ends, when its ctx is cancelled; Run returns after it. It is where
	// work for the steps that wait goes: warming their fingerprints.
	Background func(ctx context.Context)
	// ETA returns the expected duration of a step; 0 = unknown.
	ETA func(step string) time.Duration
	Now func() time.Time
	// Started is when the refresh began (before planning), so the wall
	// time in the summary is what the user waited; zero = when Run starts.
	Started time.Time
	// Confirm, when set (`refresh --ask`), is handed to each step as its
	// RunContext.Confirm, with the step's name: a step that activates asks
	// through it before changing anything.
	Confirm func(ctx context.Context, step, summary string) error
	// Exported, when set, is told what a step published for its followers
	// (step.RunContext.Publish) before they are woken to be decided
	// again: the planner decides them with it.
	Exported func(step, export string)
	// Label is written into the run's log directory (its lock file), so
	// that `sysinit logs` can tell the runs of one config from those of
	// the others sharing the logs directory.
	Label string
}

// Result is how a run ended.
type Result struct {
	Summary Summary
	Steps   []StepResult // in plan order
}

// StepResult is how one step ended.
type StepResult struct {
	Name     string
	Status   Status
	Reason   string
	Duration time.Duration
	// Ended is when the step ended (failed, succeeded, was blocked or
	// stopped); zero for a step that was skipped or not applicable.
	Ended time.Time
}

// Failed reports whether any step failed or was blocked.
func (r *Result) Failed() bool { return r.Summary.Failed > 0 || r.Summary.Blocked > 0 }

type node struct {
	d    *plan.Decision
	done chan struct{}
	// started is called once the step has been decided and is about to
	// run, or has ended without running; it counts down the first wave.
	started func()
	status  Status
	reason  string
	dur     time.Duration
	ended   time.Time
	// ranUpstream: some step this one comes after, directly or not, ran in
	// this run, so its inputs may have changed since the plan was made.
	ranUpstream bool
	// published is closed when the step publishes its export for its
	// followers (step.Follower), who start then instead of at done.
	published chan struct{}
	pubOnce   sync.Once
}

// hasPublished reports whether n published its export.
func (n *node) hasPublished() bool {
	select {
	case <-n.published:
		return true
	default:
		return false
	}
}

type run struct {
	o       Options
	rec     Recorder
	obs     Observer
	nodes   map[string]*node
	sem     chan struct{}
	logOnce sync.Once
	logErr  error
	logMade bool
	logLock *os.File // held while the run lasts (see makeRunDir)
	cancel  context.CancelCauseFunc
}

var errFailFast = errors.New("fail-fast")

// Run executes p. It returns when every step has ended. Interrupting ctx
// stops every running child (their process groups get SIGTERM) and marks
// what did not finish as interrupted.
func Run(ctx context.Context, p *plan.Plan, o Options, rec Recorder, obs Observer) *Result {
	if o.Now == nil {
		o.Now = time.Now
	}
	start := o.Started
	if start.IsZero() {
		start = o.Now()
	}
	r := &run{o: o, rec: rec, obs: obs, nodes: map[string]*node{}}
	defer r.releaseLogs()
	if o.Jobs > 0 {
		r.sem = make(chan struct{}, o.Jobs)
	}
	infos := make([]StepInfo, 0, len(p.Steps))
	for _, d := range p.Steps {
		n := &node{d: d, done: make(chan struct{}), published: make(chan struct{})}
		r.nodes[d.Name] = n
		info := StepInfo{Name: d.Name, Reason: d.Summary()}
		switch {
		case !d.Applicable():
			info.Status = StatusNotApplicable
		case d.Run || d.Recheck:
			info.Status = StatusWaiting
			if o.ETA != nil {
				info.ETA = o.ETA(d.Name)
			}
		default:
			info.Status = StatusSkipped
		}
		infos = append(infos, info)
	}
	r.emit(Event{Type: EventRunStart, Steps: infos})

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel

	if o.Elevate != nil && p.NeedsSudo() {
		release, err := o.Elevate(ctx)
		if err != nil {
			for i, d := range p.Steps {
				n := r.nodes[d.Name]
				if d.Run || d.Recheck {
					r.end(n, StatusFailed, "could not get root: "+err.Error(), 0, "", "", nil)
				} else {
					n.status, n.reason = infos[i].Status, d.Summary()
				}
				close(n.done)
			}
			return r.finish(p, start, ctx)
		}
		defer release()
	}

	// The first wave: steps that may start at once, before anything else
	// ends. Background work waits for them to be decided and started.
	var firstWave sync.WaitGroup
	for _, d := range p.Steps {
		n := r.nodes[d.Name]
		n.started = func() {}
		if d.MayRun() && !p.Waits(d) {
			firstWave.Add(1)
			n.started = sync.OnceFunc(firstWave.Done)
		}
	}
	bgDone := make(chan struct{})
	bgCtx, stopBackground := context.WithCancel(ctx)
	go func() {
		defer close(bgDone)
		if o.Background == nil {
			return
		}
		firstWave.Wait()
		if bgCtx.Err() == nil {
			o.Background(bgCtx)
		}
	}()

	var wg sync.WaitGroup
	for i, d := range p.Steps {
		wg.Add(1)
		go func(n *node, initial Status) {
			defer wg.Done()
			defer close(n.done)
			defer n.started()
			r.step(ctx, n, initial)
		}(r.nodes[d.Name], infos[i].Status)
	}
	wg.Wait()
	stopBackground()
	<-bgDone
	return r.finish(p, start, ctx)
}

func (r *run) finish(p *plan.Plan, start time.Time, ctx context.Context) *Result {
	res := &Result{}
	s := &res.Summary
	for _, d := range p.Steps {
		n := r.nodes[d.Name]
		res.Steps = append(res.Steps, StepResult{Name: d.Name, Status: n.status, Reason: n.reason, Duration: n.dur, Ended: n.ended})
		switch n.status {
		case StatusDone:
			s.Ran++
		case StatusSkipped, StatusNotApplicable:
			s.Skipped++
		case StatusFailed:
			s.Failed++
		case StatusBlocked:
			s.Blocked++
		case StatusInterrupted:
			s.Interrupted = true
		}
	}
	if context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), errFailFast) {
		s.Interrupted = true
	}
	s.Wall = r.o.Now().Sub(start)
	if (s.Failed > 0 || s.Interrupted) && r.logMade {
		s.LogDir = r.o.LogDir
	}
	r.emit(Event{Type: EventRunEnd, Summary: s})
	return res
}

func (r *run) emit(e Event) {
	e.Time = r.o.Now()
	e.RunID = r.o.RunID
	r.obs.Event(e)
}

func (r *run) end(n *node, st Status, reason string, dur time.Duration, note, logPath string, tail []string) {
	n.status, n.reason, n.dur, n.ended = st, reason, dur, r.o.Now()
	r.emit(Event{Type: EventStepEnd, Step: n.d.Name, Status: st, Reason: reason, Note: note, Duration: dur, LogPath: logPath, Tail: tail})
}

// step waits for the step's dependencies, then runs or skips it.
func (r *run) step(ctx context.Context, n *node, initial Status) {
	d := n.d
	if initial == StatusNotApplicable || initial == StatusSkipped {
		n.status, n.reason = initial, d.Summary()
		return
	}
	leader := ""
	if f, ok := d.Step.(step.Follower); ok {
		leader = f.Leader()
	}
	for _, a := range d.Config.After {
		dep, ok := r.nodes[a]
		if !ok {
			continue
		}
		if a == leader {
			// A follower needs the leader's export, not the end of its
			// run: it starts beside the rest of it (a nix-darwin build
			// and activation), and is decided again with what was
			// published.
			select {
			case <-dep.published:
			case <-dep.done:
			}
			if dep.hasPublished() {
				n.ranUpstream = true
				continue
			}
		}
		<-dep.done
		switch dep.status {
		case StatusFailed, StatusBlocked:
			r.end(n, StatusBlocked, "blocked by "+a, 0, "", "", nil)
			return
		case StatusInterrupted:
			r.notStarted(ctx, n)
			return
		}
		if dep.status == StatusDone || dep.ranUpstream {
			n.ranUpstream = true
		}
	}
	if ctx.Err() != nil {
		r.notStarted(ctx, n)
		return
	}
	redecide := (n.ranUpstream || d.Unscanned) && r.o.Redecide != nil
	if !d.Run && !redecide {
		r.end(n, StatusSkipped, d.Summary(), 0, "", "", nil)
		return
	}
	if r.sem != nil {
		select {
		case r.sem <- struct{}{}:
			defer func() { <-r.sem }()
		case <-ctx.Done():
			r.notStarted(ctx, n)
			return
		}
		// The slot and a cancellation may have been ready together.
		if ctx.Err() != nil {
			r.notStarted(ctx, n)
			return
		}
	}
	// Decided again once it holds its slot: the fingerprint a success
	// records is taken as close to the run as it can be.
	if redecide {
		d = r.o.Redecide(ctx, d.Name)
		n.d = d
		// Fingerprinting a large tree takes a while: an interrupt meanwhile
		// leaves a decision without one, and the step must not start.
		if ctx.Err() != nil {
			r.notStarted(ctx, n)
			return
		}
		if !d.Run {
			r.end(n, StatusSkipped, d.Summary(), 0, "", "", nil)
			return
		}
	}
	n.started()
	if why := d.Missing(); why != "" {
		r.end(n, StatusFailed, why, 0, "", "", nil)
		r.failed()
		return
	}
	r.exec(ctx, n)
}

// notStarted ends a step that never started because the run is stopping:
// blocked when --fail-fast stopped it, interrupted by a signal otherwise.
func (r *run) notStarted(ctx context.Context, n *node) {
	if errors.Is(context.Cause(ctx), errFailFast) {
		r.end(n, StatusBlocked, "not started: --fail-fast", 0, "", "", nil)
		return
	}
	r.end(n, StatusInterrupted, "not started", 0, "", "", nil)
}

func (r *run) logFile(name string) (*os.File, string, error) {
	r.logOnce.Do(func() {
		base := r.o.LogBase
		if base == "" {
			base = filepath.Dir(filepath.Dir(r.o.LogDir))
		}
		r.logLock, r.logErr = makeRunDir(base, r.o.LogDir, r.o.Label)
		r.logMade = r.logErr == nil
	})
	if r.logErr != nil {
		return nil, "", fmt.Errorf("creating log directory: %w", r.logErr)
	}
	path := filepath.Join(r.o.LogDir, name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("creating log: %w", err)
	}
	return f, path, nil
}

// releaseLogs lets pruning have this run's logs: the run is over.
func (r *run) releaseLogs() {
	if r.logLock != nil {
		r.logLock.Close()
	}
}

// exec runs a step that must run and records its success.
func (r *run) exec(ctx context.Context, n *node) {
	d := n.d
	started := r.o.Now()
	file, logPath, err := r.logFile(d.Name)
	if err != nil {
		r.end(n, StatusFailed, err.Error(), 0, "", "", nil)
		r.failed()
		return
	}
	defer file.Close()
	log := &logWriter{w: file, failed: func(err error) {
		r.emit(Event{Type: EventNotice, Step: d.Name, Line: fmt.Sprintf("%s: log write failed: %v; the step goes on, its log is incomplete", d.Name, err)})
	}}
	fmt.Fprintf(log, "# sysinit run %s, step %s, started %s\n# why: %s\n", r.o.RunID, d.Name, started.Format(time.RFC3339), d.Summary())
	r.emit(Event{Type: EventStepStart, Step: d.Name, Reason: d.Summary(), LogPath: logPath})

	tail := &command.Tail{Max: 20}
	out := &command.LineWriter{Emit: func(line string) {
		r.emit(Event{Type: EventStepOutput, Step: d.Name, Line: line})
	}}
	w := &multi{ws: []io.Writer{log, tail, out}}
	rc := &step.RunContext{
		Out:        w,
		Progress:   func(line string) { r.emit(Event{Type: EventStepProgress, Step: d.Name, Line: line}) },
		Update:     r.o.Update,
		Token:      d.Token,
		Force:      forced(d),
		Redefined:  redefined(d),
		Due:        d.Due(),
		Unfinished: d.Interrupted != "",
	}
	if r.o.Confirm != nil {
		rc.Confirm = func(ctx context.Context, summary string) error { return r.o.Confirm(ctx, d.Name, summary) }
	}
	if d.Reuse != nil && !rc.Force && !rc.Redefined {
		rc.Reuse = d.Reuse.Token
		rc.ReuseExport = d.Reuse.Export
	}
	rc.Publish = func(export string) {
		n.pubOnce.Do(func() {
			if r.o.Exported != nil {
				r.o.Exported(d.Name, export)
			}
			close(n.published)
		})
	}
	sctx := ctx
	if t := d.Config.Timeout; t > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	// Marked as started before it starts: if it fails, is stopped or
	// sysinit is killed, the mark stays, and its last success is no longer
	// trusted to describe the machine (its inputs may go back to what that
	// success holds while the machine is half way).
	if err := r.rec.Start(d.Name, r.o.RunID); err != nil {
		fmt.Fprintf(log, "# not started: %v\n", err)
		r.end(n, StatusFailed, "not started: "+err.Error(), 0, "", logPath, nil)
		r.failed()
		return
	}
	outcome, err := d.Step.Run(sctx, rc)
	out.Flush()
	log.endLine()
	// note is what a step's end says beside its status: the step's own
	// note, and that its log lost output.
	lost := log.incomplete()
	note := func(n string) string {
		switch {
		case lost == "":
			return n
		case n == "":
			return lost
		}
		return n + "; " + lost
	}
	dur := r.o.Now().Sub(started)
	switch {
	case err == nil && ctx.Err() == nil:
		if perr := r.record(d, outcome, started, dur); perr != nil {
			// It did its work, but sysinit will not know: the run must not
			// look like a success.
			fmt.Fprintf(log, "# done in %s, but could not record success: %v\n", dur, perr)
			r.end(n, StatusFailed, "ran, but its success could not be recorded ("+perr.Error()+"); it will run again", dur, note(outcome.Note), logPath, nil)
			r.failed()
			return
		}
		if outcome.Export != "" {
			// Followers that wait for it learn it now if it was not
			// published before.
			rc.Publish(outcome.Export)
		}
		fmt.Fprintf(log, "# done in %s\n", dur)
		r.end(n, StatusDone, d.Summary(), dur, note(outcome.Note), logPath, nil)
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errFailFast):
		// Another step failed; this one did not, it was stopped.
		fmt.Fprintf(log, "# stopped by --fail-fast: %v\n", err)
		r.end(n, StatusBlocked, "stopped: --fail-fast", dur, note(""), logPath, nil)
	case ctx.Err() != nil:
		fmt.Fprintf(log, "# interrupted: %v\n", err)
		r.end(n, StatusInterrupted, "interrupted", dur, note(""), logPath, tail.Lines())
	case sctx.Err() != nil:
		msg := fmt.Sprintf("timed out after %s", d.Config.Timeout)
		fmt.Fprintf(log, "# %s: %v\n", msg, err)
		r.end(n, StatusFailed, msg, dur, note(""), logPath, tail.Lines())
		r.failed()
	default:
		fmt.Fprintf(log, "# failed: %v\n", err)
		r.end(n, StatusFailed, err.Error(), dur, note(""), logPath, tail.Lines())
		r.failed()
	}
}

// failed stops the run after a step failed, when --fail-fast asks for it.
func (r *run) failed() {
	if r.o.FailFast {
		r.cancel(errFailFast)
	}
}

// forced reports whether the user forced the step with --force.
func forced(d *plan.Decision) bool {
	for _, r := range d.Reasons {
		if r.Kind == plan.Forced && r.Detail == plan.ForceDetail {
			return true
		}
	}
	return false
}

// redefined reports whether the step's definition differs from its last
// success, or it has none.
func redefined(d *plan.Decision) bool {
	for _, r := range d.Reasons {
		if r.Kind == plan.DefinitionChanged || r.Kind == plan.NeverRan {
			return true
		}
	}
	return false
}

func (r *run) record(d *plan.Decision, o step.Outcome, started time.Time, dur time.Duration) error {
	rec := state.Record{
		Step:             d.Name,
		Definition:       d.Definition,
		DefinitionDigest: d.DefinitionDigest,
		Token:            o.Token,
		Started:          started,
		Duration:         dur,
		RunID:            r.o.RunID,
		Label:            o.Label,
		Due:              started,
		Export:           o.Export,
	}
	if o.Unscheduled && !d.LastDue.IsZero() {
		rec.Due = d.LastDue
	}
	// A step that can go back to an earlier result has this one kept by
	// its inputs (see step.Reuser).
	_, rec.KeepResult = d.Step.(step.Reuser)
	var manifest []byte
	if d.Manifest != nil {
		rec.InputsDigest = d.Manifest.Digest.String()
		var err error
		if manifest, err = d.Manifest.MarshalBinary(); err != nil {
			return fmt.Errorf("encoding inputs of %s: %w", d.Name, err)
		}
	}
	return r.rec.Put(rec, manifest)
}
