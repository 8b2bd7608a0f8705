// Package plan decides, for every step, whether it must run and why. It
// reads the config, the recorded state, the inputs' fingerprints and cheap
// probes of the machine; it runs nothing costly and writes nothing.
//
// A step runs when any of these holds, and the decision names each one:
//
//	never-ran           no success is recorded for it here
//	definition-changed  kind, command, flags, env values or a resolved tool path differ
//	inputs-changed      the digest of its input files differs (the files are listed)
//	ttl-expired         its `every` time-to-live has passed since the last success
//	probe-failed        the machine no longer matches what the last success left (drift)
//	forced              --force, or --update for steps that fetch
//	cannot-tell         an input or probe could not be read: run rather than guess
//	unfinished          its last run started and did not record a success (it
//	                    failed, was interrupted or killed): whatever its inputs
//	                    hold, the machine may be half way
//	tool-missing        the program its kind needs is not installed: it fails,
//	                    with the fix, without being started
//
// A step that runs only because its inputs changed, to inputs (and a
// definition) an earlier success had, is also marked built-before when it
// can go back to that success's result (see step.Reuser): it switches to
// it instead of doing the work.
//
// Otherwise it is skipped as up-to-date; a step for another OS, or whose
// `requires` are missing, is skipped as not-applicable.
package plan

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// ReasonKind names why a step runs or is skipped; the values are part of
// the `plan --json` contract.
type ReasonKind string

const (
	NeverRan          ReasonKind = "never-ran"
	DefinitionChanged ReasonKind = "definition-changed"
	InputsChanged     ReasonKind = "inputs-changed"
	TTLExpired        ReasonKind = "ttl-expired"
	ProbeFailed       ReasonKind = "probe-failed"
	Forced            ReasonKind = "forced"
	CannotTell        ReasonKind = "cannot-tell"
	Unfinished        ReasonKind = "unfinished"
	ToolMissing       ReasonKind = "tool-missing"
	UpToDate          ReasonKind = "up-to-date"
	NotApplicable     ReasonKind = "not-applicable"
	// BuiltBefore follows inputs-changed when the step's inputs and
	// definition are those of an earlier success whose result it can go
	// back to (Decision.Reuse); its detail says which and when.
	BuiltBefore ReasonKind = "built-before"
)

// ForceDetail is the detail of a Forced reason that comes from --force.
const ForceDetail = "--force"

// Reason is one cause of a decision.
type Reason struct {
	Kind   ReasonKind   `json:"kind"`
	Detail string       `json:"detail"`
	Files  []FileChange `json:"files,omitempty"`
}

// FileChange is one input file that differs from the last success.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"`         // added | removed | modified
	Note   string `json:"note,omitempty"` // why it is an input when it was not listed ("run executes it", "sourced by scripts/install.sh, which run executes")
}

