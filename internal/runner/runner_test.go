package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// guard bounds every wait in these tests. It never decides a pass: a
// correct runner ends each wait through a channel long before; it only
// turns a bug into a failure instead of a hung test.
const guard = 10 * time.Second

// wait returns nil once ch is closed, the context's error if it ends first.
func wait(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(guard):
		return fmt.Errorf("gave up waiting for %s", what)
	}
}

// testStep is a step whose Run the test supplies.
type testStep struct {
	run   func(ctx context.Context, rc *step.RunContext) (step.Outcome, error)
	calls atomic.Int32
}

func (s *testStep) Definition() []string { return []string{"kind=test"} }
func (s *testStep) Inputs(context.Context) (fingerprint.Spec, error) {
	return fingerprint.Spec{}, nil
}
func (s *testStep) Probe(context.Context, string) (string, error) { return "", nil }
func (s *testStep) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	s.calls.Add(1)
	if s.run == nil {
		return step.Outcome{}, nil
	}
	return s.run(ctx, rc)
}

// sudoStep is a testStep that may need root.
type sudoStep struct {
	*testStep
	needs bool
}

func (s sudoStep) NeedsSudo() bool { return s.needs }

func runs(f func(ctx context.Context, rc *step.RunContext) (step.Outcome, error)) *testStep {
	return &testStep{run: f}
}

// decision is a step the plan says must run (never ran), after the named
// steps.
func decision(name string, st step.Step, after ...string) *plan.Decision {
	def := []string{"kind=test", "run=" + name}
	return &plan.Decision{
		Name:             name,
		Config:           &config.Step{Name: name, Kind: "test", After: after},
		Step:             st,
		Run:              true,
		Reasons:          []plan.Reason{{Kind: plan.NeverRan, Detail: "no success recorded"}},
		Definition:       def,
		DefinitionDigest: plan.Digest(def),
	}
}

// skipped is a step the plan says is up to date.
func skipped(name string, st step.Step, after ...string) *plan.Decision {
	d := decision(name, st, after...)
	d.Run = false
	d.Reasons = []plan.Reason{{Kind: plan.UpToDate, Detail: "nothing changed since the last success"}}
	return d
}

// events records what the runner reports. hook, set before the run, sees
// each event as it arrives, outside the lock.
type events struct {
	mu   sync.Mutex
	all  []Event
	hook func(Event)
}

func (o *events) Event(e Event) {
	o.mu.Lock()
	o.all = append(o.all, e)
	o.mu.Unlock()
	if o.hook != nil {
		o.hook(e)
	}
}

func (o *events) list() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.all)
}

// index returns the position of the first event of type t for step, or -1.
func (o *events) index(t EventType, step string) int {
	for i, e := range o.list() {
		if e.Type == t && e.Step == step {
			return i
		}
	}
	return -1
}

// signal closes a channel once, when an event matches.
type signal struct {
	ch   chan struct{}
	once sync.Once
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.ch) }) }

// store is a Recorder that keeps what it is given.
type store struct {
	mu       sync.Mutex
	puts     []put
	err      error
	onPut    func(state.Record)
	started  []string // steps marked as started, in order
	startErr error
}

func (s *store) Start(step, run string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, step)
	return s.startErr
}

type put struct {
	rec      state.Record
	manifest []byte
}

func (s *store) Put(r state.Record, manifest []byte) error {
	if s.onPut != nil {
		s.onPut(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, put{r, manifest})
	return s.err
}

func (s *store) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.puts {
		out = append(out, p.rec.Step)
	}
	slices.Sort(out)
	return out
}

// clock is a fake time source that moves forward a millisecond on every
// reading, so "before" and "after" are exact.
type clock struct{ n atomic.Int64 }

func (c *clock) Now() time.Time {
	return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

type harness struct {
	t     *testing.T
	opts  Options
	obs   *events
	store *store
	clock *clock
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, obs: &events{}, store: &store{}, clock: &clock{}}
	h.opts = Options{RunID: "run1", LogDir: filepath.Join(t.TempDir(), "logs", "run1"), Now: h.clock.Now}
	return h
}

func (h *harness) run(ctx context.Context, steps ...*plan.Decision) *Result {
	h.t.Helper()
	res := Run(ctx, &plan.Plan{Steps: steps}, h.opts, h.store, h.obs)
	if len(res.Steps) != len(steps) {
		h.t.Fatalf("result has %d steps, want %d", len(res.Steps), len(steps))
	}
	for i, sr := range res.Steps {
		if sr.Name != steps[i].Name {
			h.t.Errorf("result step %d is %s, want %s (plan order)", i, sr.Name, steps[i].Name)
		}
	}
	return res
}

// want checks the status and reason (a substring) of each named step.
func want(t *testing.T, res *Result, status map[string]Status, reason map[string]string) {
	t.Helper()
	for _, sr := range res.Steps {
		if st, ok := status[sr.Name]; ok && sr.Status != st {
			t.Errorf("%s: status %s (%s), want %s", sr.Name, sr.Status, sr.Reason, st)
		}
		if r, ok := reason[sr.Name]; ok && !strings.Contains(sr.Reason, r) {
			t.Errorf("%s: reason %q, want it to contain %q", sr.Name, sr.Reason, r)
		}
	}
}

