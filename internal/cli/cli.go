// Package cli is sysinit's command line: cobra commands, flags, the choice
// of view, and the one place where errors become messages, hints and exit
// codes. Everything below it is reached through plain Go calls.
//
// Output rules: what a command produces (a plan, a history, a run's view)
// goes to stdout; warnings and errors go to stderr prefixed "sysinit: ",
// lowercase, with hints on their own lines.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1   // a step failed, or `plan --exit-code` found work
	ExitUsage       = 2   // bad flags, arguments or config
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
}

// Main runs sysinit with args (without the program name) and returns the
// exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// sysinit lives for milliseconds on the no-change path; collecting
	// garbage less often there saves a few percent of the scan. GOGC, when
	// set, still rules.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
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
		Version:           version(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		Args:              refresh.Args,
		RunE:              refresh.RunE,
		ValidArgsFunction: refresh.ValidArgsFunction,
	}
	root.Flags().AddFlagSet(refresh.Flags())
	root.SetVersionTemplate("sysinit {{.Version}}\n")
	root.PersistentFlags().StringVarP(&a.dir, "directory", "C", "", "run as if started in `DIR`")
	root.PersistentFlags().StringVar(&a.configFile, "config", "", "use config `FILE` instead of finding sysinit.toml")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	root.AddCommand(refresh, a.newPlan(), a.newWhy(), a.newHistory(), a.newForget(), a.newMigrate(), a.newVersion(), a.newBench())
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
	case errors.As(err, &ce):
		for _, e := range ce {
			a.errorf("%v", e)
		}
		a.hint("nothing ran; fix the config and try again (docs/config.md lists every key)")
		return ExitUsage
	case errors.As(err, &se):
		a.errorf("%v", err)
		return ExitUsage
	case errors.As(err, &ue):
		code = ExitUsage
	case errors.As(err, &le):
		a.errorf("%v", err)
		a.hint("wait for it to finish, or run without --no-wait to wait for it")
		return ExitFailed
	case errors.Is(err, errNoHome):
		a.errorf("%v", err)
		a.hint("set HOME (or XDG_CACHE_HOME and XDG_STATE_HOME) to an absolute path; sysinit keeps its state and logs there")
		return ExitUsage
	case errors.Is(err, errNoConfig):
		a.errorf("%v", err)
		a.hint("create one (docs/config.md), or pass -C DIR or --config FILE")
		return ExitUsage
	}
	a.errorf("%v", err)
	return code
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
