package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// The defaults are those the NixOS module of nh gives its scheduled
// `nh clean` (programs.nh.clean.extraArgs = "--keep-since 4d --keep 3"),
// kinder to a rollback than nh's own command-line defaults (--keep 1,
// --keep-since 0h).
const (
	defaultKeep      = 3
	defaultKeepSince = "4d"
)

type cleanOptions struct {
	keep      int
	keepSince string
	dryRun    bool
	gc        bool
}

func (a *app) newClean() *cobra.Command {
	o := &cleanOptions{}
	c := &cobra.Command{
		Use:   "clean [STEP...]",
		Short: "Delete old generations of the nix steps' profiles; with --gc, collect the store's garbage",
		Long: `Delete the old generations of the profiles the nix steps set (nix-darwin,
nixos, home-manager, nix-profile), as nh clean does: a generation is kept when
it is among the newest --keep, or younger than --keep-since; the current one
is always kept. Deleting goes through nix-env, with sudo for profiles a step
sets with sudo. --gc then runs nix store gc, which frees what no generation
holds any more. With no STEP, every nix step that applies here is cleaned.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			since, err := config.ParseDuration(o.keepSince)
			switch {
			case err != nil:
				return usageError{fmt.Errorf("--keep-since=%s: %w (write it like 4d, 36h or 1d12h)", o.keepSince, err)}
			case since < 0:
				return usageError{fmt.Errorf("--keep-since=%s: must be 0 or more", o.keepSince)}
			case o.keep < 0:
				return usageError{fmt.Errorf("--keep=%d: must be 0 or more (the current generation is always kept)", o.keep)}
			}
			return a.runClean(cmd.Context(), args, o, since)
		},
	}
	f := c.Flags()
	f.IntVarP(&o.keep, "keep", "k", defaultKeep, "keep at least the newest `N` generations")
	f.StringVarP(&o.keepSince, "keep-since", "K", defaultKeepSince, "keep the generations younger than `DURATION` (4d, 36h)")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "show what would be deleted; delete nothing")
	f.BoolVar(&o.gc, "gc", false, "then run nix store gc (with --dry-run: nix store gc --dry-run)")
	return c
}

// profileClean is one profile to clean and the steps that set it.
type profileClean struct {
	steps   []string
	cleaner step.Cleaner
	profile string
	sudo    bool
	gens    []step.Generation
	expired []step.Generation
}

func (a *app) runClean(ctx context.Context, names []string, o *cleanOptions, keepSince time.Duration) error {
	outlastReaders()
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if !o.dryRun {
		sp, _, err := a.storePath(a.givenConfig, true)
		if err != nil {
			return err
		}
		// A refresh must not make a generation while this one deletes.
		lock, err := acquire(ctx, sp, true, func(h state.Holder) { a.warn(waitingFor(h)) })
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	root := os.Geteuid() == 0
	s, err := a.openConfig(cfg, true, command.Exec{Root: root, Kill: a.kill, Lifeline: lifeline()})
	if err != nil {
		return err
	}
	defer s.close()
	named, err := s.targets(names)
	if err != nil {
		return err
	}
	var profiles []*profileClean
	byProfile := map[string]*profileClean{}
	var elsewhere []string
	for _, name := range named {
		c, ok := s.steps[name].(step.Cleaner)
		if !ok {
			if len(names) > 0 {
				fmt.Fprintf(a.stdout, "%s: nothing to clean (a %s step)\n", name, s.cfg.Step(name).Kind)
			}
			continue
		}
		if ok, why := s.planner.Applicable(name); !ok {
			if len(names) > 0 {
				fmt.Fprintf(a.stdout, "%s: not cleaned: not applicable here (%s)\n", name, why)
			}
			elsewhere = append(elsewhere, notHere(s, name, why))
			continue
		}
		profile, err := c.Profile()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		pc := byProfile[profile]
		if pc == nil {
			pc = &profileClean{cleaner: c, profile: profile}
			byProfile[profile] = pc
			profiles = append(profiles, pc)
		}
		pc.steps = append(pc.steps, name)
		if e, ok := s.steps[name].(step.Elevated); ok && e.NeedsSudo() {
			pc.sudo = true
		}
	}
	if len(profiles) == 0 && len(elsewhere) > 0 {
		// Named steps were each told of above.
		if len(names) == 0 {
			fmt.Fprintln(a.stdout, "nothing to clean here: no nix step applies to this machine: "+strings.Join(elsewhere, ", "))
		}
		return nil
	}
	if len(profiles) == 0 {
		fmt.Fprintln(a.stdout, "nothing to clean: no step here keeps generations (nix-darwin, nixos, home-manager and nix-profile steps do)")
		return nil
	}
	now := time.Now()
	needSudo, deleting := false, 0
	for _, pc := range profiles {
		if pc.gens, err = pc.cleaner.Generations(); err != nil {
			return err
		}
		pc.expired = step.Expired(pc.gens, o.keep, keepSince, now)
		deleting += len(pc.expired)
		needSudo = needSudo || pc.sudo && len(pc.expired) > 0
		a.printGenerations(pc, o)
	}
	if o.dryRun {
		fmt.Fprintf(a.stdout, "would delete %d generation%s\n", deleting, plural(deleting))
	} else if deleting > 0 {
		if needSudo {
			release, err := a.elevate(s.exec, root)(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return fmt.Errorf("could not get root: %w", err)
			}
			defer release()
		}
		deleted := 0
		for _, pc := range profiles {
			var nums []int
			for _, g := range pc.expired {
				nums = append(nums, g.Number)
			}
			if err := pc.cleaner.DeleteGenerations(ctx, a.stderr, nums); err != nil {
				return fmt.Errorf("cleaning %s: %w", pc.profile, err)
			}
			deleted += len(nums)
		}
		fmt.Fprintf(a.stdout, "deleted %d generation%s\n", deleted, plural(deleted))
	} else {
		fmt.Fprintln(a.stdout, "nothing to delete")
	}
	if o.gc {
		fmt.Fprintln(a.stderr, "sysinit: collecting the store's garbage")
		if err := profiles[0].cleaner.CollectGarbage(ctx, a.stderr, o.dryRun); err != nil {
			return err
		}
	} else if deleting > 0 && !o.dryRun {
		fmt.Fprintln(a.stdout, "what they held stays in the store until `nix store gc` (or sysinit clean --gc) runs")
	}
	return nil
}

// printGenerations lists a profile's generations with what becomes of each.
func (a *app) printGenerations(pc *profileClean, o *cleanOptions) {
	fmt.Fprintf(a.stdout, "%s (%s)\n", pc.profile, strings.Join(pc.steps, ", "))
	if len(pc.gens) == 0 {
		fmt.Fprintln(a.stdout, "  no generations")
		return
	}
	expired := map[int]bool{}
	for _, g := range pc.expired {
		expired[g.Number] = true
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	newest := 0
	for i := len(pc.gens) - 1; i >= 0; i-- {
		g := pc.gens[i]
		action, why := "keep", ""
		switch {
		case expired[g.Number]:
			action = "delete"
			why = fmt.Sprintf("older than %s, not among the newest %d", o.keepSince, o.keep)
		case g.Current:
			why = "current"
		case newest < o.keep:
			why = fmt.Sprintf("among the newest %d", o.keep)
		default:
			why = "younger than " + o.keepSince
		}
		newest++
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", action, g.Number, g.Time.Local().Format("2006-01-02 15:04"), why)
	}
	tw.Flush()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