// TestRunOrder: each step starts only after every step it comes after has
// ended, and a step independent of a running one runs alongside it.
func TestRunOrder(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	ended := map[string]bool{}
	aStarted, soloStarted := newSignal(), newSignal()
	h.obs.hook = func(e Event) {
		switch {
		case e.Type == EventStepEnd:
			mu.Lock()
			ended[e.Step] = true
			mu.Unlock()
		case e.Type == EventStepStart && e.Step == "a":
			aStarted.fire()
		case e.Type == EventStepStart && e.Step == "solo":
			soloStarted.fire()
		}
	}
	// check fails the step if one it comes after has not ended yet.
	check := func(deps ...string) *testStep {
		return runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range deps {
				if !ended[d] {
					return step.Outcome{}, fmt.Errorf("started before %s ended", d)
				}
			}
			return step.Outcome{}, nil
		})
	}
	// a and solo each wait for the other to have started: only running
	// them together lets both finish.
	a := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		return step.Outcome{}, wait(ctx, soloStarted.ch, "solo to start while a runs")
	})
	solo := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		return step.Outcome{}, wait(ctx, aStarted.ch, "a to start while solo runs")
	})
	res := h.run(context.Background(),
		decision("d", check("b", "c"), "b", "c"),
		decision("b", check("a"), "a"),
		decision("a", a),
		decision("c", check("a"), "a"),
		decision("solo", solo),
	)
	for _, sr := range res.Steps {
		if sr.Status != StatusDone {
			t.Errorf("%s: %s (%s)", sr.Name, sr.Status, sr.Reason)
		}
	}
	if res.Summary.Ran != 5 || res.Failed() {
		t.Errorf("summary %+v", res.Summary)
	}
	for step, deps := range map[string][]string{"b": {"a"}, "c": {"a"}, "d": {"b", "c"}} {
		for _, dep := range deps {
			if h.obs.index(EventStepStart, step) < h.obs.index(EventStepEnd, dep) {
				t.Errorf("%s started before %s ended", step, dep)
			}
		}
	}
}

// TestRunJobsOneSerialises: with Jobs 1 no two steps run at once.
func TestRunJobsOneSerialises(t *testing.T) {
	h := newHarness(t)
	h.opts.Jobs = 1
	var running, most atomic.Int32
	body := func(context.Context, *step.RunContext) (step.Outcome, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		// Holding the slot a little gives a broken limit the chance to
		// start another step; nothing here measures time.
		time.Sleep(20 * time.Millisecond)
		return step.Outcome{}, nil
	}
	res := h.run(context.Background(),
		decision("a", runs(body)), decision("b", runs(body)), decision("c", runs(body)), decision("d", runs(body)))
	if most.Load() != 1 {
		t.Errorf("%d steps ran at once with Jobs 1", most.Load())
	}
	if res.Summary.Ran != 4 {
		t.Errorf("summary %+v", res.Summary)
	}
}

// TestRunJobsTwoOverlap: with Jobs 2, two steps do run at once.
func TestRunJobsTwoOverlap(t *testing.T) {
	h := newHarness(t)
	h.opts.Jobs = 2
	x, y := newSignal(), newSignal()
	res := h.run(context.Background(),
		decision("x", runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
			x.fire()
			return step.Outcome{}, wait(ctx, y.ch, "y to start while x runs")
		})),
		decision("y", runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
			y.fire()
			return step.Outcome{}, wait(ctx, x.ch, "x to start while y runs")
		})),
	)
	want(t, res, map[string]Status{"x": StatusDone, "y": StatusDone}, nil)
}

// TestRunFailureBlocksDependents: a failure blocks what comes after it,
// transitively, while an independent step goes on and finishes after it.
func TestRunFailureBlocksDependents(t *testing.T) {
	h := newHarness(t)
	badEnded := newSignal()
	h.obs.hook = func(e Event) {
		if e.Type == EventStepEnd && e.Step == "bad" {
			badEnded.fire()
		}
	}
	bad := runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
		for i := 1; i <= 25; i++ {
			fmt.Fprintf(rc.Out, "line %d\n", i)
		}
		return step.Outcome{}, errors.New("sh: exit status 3")
	})
	afterBad, afterAfter := &testStep{}, &testStep{}
	good := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		return step.Outcome{}, wait(ctx, badEnded.ch, "bad to fail")
	})
	res := h.run(context.Background(),
		decision("bad", bad),
		decision("after-bad", afterBad, "bad"),
		decision("after-after", afterAfter, "after-bad"),
		decision("good", good),
	)
	want(t, res,
		map[string]Status{"bad": StatusFailed, "after-bad": StatusBlocked, "after-after": StatusBlocked, "good": StatusDone},
		map[string]string{"bad": "sh: exit status 3", "after-bad": "blocked by bad", "after-after": "blocked by after-bad"})
	if afterBad.calls.Load()+afterAfter.calls.Load() != 0 {
		t.Error("a blocked step ran")
	}
	if got := h.store.names(); !slices.Equal(got, []string{"good"}) {
		t.Errorf("recorded %v, want only good", got)
	}
	s := res.Summary
	if s.Ran != 1 || s.Failed != 1 || s.Blocked != 2 || s.Skipped != 0 || s.Interrupted || s.LogDir != h.opts.LogDir || !res.Failed() {
		t.Errorf("summary %+v", s)
	}
	var tail []string
	for i := 6; i <= 25; i++ {
		tail = append(tail, fmt.Sprintf("line %d", i))
	}
	e := h.obs.list()[h.obs.index(EventStepEnd, "bad")]
	if !slices.Equal(e.Tail, tail) || e.LogPath == "" {
		t.Errorf("bad's step-end: tail %q, log %q; want its last 20 lines and its log", e.Tail, e.LogPath)
	}
}

