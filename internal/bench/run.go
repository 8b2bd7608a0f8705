package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Scenario names.
const (
	NoChange    = "no-change"
	Cosmetic    = "cosmetic"
	Incremental = "incremental"
	Revert      = "revert"
	BrewfileOne = "brewfile"
	BrewNix     = "brew-nix-darwin"
	Full        = "full"
)

// Scenarios lists every scenario, in the order they run. MultiHost and
// Fleet run once, each in a group of its own, not for each repo size.
var Scenarios = []string{NoChange, Cosmetic, Incremental, Revert, BrewfileOne, BrewNix, Full, MultiHost, Fleet}

// Tool names.
const (
	ToolSysinit  = "sysinit"
	ToolOld      = "old refresh"
	ToolSnippet  = "bash checksum"
	ToolGoTask   = "go-task"
	ToolFloor    = "floor"
	ToolStart    = "sysinit version"
	ToolNixBuild = "nix build"
	// ToolBrewNix is sysinit with the repo's second config, whose brew
	// step takes its Brewfile from the system step (brewNixToml).
	ToolBrewNix = "sysinit, brew from nix-darwin"
)

// FloorCommand stats every file of the tree: the least a change detector
// must do.
const FloorCommand = `find . -type f -printf '%T@ %s %p\n' | sha256sum`

// floorCommand is FloorCommand where find has GNU's -printf, else the
// same with BSD stat (macOS).
func floorCommand() string {
	if exec.Command("find", "/dev/null", "-maxdepth", "0", "-printf", "").Run() == nil {
		return FloorCommand
	}
	return `find . -type f -exec stat -f '%Fm %z %N' {} + | shasum -a 256`
}

// racyWindow is how long after a change sysinit's stat cache distrusts a
// file (fingerprint's racy-git rule); no-change runs start after it.
const racyWindow = 2100 * time.Millisecond

// Options configure a bench run.
type Options struct {
	Self      string // the sysinit binary the runs start
	Version   string // sysinit's version, for the report
	Command   string // the command line, for the report
	Sizes     []int
	Scenarios []string
	Runs      int // timed runs of each tool, after Warmup runs
	Warmup    int
	Scale     float64
	Latencies Latencies // at scale 1
	GoTask    string    // path of a `task` binary; "" leaves go-task out
	// RealNix: "auto" measures real nix when it is on PATH, "on" requires
	// it, "off" skips it.
	RealNix string
	WorkDir string // "" = a new temp dir, removed after unless Keep
	Keep    bool
	// FleetHosts is how many machines the fleet scenario refreshes; 0 =
	// DefaultFleetHosts.
	FleetHosts int
	CacheDir   string   // where generated repos are kept between runs; "" = none
	Environ    []string // the environment to start from
	Progress   func(string)
}

func (o *Options) progress(format string, a ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, a...))
	}
}

func (o *Options) check() error {
	if o.Self == "" {
		return errors.New("no sysinit binary to measure")
	}
	if o.Runs < 1 {
		return fmt.Errorf("runs = %d: need at least 1", o.Runs)
	}
	if o.Warmup < 0 {
		return fmt.Errorf("warmup = %d: cannot be negative", o.Warmup)
	}
	if o.Scale <= 0 {
		return fmt.Errorf("scale = %g: must be above 0", o.Scale)
	}
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	for _, n := range o.Sizes {
		if n < len(fixedFiles()) {
			return fmt.Errorf("size %d: a bench repo has at least %d files", n, len(fixedFiles()))
		}
	}
	switch o.RealNix {
	case "", "auto", "on", "off":
	default:
		return fmt.Errorf("real-nix = %q: want auto, on or off", o.RealNix)
	}
	return nil
}