// String is the reason as people read it: "inputs changed: flake.lock
// modified", "built before (generation 12, 3 days ago)".
func (r Reason) String() string {
	s := strings.ReplaceAll(string(r.Kind), "-", " ")
	if r.Kind == BuiltBefore && r.Detail != "" {
		return s + " (" + r.Detail + ")"
	}
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

// Decision is what the plan says of one step.
type Decision struct {
	Name    string
	Config  *config.Step
	Step    step.Step
	Run     bool
	Reasons []Reason
	// Recheck is set on a skipped step that depends on a step that will
	// run: it is decided again once that one has finished.
	Recheck bool
	// Unscanned is set on a step that never ran: its decision does not
	// depend on its inputs, so the plan left them unread, and the runner
	// has it decided again, fingerprint and all, just before it runs. On a
	// cold machine that takes the hashing of every file off the start of
	// the run, and (with Warm) off the critical path.
	Unscanned bool

	// What a success records: the fingerprint taken before the run.
	Definition       []string
	DefinitionDigest string
	Manifest         *fingerprint.Manifest // nil when the inputs could not be read
	// Token is what the last success's probe recorded ("" if none).
	Token string
	// LastDue is when the last success did what the step's schedule asks
	// (see state.Record.Due); zero if none.
	LastDue time.Time
	// Interrupted names the run that last started the step and did not
	// finish it (failed, interrupted, killed); "" if none.
	Interrupted string
	// Reuse is the earlier success whose result the step can go back to
	// instead of doing the work (a BuiltBefore reason says so); nil when
	// there is none.
	Reuse *state.Result
	// Warnings are about the step's setup, for plan and refresh to show:
	// an input pattern that selects no file, say.
	Warnings []string

	// unreached is why the machine a remote step acts on did not say
	// what it is: the step runs, its reasons led by cannot-tell.
	unreached error
}

// Due says whether a run of d is the one its schedule asks for: forced
// (--force, --update) or its `every` passed. Steps that do more when due
// (flake-update moves pins) read it from their RunContext. A step that
// never ran here is not due: its first run establishes the schedule (a new
// machine keeps the repo's flake.lock until `every` passes).
func (d *Decision) Due() bool {
	for _, r := range d.Reasons {
		if r.Kind == Forced || r.Kind == TTLExpired {
			return true
		}
	}
	return false
}

// Intent is what a run of d will do, for steps whose work depends on
// whether the run is due; "" for others, or when d does not run.
func (d *Decision) Intent() string {
	if i, ok := d.Step.(step.Intender); ok && d.Run && d.Applicable() {
		return i.Intent(d.Due())
	}
	return ""
}

// Applicable reports whether the step can run on this machine.
func (d *Decision) Applicable() bool {
	return len(d.Reasons) == 0 || d.Reasons[0].Kind != NotApplicable
}

// Missing is what the step needs and this machine lacks, with the fix; ""
// when nothing is. Such a step fails without being started.
func (d *Decision) Missing() string {
	if len(d.Reasons) > 0 && d.Reasons[0].Kind == ToolMissing {
		return d.Reasons[0].Detail
	}
	return ""
}

// MayRun reports whether the step may run in this refresh: it must, or it
// is decided again at its turn.
func (d *Decision) MayRun() bool {
	return d.Applicable() && (d.Run || d.Recheck || d.Unscanned)
}

// Summary is the reasons in one line: for a skipped step just why, for a
// step that runs each reason with its kind.
func (d *Decision) Summary() string {
	if len(d.Reasons) > 0 {
		switch d.Reasons[0].Kind {
		case UpToDate:
			return "up to date"
		case NotApplicable:
			return d.Reasons[0].Detail
		}
	}
	parts := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		parts[i] = r.String()
	}
	return strings.Join(parts, "; ")
}

// Plan is the decisions for the selected steps, in config order.
type Plan struct {
	Steps []*Decision

	// byName indexes Steps, built at the first lookup: every step asks
	// after the steps it comes after, which must not cost a scan each.
	indexOnce sync.Once
	byName    map[string]*Decision
}

// Decision returns the decision for name, or nil. Steps must not change
// once Decision has been called.
func (p *Plan) Decision(name string) *Decision {
	p.indexOnce.Do(func() {
		p.byName = make(map[string]*Decision, len(p.Steps))
		for _, d := range p.Steps {
			if _, dup := p.byName[d.Name]; !dup {
				p.byName[d.Name] = d
			}
		}
	})
	return p.byName[name]
}

// Planner makes plans. Set the fields, then call Plan.
type Planner struct {
	Config  *config.Config
	Steps   map[string]step.Step
	Records map[string]state.Record
	// Unfinished is, by step, the run that started it and did not record a
	// success (state.Store.Unfinished).
	Unfinished map[string]string
	// OldManifest returns the encoded manifest of a step's last success,
	// read only when its digest differs, to list the changed files.
	OldManifest func(step string) ([]byte, error)
	// Results returns the results a step's successes kept by their inputs
	// (oldest first), read only when its inputs changed; nil = none.
	Results  func(step string) ([]state.Result, error)
	Scanner  *fingerprint.Scanner
	Exec     command.Runner // runs `check` probes
	Shell    string         // resolved path of sh, for `check`
	Now      func() time.Time
	GOOS     string
	LookPath func(string) (string, error)
	// Analyses keeps what `check` command lines run across runs (nil:
	// their scripts are read afresh).
	Analyses *step.Analyses

	Only   []string // the steps asked for; their dependencies come along; empty = all
	Force  bool     // force the steps in Only, or all when Only is empty
	Update bool     // --update: force steps that fetch

	// scanMu serialises scans: the runner re-decides steps from several
	// goroutines, and a Scanner (with its stat cache) serves one at a time.
	scanMu sync.Mutex

	prefetchMu sync.Mutex
	prefetched map[string]*prefetch // by Prefetch, for Plan

	exportMu sync.Mutex
	exports  map[string]string // published in this run, by step (see Exported)
}

