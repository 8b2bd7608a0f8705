package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

type rollbackOptions struct {
	to     int
	dryRun bool
}

func (a *app) newRollback() *cobra.Command {
	o := &rollbackOptions{}
	c := &cobra.Command{
		Use:   "rollback STEP",
		Short: "Make the previous generation of a nix step's profile active again",
		Long: `Roll a nix step (nix-darwin, nixos, home-manager, nix-profile) back to the
generation before the current one of its profile (or --to N), and activate it
as darwin-rebuild --rollback, nixos-rebuild switch --rollback and
home-manager switch --rollback do; with sudo where the step uses it.

The machine stays on that generation until the next refresh of the step,
which switches to the config again (sysinit plan says so): fix or revert the
config first if it is what broke.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.to < 0 {
				return usageError{fmt.Errorf("--to=%d: a generation number is 1 or more", o.to)}
			}
			return a.runRollback(cmd.Context(), args[0], o)
		},
	}
	c.Flags().IntVar(&o.to, "to", 0, "roll back to generation `N` instead of the previous one")
	c.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "say which generation it would go back to; change nothing")
	return c
}

func (a *app) runRollback(ctx context.Context, name string, o *rollbackOptions) error {
	outlastReaders()
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	cs := cfg.Step(name)
	if cs == nil {
		return &plan.UnknownStepError{Name: name, Known: configStepNames(cfg)}
	}
	if !o.dryRun {
		// A refresh must not switch the step while it rolls back, and the
		// history it writes is the refresh's too.
		sp, _, err := a.storePath(a.givenConfig, true)
		if err != nil {
			return err
		}
		lock, err := acquire(ctx, sp, true, func(h state.Holder) { a.warn(waitingFor(h)) })
		if err != nil {
			return err
		}
		defer lock.Release()
		if err := a.adoptLegacyStore(a.givenConfig, sp); err != nil {
			a.warn(err.Error())
		}
	}
	root := os.Geteuid() == 0
	s, err := a.openConfig(cfg, o.dryRun, command.Exec{Root: root, Kill: a.kill, Lifeline: lifeline()})
	if err != nil {
		return err
	}
	defer s.close()
	st := s.steps[name]
	rb, ok := st.(step.RollBacker)
	if !ok {
		return usageError{fmt.Errorf("%s is a %s step: it keeps no generations to roll back to (nix-darwin, nixos, home-manager and nix-profile steps do)", name, cs.Kind)}
	}
	if ok, why := s.planner.Applicable(name); !ok {
		return fmt.Errorf("%s does not apply here: %s", name, why)
	}
	rc := &step.RollbackContext{Out: a.stderr, To: o.to, DryRun: o.dryRun}
	if o.dryRun {
		res, err := rb.Rollback(ctx, rc)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s: would roll %s back from %s to %s\n", name, res.Profile, genText(res.From), genText(res.To))
		return nil
	}
	if e, ok := st.(step.Elevated); ok && e.NeedsSudo() {
		release, err := a.elevate(s.exec, root)(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("could not get root: %w", err)
		}
		defer release()
	}
	started := time.Now()
	res, err := rb.Rollback(ctx, rc)
	rs := state.RunStep{Name: name, Status: statusRolledBack, Duration: time.Since(started), End: time.Now()}
	if err == nil {
		rs.Reason = fmt.Sprintf("from generation %d to %d, %s", res.From.Number, res.To.Number, res.To.Path)
	} else {
		rs.Status, rs.Reason = "failed", err.Error()
	}
	if err != nil && res.Changed {
		// Neither the old generation nor the new is surely what runs: the
		// next refresh must apply the config whatever the probe says.
		if ferr := s.store.Forget(name); ferr != nil {
			a.warn("the next refresh may not apply the config again: " + ferr.Error())
		}
	}
	run := state.Run{ID: runID(started), Command: "rollback", Start: started, Wall: time.Since(started), Interrupted: ctx.Err() != nil, Steps: []state.RunStep{rs}}
	if herr := s.store.AddRun(run); herr != nil {
		a.warn("recording the rollback in history: " + herr.Error())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		if res.Changed {
			return fmt.Errorf("rolling back %s: %w\nthe next refresh applies the config again", name, err)
		}
		return fmt.Errorf("rolling back %s: %w", name, err)
	}
	printRolledBack(a.stdout, name, res)
	return nil
}

func printRolledBack(w io.Writer, name string, res step.RolledBack) {
	fmt.Fprintf(w, "%s: rolled back from %s to %s\n", name, genText(res.From), genText(res.To))
	fmt.Fprintf(w, "the next refresh of %s switches to the config again (sysinit plan shows it); fix or revert the config first if it is what broke\n", name)
}

// genText names a generation for people: "generation 4 (2026-06-01 10:02, /nix/store/…)".
func genText(g step.Generation) string {
	return fmt.Sprintf("generation %d (%s, %s)", g.Number, g.Time.Local().Format("2006-01-02 15:04"), g.Path)
}