// Run measures every size and scenario and returns the report. It
// starts only the sysinit binary, the baselines and the stand-ins it
// writes (and real nix for the real-nix group); everything it writes is
// under the work dir and the cache dir.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("git is needed to build the bench repos (nix reads flakes from git)")
	}
	work := o.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "sysinit-bench-")
		if err != nil {
			return nil, fmt.Errorf("creating the work dir: %w", err)
		}
		work = d
		if !o.Keep {
			defer os.RemoveAll(work)
		}
	}
	work, err := filepath.Abs(work)
	if err != nil {
		return nil, fmt.Errorf("finding the work dir: %w", err)
	}
	r := &Report{
		Version: o.Version, Date: time.Now(), Command: o.Command, Scale: o.Scale,
		Runs: o.Runs, Warmup: o.Warmup, Latencies: o.Latencies.Rows(o.Scale),
	}
	r.Machine = describeMachine(ctx, o.GoTask)
	r.Machine.LoadBefore = loadAverage()
	lat := o.Latencies.Scaled(o.Scale)
	sized := slices.ContainsFunc(o.Scenarios, func(s string) bool { return s != MultiHost && s != Fleet })
	for _, size := range o.Sizes {
		if !sized {
			break // multi-host and fleet alone: groups of their own
		}
		g, err := runSize(ctx, &o, r, work, size, lat)
		if err != nil {
			return nil, fmt.Errorf("%s files: %w", thousands(size), err)
		}
		r.Groups = append(r.Groups, *g)
	}
	if slices.Contains(o.Scenarios, MultiHost) {
		g, err := runMultiHost(ctx, &o, r, work, lat)
		if err != nil {
			return nil, err
		}
		r.Groups = append(r.Groups, *g)
	}
	if slices.Contains(o.Scenarios, Fleet) {
		g, err := runFleet(ctx, &o, r, work, lat)
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		r.Groups = append(r.Groups, *g)
	}
	if g, err := runRealNix(ctx, &o, r, work); err != nil {
		return nil, fmt.Errorf("real nix: %w", err)
	} else if g != nil {
		r.Groups = append(r.Groups, *g)
	}
	r.Machine.LoadAfter = loadAverage()
	r.Notes = append(r.Notes, "the floor is `"+floorCommand()+"`, run with sh -c in the repo")
	r.Goals = evaluateGoals(r, o.GoTask != "")
	if o.Keep {
		r.Notes = append(r.Notes, "work dir kept: "+work)
	}
	return r, nil
}

// sizeEnv is one generated repo on its machine.
type sizeEnv struct {
	o       *Options
	m       *machine
	repo    string
	snippet string // the plan's checksum snippet, a script
	old     string // the old refresh, a script
	counter int    // makes every edit unique, so each tool sees a change
	changed time.Time
	label   string   // for progress lines
	nixCmd  []string // the nix build baseline (real nix)
	real    bool     // real nix: latencies are not scaled, nothing to project
}

// repoFor returns a pristine generated repo of size files: from the cache
// when it holds one, else generated (into the cache when there is one).
func repoFor(ctx context.Context, o *Options, work string, size int) (dir string, fresh bool, err error) {
	name := fmt.Sprintf("repo-v%d-%d", genVersion, size)
	if o.CacheDir == "" {
		dir = filepath.Join(work, name)
	} else {
		dir = filepath.Join(o.CacheDir, name)
		if _, err := os.Stat(dir + ".ok"); err == nil {
			return dir, false, resetRepo(dir)
		}
	}
	o.progress("generating a repo of %s files in %s", thousands(size), dir)
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", false, fmt.Errorf("clearing %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", false, fmt.Errorf("creating %s: %w", tmp, err)
	}
	if err := GenerateTree(tmp, size); err != nil {
		return "", false, err
	}
	if err := gitInit(ctx, tmp); err != nil {
		return "", false, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", false, fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", false, fmt.Errorf("placing the repo: %w", err)
	}
	if o.CacheDir != "" {
		if err := os.WriteFile(dir+".ok", []byte("complete\n"), 0o644); err != nil {
			return "", false, fmt.Errorf("marking the cached repo: %w", err)
		}
	}
	return dir, true, nil
}