// Exported keeps what step published in this run for its followers: they
// are decided with it from now on, not with what its last success
// recorded.
func (p *Planner) Exported(step, export string) {
	p.exportMu.Lock()
	defer p.exportMu.Unlock()
	if p.exports == nil {
		p.exports = map[string]string{}
	}
	p.exports[step] = export
}

// follow gives a follower its leader's export: the one published in this
// run, else the one the leader's last success recorded.
func (p *Planner) follow(f step.Follower) {
	leader := f.Leader()
	p.exportMu.Lock()
	e, ok := p.exports[leader]
	p.exportMu.Unlock()
	if !ok {
		if rec, found := p.Records[leader]; found && rec.Export != "" {
			e, ok = rec.Export, true
		}
	}
	f.Follow(e, ok)
}

// prefetch is one step's inputs, being read in the background.
type prefetch struct {
	done chan struct{}
	spec fingerprint.Spec
	err  error
}

// Prefetch starts reading every step's inputs (a flake's git index, say)
// in the background, for the next Plan to use. Call it before loading what
// Plan needs besides (Records, the stat cache), so the two overlap. Plan
// uses each step's prefetched inputs once; Decide and Warm read afresh.
func (p *Planner) Prefetch(ctx context.Context) {
	p.prefetchMu.Lock()
	defer p.prefetchMu.Unlock()
	p.prefetched = make(map[string]*prefetch, len(p.Steps))
	for name, st := range p.Steps {
		f := &prefetch{done: make(chan struct{})}
		p.prefetched[name] = f
		go func() {
			defer close(f.done)
			f.spec, f.err = st.Inputs(ctx)
		}()
	}
}

// planInputs returns d's inputs for Plan: as prefetched, if they were.
func (p *Planner) planInputs(ctx context.Context, d *Decision) (fingerprint.Spec, error) {
	p.prefetchMu.Lock()
	f := p.prefetched[d.Name]
	delete(p.prefetched, d.Name)
	p.prefetchMu.Unlock()
	if f == nil {
		return p.inputs(ctx, d)
	}
	select {
	case <-f.done:
		if f.err != nil {
			return f.spec, f.err
		}
		p.addCheck(&f.spec, d)
		return f.spec, nil
	case <-ctx.Done():
		return fingerprint.Spec{}, ctx.Err()
	}
}

// inputs is what d's decision fingerprints: its step's inputs, and the
// files of the repo its `check` runs.
func (p *Planner) inputs(ctx context.Context, d *Decision) (fingerprint.Spec, error) {
	spec, err := d.Step.Inputs(ctx)
	if err != nil {
		return spec, err
	}
	p.addCheck(&spec, d)
	return spec, nil
}

func (p *Planner) addCheck(spec *fingerprint.Spec, d *Decision) {
	step.AddScripts(spec, p.checkScripts(d), p.Config.Dir)
}

func (p *Planner) checkScripts(d *Decision) map[string]string {
	return p.Analyses.ScriptsOf(p.Config.Dir, step.Script{Key: "check", Cmd: d.Config.Check, Dir: p.Config.Path(d.Config.Dir)})
}

// Unlisted is the files of the repository that d's commands run (and the
// scripts they run, in turn) without d's inputs listing them, each with
// why it is an input: "run executes it", "sourced by scripts/install.sh,
// which run executes".
func (p *Planner) Unlisted(d *Decision) map[string]string {
	notes := p.scriptNotes(d)
	for f := range notes {
		switch {
		case f == "**" || strings.HasSuffix(f, "/**"):
			delete(notes, f) // said in the notes (Advice)
		case d.Config != nil && fingerprint.Selects(d.Config.Inputs, f):
			delete(notes, f) // listed after all
		}
	}
	return notes
}

// scriptNotes says, for the files d's commands run, which command (or
// script of the repository) runs it.
func (p *Planner) scriptNotes(d *Decision) map[string]string {
	notes := p.checkScripts(d)
	if sc, ok := d.Step.(step.Scripted); ok {
		for f, key := range sc.Scripts() {
			notes[f] = key
		}
	}
	return notes
}

