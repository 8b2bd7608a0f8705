package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/ui"
)

type refreshOptions struct {
	force, dryRun, failFast, noWait, update, json, verbose bool
	jobs                                                   int
	progress                                               string
}

func (a *app) newRefresh() *cobra.Command {
	o := &refreshOptions{}
	c := &cobra.Command{
		Use:   "refresh [STEP...]",
		Short: "Run the steps that must run (the default command)",
		Long: `Plan, then run what must run: steps whose inputs, definition or machine state
changed, whose time-to-live passed, or that never ran here. Independent steps
run in parallel. Naming steps runs those (and what they come after).`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.dryRun {
				return a.runPlan(cmd.Context(), &planOptions{json: o.json}, args, o.force, o.update)
			}
			return a.runRefresh(cmd.Context(), o, args)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "run the named steps (all when none are named) whatever the plan says")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show the plan; run nothing")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop every step at the first failure")
	f.BoolVar(&o.noWait, "no-wait", false, "fail at once if another sysinit is running here")
	f.BoolVar(&o.update, "update", false, "also run the steps that fetch (flake update, brew update) now")
	f.BoolVar(&o.json, "json", false, "print one JSON event per line")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "with plain output, also print every step's output")
	f.IntVarP(&o.jobs, "jobs", "j", 0, "run at most `N` steps at once (default: all that are ready)")
	f.StringVar(&o.progress, "progress", "auto", "live view: auto (on a terminal), always, never")
	return c
}