func runSize(ctx context.Context, o *Options, r *Report, work string, size int, lat Latencies) (*Group, error) {
	repo, fresh, err := repoFor(ctx, o, work, size)
	if err != nil {
		return nil, err
	}
	m, err := newMachine(filepath.Join(work, fmt.Sprintf("machine-%d", size)), repo, o.Self, lat, o.Environ)
	if err != nil {
		return nil, err
	}
	e := &sizeEnv{o: o, m: m, repo: repo, changed: time.Now(), label: thousands(size) + " files"}
	if !fresh {
		e.changed = time.Time{}
	}
	if err := e.writeScripts(); err != nil {
		return nil, err
	}
	if r.LaunchGap == 0 {
		if r.LaunchGap, err = e.measureLaunchGap(ctx); err != nil {
			return nil, err
		}
	}
	o.progress("%s files: first refresh (builds and installs everything)", thousands(size))
	if _, _, err := timed(ctx, repo, m.env, o.Self, "refresh", "--progress=never"); err != nil {
		return nil, err
	}
	g := &Group{Label: fmt.Sprintf("%s files, stand-in managers", thousands(size)), Files: size}
	for _, name := range o.Scenarios {
		if name == MultiHost || name == Fleet {
			continue // groups of their own: runMultiHost, runFleet
		}
		sc := e.scenario(name)
		res, err := e.run(ctx, sc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		g.Scenarios = append(g.Scenarios, *res)
		if name == NoChange && r.Correctness == nil {
			if r.Correctness, err = e.correctness(ctx); err != nil {
				return nil, fmt.Errorf("correctness: %w", err)
			}
		}
	}
	return g, nil
}

// writeScripts writes the old refresh and the checksum snippet beside
// the machine.
func (e *sizeEnv) writeScripts() error {
	shasum := "shasum -a 256"
	if _, err := exec.LookPath("shasum"); err != nil {
		shasum = "sha256sum"
	}
	e.old = filepath.Join(e.m.root, "old-refresh.sh")
	old := `#!/bin/sh
# The refresh sysinit replaces: every step, every time.
set -e
nix flake update
sudo mkdir -p "$HOME/etc/nix"
sudo cp nix.custom.conf "$HOME/etc/nix/nix.custom.conf"
sudo launchctl kickstart -k system/org.nixos.nix-daemon
sudo darwin-rebuild switch --flake .#bench --impure
brew update
brew bundle --cleanup --file=Brewfile
`
	e.snippet = filepath.Join(e.m.root, "checksum-snippet.sh")
	snippet := fmt.Sprintf(`#!/bin/sh
# The plan's "configuration checksums": rebuild only when modules/*.nix
# changed. With --check, only say whether it would (exit 1: it would).
state="$HOME/.cache/nix-modules.sha256"
new=$(find modules/ -name '*.nix' -exec cat {} \; | %s)
old=$(cat "$state" 2>/dev/null || true)
if [ "$new" = "$old" ]; then exit 0; fi
if [ "${1:-}" = --check ]; then exit 1; fi
sudo darwin-rebuild switch --flake .#bench --impure
printf '%%s\n' "$new" > "$state"
`, shasum)
	if err := os.WriteFile(e.old, []byte(old), 0o755); err != nil {
		return fmt.Errorf("writing the old refresh: %w", err)
	}
	if err := os.WriteFile(e.snippet, []byte(snippet), 0o755); err != nil {
		return fmt.Errorf("writing the checksum snippet: %w", err)
	}
	return nil
}

// measureLaunchGap times a stand-in that does nothing, as a whole
// process, against the time it logs itself.
func (e *sizeEnv) measureLaunchGap(ctx context.Context) (time.Duration, error) {
	return e.launchGap(ctx, 18, 3) // the first starts page the binary in
}

// launchGap is the median gap of n launches of the no-op stand-in after
// skip untimed ones.
func (e *sizeEnv) launchGap(ctx context.Context, n, skip int) (time.Duration, error) {
	var gaps []time.Duration
	for i := 0; i < skip+n; i++ {
		before, err := e.m.calls()
		if err != nil {
			return 0, err
		}
		wall, _, err := timed(ctx, e.repo, e.m.env, filepath.Join(e.m.bin, "noop"))
		if err != nil {
			return 0, err
		}
		after, err := e.m.calls()
		if err != nil {
			return 0, err
		}
		if len(after) != len(before)+1 {
			return 0, errors.New("the no-op stand-in did not log its call")
		}
		c := after[len(after)-1]
		if i >= skip {
			gaps = append(gaps, wall-time.Duration(c.End-c.Start))
		}
	}
	return NewStats(gaps).Median, nil
}

// scenario is one scenario's recipe.
type scenario struct {
	name, what string
	tools      []string
	// setup, when set, readies the repo and the tools once, before they
	// are brought up to date.
	setup func(ctx context.Context, sc *scenario) error
	// prepare readies the machine before tool's timed run; n is unique.
	prepare func(tool string, n int) error
	// expect is what sysinit's steps must end as: step → status, with
	// "done:TEXT" requiring TEXT in the step's note and "a|b" either.
	expect map[string]string
	// expectWhole is expect for ToolSysinitWhole.
	expectWhole map[string]string
	// evaluations: count each sysinit tool's nix evaluations per run.
	evaluations bool
	// calls, when set, checks what a sysinit run started.
	calls func([]Call) error
}

func (e *sizeEnv) tools(floor bool) []string {
	t := []string{ToolSysinit, ToolOld, ToolSnippet}
	if e.o.GoTask != "" {
		t = append(t, ToolGoTask)
	}
	if floor {
		t = append(t, ToolFloor, ToolStart)
	}
	return t
}

func (e *sizeEnv) scenario(name string) *scenario {
	skipped := map[string]string{"flake-update": "skipped", "nix-conf": "skipped", "system": "skipped", "brew": "skipped"}
	with := func(step, status string) map[string]string {
		m := map[string]string{}
		for k, v := range skipped {
			m[k] = v
		}
		m[step] = status
		return m
	}
	edit := func(rel string, content func(int) string) func(string, int) error {
		return func(_ string, n int) error {
			e.changed = time.Now()
			return writeRepoFile(e.repo, rel, content(n), 0o644)
		}
	}
	switch name {
	case NoChange:
		return &scenario{name: name, what: "nothing changed since the last refresh", tools: e.tools(true),
			prepare: func(string, int) error { return nil }, expect: skipped}
	case Cosmetic:
		return &scenario{name: name, what: "a comment edited in one module", tools: e.tools(false),
			prepare: edit(cosmeticFile, cosmeticEdit), expect: with("system", "done:nothing built or switched")}
	case Incremental:
		return &scenario{name: name, what: "one module really changed", tools: e.tools(false),
			prepare: edit(incrementalFile, incrementalEdit), expect: with("system", "done:switched")}
	case Revert:
		// Each tool goes back and forth between two versions of a module,
		// both built (setup), so that every run of each tool undoes the
		// edit of its run before.
		version := map[string]int{}
		return &scenario{name: name, what: "a module edit undone: back to inputs built before", tools: e.tools(false),
			setup: func(ctx context.Context, sc *scenario) error {
				if err := e.edit(revertFile, revertEdit(1)); err != nil {
					return err
				}
				if err := e.settle(ctx, sc); err != nil {
					return err
				}
				return e.edit(revertFile, revertEdit(0))
			},
			prepare: func(tool string, _ int) error {
				version[tool] ^= 1
				return e.edit(revertFile, revertEdit(version[tool]))
			},
			expect: with("system", "done:built before")}
	case BrewfileOne:
		ex := with("brew", "done")
		// The Brewfile is tracked by git, so nix sees it: the system is
		// evaluated, found identical, and not switched.
		ex["system"] = "skipped|done:nothing built or switched"
		return &scenario{name: name, what: "one formula added to the Brewfile", tools: e.tools(false),
			prepare: edit("Brewfile", func(n int) string { return brewfile(fmt.Sprintf("bench-tool-%d", n)) }), expect: ex}
	case Full:
		return &scenario{name: name, what: "cold state and an empty machine: every step runs", tools: e.tools(false),
			prepare: e.prepareCold, expect: map[string]string{"flake-update": "done", "nix-conf": "done", "system": "done:switched", "brew": "done"}}
	case BrewNix:
		return &scenario{name: name, what: "a formula added to homebrew.brews in a nix-darwin module that also changes the system",
			tools: []string{ToolBrewNix}, prepare: edit(brewNixFile, brewNixEdit),
			expect: map[string]string{"system": "done:switched", "brew": "done:installed 1"}}
	case MultiHost:
		return e.hostsScenario()
	}
	return nil
}

// edit writes one file of the repo.
func (e *sizeEnv) edit(rel, content string) error {
	e.changed = time.Now()
	return writeRepoFile(e.repo, rel, content, 0o644)
}

// prepareCold empties the machine and the tool's own state.
func (e *sizeEnv) prepareCold(tool string, _ int) error {
	if err := e.m.coldReset(); err != nil {
		return err
	}
	var dirs []string
	switch tool {
	case ToolSysinit:
		dirs = e.m.sysinitState()
	case ToolGoTask:
		dirs = []string{filepath.Join(e.repo, ".task")}
	case ToolSnippet:
		dirs = []string{filepath.Join(e.m.home, ".cache", "nix-modules.sha256")}
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("clearing %s: %w", d, err)
		}
	}
	return nil
}