// Select returns the names of the steps a plan covers: those in Only and
// everything they depend on, in config order; all steps when Only is empty.
func (p *Planner) Select() ([]string, error) {
	var names []string
	if len(p.Only) == 0 {
		for _, s := range p.Config.Steps {
			names = append(names, s.Name)
		}
		return names, nil
	}
	want := map[string]bool{}
	var todo []string
	for _, n := range p.Only {
		// A step with `hosts` stands for all its (step, host) pairs.
		names := p.Config.Resolve(n)
		if len(names) == 0 {
			return nil, Unknown(p.Config, n)
		}
		todo = append(todo, names...)
	}
	// Each step is visited once, whatever the depth of the graph.
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if want[n] {
			continue
		}
		want[n] = true
		if cs := p.Config.Step(n); cs != nil {
			todo = append(todo, cs.After...)
		}
	}
	for _, s := range p.Config.Steps {
		if want[s.Name] {
			names = append(names, s.Name)
		}
	}
	return names, nil
}

// UnknownStepError is a step name that the config does not declare, or
// an @HOST naming no host, or a host no step acts on.
type UnknownStepError struct {
	Name  string
	Known []string // what Name could have been: step names, or @HOST
	Host  bool     // Name is @HOST
}

func (e *UnknownStepError) Error() string {
	if host, ok := strings.CutPrefix(e.Name, "@"); ok && e.Host {
		if len(e.Known) == 0 {
			return fmt.Sprintf("no step acts on host %q: list it in a step's `hosts`", host)
		}
		hosts := make([]string, len(e.Known))
		for i, k := range e.Known {
			hosts[i] = strings.TrimPrefix(k, "@")
		}
		if host == "" {
			return fmt.Sprintf("%q names no host: write @HOST (hosts: %s)", e.Name, strings.Join(hosts, ", "))
		}
		return fmt.Sprintf("no host named %q (hosts: %s)", host, strings.Join(hosts, ", "))
	}
	return fmt.Sprintf("no step named %q (steps: %s)", e.Name, strings.Join(e.Known, ", "))
}

// Unknown is the error for a name given on the command line that selects
// no step of cfg (Resolve returned none).
func Unknown(cfg *config.Config, name string) *UnknownStepError {
	host, ok := strings.CutPrefix(name, "@")
	if !ok {
		var steps []string
		for _, s := range cfg.Steps {
			steps = append(steps, s.Name)
		}
		return &UnknownStepError{Name: name, Known: steps}
	}
	hosts := cfg.HostNames()
	if slices.Contains(hosts, host) {
		// A host that exists, with no step on it.
		return &UnknownStepError{Name: name, Host: true}
	}
	known := make([]string, len(hosts))
	for i, h := range hosts {
		known[i] = "@" + h
	}
	return &UnknownStepError{Name: name, Known: known, Host: true}
}

// Plan decides every selected step. Inputs of all steps that ran before
// are fingerprinted in one walk of the tree; those of steps that never ran
// are left for their turn (see Decision.Unscanned).
func (p *Planner) Plan(ctx context.Context) (*Plan, error) {
	names, err := p.Select()
	if err != nil {
		return nil, err
	}
	p.reach(ctx, names)
	decisions := make([]*Decision, len(names))
	var specs []fingerprint.Spec
	var specOf []int
	specErr := map[int]error{}
	for i, n := range names {
		d := p.start(ctx, n)
		decisions[i] = d
		if !d.Applicable() || d.Missing() != "" {
			continue
		}
		if _, ran := p.Records[n]; !ran {
			d.Unscanned = true
			continue
		}
		spec, err := p.planInputs(ctx, d)
		if err != nil {
			specErr[i] = err
			continue
		}
		specs = append(specs, spec)
		specOf = append(specOf, i)
	}
	p.prefetchMu.Lock()
	p.prefetched = nil // what is left is stale for anyone else
	p.prefetchMu.Unlock()
	manifests, errs := p.scan(ctx, specs)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for j, i := range specOf {
		decisions[i].Manifest, specErr[i] = manifests[j], errs[j]
	}
	for i, d := range decisions {
		if d.Applicable() {
			p.finish(ctx, d, specErr[i])
		}
	}
	plan := &Plan{Steps: decisions}
	plan.markRechecks()
	return plan, nil
}