// TestRunFailFast: the first failure stops the rest. A step still running
// is stopped, a step that has not started does not start; both count as
// blocked, not as an interrupt, and nothing is recorded.
func TestRunFailFast(t *testing.T) {
	h := newHarness(t)
	h.opts.FailFast = true
	slowStarted := newSignal()
	h.obs.hook = func(e Event) {
		if e.Type == EventStepStart && e.Step == "slow" {
			slowStarted.fire()
		}
	}
	bad := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		if err := wait(ctx, slowStarted.ch, "slow to start"); err != nil {
			return step.Outcome{}, err
		}
		return step.Outcome{}, errors.New("exit status 3")
	})
	slow := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		select {
		case <-ctx.Done():
			return step.Outcome{}, ctx.Err()
		case <-time.After(guard):
			return step.Outcome{}, nil // not stopped: the assertions below fail
		}
	})
	afterSlow := &testStep{}
	res := h.run(context.Background(),
		decision("bad", bad),
		decision("after-bad", &testStep{}, "bad"),
		decision("slow", slow),
		decision("after-slow", afterSlow, "slow"),
	)
	want(t, res,
		map[string]Status{"bad": StatusFailed, "after-bad": StatusBlocked, "slow": StatusBlocked, "after-slow": StatusBlocked},
		map[string]string{"bad": "exit status 3", "after-bad": "blocked by bad", "slow": "stopped: --fail-fast", "after-slow": "blocked by slow"})
	if afterSlow.calls.Load() != 0 {
		t.Error("a step started after --fail-fast stopped the run")
	}
	if s := res.Summary; s.Interrupted || s.Failed != 1 || s.Blocked != 3 || s.Ran != 0 {
		t.Errorf("summary %+v; want 1 failed, 3 blocked, not interrupted", s)
	}
	if len(h.store.names()) != 0 {
		t.Errorf("recorded %v", h.store.names())
	}
}

// TestRunFailFastNotStartedForASlot: with --jobs 1, the step waiting for
// the slot when the other fails does not start. Which of the two gets the
// slot first is up to the scheduler: that one fails.
func TestRunFailFastNotStartedForASlot(t *testing.T) {
	h := newHarness(t)
	h.opts.FailFast, h.opts.Jobs = true, 1
	var calls atomic.Int32
	body := func(context.Context, *step.RunContext) (step.Outcome, error) {
		if calls.Add(1) == 1 {
			return step.Outcome{}, errors.New("boom")
		}
		return step.Outcome{}, nil
	}
	res := h.run(context.Background(), decision("one", runs(body)), decision("two", runs(body)))
	if calls.Load() != 1 {
		t.Errorf("%d steps started, want 1", calls.Load())
	}
	var got []string
	for _, sr := range res.Steps {
		got = append(got, string(sr.Status)+": "+sr.Reason)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"blocked: not started: --fail-fast", "failed: boom"}) {
		t.Errorf("steps %q", got)
	}
	if res.Summary.Interrupted {
		t.Errorf("summary %+v", res.Summary)
	}
}

// TestRunFailFastOnTimeout: a step that times out has failed, so
// --fail-fast stops the rest as for any other failure.
func TestRunFailFastOnTimeout(t *testing.T) {
	h := newHarness(t)
	h.opts.FailFast = true
	slowStarted := newSignal()
	h.obs.hook = func(e Event) {
		if e.Type == EventStepStart && e.Step == "slow" {
			slowStarted.fire()
		}
	}
	hangs := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		<-ctx.Done()
		return step.Outcome{}, ctx.Err()
	})
	timesOut := decision("times-out", runs(func(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
		if err := wait(context.Background(), slowStarted.ch, "slow to start"); err != nil {
			return step.Outcome{}, err
		}
		return hangs.Run(ctx, rc)
	}))
	timesOut.Config.Timeout = 10 * time.Millisecond
	slow := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		select {
		case <-ctx.Done():
			return step.Outcome{}, ctx.Err()
		case <-time.After(guard):
			return step.Outcome{}, nil // not stopped: the assertions below fail
		}
	})
	res := h.run(context.Background(), timesOut, decision("slow", slow))
	want(t, res,
		map[string]Status{"times-out": StatusFailed, "slow": StatusBlocked},
		map[string]string{"times-out": "timed out after 10ms", "slow": "stopped: --fail-fast"})
}

// TestRunTimeout: a step's own timeout fails it; the run is not
// interrupted and the other steps are not touched.
func TestRunTimeout(t *testing.T) {
	h := newHarness(t)
	d := decision("hangs", runs(func(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
		fmt.Fprintln(rc.Out, "waiting forever")
		<-ctx.Done()
		return step.Outcome{}, fmt.Errorf("sh: %w", ctx.Err())
	}))
	d.Config.Timeout = 20 * time.Millisecond
	res := h.run(context.Background(), d, decision("other", &testStep{}))
	want(t, res,
		map[string]Status{"hangs": StatusFailed, "other": StatusDone},
		map[string]string{"hangs": "timed out after 20ms"})
	if res.Summary.Interrupted || res.Summary.Failed != 1 {
		t.Errorf("summary %+v", res.Summary)
	}
	if got := h.store.names(); !slices.Equal(got, []string{"other"}) {
		t.Errorf("recorded %v, want only other", got)
	}
	log := readLog(t, h, "hangs")
	if !strings.Contains(log, "waiting forever\n") || !strings.Contains(log, "# timed out after 20ms: sh: context deadline exceeded") {
		t.Errorf("log:\n%s", log)
	}
}