func (a *app) completeSteps(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	path, err := a.configPath()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := loadQuiet(path)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, s := range cfg.Steps {
		names = append(names, s.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// view picks how a run is shown.
func (a *app) view(o *refreshOptions) (runner.Observer, func() error, error) {
	switch {
	case o.json:
		v := ui.NewJSON(a.stdout)
		return v, v.Close, nil
	case o.progress == "always" || (o.progress == "auto" && isTerminal(a.stdout) && a.getenv("TERM") != "dumb"):
		v := ui.NewLive(a.stdout, ui.LiveOptions{Width: terminalWidth(a.stdout), Height: terminalHeight(a.stdout), Color: a.getenv("NO_COLOR") == ""})
		return v, v.Close, nil
	case o.progress == "never" || o.progress == "auto" || o.progress == "always":
		v := ui.NewPlain(a.stdout, ui.PlainOptions{Verbose: o.verbose})
		return v, v.Close, nil
	}
	return nil, nil, usageError{fmt.Errorf("--progress=%s: use auto, always or never", o.progress)}
}

func (a *app) runRefresh(ctx context.Context, o *refreshOptions, args []string) error {
	started := time.Now()
	if o.jobs < 0 {
		return usageError{fmt.Errorf("--jobs=%d: must be 0 (no limit) or more", o.jobs)}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Everything that can be refused is checked before waiting for the lock.
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	for _, name := range args {
		if cfg.Step(name) == nil {
			return &plan.UnknownStepError{Name: name, Known: configStepNames(cfg)}
		}
	}
	obs, closeView, err := a.view(o)
	if err != nil {
		return err
	}
	defer closeView()
	storePath, err := a.storePath(cfg.Dir)
	if err != nil {
		return err
	}
	stateDir, err := a.stateDir()
	if err != nil {
		return err
	}
	lock, err := state.Acquire(storePath, !o.noWait, func(pid int) {
		a.warn(fmt.Sprintf("another sysinit (pid %d) is refreshing this repo; waiting for it to finish", pid))
	})
	if err != nil {
		return err
	}
	defer lock.Release()

	ctx, kill, stop := interrupts(ctx, func(msg string) {
		obs.Event(runner.Event{Type: runner.EventNotice, Time: time.Now(), Line: msg})
	})
	defer stop()
	s, err := a.openConfig(cfg, false, command.Exec{Root: os.Geteuid() == 0, Kill: kill})
	if err != nil {
		return err
	}
	defer s.close()
	s.planner.Only, s.planner.Force, s.planner.Update = args, o.force, o.update
	p, err := s.plan(ctx)
	if err != nil {
		return err
	}
	id := runID()
	logDir := filepath.Join(stateDir, "logs", id)
	opts := runner.Options{
		RunID:    id,
		Started:  started,
		LogDir:   logDir,
		Jobs:     o.jobs,
		FailFast: o.failFast,
		Update:   o.update,
		Redecide: func(ctx context.Context, name string) *plan.Decision {
			return s.planner.Decide(ctx, name)
		},
		// While the first steps run, hash the files of those that wait.
		Background: func(ctx context.Context) { s.planner.Warm(ctx, p) },
		Elevate:    a.elevate(s.exec, os.Geteuid() == 0),
		ETA:        func(name string) time.Duration { return median(s.store, name) },
	}
	res := runner.Run(ctx, p, opts, s.store, obs)
	// The stat cache as the plan, the background warming and the steps'
	// own scans left it: written once, after the run (writing it while
	// steps run would hold up their reads and records of the store).
	cacheErr := saveStatCache(s)
	if err := closeView(); err != nil {
		return err
	}
	if cacheErr != nil {
		a.warn("saving the stat cache: " + cacheErr.Error())
	}
	if p.WillRun() || res.Summary.Ran+res.Summary.Failed > 0 {
		if err := s.store.AddRun(historyOf(id, "refresh", res)); err != nil {
			a.warn("recording the run in history: " + err.Error())
		}
		pruneLogs(filepath.Dir(logDir), state.MaxRuns)
	}
	switch {
	case res.Summary.Interrupted:
		return &exitError{code: ExitInterrupted}
	case res.Failed():
		return &exitError{code: ExitFailed}
	}
	return nil
}

// saveStatCache writes the stat cache back if a scan changed it (an empty
// one removes the stored cache).
func saveStatCache(s *session) error {
	if !s.cache.Changed() {
		return nil
	}
	data, err := s.cache.MarshalBinary()
	if err != nil {
		return err
	}
	return s.store.PutStatCache(data)
}

func configStepNames(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Steps {
		out = append(out, s.Name)
	}
	return out
}

// interrupts cancels the returned context at the first SIGINT or SIGTERM,
// telling notify, and closes kill at the second, so children still
// running are killed without waiting for their grace period.
func interrupts(ctx context.Context, notify func(string)) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	kill := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		notify("stopping: running steps get SIGTERM; nothing they did is recorded (Ctrl-C again to kill them now)")
		cancel()
		select {
		case <-sigs:
			notify("killing the steps still running")
			close(kill)
		case <-done:
		}
	}()
	return ctx, kill, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

func runID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

func historyOf(id, cmd string, res *runner.Result) state.Run {
	r := state.Run{ID: id, Command: cmd, Start: time.Now().Add(-res.Summary.Wall), Wall: res.Summary.Wall, Interrupted: res.Summary.Interrupted}
	for _, s := range res.Steps {
		r.Steps = append(r.Steps, state.RunStep{Name: s.Name, Status: string(s.Status), Reason: s.Reason, Duration: s.Duration})
	}
	return r
}

// median is the ETA of a step: the median of its last successful durations.
func median(st *state.Store, name string) time.Duration {
	ds, err := st.Durations(name, 20)
	if err != nil || len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// pruneLogs keeps the newest keep run directories under dir.
func pruneLogs(dir string, keep int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for len(names) > keep {
		_ = os.RemoveAll(filepath.Join(dir, names[0]))
		names = names[1:]
	}
}

// elevate asks for sudo once, before anything starts, and keeps the ticket
// alive while steps run. Without a terminal it can only use a ticket that
// already exists.
func (a *app) elevate(x command.Runner, root bool) func(ctx context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		if root {
			return func() {}, nil
		}
		argv := []string{"sudo", "-n", "-v"}
		var stdin = a.stdin
		terminal := isTerminal(a.stderr)
		if terminal {
			argv = []string{"sudo", "-v", "-p", "sysinit: password for %u (some steps run as root): "}
		} else {
			stdin = nil
		}
		err := x.Run(ctx, &command.Cmd{Argv: argv, Stdin: stdin, Stderr: a.stderr})
		var nf *command.NotFoundError
		switch {
		case errors.As(err, &nf):
			return nil, errors.New("sudo is not installed; run sysinit as root")
		case err != nil && !terminal:
			return nil, errors.New("no sudo ticket, and no terminal to ask for a password: run `sudo -v` first")
		case err != nil:
			return nil, fmt.Errorf("sudo -v: %w", err)
		}
		kctx, cancel := context.WithCancel(ctx)
		go func() {
			t := time.NewTicker(60 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-kctx.Done():
					return
				case <-t.C:
					_ = x.Run(kctx, &command.Cmd{Argv: []string{"sudo", "-n", "-v"}})
				}
			}
		}()
		return cancel, nil
	}
}

// joinNames lists step names for messages.
func joinNames(names []string) string { return strings.Join(names, ", ") }
