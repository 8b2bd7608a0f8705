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
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/state"
)

type refreshOptions struct {
	force, dryRun, failFast, noWait, update, json, verbose bool
	ask, yes                                               bool
	jobs                                                   int
	progress                                               string
	heartbeat                                              time.Duration
}

func (a *app) newRefresh() *cobra.Command {
	o := &refreshOptions{}
	c := &cobra.Command{
		Use:   "refresh [STEP...]",
		Short: "Run the steps that must run (the default command)",
		Long: `Plan, then run what must run: steps whose inputs, definition or machine state
changed, whose time-to-live passed, or that never ran here. Independent steps
run in parallel. Naming steps runs those (and what they come after); @HOST names
every step acting on that host (@local: this machine).`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("jobs") {
				o.jobs = defaultJobs()
			}
			if err := o.check(); err != nil {
				return err
			}
			if o.dryRun {
				return a.runPlan(cmd.Context(), &planOptions{json: o.json}, args, o.force, o.update)
			}
			if err := a.checkAsk(o); err != nil {
				return err
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
	f.IntVarP(&o.jobs, "jobs", "j", 0, fmt.Sprintf("run at most `N` steps at once (default: twice the CPUs, at least 4: %d here; 0: no limit)", defaultJobs()))
	f.StringVar(&o.progress, "progress", "auto", "live view: auto (on a terminal), always, never")
	f.DurationVar(&o.heartbeat, "heartbeat", 30*time.Second, "without the live view, say which steps are still running every `DURATION` (0: never)")
	f.BoolVarP(&o.ask, "ask", "a", false, "show what each nix step would change (its closure diff) and ask before it switches")
	f.BoolVarP(&o.yes, "yes", "y", false, "with --ask: show the changes but apply them without asking (for scripts)")
	return c
}

// defaultJobs is --jobs when it is not given: twice the CPUs, at least 4.
// Steps mostly wait (on nix builds, the network, a daemon), so more than
// one per CPU keeps a machine busy; the bound keeps a config of many steps
// from starting a program — and holding an OS thread — for each of them
// at once, which under a low `ulimit -u` ends in failed forks, or in a Go
// runtime that cannot start a thread and dies.
func defaultJobs() int { return max(4, 2*runtime.NumCPU()) }

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
	// @HOST selects every step acting on a host; @local, this machine's,
	// is worth offering only beside other hosts.
	if len(cfg.Hosts) > 0 {
		for _, h := range cfg.HostNames() {
			names = append(names, "@"+h)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) runRefresh(ctx context.Context, o *refreshOptions, args []string) error {
	started := time.Now()
	outlastReaders()
	if ctx == nil {
		ctx = context.Background()
	}
	kill := a.kill
	// Everything that can be refused is checked before waiting for the lock.
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	for _, name := range args {
		if len(cfg.Resolve(name)) == 0 {
			return plan.Unknown(cfg, name)
		}
	}
	book := &decisions{}
	obs, closeView := a.view(o, book)
	defer closeView()
	storePath, _, err := a.storePath(a.givenConfig, true)
	if err != nil {
		return err
	}
	logBase, err := state.BaseDir(a.getenv, "XDG_STATE_HOME", ".local/state")
	if err != nil {
		return err
	}
	lock, err := acquire(ctx, storePath, !o.noWait, func(h state.Holder) {
		a.warn(waitingFor(h))
	})
	var le *state.LockedError
	if errors.As(err, &le) && !alive(le.PID) {
		return fmt.Errorf("%w: that sysinit was killed, but programs it started still run", err)
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	if err := a.adoptLegacyStore(a.givenConfig, storePath); err != nil {
		a.warn(err.Error())
	}
	// Steps inherit the lock: if sysinit is killed, no refresh starts
	// while a program it started still runs.
	if err := lock.ShareWithChildren(); err != nil {
		return err
	}

	root := os.Geteuid() == 0
	// Should sysinit be killed, the reaper ends the steps it started.
	reaper := &command.Reaper{}
	defer func() {
		if err := reaper.Close(); err != nil {
			a.warn(err.Error())
		}
	}()
	s, err := a.openConfig(cfg, false, command.Exec{Root: root, Kill: kill, Reaper: reaper, Lifeline: lifeline()})
	if err != nil {
		return err
	}
	defer s.close()
	s.planner.Only, s.planner.Force, s.planner.Update = args, o.force, o.update
	p, err := s.plan(ctx)
	if err != nil {
		return err
	}
	// sudo asks for a password before the view takes the terminal: a live
	// block redrawn under the prompt would hide it. The runner gets the
	// answer when it asks.
	elevate := a.elevate(s.exec, root)
	if p.NeedsSudo() {
		release, err := elevate(ctx)
		if ctx.Err() != nil {
			// Ctrl-C at the prompt: nothing started.
			return ctx.Err()
		}
		elevate = func(context.Context) (func(), error) { return release, err }
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	a.notices.Store(&obs)
	warnings := newStepWarnings(p)
	book.set(p.Steps...)
	// The id names the run's start, the moment its history entry keeps
	// (not this later one, after planning, the lock and sudo): a failure
	// shown with both is never before the run it belongs to.
	id := runID(started)
	logDir := filepath.Join(logBase, "sysinit", "logs", id)
	opts := runner.Options{
		RunID:    id,
		Started:  started,
		LogDir:   logDir,
		LogBase:  logBase,
		Jobs:     o.jobs,
		FailFast: o.failFast,
		Update:   o.update,
		Redecide: func(ctx context.Context, name string) *plan.Decision {
			d := s.planner.Decide(ctx, name)
			book.set(d)
			return warnings.keep(d)
		},
		// A nix-darwin step's Brewfile, for the brew-bundle step that
		// takes it and is decided again with it.
		Exported: s.planner.Exported,
		// While the first steps run, hash the files of those that wait.
		Background: func(ctx context.Context) { s.planner.Warm(ctx, p) },
		Elevate:    elevate,
		ETA:        func(name string) time.Duration { return median(s.store, name) },
		Label:      cfg.StateKey(),
	}
	if o.ask {
		opts.Confirm = a.prompter(o, obs).Confirm
	}
	res := runner.Run(ctx, p, opts, s.store, obs)
	// The stat cache as the plan, the background warming and the steps'
	// own scans left it: written once, after the run (writing it while
	// steps run would hold up their reads and records of the store).
	cacheErr := errors.Join(saveStatCache(s), saveGraphCache(s), saveAnalyses(s))
	// The output failing does not undo the run: its records, the
	// history and the exit status still follow. A reader that went away
	// (EPIPE) is no error at all.
	viewErr := closeView()
	if errors.Is(viewErr, syscall.EPIPE) {
		viewErr = nil
	}
	if cacheErr != nil {
		a.warn("saving the caches: " + cacheErr.Error())
	}
	// A step that left the config must not find its old success if its
	// name comes back.
	if err := s.store.Retire(s.records, func(name string) bool { return cfg.Step(name) != nil }); err != nil {
		a.warn("retiring the records of steps no longer in the config: " + err.Error())
	}
	warnings.print(a)
	if p.WillRun() || res.Summary.Ran+res.Summary.Failed > 0 {
		if err := s.store.AddRun(historyOf(id, "refresh", res, book)); err != nil {
			a.warn("recording the run in history: " + err.Error())
		}
		if err := runner.PruneLogs(filepath.Dir(logDir), state.MaxRuns, logDir); err != nil {
			a.warn(err.Error())
		}
	}
	switch {
	case res.Summary.Interrupted:
		return &exitError{code: ExitInterrupted}
	case res.Failed():
		return &exitError{code: ExitFailed}
	}
	return viewErr
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

// outlastReaders keeps sysinit alive, for the rest of its run, when a
// reader of its stdout or stderr goes away (`sysinit refresh | head -1`, a
// log viewer closed). By default Go dies of SIGPIPE at a write to a closed
// pipe on those two descriptors (on any other, the write fails with EPIPE),
// as git and gh do: right for a command that only prints (plan, why,
// history exit quietly with 141). A command that changes the machine must
// not stop half way, with a step cut short and its run unrecorded, for
// want of a reader: once SIGPIPE is caught, such writes fail with EPIPE,
// the output is lost and the run goes on to its own exit status. Catching
// it (not ignoring it: an ignored signal is inherited) leaves the programs
// sysinit starts with the default SIGPIPE.
func outlastReaders() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}

// interrupts cancels the returned context at the first SIGINT, SIGTERM or
// SIGHUP (the terminal went away: steps in their own process groups would
// not hear of it), telling notify, and closes kill at the second, so
// children still running are killed without waiting for their grace
// period. A signal sysinit was started ignoring (nohup, a background job
// of a shell without job control) stays ignored.
//
// When abrupt says so — a command that runs no steps, and so has nothing
// to stop gently — the first signal ends sysinit as it would end a program
// that catches none: most such commands never look at the context, and one
// stuck on a read (a FIFO, a hung mount) would otherwise hear neither
// Ctrl-C nor SIGTERM.
func interrupts(ctx context.Context, notify func(string), abrupt func() bool) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	kill := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	caught := []os.Signal{syscall.SIGTERM}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGHUP} {
		if !signal.Ignored(sig) {
			caught = append(caught, sig)
		}
	}
	signal.Notify(sigs, caught...)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		if abrupt() {
			dieOf(sig)
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
		close(done)
		cancel()
		// Stop waits on a hand-off with the runtime's signal thread,
		// which costs the no-change path a few hundred microseconds just
		// before the process exits; an in-process caller (a test) has it
		// done a moment later.
		go signal.Stop(sigs)
	}
}

// dieOf ends the process by sig with its default action, as if sysinit
// had never caught it: the shell sees a program killed by the signal.
func dieOf(sig os.Signal) {
	signal.Reset(sig)
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(os.Getpid(), s)
		time.Sleep(time.Second) // the signal is on its way
	}
	os.Exit(ExitInterrupted)
}

// runID names a run that started at start: its time in UTC, so that ids
// sort as runs began whatever the local zone did (plan and history show
// times with their zone), and a random suffix.
func runID(start time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return start.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
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

// elevate asks for sudo once, before anything starts, and keeps the ticket
// alive while steps run. Without a terminal it can only use a ticket that
// already exists.
func (a *app) elevate(x command.Runner, root bool) func(ctx context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		if root {
			return func() {}, nil
		}
		cmd := &command.Cmd{Argv: []string{"sudo", "-n", "-v"}, Stderr: a.stderr}
		if why := a.cannotPrompt(); why == "" {
			// In sysinit's process group, the terminal's foreground group:
			// sudo reads the password from the terminal, with echo off, and
			// a Ctrl-C at the prompt reaches it and sysinit alike.
			cmd = &command.Cmd{
				Argv:        []string{"sudo", "-v", "-p", "sysinit: password for %u (some steps run as root): "},
				Stdin:       a.stdin,
				Stderr:      a.stderr,
				Interactive: true,
			}
		}
		err := x.Run(ctx, cmd)
		if err != nil && cmd.Interactive && ctx.Err() == nil {
			// A Ctrl-C at the prompt reaches sudo and sysinit together,
			// and sudo may be done before sysinit's handler has run:
			// give the interrupt a moment to land before calling this a
			// failed password.
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
		var nf *command.NotFoundError
		var xe *command.ExitError
		switch {
		case errors.As(err, &nf):
			return nil, errors.New("sudo is not installed; run sysinit as root")
		case err != nil && ctx.Err() != nil:
			return nil, err
		case err != nil && !cmd.Interactive:
			return nil, fmt.Errorf("no sudo ticket, and %s: run `sudo -v` first", a.cannotPrompt())
		case errors.As(err, &xe) && len(xe.Tail) > 0:
			// sudo's own last word: "3 incorrect password attempts".
			return nil, fmt.Errorf("sudo -v failed: %s", strings.TrimPrefix(xe.Tail[len(xe.Tail)-1], "sudo: "))
		case err != nil:
			return nil, fmt.Errorf("sudo -v: %w", err)
		}
		if cmd.Interactive {
			// The password was taken; steps run `sudo -n`, which needs the
			// ticket it left. A sudo told to keep none (timestamp_timeout=0)
			// would fail every step "a password is required" and ask again
			// at each keep-alive: say so now, with the fix.
			if err := x.Run(ctx, &command.Cmd{Argv: []string{"sudo", "-n", "-v"}}); err != nil && ctx.Err() == nil {
				return nil, errors.New("sudo keeps no ticket after the password (timestamp_timeout=0 in sudoers?), " +
					"so steps can't run as root without asking again; set `Defaults timestamp_timeout=5` (or more) with `sudo visudo`, or run sysinit as root")
			}
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

// cannotPrompt says why sudo cannot ask for a password, or "" when it
// can: stderr (where sudo's messages go) is a terminal and sysinit runs in
// its foreground (a background job that read it would be stopped).
func (a *app) cannotPrompt() string {
	f, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "no terminal to ask for a password"
	}
	fg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return "sysinit runs in the background of its terminal, where it can't ask for a password"
	}
	return ""
}

// acquire is state.Acquire that gives up waiting when ctx ends. A lock got
// after that is released at once.
func acquire(ctx context.Context, storePath string, wait bool, onWait func(state.Holder)) (*state.Lock, error) {
	type result struct {
		lock *state.Lock
		err  error
	}
	got := make(chan result, 1)
	go func() {
		l, err := state.Acquire(storePath, wait, onWait)
		got <- result{l, err}
	}()
	select {
	case r := <-got:
		return r.lock, r.err
	case <-ctx.Done():
		go func() {
			if r := <-got; r.lock != nil {
				r.lock.Release()
			}
		}()
		return nil, ctx.Err()
	}
}

// waitingFor says who holds the run lock, from what its holder wrote.
func waitingFor(h state.Holder) string {
	if h.PID > 0 && !alive(h.PID) {
		return fmt.Sprintf("programs started by a sysinit that was killed (%s) still run; waiting for them to exit", h)
	}
	if h.PID <= 0 {
		return "another sysinit is refreshing this repo; waiting for it to finish"
	}
	return fmt.Sprintf("another sysinit (%s) is refreshing this repo; waiting for it to finish", h)
}

// alive reports whether a process pid may still exist (another user's
// counts: sysinit may have run under sudo). 0 is unknown, so alive.
func alive(pid int) bool {
	return pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// lifeline is sysinit's own binary, which sudo runs around a step's
// program so that the program dies with sysinit even as root (see
// command.Lifeline); "" when it can't be found, and such programs run
// without one.
func lifeline() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	return self
}

// joinNames lists step names for messages.
func joinNames(names []string) string { return strings.Join(names, ", ") }