// TestRunInterrupt: interrupting the run stops the running step and
// starts nothing more; both are interrupted, nothing of theirs is
// recorded, and the summary says the run was interrupted.
func TestRunInterrupt(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen sync.WaitGroup
	seen.Add(2)
	var firstDone, runningStarted sync.Once
	h.obs.hook = func(e Event) {
		switch {
		case e.Type == EventStepEnd && e.Step == "first":
			firstDone.Do(seen.Done)
		case e.Type == EventStepStart && e.Step == "running":
			runningStarted.Do(seen.Done)
		}
	}
	go func() { seen.Wait(); cancel() }() // the user's Ctrl-C
	running := runs(func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		select {
		case <-ctx.Done():
			return step.Outcome{}, fmt.Errorf("sh: %w", ctx.Err())
		case <-time.After(guard):
			return step.Outcome{}, nil // not interrupted: the assertions below fail
		}
	})
	next := &testStep{}
	res := h.run(ctx,
		decision("first", &testStep{}),
		decision("running", running),
		decision("next", next, "running"),
		skipped("up-to-date", &testStep{}),
	)
	want(t, res,
		map[string]Status{"first": StatusDone, "running": StatusInterrupted, "next": StatusInterrupted, "up-to-date": StatusSkipped},
		map[string]string{"running": "interrupted", "next": "not started"})
	if next.calls.Load() != 0 {
		t.Error("a step started after the interrupt")
	}
	if got := h.store.names(); !slices.Equal(got, []string{"first"}) {
		t.Errorf("recorded %v, want only first", got)
	}
	if s := res.Summary; !s.Interrupted || s.Ran != 1 || s.LogDir != h.opts.LogDir {
		t.Errorf("summary %+v", s)
	}
}

// TestRunInterruptWhileQueued: a step waiting for a --jobs slot when the
// run is interrupted never starts.
func TestRunInterruptWhileQueued(t *testing.T) {
	h := newHarness(t)
	h.opts.Jobs = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.obs.hook = func(e Event) {
		if e.Type == EventStepStart {
			cancel()
		}
	}
	hold := func(ctx context.Context, _ *step.RunContext) (step.Outcome, error) {
		<-ctx.Done()
		return step.Outcome{}, ctx.Err()
	}
	res := h.run(ctx, decision("one", runs(hold)), decision("two", runs(hold)))
	reasons := []string{res.Steps[0].Reason, res.Steps[1].Reason}
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"interrupted", "not started"}) || res.Steps[0].Status != StatusInterrupted || res.Steps[1].Status != StatusInterrupted {
		t.Errorf("steps %+v; want one interrupted while running, one not started", res.Steps)
	}
	if !res.Summary.Interrupted {
		t.Errorf("summary %+v", res.Summary)
	}
}

// TestRunRecordsSuccess: a success is recorded after the step returns,
// with the fingerprint the plan took before the run (even though the run
// changed an input), the token the step reported, and the time the step
// started.
func TestRunRecordsSuccess(t *testing.T) {
	h := newHarness(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "in"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := (&fingerprint.Scanner{Root: root}).Scan(context.Background(), []fingerprint.Spec{{Patterns: []string{"**"}}})
	if err != nil {
		t.Fatal(err)
	}
	var returned atomic.Bool
	var runBegan time.Time
	var gotRC step.RunContext
	s := decision("s", runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
		runBegan = h.clock.Now()
		gotRC = *rc
		defer returned.Store(true)
		return step.Outcome{Token: "tok-new", Note: "nothing to switch"},
			os.WriteFile(filepath.Join(root, "in"), []byte("after"), 0o644)
	}))
	s.Manifest, s.Token = ms[0], "tok-old"
	s.Reasons = []plan.Reason{{Kind: plan.Forced, Detail: plan.ForceDetail}}
	noInputs := decision("no-inputs", &testStep{}) // inputs unreadable: Manifest nil
	h.opts.Update = true
	h.store.onPut = func(r state.Record) {
		if r.Step == "s" && !returned.Load() {
			t.Error("Put called before the step returned")
		}
	}
	res := h.run(context.Background(), s, noInputs)
	want(t, res, map[string]Status{"s": StatusDone, "no-inputs": StatusDone}, nil)

	if gotRC.Token != "tok-old" || !gotRC.Force || !gotRC.Update || gotRC.Out == nil || gotRC.Progress == nil {
		t.Errorf("RunContext %+v; want the old token, Force and Update set", gotRC)
	}
	if len(h.store.puts) != 2 {
		t.Fatalf("%d puts, want 2", len(h.store.puts))
	}
	var p, pn put
	for _, x := range h.store.puts {
		if x.rec.Step == "s" {
			p = x
		} else {
			pn = x
		}
	}
	wantManifest, err := ms[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := p.rec
	if !slices.Equal(r.Definition, s.Definition) || r.DefinitionDigest != s.DefinitionDigest {
		t.Errorf("definition %q %s, want the decision's", r.Definition, r.DefinitionDigest)
	}
	if r.InputsDigest != ms[0].Digest.String() || !bytes.Equal(p.manifest, wantManifest) {
		t.Errorf("inputs digest %s, want the one taken before the run, %s; manifest equal: %v", r.InputsDigest, ms[0].Digest, bytes.Equal(p.manifest, wantManifest))
	}
	if r.Token != "tok-new" || r.RunID != "run1" {
		t.Errorf("token %q run %q", r.Token, r.RunID)
	}
	if !r.Started.Before(runBegan) || r.Duration <= 0 {
		t.Errorf("started %v, duration %v; want a start before Run began (%v)", r.Started, r.Duration, runBegan)
	}
	if pn.rec.InputsDigest != "" || pn.manifest != nil {
		t.Errorf("a step with no manifest recorded digest %q, manifest %d bytes", pn.rec.InputsDigest, len(pn.manifest))
	}
	if e := h.obs.list()[h.obs.index(EventStepEnd, "s")]; e.Note != "nothing to switch" {
		t.Errorf("note %q", e.Note)
	}
}