func (e *sizeEnv) argv(tool string) []string {
	switch tool {
	case ToolSysinit:
		return []string{e.o.Self, "refresh", "--json"}
	case ToolSysinitWhole:
		return []string{e.o.Self, "--config", hostsWholeToml, "refresh", "--json"}
	case ToolBrewNix:
		return []string{e.o.Self, "--config", brewNixToml, "refresh", "--json"}
	case ToolOld:
		return []string{"/bin/sh", e.old}
	case ToolSnippet:
		return []string{"/bin/sh", e.snippet}
	case ToolGoTask:
		return []string{e.o.GoTask, "--silent"}
	case ToolFloor:
		return []string{"/bin/sh", "-c", floorCommand()}
	case ToolNixBuild:
		return e.nixCmd
	case ToolStart:
		return []string{e.o.Self, "version"}
	}
	return nil
}

// settle brings every tool up to date before a scenario, and waits out
// the racy window so that sysinit's stat cache holds every file.
func (e *sizeEnv) settle(ctx context.Context, sc *scenario) error {
	for _, t := range sc.tools {
		if t == ToolSysinit || t == ToolSysinitWhole || t == ToolBrewNix || t == ToolSnippet || t == ToolGoTask {
			if _, _, err := timed(ctx, e.repo, e.m.env, e.argv(t)...); err != nil {
				return fmt.Errorf("settling: %w", err)
			}
		}
	}
	if wait := racyWindow - time.Since(e.changed); wait > 0 {
		time.Sleep(wait)
	}
	_, _, err := timed(ctx, e.repo, e.m.env, e.argv(ToolSysinit)...)
	return err
}