// scan fingerprints all specs in one walk. If that fails, each spec is
// scanned alone so that an unreadable file makes only the steps that
// include it "cannot-tell". Identical specs — the (step, host) pairs of a
// step with `hosts` — are fingerprinted once and share the manifest.
func (p *Planner) scan(ctx context.Context, specs []fingerprint.Spec) ([]*fingerprint.Manifest, []error) {
	ms := make([]*fingerprint.Manifest, len(specs))
	errs := make([]error, len(specs))
	if len(specs) == 0 {
		return ms, errs
	}
	seen := make(map[string]int, len(specs))
	var uniq []fingerprint.Spec
	at := make([]int, len(specs))
	for i, sp := range specs {
		k := specKey(sp)
		j, ok := seen[k]
		if !ok {
			j = len(uniq)
			seen[k] = j
			uniq = append(uniq, sp)
		}
		at[i] = j
	}
	if len(uniq) < len(specs) {
		ums, uerrs := p.scan(ctx, uniq)
		for i, j := range at {
			ms[i], errs[i] = ums[j], uerrs[j]
		}
		return ms, errs
	}
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	all, err := p.Scanner.Scan(ctx, specs)
	if err == nil {
		return all, errs
	}
	if len(specs) == 1 {
		errs[0] = err
		return ms, errs
	}
	for i, spec := range specs {
		one, err := p.Scanner.Scan(ctx, []fingerprint.Spec{spec})
		if err != nil {
			errs[i] = err
			continue
		}
		ms[i] = one[0]
	}
	return ms, errs
}

// specKey is a spec as a string: equal keys, equal specs.
func specKey(sp fingerprint.Spec) string {
	var b strings.Builder
	for _, part := range [][]string{sp.Patterns, sp.Files, sp.Trees, {sp.Root}} {
		fmt.Fprintf(&b, "%d;", len(part))
		for _, s := range part {
			fmt.Fprintf(&b, "%d:%s", len(s), s)
		}
	}
	return b.String()
}