// TestRunForceOnlyFromForceFlag: a step forced by --update is not told it
// was forced: only --force turns off a kind's shortcuts.
func TestRunForceOnlyFromForceFlag(t *testing.T) {
	h := newHarness(t)
	var force atomic.Bool
	d := decision("s", runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
		force.Store(rc.Force)
		return step.Outcome{}, nil
	}))
	d.Reasons = []plan.Reason{{Kind: plan.Forced, Detail: "--update"}}
	h.run(context.Background(), d)
	if force.Load() {
		t.Error("RunContext.Force set for a step forced by --update")
	}
}

// TestRunPutError: a step whose success cannot be recorded did its work,
// but sysinit will not know it did: the step fails (so the run exits
// non-zero), saying it will run again, and what comes after it is blocked.
func TestRunPutError(t *testing.T) {
	h := newHarness(t)
	h.store.err = errors.New("no space left on device")
	after := &testStep{}
	res := h.run(context.Background(), decision("s", runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		return step.Outcome{Note: "switched"}, nil
	})), decision("next", after, "s"))
	want(t, res, map[string]Status{"s": StatusFailed, "next": StatusBlocked},
		map[string]string{"s": "ran, but its success could not be recorded (no space left on device); it will run again"})
	if res.Summary.Ran != 0 || res.Summary.Failed != 1 || !res.Failed() || after.calls.Load() != 0 {
		t.Errorf("summary %+v, next ran %d times", res.Summary, after.calls.Load())
	}
	e := h.obs.list()[h.obs.index(EventStepEnd, "s")]
	if e.Note != "switched" || e.LogPath == "" {
		t.Errorf("end event %+v", e)
	}
	if log := readLog(t, h, "s"); !strings.Contains(log, ", but could not record success: no space left on device\n") {
		t.Errorf("log:\n%s", log)
	}
}

// TestRunNothingRecordedOnFailure: neither a failed step nor one whose
// log cannot be made is recorded.
func TestRunNothingRecordedOnFailure(t *testing.T) {
	h := newHarness(t)
	res := h.run(context.Background(), decision("bad", runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		return step.Outcome{Token: "t"}, errors.New("boom")
	})))
	want(t, res, map[string]Status{"bad": StatusFailed}, map[string]string{"bad": "boom"})
	if len(h.store.names()) != 0 {
		t.Errorf("recorded %v", h.store.names())
	}
	if log := readLog(t, h, "bad"); !strings.Contains(log, "# failed: boom\n") {
		t.Errorf("log:\n%s", log)
	}
}

// TestRunRedecide: a step marked for re-checking is decided again only
// when a step it comes after actually ran, and then the new decision is
// the one run and recorded.
func TestRunRedecide(t *testing.T) {
	h := newHarness(t)
	upEnded := newSignal()
	h.obs.hook = func(e Event) {
		if e.Type == EventStepEnd && e.Step == "up" {
			upEnded.fire()
		}
	}
	recheck := func(name string, after ...string) *plan.Decision {
		d := skipped(name, &testStep{}, after...)
		d.Recheck = true
		return d
	}
	nowRuns := &testStep{}
	var mu sync.Mutex
	var redecided []string
	h.opts.Redecide = func(ctx context.Context, name string) *plan.Decision {
		mu.Lock()
		redecided = append(redecided, name)
		mu.Unlock()
		select {
		case <-upEnded.ch:
		default:
			t.Errorf("%s re-decided before up ended", name)
		}
		switch name {
		case "now-runs":
			d := decision(name, nowRuns, "up")
			d.Reasons = []plan.Reason{{Kind: plan.InputsChanged, Detail: "gen/out modified"}}
			d.Definition = []string{"kind=test", "run=redecided"}
			d.DefinitionDigest = plan.Digest(d.Definition)
			return d
		default:
			return skipped(name, &testStep{}, "up")
		}
	}
	res := h.run(context.Background(),
		decision("up", &testStep{}),
		recheck("now-runs", "up"),
		recheck("still-skipped", "up"),
		skipped("quiet", &testStep{}),
		recheck("after-quiet", "quiet"),
		decision("fails", runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
			return step.Outcome{}, errors.New("boom")
		})),
		recheck("after-fails", "fails"),
	)
	slices.Sort(redecided)
	if !slices.Equal(redecided, []string{"now-runs", "still-skipped"}) {
		t.Errorf("re-decided %v, want now-runs and still-skipped", redecided)
	}
	want(t, res,
		map[string]Status{"now-runs": StatusDone, "still-skipped": StatusSkipped, "after-quiet": StatusSkipped, "after-fails": StatusBlocked},
		map[string]string{"now-runs": "gen/out modified", "still-skipped": "up to date", "after-quiet": "up to date"})
	if nowRuns.calls.Load() != 1 {
		t.Errorf("the re-decided step ran %d times", nowRuns.calls.Load())
	}
	for _, p := range h.store.puts {
		if p.rec.Step == "now-runs" && p.rec.DefinitionDigest != plan.Digest([]string{"kind=test", "run=redecided"}) {
			t.Error("recorded the old decision's definition, not the re-decided one")
		}
	}
	if got := h.store.names(); !slices.Equal(got, []string{"now-runs", "up"}) {
		t.Errorf("recorded %v", got)
	}
}

// TestRunRedecideTransitive: the plan marks for re-checking every skipped
// step downstream of one that runs, not only its direct dependents. When
// the step in between is re-decided and still skipped, the one after it
// must be re-decided too: the step that ran may have changed its inputs,
// and its plan-time decision predates that run.
func TestRunRedecideTransitive(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var redecided []string
	h.opts.Redecide = func(_ context.Context, name string) *plan.Decision {
		mu.Lock()
		redecided = append(redecided, name)
		mu.Unlock()
		return skipped(name, &testStep{})
	}
	mid := skipped("mid", &testStep{}, "up")
	mid.Recheck = true
	low := skipped("low", &testStep{}, "mid")
	low.Recheck = true
	h.run(context.Background(), decision("up", &testStep{}), mid, low)
	slices.Sort(redecided)
	if !slices.Equal(redecided, []string{"low", "mid"}) {
		t.Errorf("re-decided %v, want mid and low", redecided)
	}
}