// run measures one scenario: warm-up runs, then timed runs, the tools
// interleaved in a rotating order.
func (e *sizeEnv) run(ctx context.Context, sc *scenario) (*ScenarioResult, error) {
	if sc.setup != nil {
		if err := sc.setup(ctx, sc); err != nil {
			return nil, err
		}
	}
	if err := e.settle(ctx, sc); err != nil {
		return nil, err
	}
	walls := map[string][]time.Duration{}
	proj := map[string][]time.Duration{}
	var overheads, gaps, crits, systems, brews []time.Duration
	var effs, projEffs []float64
	evals := map[string][]float64{}
	launched := map[string]int{}
	total := e.o.Warmup + e.o.Runs
	for i := 0; i < total; i++ {
		order := rotate(sc.tools, i)
		e.o.progress("%s: %s: run %d/%d%s", e.label, sc.name, i+1, total, warmNote(i, e.o.Warmup))
		for _, tool := range order {
			e.counter++
			if err := sc.prepare(tool, e.counter); err != nil {
				return nil, err
			}
			before, err := e.m.calls()
			if err != nil {
				return nil, err
			}
			wall, p, err := timed(ctx, e.repo, e.m.env, e.argv(tool)...)
			if err != nil {
				return nil, err
			}
			all, err := e.m.calls()
			if err != nil {
				return nil, err
			}
			calls := all[len(before):]
			if tool == ToolSysinitWhole {
				run, err := parseEvents(p.stdout.Bytes())
				if err != nil {
					return nil, err
				}
				whole := *sc
				whole.expect = sc.expectWhole
				if err := checkRun(&whole, run, calls); err != nil {
					return nil, fmt.Errorf("%s run %d: %w", tool, i+1, err)
				}
			}
			if sc.evaluations && i >= e.o.Warmup {
				evals[tool] = append(evals[tool], float64(countEvals(calls)))
			}
			if tool == ToolBrewNix {
				run, err := parseEvents(p.stdout.Bytes())
				if err != nil {
					return nil, err
				}
				if err := checkRun(sc, run, calls); err != nil {
					return nil, fmt.Errorf("%s run %d: %w", tool, i+1, err)
				}
				if i >= e.o.Warmup {
					systems = append(systems, run.durations["system"])
					brews = append(brews, run.durations["brew"])
					for _, c := range calls {
						launched[c.Name]++
					}
				}
			}
			if tool == ToolSysinit {
				run, err := parseEvents(p.stdout.Bytes())
				if err != nil {
					return nil, err
				}
				if err := checkRun(sc, run, calls); err != nil {
					return nil, fmt.Errorf("sysinit run %d: %w", i+1, err)
				}
				if i >= e.o.Warmup {
					for _, c := range calls {
						launched[c.Name]++
					}
					if sc.name == Cosmetic || sc.name == Incremental || sc.name == Revert {
						// What starting a stand-in costs drifts with the
						// machine's load: measure it beside each run.
						gap, err := e.launchGap(ctx, 3, 0)
						if err != nil {
							return nil, err
						}
						gaps = append(gaps, gap)
						overheads = append(overheads, ownOverhead(wall, calls, gap))
					}
					if sc.name == Full {
						cp := criticalPath(run.durations, stepAfter)
						crits = append(crits, cp)
						effs = append(effs, float64(cp)/float64(wall))
						if extra := projectExtra(calls, e.o.Scale, false); extra > 0 {
							projEffs = append(projEffs, float64(cp+extra)/float64(wall+extra))
						}
					}
				}
			}
			if i >= e.o.Warmup {
				walls[tool] = append(walls[tool], wall)
				if !e.real {
					proj[tool] = append(proj[tool], wall+projectExtra(calls, e.o.Scale, tool == ToolOld || tool == ToolSnippet))
				}
			}
		}
	}
	res := &ScenarioResult{Name: sc.name, What: sc.what, Launched: describeLaunched(launched, e.o.Runs)}
	for _, t := range sc.tools {
		res.Tools = append(res.Tools, ToolResult{Tool: t, Wall: NewStats(walls[t]), Projected: NewStats(proj[t]), Note: toolNote(sc.name, t)})
	}
	for i := range res.Tools {
		t := &res.Tools[i]
		t.Ratio = Ratio(t.Wall, res.Tools[0].Wall)
		t.ProjectedRatio = Ratio(t.Projected, res.Tools[0].Projected)
		if ev, ok := evals[t.Tool]; ok {
			t.Evaluations = medianFloat(ev)
			t.Note = joinNonEmpty("; ", evaluationsNote(t.Evaluations), t.Note)
		}
	}
	if len(overheads) > 0 {
		s, g := NewStats(overheads), NewStats(gaps)
		res.Overhead, res.LaunchGap = &s, &g
	}
	if len(systems) > 0 {
		res.Beside = &Beside{System: NewStats(systems), Brew: NewStats(brews)}
	}
	if len(crits) > 0 {
		s := NewStats(crits)
		res.CriticalPath = &s
		res.Efficiency = medianFloat(effs)
		res.ProjectedEfficiency = medianFloat(projEffs)
	}
	return res, nil
}

