package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sysinit/sysinit/internal/bench"
	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/state"
)

type benchOptions struct {
	suite bool

	// Both modes.
	runs, warmup int
	json         bool

	// The user's own config (the default).
	against      string
	yes          bool
	timeout      time.Duration
	refreshFirst bool

	// The synthetic suite (--suite).
	sizes         []int
	scenarios     []string
	scale         float64
	latencies     []string
	latencyFile   string
	goTask        string
	realNix       string
	md            bool
	svg           string
	workDir       string
	keep, noCache bool
	from          string
	fleetHosts    int
}

// The flags of one mode only; the other refuses them.
var (
	ownFlags   = []string{"against", "yes", "timeout", "refresh-first"}
	suiteFlags = []string{"sizes", "scenarios", "scale", "latency", "latencies", "go-task", "real-nix", "markdown", "svg", "work-dir", "keep", "no-cache", "report", "fleet-hosts"}
)

func (a *app) newBench() *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure this config's no-change refresh against the floor and the old command",
		Long: `Measure a no-change refresh of this config (found as refresh finds it; -C,
--config) on this machine's real tools: --runs refreshes after --warmup
untimed ones, each a whole process (sysinit refresh --json, whose events must
show that no step started), interleaved with the floor (stat-ing the config's
input files and hashing the listing: what any change detector must do) and
sysinit version (starting the binary). Nothing may run: when a step would,
bench says which and stops; --refresh-first refreshes once before measuring.

--against 'task nix:refresh' also times the command sysinit replaces, run
with sh -c in the config's directory as many times, after sysinit's runs. It
may change this machine, so bench asks first (on a terminal; --yes
otherwise). --timeout stops any run that takes longer.

--suite runs the synthetic suite instead: generated config repos (a
nix-darwin flake, a Brewfile, nix.custom.conf and dotfiles) with stand-in
package managers whose latencies are set from published figures, against
the old sequential refresh, the plan's checksum snippet, go-task (with
--go-task) and the floor (a find that stats every file). Real nix is
measured too when it is installed. Scenarios: no-change, cosmetic (a comment
edited), incremental (one module changed), revert (a module edit undone:
back to inputs built before), brewfile (one formula added),
brew-nix-darwin (a formula added to homebrew.brews in a module that also
changes the system, the brew step taking its Brewfile from nix-darwin),
full (cold state, empty machine), multi-host (one host's module edited in a
flake of three configurations, with entry and without), and fleet
(--fleet-hosts machines behind a stand-in ssh that models a connection and
a round trip, nothing changed, against refreshing them one by one). --scale shrinks every latency (the report
says which it used). Latency keys for --latency KEY=DURATION and --latencies
FILE (TOML, key = "duration"):
  ` + strings.Join(bench.LatencyKeys()[:7], ", ") + `,
  ` + strings.Join(bench.LatencyKeys()[7:], ", ") + `.
Generated repos are kept in $XDG_CACHE_HOME/sysinit/bench (--no-cache to
regenerate); everything else lives in a temp dir. See BENCHMARKS.md.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			theirs, why := suiteFlags, "is for the synthetic suite: add --suite"
			if o.suite {
				theirs, why = ownFlags, "is not for the synthetic suite: leave out --suite"
			}
			if !f.Changed("runs") {
				o.runs = 10
				if o.suite {
					o.runs = 5
				}
			}
			for _, name := range theirs {
				if f.Changed(name) {
					return usageError{fmt.Errorf("--%s %s", name, why)}
				}
			}
			if o.suite {
				return a.runBench(cmd, o)
			}
			return a.runOwnBench(cmd, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.suite, "suite", false, "run the synthetic suite (generated repos, stand-in managers) instead")
	// The default depends on the mode: 0 here shows none.
	f.IntVar(&o.runs, "runs", 0, "`N` timed runs of each command (default 10; with --suite, of each tool per scenario, default 5)")
	f.IntVar(&o.warmup, "warmup", 1, "untimed runs before them")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")

	f.StringVar(&o.against, "against", "", "also time the old refresh `COMMAND` (run with sh -c), e.g. 'task nix:refresh'")
	f.BoolVarP(&o.yes, "yes", "y", false, "run the --against command without asking")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "stop a run that takes longer than `DURATION` (0: never)")
	f.BoolVar(&o.refreshFirst, "refresh-first", false, "refresh once before measuring when a step would run")

	f.IntSliceVar(&o.sizes, "sizes", []int{2000, 20000}, "--suite: repo sizes, in files")
	f.StringSliceVar(&o.scenarios, "scenarios", bench.Scenarios, "--suite: scenarios to run")
	f.Float64Var(&o.scale, "scale", 0.01, "--suite: multiply every stand-in latency by `S` (1 = the published figures)")
	f.StringArrayVar(&o.latencies, "latency", nil, "--suite: set one stand-in latency at scale 1, as `KEY=DURATION` (repeatable)")
	f.StringVar(&o.latencyFile, "latencies", "", "--suite: read stand-in latencies from a TOML `FILE`")
	f.StringVar(&o.goTask, "go-task", "", "--suite: compare with go-task: the `PATH` of a task binary")
	f.StringVar(&o.realNix, "real-nix", "auto", "--suite: measure real nix: auto (when installed), on, off")
	f.BoolVar(&o.md, "markdown", false, "--suite: print the report as Markdown (as in BENCHMARKS.md)")
	f.StringVar(&o.svg, "svg", "", "--suite: also draw the chart into `FILE`")
	f.StringVar(&o.workDir, "work-dir", "", "--suite: work in `DIR` instead of a new temp dir")
	f.BoolVar(&o.keep, "keep", false, "--suite: keep the work dir")
	f.BoolVar(&o.noCache, "no-cache", false, "--suite: generate the repos afresh instead of reusing cached ones")
	f.IntVar(&o.fleetHosts, "fleet-hosts", bench.DefaultFleetHosts, "--suite: how many machines the fleet scenario refreshes")
	f.StringVar(&o.from, "report", "", "--suite: measure nothing: print the report saved by --json in `FILE` (as a table, --markdown, --svg)")
	c.AddCommand(a.newStandin())
	return c
}

// newStandin is the hidden entry point of the stand-in managers that
// bench puts on PATH: `sysinit bench __standin CONFIG NAME ARGS...`.
func (a *app) newStandin() *cobra.Command {
	return &cobra.Command{
		Use:                "__standin CONFIG NAME [ARGS...]",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := bench.Standin(args, a.stdin, a.stdout, a.stderr); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

func (a *app) runBench(cmd *cobra.Command, o *benchOptions) error {
	if o.json && o.md {
		return usageError{fmt.Errorf("--json and --markdown: choose one")}
	}
	lat := bench.DefaultLatencies()
	if o.latencyFile != "" {
		if err := lat.LoadProfile(o.latencyFile); err != nil {
			return usageError{err}
		}
	}
	for _, kv := range o.latencies {
		if err := lat.Set(kv); err != nil {
			return usageError{err}
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the sysinit binary: %w", err)
	}
	goTask := o.goTask
	if goTask != "" {
		if goTask, err = filepath.Abs(goTask); err != nil {
			return fmt.Errorf("finding %s: %w", o.goTask, err)
		}
	}
	var rep *bench.Report
	if o.from != "" {
		data, err := os.ReadFile(o.from)
		if err != nil {
			return fmt.Errorf("reading the report: %w", err)
		}
		rep = &bench.Report{}
		if err := json.Unmarshal(data, rep); err != nil {
			return fmt.Errorf("reading the report %s: %w", o.from, err)
		}
	} else {
		cache := ""
		if !o.noCache {
			// As root, never a cache in another user's HOME (see state.BaseDir).
			base, err := state.BaseDir(a.getenv, "XDG_CACHE_HOME", ".cache")
			if err != nil {
				return err
			}
			cache = filepath.Join(base, "sysinit", "bench")
			if err := os.MkdirAll(cache, 0o755); err != nil {
				return fmt.Errorf("creating the bench cache: %w", err)
			}
		}
		progress := func(s string) { fmt.Fprintln(a.stderr, "bench: "+s) }
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		// Stop between processes on Ctrl-C, so the work dir is removed.
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		rep, err = bench.Run(ctx, bench.Options{
			Self: self, Version: version(), Command: "sysinit " + strings.Join(os.Args[1:], " "),
			Sizes: o.sizes, Scenarios: o.scenarios, Runs: o.runs, Warmup: o.warmup, Scale: o.scale,
			Latencies: lat, GoTask: goTask, RealNix: o.realNix, WorkDir: o.workDir, Keep: o.keep,
			CacheDir: cache, Environ: os.Environ(), Progress: progress, FleetHosts: o.fleetHosts,
		})
		if err != nil {
			return err
		}
	}
	if o.svg != "" {
		f, err := os.Create(o.svg)
		if err != nil {
			return fmt.Errorf("writing the chart: %w", err)
		}
		werr := rep.WriteSVG(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("writing the chart: %w", werr)
		}
	}
	switch {
	case o.json:
		return rep.WriteJSON(a.stdout)
	case o.md:
		return rep.WriteMarkdown(a.stdout)
	}
	return rep.WriteText(a.stdout)
}

// runOwnBench measures a no-change refresh of the config refresh would
// use, on this machine's real tools.
func (a *app) runOwnBench(cmd *cobra.Command, o *benchOptions) error {
	switch {
	case o.runs < 1:
		return usageError{fmt.Errorf("--runs=%d: need at least 1", o.runs)}
	case o.warmup < 0:
		return usageError{fmt.Errorf("--warmup=%d: cannot be negative", o.warmup)}
	case o.timeout < 0:
		return usageError{fmt.Errorf("--timeout=%s: cannot be negative", o.timeout)}
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the sysinit binary: %w", err)
	}
	t, err := a.benchTarget(ctx)
	if err != nil {
		return err
	}
	if len(t.wouldRun) > 0 && !o.refreshFirst {
		a.errorf("%s, so a refresh now would not be a no-change one:\n%s", wouldRunCount(t.wouldRun), strings.Join(t.wouldRun, "\n"))
		a.hint("run sysinit refresh first, or pass --refresh-first to have bench do it")
		return &exitError{code: ExitFailed}
	}
	if o.against != "" {
		if err := a.confirmAgainst(o, t.cfg.Dir); err != nil {
			return err
		}
	}
	if len(t.wouldRun) > 0 {
		fmt.Fprintf(a.stderr, "bench: %s; refreshing first\n", wouldRunCount(t.wouldRun))
		first := &command.Cmd{
			Argv: []string{self, "--config", t.config, "refresh", "--progress=never"},
			Dir:  t.cfg.Dir, Stdin: a.stdin, Stdout: a.stderr, Stderr: a.stderr,
			// It may ask for sudo's password, as a refresh does.
			Interactive: true,
		}
		if err := (command.Exec{}).Run(ctx, first); err != nil {
			return fmt.Errorf("refreshing before the bench: %w", err)
		}
		if t, err = a.benchTarget(ctx); err != nil {
			return err
		}
		if len(t.wouldRun) > 0 {
			return fmt.Errorf("%s even after a refresh; a no-change refresh cannot be measured:\n%s", wouldRunCount(t.wouldRun), strings.Join(t.wouldRun, "\n"))
		}
	}
	rep, err := bench.Own(ctx, bench.OwnOptions{
		Self: self, Version: version(), Command: "sysinit " + strings.Join(os.Args[1:], " "),
		Config: t.config, Dir: t.cfg.Dir, Steps: len(t.cfg.Steps), Files: t.files,
		Against: o.against, Runs: o.runs, Warmup: o.warmup, Timeout: o.timeout,
		Progress: func(s string) { fmt.Fprintln(a.stderr, "bench: "+s) },
	})
	var te *bench.TimeoutError
	if errors.As(err, &te) {
		a.errorf("%v", err)
		a.hint("--timeout sets how long one run may take (0: no limit)")
		return &exitError{code: ExitFailed}
	}
	if err != nil {
		return err
	}
	if o.json {
		return rep.WriteJSON(a.stdout)
	}
	return rep.WriteText(a.stdout)
}

// benchTarget is the config bench measures, as a plan sees it now.
type benchTarget struct {
	cfg    *config.Config
	config string // the config file, absolute
	// files are the inputs of every step, absolute, sorted: what the
	// floor stats.
	files []string
	// wouldRun says, one line per step, which steps a refresh would run
	// (or fail) and why.
	wouldRun []string
}

// benchTarget plans the config read-only (its store is closed again before
// the bench starts refreshes, which take its lock).
func (a *app) benchTarget(ctx context.Context) (*benchTarget, error) {
	s, err := a.open(true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	p, err := s.plan(ctx)
	if err != nil {
		return nil, err
	}
	config, err := filepath.Abs(a.givenConfig)
	if err != nil {
		return nil, fmt.Errorf("finding the config: %w", err)
	}
	t := &benchTarget{cfg: s.cfg, config: config}
	seen := map[string]bool{}
	for _, d := range p.Steps {
		if !d.Applicable() {
			continue
		}
		if d.Run || d.Missing() != "" {
			t.wouldRun = append(t.wouldRun, d.Name+": "+d.Summary())
		}
		if d.Manifest == nil {
			continue
		}
		// Relative entries are relative to the step's own root (a flake
		// whose repository starts above the config, say).
		root := s.cfg.Dir
		if spec, err := d.Step.Inputs(ctx); err != nil {
			return nil, fmt.Errorf("reading the inputs of %s: %w", d.Name, err)
		} else if spec.Root != "" {
			root = spec.Root
		}
		for _, e := range d.Manifest.Entries {
			if e.Type == fingerprint.TypeMissing {
				continue
			}
			path := filepath.FromSlash(e.Path)
			if !filepath.IsAbs(path) {
				path = filepath.Join(root, path)
			}
			if !seen[path] {
				seen[path] = true
				t.files = append(t.files, path)
			}
		}
	}
	slices.Sort(t.files)
	return t, nil
}

func wouldRunCount(lines []string) string {
	if len(lines) == 1 {
		return "1 step would run"
	}
	return fmt.Sprintf("%d steps would run", len(lines))
}

// confirmAgainst warns that the old command runs many times and may change
// the machine, and asks, on a terminal, unless --yes.
func (a *app) confirmAgainst(o *benchOptions, dir string) error {
	n := o.runs + o.warmup
	times := fmt.Sprintf("%d times", n)
	if n == 1 {
		times = "once"
	}
	if o.warmup > 0 {
		times += fmt.Sprintf(" (%d warm-up, %d timed)", o.warmup, o.runs)
	}
	a.warn(fmt.Sprintf("bench will run %s with sh -c in %s %s: whatever it does to this machine, it does each time", command.Quote(o.against), dir, times))
	if o.yes {
		return nil
	}
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return usageError{fmt.Errorf("--against asks before it runs %s, and there is no terminal to ask on: pass --yes to run it anyway", command.Quote(o.against))}
	}
	fmt.Fprintf(a.stderr, "run it? [y/N] ")
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(a.stderr)
		return &exitError{code: ExitFailed, err: errors.New("not confirmed: nothing measured")}
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &exitError{code: ExitFailed, err: errors.New("not confirmed: nothing measured")}
}