// TestRunElevate: root is obtained once, before any step starts, when a
// step that will run needs it, and released after the run; not at all
// otherwise.
func TestRunElevate(t *testing.T) {
	tests := []struct {
		name  string
		steps func() []*plan.Decision
		calls int32
	}{
		{"a running step needs root", func() []*plan.Decision {
			return []*plan.Decision{
				decision("plain", &testStep{}),
				decision("root", sudoStep{&testStep{}, true}),
				decision("root-too", sudoStep{&testStep{}, true}),
			}
		}, 1},
		{"a step to re-check needs root", func() []*plan.Decision {
			d := skipped("root", sudoStep{&testStep{}, true}, "plain")
			d.Recheck = true
			return []*plan.Decision{decision("plain", &testStep{}), d}
		}, 1},
		{"only a skipped step needs root", func() []*plan.Decision {
			return []*plan.Decision{decision("plain", &testStep{}), skipped("root", sudoStep{&testStep{}, true})}
		}, 0},
		{"an elevated kind that does not need root now", func() []*plan.Decision {
			return []*plan.Decision{decision("root", sudoStep{&testStep{}, false})}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var calls, releases atomic.Int32
			h.opts.Elevate = func(context.Context) (func(), error) {
				calls.Add(1)
				if evs := h.obs.list(); len(evs) != 1 || evs[0].Type != EventRunStart {
					t.Errorf("Elevate called after steps began: %v", evs)
				}
				return func() {
					releases.Add(1)
					if h.obs.index(EventRunEnd, "") < 0 {
						t.Error("released before the run ended")
					}
				}, nil
			}
			h.run(context.Background(), tt.steps()...)
			if calls.Load() != tt.calls || releases.Load() != tt.calls {
				t.Errorf("Elevate called %d times, released %d; want %d", calls.Load(), releases.Load(), tt.calls)
			}
		})
	}
}

// TestRunElevateFails: without root, every step that would run fails and
// none starts; skipped steps stay skipped.
func TestRunElevateFails(t *testing.T) {
	h := newHarness(t)
	h.opts.Elevate = func(context.Context) (func(), error) {
		return nil, errors.New("sudo: a password is required")
	}
	root, plain := &testStep{}, &testStep{}
	res := h.run(context.Background(),
		decision("root", sudoStep{root, true}),
		decision("plain", plain),
		skipped("quiet", &testStep{}),
	)
	want(t, res,
		map[string]Status{"root": StatusFailed, "plain": StatusFailed, "quiet": StatusSkipped},
		map[string]string{"root": "could not get root: sudo: a password is required", "plain": "could not get root"})
	if root.calls.Load()+plain.calls.Load() != 0 || len(h.store.names()) != 0 {
		t.Error("a step ran or was recorded without root")
	}
	if !res.Failed() || res.Summary.Failed != 2 || res.Summary.Skipped != 1 {
		t.Errorf("summary %+v", res.Summary)
	}
	evs := h.obs.list()
	if evs[0].Type != EventRunStart || evs[len(evs)-1].Type != EventRunEnd || h.obs.index(EventStepStart, "root") >= 0 {
		t.Errorf("events %v", evs)
	}
}

// TestRunEvents: run-start first, listing every step; then per step that
// runs step-start, its output line by line and its progress, step-end;
// run-end last with the summary. Every event carries the run id and time.
func TestRunEvents(t *testing.T) {
	h := newHarness(t)
	h.opts.ETA = func(name string) time.Duration {
		if name == "talks" {
			return 3 * time.Second
		}
		return 0
	}
	talks := runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
		for _, w := range []string{"one\ntwo\r\nthr", "ee\n", "\n", "last without newline"} {
			if _, err := rc.Out.Write([]byte(w)); err != nil {
				return step.Outcome{}, err
			}
		}
		rc.Progress("building 1/2")
		return step.Outcome{}, nil
	})
	na := skipped("elsewhere", &testStep{})
	na.Reasons = []plan.Reason{{Kind: plan.NotApplicable, Detail: "only for darwin; this is linux"}}
	res := h.run(context.Background(), decision("talks", talks), skipped("quiet", &testStep{}), na)
	evs := h.obs.list()

	start := evs[0]
	wantInfos := []StepInfo{
		{Name: "talks", Status: StatusWaiting, Reason: decision("talks", talks).Summary(), ETA: 3 * time.Second},
		{Name: "quiet", Status: StatusSkipped, Reason: "up to date"},
		{Name: "elsewhere", Status: StatusNotApplicable, Reason: "only for darwin; this is linux"},
	}
	if start.Type != EventRunStart || !slices.Equal(start.Steps, wantInfos) {
		t.Errorf("first event %+v, want run-start with %+v", start, wantInfos)
	}
	end := evs[len(evs)-1]
	if end.Type != EventRunEnd || end.Summary == nil || *end.Summary != res.Summary {
		t.Errorf("last event %+v, want run-end with the summary", end)
	}
	if s := res.Summary; s.Ran != 1 || s.Skipped != 2 || s.LogDir != "" || s.Wall <= 0 {
		t.Errorf("summary %+v", s)
	}
	var talk []string
	for _, e := range evs {
		if e.RunID != "run1" || e.Time.IsZero() {
			t.Errorf("event %+v lacks the run id or time", e)
		}
		if e.Step != "talks" {
			continue
		}
		switch e.Type {
		case EventStepOutput, EventStepProgress:
			talk = append(talk, string(e.Type)+" "+e.Line)
		case EventStepStart, EventStepEnd:
			talk = append(talk, string(e.Type)+" "+string(e.Status))
			if !strings.HasSuffix(e.LogPath, "talks.log") {
				t.Errorf("%s: log path %q", e.Type, e.LogPath)
			}
		}
	}
	wantTalk := []string{
		"step-start ", "step-output one", "step-output two", "step-output three", "step-output ",
		"step-progress building 1/2", "step-output last without newline", "step-end done",
	}
	if !slices.Equal(talk, wantTalk) {
		t.Errorf("events of talks:\n got %q\nwant %q", talk, wantTalk)
	}
}

