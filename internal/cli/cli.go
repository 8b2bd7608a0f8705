// Package cli is sysinit's command line: cobra commands, flags, the choice
// of view, and the one place where errors become messages, hints and exit
// codes. Everything below it is reached through plain Go calls.
//
// Output rules. stdout carries what a command produces, so that it can be
// piped, captured or thrown away: a plan, a why, a history, --json output
// (docs/json.md), and the summary line of a refresh ("sysinit: ran 2,
// skipped 5, failed 0, blocked 0 in 1.2s"). stderr carries everything a
// person must see even with stdout redirected: a refresh's progress lines,
// its heartbeats ("sysinit: system: still running after 1m00s (building
// 3/17: hello-2.12)"), each failure with its last lines and log path,
// notices, warnings and errors, prefixed "sysinit: ", lowercase, with hints
// on their own lines. So `sysinit >/dev/null` is quiet when all is well and
// still shows what failed and where its log is. On a terminal (stdout is a
// TTY) the live block draws the whole run there instead, summary included;
// it uses ASCII marks when the locale is not UTF-8. Under --json, config
// errors are a JSON object on stdout: {"errors": [{"file", "line",
// "message", "hint"}]}. Exit codes are listed below.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1   // a step failed, or `plan --exit-code` found work
	ExitUsage       = 2   // bad flags, arguments or config; an unknown command or step
	ExitLocked      = 3   // --no-wait, and another sysinit holds this repo's lock
	ExitInterrupted = 130 // SIGINT/SIGTERM
)

// Version is set at link time (-ldflags "-X .../cli.Version=v1.2.3");
// otherwise it comes from the module's build info.
var Version = ""

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error // nil: the command already said everything
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake in how sysinit was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usageArgs makes a wrong number of arguments a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
		}
		return nil
	}
}

// app is what every command shares: the streams, the environment and the
// global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	dir        string // -C
	configFile string // --config
	json       bool   // the command was given --json: errors are JSON too

	givenConfig string // the config file loaded, as found (before symlinks are resolved)

	// kill closes at a second interrupt: children still running are
	// killed at once. notices is where the first one is told.
	kill    <-chan struct{}
	notices atomic.Pointer[runner.Observer]
	// abrupt: the command runs no steps, so a signal ends sysinit at once
	// (see interrupts).
	abrupt atomic.Bool
}

// gentleStop are the commands that run steps or write where a cut would
// harm (migrate --write trims the Brewfile and writes the nix list: killed
// between them, packages would be declared nowhere): a signal cancels
// their context, and they stop their programs, record what ended and exit
// 130. The others end at the first signal.
var gentleStop = map[string]bool{
	"sysinit": true, "refresh": true, "build": true, "rollback": true, "clean": true,
	"bench": true, "__standin": true, step.InstallCommand: true, "migrate": true, "forget": true,
}

// Main runs sysinit with args (without the program name) and returns the
// exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == command.LifelineArg {
		// Started by sudo around a step's program: no flags, no config.
		return command.Lifeline(args[1:])
	}
	// sysinit lives for milliseconds on the no-change path; collecting
	// garbage less often there saves a few percent of the scan. GOGC, when
	// set, still rules.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	// Signals are caught before anything else, so that one arriving while
	// the config loads or the lock is awaited ends a refresh as one
	// arriving later would (exit 130, nothing recorded). Their notices go
	// to the view once steps may run.
	ctx, kill, stop := interrupts(context.Background(), func(msg string) {
		if obs := a.notices.Load(); obs != nil {
			(*obs).Event(runner.Event{Type: runner.EventNotice, Time: time.Now(), Line: msg})
		}
	}, a.abrupt.Load)
	defer stop()
	a.kill = kill
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return a.report(err)
}