func warmNote(i, warmup int) string {
	if i < warmup {
		return " (warm-up)"
	}
	return ""
}

// rotate starts the order at a different tool each round, so that no tool
// always runs right after another.
func rotate[T any](tools []T, i int) []T {
	n := len(tools)
	out := make([]T, n)
	for j := range tools {
		out[j] = tools[(i+j)%n]
	}
	return out
}

func medianFloat(fs []float64) float64 {
	if len(fs) == 0 {
		return 0
	}
	s := slices.Clone(fs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[n/2]
}

// toolNote says when a baseline does less than the scenario asks.
func toolNote(scenario, tool string) string {
	switch {
	case tool == ToolSnippet && scenario == BrewfileOne:
		return "does not look at the Brewfile: did nothing"
	case tool == ToolSnippet && scenario == Full:
		return "covers the nix rebuild only"
	case tool == ToolSnippet:
		return "decides for the nix rebuild only"
	case tool == ToolGoTask && scenario == BrewfileOne:
		return "its system sources cover the Brewfile: rebuilds too"
	case tool == ToolGoTask && scenario == Cosmetic:
		return "content changed: rebuilds"
	case tool == ToolGoTask && scenario == Revert:
		return "checksum differs from its last run: evaluates and switches"
	case tool == ToolFloor:
		return "stats every file, decides nothing"
	case tool == ToolStart:
		return "starts the binary and exits: what any sysinit run costs"
	}
	return ""
}

func describeLaunched(counts map[string]int, runs int) string {
	if len(counts) == 0 {
		return "nothing"
	}
	var parts []string
	for _, name := range []string{"nix", "nix-env", "nix-store", "activate", "launchctl", "brew", "sudo", "darwin-rebuild", "ssh", "real nix", "real nix-env"} {
		if n := counts[name]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s ×%g", name, float64(n)/float64(runs)))
		}
	}
	return strings.Join(parts, ", ") + " per run"
}

// callGroup says which step of the refresh a stand-in call works for.
func callGroup(c Call) string {
	switch c.Name {
	case "nix":
		if len(c.Argv) > 0 && c.Argv[0] == "flake" {
			return "flake-update"
		}
		return "system"
	case "nix-env", "nix-store", "activate", "darwin-rebuild":
		return "system"
	case "ssh":
		// Each fleet machine is reached apart from the others, at once.
		for _, a := range c.Argv {
			if !strings.HasPrefix(a, "-") && !strings.ContainsAny(a, "=/") && strings.Contains(a, "@") {
				return "ssh " + a
			}
		}
		return "system"
	case "launchctl":
		return "nix-conf"
	case "brew":
		return "brew"
	}
	return ""
}

// projectExtra is how much longer a run would take at scale 1: the
// latencies slept on its critical path (all of them for a sequential
// tool), times 1/scale − 1.
func projectExtra(calls []Call, scale float64, sequential bool) time.Duration {
	if scale == 1 {
		return 0
	}
	groups := map[string][]Call{}
	var all time.Duration
	for _, c := range calls {
		g := callGroup(c)
		groups[g] = append(groups[g], c)
		all += time.Duration(c.Slept)
	}
	crit := all
	if !sequential {
		slept := map[string]time.Duration{}
		for g, cs := range groups {
			slept[g] = longestChain(cs)
		}
		crit = criticalPath(slept, stepAfter)
	}
	return time.Duration(float64(crit) * (1/scale - 1))
}