func readLog(t *testing.T, h *harness, step string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.opts.LogDir, step+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestRunLogs: the log directory is made when a step first runs, private
// to the user, and each step's log holds a header, all its output and how
// it ended.
func TestRunLogs(t *testing.T) {
	h := newHarness(t)
	res := h.run(context.Background(), decision("s", runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
		fmt.Fprint(rc.Out, "hello\nno newline")
		return step.Outcome{}, nil
	})), skipped("quiet", &testStep{}))
	want(t, res, map[string]Status{"s": StatusDone}, nil)
	fi, err := os.Stat(h.opts.LogDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("log directory mode %v, want 0700", fi.Mode().Perm())
	}
	fi, err = os.Stat(filepath.Join(h.opts.LogDir, "s.log"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(h.opts.LogDir, "quiet.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a skipped step has a log: %v", err)
	}
	lines := strings.Split(readLog(t, h, "s"), "\n")
	if len(lines) < 4 ||
		!strings.HasPrefix(lines[0], "# sysinit run run1, step s, started 2025-03-01T12:00:00Z") ||
		lines[1] != "# why: "+decision("s", nil).Summary() ||
		lines[2] != "hello" ||
		!strings.HasPrefix(lines[3], "no newline") {
		t.Errorf("log:\n%s", strings.Join(lines, "\n"))
	}
}

// TestRunLogFooterOnItsOwnLine: output that does not end in a newline does
// not swallow the "# done"/"# failed" line that closes the log.
func TestRunLogFooterOnItsOwnLine(t *testing.T) {
	h := newHarness(t)
	h.run(context.Background(),
		decision("ok", runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
			fmt.Fprint(rc.Out, "no newline")
			return step.Outcome{}, nil
		})),
		decision("bad", runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
			fmt.Fprint(rc.Out, "no newline")
			return step.Outcome{}, errors.New("boom")
		})),
	)
	for name, footer := range map[string]string{"ok": "# done in ", "bad": "# failed: boom"} {
		log := readLog(t, h, name)
		if !strings.Contains(log, "\nno newline\n"+footer) {
			t.Errorf("%s.log:\n%s", name, log)
		}
	}
}

// TestRunNoLogDir: a log directory that cannot be made fails the steps
// that run, and the summary does not point at it.
func TestRunNoLogDir(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.opts.LogDir = filepath.Join(file, "logs")
	s := &testStep{}
	res := h.run(context.Background(), decision("s", s))
	want(t, res, map[string]Status{"s": StatusFailed}, map[string]string{"s": "creating log directory"})
	if s.calls.Load() != 0 || len(h.store.names()) != 0 || res.Summary.LogDir != "" {
		t.Errorf("ran %d, recorded %v, summary %+v", s.calls.Load(), h.store.names(), res.Summary)
	}
}

// TestRunSkippedAndNotApplicableDependencies: a step after one that is up
// to date or not applicable runs without being held back or re-decided.
func TestRunSkippedAndNotApplicableDependencies(t *testing.T) {
	h := newHarness(t)
	h.opts.Redecide = func(_ context.Context, name string) *plan.Decision {
		t.Errorf("%s re-decided though nothing before it ran", name)
		return nil
	}
	na := skipped("elsewhere", &testStep{})
	na.Reasons = []plan.Reason{{Kind: plan.NotApplicable, Detail: "only for darwin; this is linux"}}
	res := h.run(context.Background(), skipped("quiet", &testStep{}), na, decision("after-both", &testStep{}, "quiet", "elsewhere"))
	want(t, res,
		map[string]Status{"quiet": StatusSkipped, "elsewhere": StatusNotApplicable, "after-both": StatusDone},
		map[string]string{"quiet": "up to date", "elsewhere": "only for darwin"})
}

// TestRunUnscanned: a step the plan left unscanned is decided again —
// fingerprinted — just before it runs, once it holds its slot (with
// --jobs 1, never while another step runs), and what it records is that
// decision's fingerprint.
func TestRunUnscanned(t *testing.T) {
	h := newHarness(t)
	h.opts.Jobs = 1
	var running atomic.Int32
	work := func(context.Context, *step.RunContext) (step.Outcome, error) {
		running.Add(1)
		defer running.Add(-1)
		time.Sleep(20 * time.Millisecond)
		return step.Outcome{}, nil
	}
	unscanned := func(name string) *plan.Decision {
		d := decision(name, runs(work))
		d.Unscanned = true
		return d
	}
	var mu sync.Mutex
	var redecided []string
	h.opts.Redecide = func(_ context.Context, name string) *plan.Decision {
		mu.Lock()
		redecided = append(redecided, name)
		mu.Unlock()
		if n := running.Load(); n != 0 {
			t.Errorf("%s fingerprinted while %d other step(s) ran", name, n)
		}
		d := decision(name, runs(work))
		d.Manifest = &fingerprint.Manifest{Entries: []fingerprint.Entry{{Path: name + ".txt", Type: fingerprint.TypeFile}}}
		return d
	}
	res := h.run(context.Background(), unscanned("a"), unscanned("b"), decision("scanned", runs(work)))
	want(t, res, map[string]Status{"a": StatusDone, "b": StatusDone, "scanned": StatusDone}, nil)
	slices.Sort(redecided)
	if !slices.Equal(redecided, []string{"a", "b"}) {
		t.Errorf("re-decided %v, want the unscanned a and b only", redecided)
	}
	for _, p := range h.store.puts {
		wantManifest := p.rec.Step != "scanned"
		if wantManifest != (p.manifest != nil && p.rec.InputsDigest != "") {
			t.Errorf("%s recorded manifest %v (digest %q); want one: %v", p.rec.Step, p.manifest != nil, p.rec.InputsDigest, wantManifest)
		}
	}
}