// Warm hashes, into the stat cache only, the inputs of the unscanned steps
// that wait for a step that may run, so that when their turn comes their
// files need only be stat'ed again. Run it in the background while the
// steps before them run; it returns when done or when ctx is cancelled.
// It scans one step at a time, so a step whose turn has come waits at most
// for one step's scan, and as a background scan, out of the running steps'
// way. The cache is keyed by stat signature, so an edit made after Warm is
// seen as one. Errors are left for the step's own decision to meet.
func (p *Planner) Warm(ctx context.Context, pl *Plan) {
	// The copy is taken under the lock: a Scan by Decide writes the
	// Scanner's counters meanwhile.
	p.scanMu.Lock()
	bg := *p.Scanner
	p.scanMu.Unlock()
	bg.Background = true
	for _, d := range pl.Steps {
		if !d.Unscanned || !pl.Waits(d) {
			continue
		}
		spec, err := p.inputs(ctx, d)
		if err != nil {
			continue
		}
		p.scanMu.Lock()
		_, _ = bg.Scan(ctx, []fingerprint.Spec{spec})
		p.scanMu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// Decide decides one step again, with a fresh fingerprint: the runner calls
// it when a step that this one depends on has just run, and before an
// unscanned step runs.
func (p *Planner) Decide(ctx context.Context, name string) *Decision {
	d := p.start(ctx, name)
	if !d.Applicable() || d.Missing() != "" {
		return d
	}
	spec, err := p.inputs(ctx, d)
	if err == nil {
		ms, errs := p.scan(ctx, []fingerprint.Spec{spec})
		d.Manifest, err = ms[0], errs[0]
	}
	p.finish(ctx, d, err)
	return d
}

// Applicable says whether the step can run on this machine and, if not,
// why (its `os`, or a program its `requires` names is missing). It reads
// no input file and runs nothing: commands other than refresh use it,
// which act on this machine only (build, rollback, clean).
func (p *Planner) Applicable(name string) (bool, string) {
	if r, ok := p.Steps[name].(step.Remote); ok {
		return false, "it acts on " + r.Target() + "; this command works on this machine's steps (run it on " + r.Target() + ")"
	}
	d := p.start(context.Background(), name)
	if d.Applicable() {
		return true, ""
	}
	return false, d.Reasons[0].Detail
}

// reach has every selected step that acts on another machine ask it for
// its platform, all at once: each machine answers once (its steps share the
// answer), and the round trips overlap instead of adding up as start meets
// them one by one.
func (p *Planner) reach(ctx context.Context, names []string) {
	for _, n := range names {
		if r, ok := p.Steps[n].(step.Remote); ok {
			go func() { _, _ = r.Platform(ctx) }()
		}
	}
}

// start fills in what needs no input files: applicability and definition.
func (p *Planner) start(ctx context.Context, name string) *Decision {
	cs := p.Config.Step(name)
	d := &Decision{Name: name, Config: cs, Step: p.Steps[name]}
	goos, where := p.GOOS, "this is "+p.GOOS
	if r, ok := d.Step.(step.Remote); ok {
		// Its machine is asked whatever its os: the same read tells
		// whether it answers at all.
		var err error
		if goos, err = r.Platform(ctx); err != nil {
			// Whether it applies there, and what it runs, is unknown: it
			// runs, and fails with what keeps the machine from answering.
			d.unreached = err
			d.Definition = d.Step.Definition()
			d.DefinitionDigest = Digest(d.Definition)
			return d
		}
		where = r.Target() + " is " + goos
	}
	if len(cs.OS) > 0 && !slices.Contains(cs.OS, goos) {
		d.Reasons = []Reason{{Kind: NotApplicable, Detail: fmt.Sprintf("only for %s; %s", strings.Join(cs.OS, ", "), where)}}
		return d
	}
	for _, prog := range cs.Requires {
		if _, err := p.LookPath(prog); err != nil {
			d.Reasons = []Reason{{Kind: NotApplicable, Detail: prog + " is not on PATH"}}
			return d
		}
	}
	if a, ok := d.Step.(step.Availability); ok {
		if why := a.Unavailable(); why != "" {
			d.Reasons = []Reason{{Kind: ToolMissing, Detail: why + "; or add `os` or `requires` to skip this step where it is missing"}}
			d.Run = true
			return d
		}
	}
	if f, ok := d.Step.(step.Follower); ok {
		p.follow(f)
	}
	d.Definition = d.Step.Definition()
	d.DefinitionDigest = Digest(d.Definition)
	return d
}

// Digest hashes definition lines.
func Digest(lines []string) string {
	h := xxh3.New()
	for _, l := range lines {
		fmt.Fprintf(h, "%d:%s\n", len(l), l)
	}
	sum := h.Sum128().Bytes()
	return hex.EncodeToString(sum[:])
}

// forced says whether --force covers d: a step named on the command line
// itself, as a step with `hosts` (all its pairs) or as @HOST (every step
// there) — not the steps they merely come after.
func (p *Planner) forced(d *Decision) bool {
	if !p.Force {
		return false
	}
	if len(p.Only) == 0 {
		return true
	}
	for _, n := range p.Only {
		if slices.Contains(p.Config.Resolve(n), d.Name) {
			return true
		}
	}
	return false
}

func (p *Planner) finish(ctx context.Context, d *Decision, inputsErr error) {
	if d.Missing() != "" {
		return
	}
	if d.Manifest != nil {
		for _, u := range d.Manifest.Unmatched {
			d.Warnings = append(d.Warnings, u.String())
		}
		d.Warnings = append(d.Warnings, d.Manifest.Notes...)
	}
	var rs []Reason
	if p.forced(d) {
		rs = append(rs, Reason{Kind: Forced, Detail: ForceDetail})
	}
	if u, ok := d.Step.(step.Updater); ok && p.Update && u.Updates() {
		rs = append(rs, Reason{Kind: Forced, Detail: "--update"})
	}
	d.Interrupted = p.Unfinished[d.Name]
	if d.unreached != nil {
		rs = append(rs, Reason{Kind: CannotTell, Detail: d.unreached.Error()})
	}
	rec, ok := p.Records[d.Name]
	if !ok {
		rs = append(rs, Reason{Kind: NeverRan, Detail: "no success recorded"})
		p.conclude(d, rs)
		return
	}
	d.Token = rec.Token
	d.LastDue = rec.DueBase()
	if rec.DefinitionDigest != d.DefinitionDigest {
		rs = append(rs, Reason{Kind: DefinitionChanged, Detail: changedKeys(rec.Definition, d.Definition)})
	}
	switch {
	case inputsErr != nil:
		rs = append(rs, Reason{Kind: CannotTell, Detail: "reading inputs: " + inputsErr.Error()})
	case d.Manifest.Digest.String() != rec.InputsDigest:
		rs = append(rs, p.inputsChanged(d))
	}
	if every := d.Config.Every; every > 0 {
		switch age := p.Now().Sub(rec.DueBase()); {
		case age < 0:
			// The clock went back since: how long ago it ran is unknown,
			// and a time-to-live must not stretch by the clock's jump.
			rs = append(rs, Reason{Kind: TTLExpired, Detail: fmt.Sprintf("last success is recorded %s in the future (the clock was set back?); every %s", roundAge(-age), every)})
		case age >= every:
			rs = append(rs, Reason{Kind: TTLExpired, Detail: fmt.Sprintf("last ran %s ago; every %s", roundAge(age), every)})
		}
	}
	if d.Interrupted != "" {
		rs = append(rs, Reason{Kind: Unfinished, Detail: fmt.Sprintf("its last run (%s) ended without a success and may have changed the machine half way", d.Interrupted)})
	}
	if len(rs) == 0 {
		rs = p.probe(ctx, d, rec)
	}
	if len(rs) == 0 {
		rs = append(rs, Reason{Kind: UpToDate, Detail: "nothing changed since the last success"})
	}
	if len(rs) == 1 && rs[0].Kind == InputsChanged {
		if r := p.reusable(ctx, d); r != nil {
			d.Reuse = r
			rs = append(rs, Reason{Kind: BuiltBefore, Detail: p.builtBefore(r)})
		}
	}
	p.conclude(d, rs)
}

// reusable finds the earlier success of d's step with the inputs and
// definition d has now, if the step can still go back to its result. A
// definition change, --force, drift or a time-to-live never get here:
// only a step whose inputs alone changed may go back. Anything that
// cannot be read leaves the step to run in full.
func (p *Planner) reusable(ctx context.Context, d *Decision) *state.Result {
	ru, ok := d.Step.(step.Reuser)
	if !ok || p.Results == nil || d.Manifest == nil {
		return nil
	}
	results, err := p.Results(d.Name)
	if err != nil {
		return nil
	}
	digest := d.Manifest.Digest.String()
	for i := len(results) - 1; i >= 0; i-- {
		r := results[i]
		if r.InputsDigest != digest || r.DefinitionDigest != d.DefinitionDigest || r.Token == "" {
			continue
		}
		if ok, err := ru.Reusable(ctx, r.Token); err != nil || !ok {
			return nil
		}
		return &r
	}
	return nil
}

// builtBefore says which earlier success r is: "generation 12, 3 days ago".
func (p *Planner) builtBefore(r *state.Result) string {
	ago := Ago(p.Now().Sub(r.Started))
	if r.Label == "" {
		return ago
	}
	return r.Label + ", " + ago
}

// Ago says how long ago something was, as people say it: "just now",
// "5 minutes ago", "3 days ago".
func Ago(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, one)
	}
	switch {
	case d < 0:
		return "recorded in the future (the clock was set back?)"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unit(int64(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int64(d/time.Hour), "hour")
	}
	return unit(int64(d/(24*time.Hour)), "day")
}

func (p *Planner) conclude(d *Decision, rs []Reason) {
	d.Reasons = rs
	d.Run = rs[0].Kind != UpToDate
}

func (p *Planner) probe(ctx context.Context, d *Decision, rec state.Record) []Reason {
	drift, err := d.Step.Probe(ctx, rec.Token)
	if err != nil {
		return []Reason{{Kind: CannotTell, Detail: "probing the machine: " + err.Error()}}
	}
	if drift != "" {
		return []Reason{{Kind: ProbeFailed, Detail: drift}}
	}
	if d.Config.Check == "" {
		return nil
	}
	err = p.Exec.Run(ctx, &command.Cmd{Argv: []string{p.Shell, "-c", d.Config.Check}, Dir: p.Config.Path(d.Config.Dir), Env: step.Environ(d.Config.Env)})
	var xe *command.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &xe) && ctx.Err() == nil:
		return []Reason{{Kind: ProbeFailed, Detail: fmt.Sprintf("check %q exited %d", d.Config.Check, xe.Code)}}
	default:
		return []Reason{{Kind: CannotTell, Detail: fmt.Sprintf("running check %q: %v", d.Config.Check, err)}}
	}
}