func (a *app) newRoot() *cobra.Command {
	refresh := a.newRefresh()
	root := &cobra.Command{
		Use:   "sysinit [STEP...]",
		Short: "Refresh a declaratively configured machine, running only what changed",
		Long: `sysinit refreshes a machine configured from a repository — nix-darwin, NixOS or
home-manager flakes, a Brewfile, config files — running only the steps whose
inputs, definition or machine state changed, in parallel where they allow.

With no command, sysinit runs refresh.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          refresh.Args,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			a.json, _ = c.Flags().GetBool("json")
			if !gentleStop[c.Name()] {
				a.abrupt.Store(true)
				// A signal that came while the command line was read
				// found sysinit still gentle.
				if err := c.Context().Err(); err != nil {
					return err
				}
			}
			return nil
		},
		ValidArgsFunction:          refresh.ValidArgsFunction,
		SuggestionsMinimumDistance: 2,
	}
	root.RunE = func(c *cobra.Command, args []string) error {
		// `sysinit WORD…` is `sysinit refresh WORD…`: a WORD that is no
		// step but looks like a command was meant as the command.
		if err := a.mistypedCommand(root, args); err != nil {
			return err
		}
		return refresh.RunE(c, args)
	}
	root.Flags().AddFlagSet(refresh.Flags())
	root.SetVersionTemplate("sysinit {{.Version}}\n")
	root.PersistentFlags().StringVarP(&a.dir, "directory", "C", "", "run as if started in `DIR`")
	root.PersistentFlags().StringVar(&a.configFile, "config", "", "use config `FILE` instead of finding sysinit.toml")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// pflag quotes strconv's own words ("strconv.ParseInt: parsing
		// "abc": invalid syntax"); the value and the flag say enough.
		if i := strings.Index(err.Error(), ": strconv."); i > 0 {
			err = errors.New(err.Error()[:i] + ": not a number")
		}
		if hint := flagElsewhere(root, c, err); hint != "" {
			return usageError{fmt.Errorf("%w\n%s", err, hint)}
		}
		return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	root.SetHelpCommand(a.newHelp())
	root.AddCommand(refresh, a.newPlan(), a.newWhy(), a.newGraph(), a.newHistory(), a.newForget(), a.newMigrate(), a.newVersion(), a.newBench(), a.newInstallFile(), a.newInit(), a.newDoctor(), a.newBuild(), a.newRollback(), a.newClean(), a.newLogs())
	a.strictCompletion(root)
	return root
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (a *app) newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print sysinit's version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(a.stdout, "sysinit", version())
			return nil
		},
	}
}

// report turns the error a command returned into a message and an exit code.
func (a *app) report(err error) int {
	if err == nil {
		return ExitOK
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if xe.err != nil {
			a.errorf("%v", xe.err)
		}
		return xe.code
	}
	if errors.Is(err, context.Canceled) {
		a.errorf("interrupted")
		return ExitInterrupted
	}
	code := ExitFailed
	var ce config.Errors
	var ue usageError
	var se *plan.UnknownStepError
	var le *state.LockedError
	switch {
	case errors.As(err, &ce) && a.json:
		if err := writeJSONErrors(a.stdout, ce); err != nil {
			a.errorf("%v", err)
		}
		return ExitUsage
	case errors.As(err, &ce):
		for _, e := range ce {
			a.errorf("%v", e)
		}
		a.hint("nothing ran; fix the config and try again (`sysinit help config` lists every key)")
		return ExitUsage
	case errors.As(err, &se):
		a.errorf("%v", err)
		if near := closest(se.Name, se.Known); len(near) > 0 {
			a.hint("did you mean " + orList(near) + "?")
		}
		return ExitUsage
	case errors.As(err, &ue):
		code = ExitUsage
	case errors.As(err, &le):
		a.errorf("%v", err)
		a.hint("wait for it to finish, or run without --no-wait to wait for it")
		return ExitLocked
	case errors.Is(err, state.ErrNoHome):
		a.errorf("%v", err)
		a.hint("set HOME (or XDG_CACHE_HOME and XDG_STATE_HOME) to an absolute path; sysinit keeps its state and logs there")
		return ExitUsage
	case errors.Is(err, errNoConfig):
		a.errorf("%v", err)
		a.hint("create one (`sysinit init` writes one for this repo; `sysinit help config` lists every key), or pass -C DIR or --config FILE")
		return ExitUsage
	}
	a.errorf("%v", err)
	return code
}

// jsonConfigError is one config error under --json.
type jsonConfigError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// writeJSONErrors writes config errors as {"errors": [...]}, for a caller
// that asked for JSON and reads stdout.
func writeJSONErrors(w io.Writer, ce config.Errors) error {
	out := struct {
		Errors []jsonConfigError `json:"errors"`
	}{Errors: []jsonConfigError{}}
	for _, e := range ce {
		out.Errors = append(out.Errors, jsonConfigError{File: e.Pos.File, Line: e.Pos.Line, Message: e.Msg, Hint: e.Hint})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the config errors: %w", err)
	}
	return nil
}

func (a *app) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for i, line := range strings.Split(msg, "\n") {
		if i == 0 {
			fmt.Fprintln(a.stderr, "sysinit: "+line)
		} else {
			fmt.Fprintln(a.stderr, "  "+line)
		}
	}
}

func (a *app) warn(msg string) { fmt.Fprintln(a.stderr, "sysinit: warning: "+msg) }

func (a *app) hint(msg string) { fmt.Fprintln(a.stderr, "sysinit: hint: "+msg) }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