// TestRunBackground: background work starts only once every step that
// could start at once has been decided (so it never holds them up), runs
// while the steps that wait for them wait, and is stopped and waited for
// before Run returns.
func TestRunBackground(t *testing.T) {
	h := newHarness(t)
	var firstDecided, bgStarted, bgStopped atomic.Bool
	plans := map[string]*plan.Decision{}
	h.opts.Redecide = func(_ context.Context, name string) *plan.Decision {
		if name == "first" {
			if bgStarted.Load() {
				t.Error("background work started before the first step was decided")
			}
			firstDecided.Store(true)
		}
		return plans[name]
	}
	released := make(chan struct{})
	h.opts.Background = func(ctx context.Context) {
		bgStarted.Store(true)
		if !firstDecided.Load() {
			t.Error("background work started before the first step was decided")
		}
		close(released)
		<-ctx.Done()
		bgStopped.Store(true)
	}
	unscanned := func(name string, st step.Step, after ...string) *plan.Decision {
		d := decision(name, st, after...)
		d.Unscanned = true
		return d
	}
	first := runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		// The first step ends only once background work is under way:
		// it runs while the steps after it wait.
		select {
		case <-released:
		case <-time.After(5 * time.Second):
			t.Error("background work did not start while the first step ran")
		}
		return step.Outcome{}, nil
	})
	plans["first"], plans["later"] = decision("first", first), decision("later", &testStep{}, "first")
	res := h.run(context.Background(), unscanned("first", first), unscanned("later", &testStep{}, "first"), skipped("quiet", &testStep{}))
	want(t, res, map[string]Status{"first": StatusDone, "later": StatusDone, "quiet": StatusSkipped}, nil)
	if !bgStarted.Load() || !bgStopped.Load() {
		t.Errorf("background work started %v, stopped before Run returned %v", bgStarted.Load(), bgStopped.Load())
	}
}

// TestRunInterruptedWhileDeciding: an interrupt that arrives while a step
// is being fingerprinted at its turn leaves it not started: no step-start,
// no Run, nothing recorded.
func TestRunInterruptedWhileDeciding(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &testStep{}
	h.opts.Redecide = func(_ context.Context, name string) *plan.Decision {
		cancel() // Ctrl-C while hashing
		return decision(name, st)
	}
	d := decision("s", st)
	d.Unscanned = true
	res := h.run(ctx, d)
	want(t, res, map[string]Status{"s": StatusInterrupted}, map[string]string{"s": "not started"})
	if st.calls.Load() != 0 || len(h.store.names()) != 0 {
		t.Errorf("the step ran %d times, recorded %v", st.calls.Load(), h.store.names())
	}
	if i := h.obs.index(EventStepStart, "s"); i >= 0 {
		t.Errorf("step-start emitted for a step that did not start: %+v", h.obs.list()[i])
	}
}

// reuseStep is a testStep that can go back to an earlier result.
type reuseStep struct{ *testStep }

func (reuseStep) Reusable(context.Context, string) (bool, error) { return true, nil }

// TestRunReuse: a decision that offers an earlier result passes its token
// to the step — unless the step is forced or redefined, which never go
// back — and a success of a step that can go back keeps its result, with
// its label; one of a step that cannot keeps none.
func TestRunReuse(t *testing.T) {
	cases := []struct {
		name    string
		reasons []plan.Reason
		reuse   string
	}{
		{"inputs back to a built result", []plan.Reason{{Kind: plan.InputsChanged}, {Kind: plan.BuiltBefore}}, "tok-before"},
		{"--force", []plan.Reason{{Kind: plan.Forced, Detail: plan.ForceDetail}, {Kind: plan.InputsChanged}}, ""},
		{"definition changed", []plan.Reason{{Kind: plan.DefinitionChanged}, {Kind: plan.InputsChanged}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			var got string
			d := decision("s", reuseStep{runs(func(_ context.Context, rc *step.RunContext) (step.Outcome, error) {
				got = rc.Reuse
				return step.Outcome{Token: "tok-new", Label: "generation 7"}, nil
			})})
			d.Reasons, d.Reuse = c.reasons, &state.Result{Token: "tok-before"}
			d.Manifest = &fingerprint.Manifest{}
			plain := decision("plain", runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
				return step.Outcome{Token: "tok", Label: "x"}, nil
			}))
			h.run(context.Background(), d, plain)
			if got != c.reuse {
				t.Errorf("RunContext.Reuse = %q, want %q", got, c.reuse)
			}
			for _, p := range h.store.puts {
				switch p.rec.Step {
				case "s":
					if !p.rec.KeepResult || p.rec.Label != "generation 7" || p.rec.Token != "tok-new" {
						t.Errorf("s recorded %+v, want its result kept as generation 7", p.rec)
					}
				case "plain":
					if p.rec.KeepResult {
						t.Errorf("a step that cannot go back kept its result")
					}
				}
			}
		})
	}
}