func (p *Planner) inputsChanged(d *Decision) Reason {
	r := Reason{Kind: InputsChanged}
	var changes []fingerprint.Change
	data, err := p.OldManifest(d.Name)
	if err == nil && data != nil {
		changes, err = fingerprint.DiffEncoded(data, d.Manifest)
	}
	if err != nil || data == nil {
		r.Detail = "the previous file list is not available"
		return r
	}
	notes := p.scriptNotes(d)
	for _, c := range changes {
		fc := FileChange{Path: c.Path, Change: c.Kind}
		if note, ok := notes[c.Path]; ok {
			fc.Note = note
		}
		r.Files = append(r.Files, fc)
	}
	r.Detail = describeFiles(r.Files)
	return r
}

func describeFiles(fs []FileChange) string {
	switch len(fs) {
	case 0:
		return "file set differs"
	case 1:
		return fs[0].Path + " " + fs[0].Change
	}
	return fmt.Sprintf("%d files (%s %s, …)", len(fs), fs[0].Path, fs[0].Change)
}

// changedKeys names the definition keys whose values differ.
func changedKeys(old, cur []string) string {
	vals := func(lines []string) map[string][]string {
		m := map[string][]string{}
		for _, l := range lines {
			k, v, _ := strings.Cut(l, "=")
			m[k] = append(m[k], v)
		}
		return m
	}
	o, c := vals(old), vals(cur)
	var keys []string
	for k, v := range c {
		if !slices.Equal(o[k], v) {
			keys = append(keys, k)
		}
	}
	for k := range o {
		if _, ok := c[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "the step's definition changed"
	}
	return strings.Join(keys, ", ") + " changed"
}

func roundAge(d time.Duration) time.Duration {
	switch {
	case d > time.Hour:
		return d.Round(time.Minute)
	case d > time.Second:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// markRechecks flags skipped steps downstream of a step that will run.
// Whether something upstream of a step runs is worked out once per step,
// in one depth-first pass, so a long `after` chain costs its length.
func (p *Plan) markRechecks() {
	const (
		unvisited = iota
		visiting
		no
		yes
	)
	upstream := make(map[string]int, len(p.Steps))
	// upstreamRuns reports whether a step that name comes after, directly
	// or not, will run. The walk keeps its own stack: a chain of ten
	// thousand steps would otherwise recurse as deep.
	upstreamRuns := func(name string) bool {
		type frame struct {
			d    *Decision
			next int // index in d.Config.After of the next edge to follow
		}
		root := p.Decision(name)
		if root == nil {
			return false
		}
		if st := upstream[name]; st == yes || st == no {
			return st == yes
		}
		stack := []frame{{d: root}}
		upstream[name] = visiting
		for len(stack) > 0 {
			top := len(stack) - 1
			f := &stack[top]
			after := f.d.Config.After
			runs := false
			var descend *Decision
			for ; f.next < len(after); f.next++ {
				a := p.Decision(after[f.next])
				if a == nil || upstream[a.Name] == no || upstream[a.Name] == visiting {
					continue // not in the plan, nothing runs above it, or a cycle
				}
				if a.Run || upstream[a.Name] == yes {
					runs = true
				} else {
					// Decide a first; this edge is looked at again after.
					descend = a
				}
				break
			}
			switch {
			case descend != nil:
				upstream[descend.Name] = visiting
				stack = append(stack, frame{d: descend})
			case runs:
				upstream[f.d.Name] = yes
				stack = stack[:top]
			default:
				upstream[f.d.Name] = no
				stack = stack[:top]
			}
		}
		return upstream[name] == yes
	}
	for _, d := range p.Steps {
		if !d.Run && d.Applicable() && upstreamRuns(d.Name) {
			d.Recheck = true
		}
	}
}

// Waits reports whether d comes after a step of p that may run: its turn
// comes only once that one has ended.
func (p *Plan) Waits(d *Decision) bool {
	for _, a := range d.Config.After {
		if dep := p.Decision(a); dep != nil && dep.MayRun() {
			return true
		}
	}
	return false
}

// NeedsSudo reports whether a step that may run needs root: sudo is asked
// for once, before anything starts.
func (p *Plan) NeedsSudo() bool {
	for _, d := range p.Steps {
		if e, ok := d.Step.(step.Elevated); ok && (d.Run || d.Recheck) && d.Missing() == "" && e.NeedsSudo() {
			return true
		}
	}
	return false
}

// WillRun reports whether any step would run.
func (p *Plan) WillRun() bool {
	for _, d := range p.Steps {
		if d.Run {
			return true
		}
	}
	return false
}