// longestChain is the most latency slept by stand-ins of one step that ran
// one after another. Within a step, a stand-in that started before another
// ended ran beside it (the closure diff beside the profile and
// activation) and did not wait for it; one that started after another
// ended may have. At scale 1 the step takes its longest such chain: a
// stand-in beside others counts only when its chain is the longest. (The
// union of the sleeps, which this replaces, also counted the part of a
// short stand-in beside others that overhung, at a small scale, into the
// gap before the next one started: the closure diff, sleeping 3 ms
// beside a 5 ms profile, counted its whole 300 ms at scale 1 when it
// started 2 ms late.)
func longestChain(calls []Call) time.Duration {
	cs := slices.Clone(calls)
	slices.SortStableFunc(cs, func(a, b Call) int { return cmp.Compare(a.Start, b.Start) })
	ends := make([]time.Duration, len(cs)) // the longest chain ending with cs[i]
	var longest time.Duration
	for i, c := range cs {
		var before time.Duration
		for j := range i {
			if cs[j].End <= c.Start {
				before = max(before, ends[j])
			}
		}
		ends[i] = before + time.Duration(c.Slept)
		longest = max(longest, ends[i])
	}
	return longest
}

// ownOverhead is a run's wall time less the time during which a stand-in
// was starting or running: each call counts from gap before it logged its
// start (what starting it costs outside its own timing) to its end, and
// calls that overlap, like a closure diff beside a switch, count once.
func ownOverhead(wall time.Duration, calls []Call, gap time.Duration) time.Duration {
	var ivs []interval
	for _, c := range calls {
		// sudo logs itself and execs its command, which starts again.
		ivs = append(ivs, interval{c.Start - int64(gap), c.End})
	}
	return wall - unionLength(ivs)
}

// runEvents is what a `sysinit refresh --json` run reported.
type runEvents struct {
	status    map[string]string // step → final status
	note      map[string]string
	durations map[string]time.Duration // steps that ran
	wall      time.Duration
	started   []startedStep // in the order they started
	// ran, failed and blocked are the run's summary.
	ran, failed, blocked int
}

// startedStep is a step-start event: the step and why it ran.
type startedStep struct{ name, why string }

// parseEvents reads the JSON events of a refresh.
func parseEvents(out []byte) (*runEvents, error) {
	r := &runEvents{status: map[string]string{}, note: map[string]string{}, durations: map[string]time.Duration{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	ended := false
	for sc.Scan() {
		var ev struct {
			Type  string `json:"type"`
			Steps []struct {
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"steps"`
			Step    string `json:"step"`
			Status  string `json:"status"`
			Reasons []struct {
				Kind   string `json:"kind"`
				Detail string `json:"detail"`
			} `json:"reasons"`
			Note       string  `json:"note"`
			DurationMS float64 `json:"duration_ms"` // docs/json.md
			Summary    *struct {
				Ran     int     `json:"ran"`
				Failed  int     `json:"failed"`
				Blocked int     `json:"blocked"`
				WallMS  float64 `json:"wall_ms"`
			} `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("reading sysinit's events: %w: %q", err, sc.Text())
		}
		switch ev.Type {
		case "run-start":
			for _, s := range ev.Steps {
				r.status[s.Name] = s.Status
			}
		case "step-start":
			var why []string
			for _, rs := range ev.Reasons {
				why = append(why, cmp.Or(rs.Detail, rs.Kind))
			}
			r.started = append(r.started, startedStep{ev.Step, strings.Join(why, "; ")})
		case "step-end":
			r.status[ev.Step], r.note[ev.Step] = ev.Status, ev.Note
			if ev.Status == "done" {
				r.durations[ev.Step] = fromMillis(ev.DurationMS)
			}
		case "run-end":
			ended = true
			if ev.Summary != nil {
				r.wall = fromMillis(ev.Summary.WallMS)
				r.ran, r.failed, r.blocked = ev.Summary.Ran, ev.Summary.Failed, ev.Summary.Blocked
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading sysinit's events: %w", err)
	}
	if !ended {
		return nil, errors.New("sysinit's events end without run-end")
	}
	return r, nil
}

// fromMillis reads a duration of sysinit's JSON (milliseconds, to the
// microsecond).
func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms*1000)) * time.Microsecond
}

// checkRun verifies that a sysinit run did what the scenario is about:
// figures for a run that did something else would mean nothing.
func checkRun(sc *scenario, run *runEvents, calls []Call) error {
	var bad []string
	for step, want := range sc.expect {
		got, note := run.status[step], run.note[step]
		ok := false
		for _, alt := range strings.Split(want, "|") {
			status, text, _ := strings.Cut(alt, ":")
			if got == status && strings.Contains(note, text) {
				ok = true
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s ended %s (%q), want %s", step, got, note, want))
		}
	}
	slices.Sort(bad)
	if sc.name == Revert {
		for _, c := range calls {
			if c.Name == "nix" && len(c.Argv) > 0 && (c.Argv[0] == "eval" || c.Argv[0] == "build") {
				bad = append(bad, "a revert started nix "+strings.Join(c.Argv, " "))
			}
		}
	}
	if sc.calls != nil {
		if err := sc.calls(calls); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if sc.name == NoChange && len(calls) > 0 {
		names := make([]string, len(calls))
		for i, c := range calls {
			names[i] = c.Name + " " + strings.Join(c.Argv, " ")
		}
		bad = append(bad, fmt.Sprintf("a no-change refresh started %d manager processes: %s", len(calls), strings.Join(names, "; ")))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// correctness applies changes the checksum snippet is blind to and asks
// each tool, without running anything, whether it would act.
func (e *sizeEnv) correctness(ctx context.Context) ([]Correctness, error) {
	e.o.progress("%s: which changes each tool notices", e.label)
	type change struct {
		what, affects, file, step string
		content                   string
	}
	imported, err := os.ReadFile(filepath.Join(e.repo, importedFile))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", importedFile, err)
	}
	changes := []change{
		{"flake.lock only (nixpkgs moved)", "rebuild the system", "flake.lock", "system", flakeLock(1)},
		{"a non-nix file a module imports (" + importedFile + ")", "rebuild the system", importedFile, "system", string(imported) + "vim.opt.relativenumber = true\n"},
		{"the Brewfile only", "brew bundle", "Brewfile", "brew", brewfile("bench-correctness")},
	}
	var out []Correctness
	for _, c := range changes {
		orig, err := os.ReadFile(filepath.Join(e.repo, c.file))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", c.file, err)
		}
		if err := writeRepoFile(e.repo, c.file, c.content, 0o644); err != nil {
			return nil, err
		}
		row := Correctness{Change: c.what, Affects: c.affects}
		noticed, err := e.sysinitNotices(ctx, c.step)
		if err == nil {
			row.Verdicts = append(row.Verdicts, Verdict{ToolSysinit, noticed})
			noticed, err = exitsNonZero(ctx, e.repo, e.m.env, "/bin/sh", e.snippet, "--check")
		}
		if err == nil {
			row.Verdicts = append(row.Verdicts, Verdict{ToolSnippet, noticed})
			if e.o.GoTask != "" {
				task := c.step
				noticed, err = exitsNonZero(ctx, e.repo, e.m.env, e.o.GoTask, "--status", task)
				row.Verdicts = append(row.Verdicts, Verdict{ToolGoTask, noticed})
			}
		}
		if werr := writeRepoFile(e.repo, c.file, string(orig), 0o644); err == nil {
			err = werr
		}
		if err != nil {
			return nil, err
		}
		e.changed = time.Now()
		out = append(out, row)
	}
	return out, nil
}

// sysinitNotices asks `sysinit plan --json` whether step would run.
func (e *sizeEnv) sysinitNotices(ctx context.Context, step string) (bool, error) {
	_, p, err := timed(ctx, e.repo, e.m.env, e.o.Self, "plan", "--json")
	if err != nil {
		return false, err
	}
	var plan struct {
		Steps []struct {
			Name   string `json:"name"`
			Action string `json:"action"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(p.stdout.Bytes(), &plan); err != nil {
		return false, fmt.Errorf("reading sysinit plan --json: %w", err)
	}
	for _, s := range plan.Steps {
		if s.Name == step {
			return s.Action == "run", nil
		}
	}
	return false, fmt.Errorf("sysinit plan has no step %q", step)
}

// exitsNonZero runs argv and reports whether it exited non-zero; failing
// to start is an error.
func exitsNonZero(ctx context.Context, dir string, env []string, argv ...string) (bool, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &ee):
		return true, nil
	}
	return false, fmt.Errorf("running %s: %w", argv[0], err)
}

// loadAverage is the 1, 5 and 15 minute load, where the OS says.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		out, err := exec.Command("sysctl", "-n", "vm.loadavg").Output()
		if err != nil {
			return "unknown"
		}
		return strings.Trim(strings.TrimSpace(string(out)), "{ }")
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
