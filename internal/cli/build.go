package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/step"
)

func (a *app) newBuild() *cobra.Command {
	return &cobra.Command{
		Use:   "build [STEP...]",
		Short: "Build the nix steps' configurations without switching, and show what would change",
		Long: `Build what the nix steps (nix-darwin, nixos, home-manager, nix-profile) would
apply, as you, without sudo: nothing is switched, activated or recorded. For
each, print the store path built and, against the active system, the closure
diff (nix store diff-closures) — as nh os build and darwin-rebuild build do.
With no STEP, every nix step that applies to this machine is built.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runBuild(cmd.Context(), args)
		},
	}
}

func (a *app) runBuild(ctx context.Context, names []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := a.open(true)
	if err != nil {
		return err
	}
	defer s.close()
	named, err := s.targets(names)
	if err != nil {
		return err
	}
	built, failed := 0, 0
	var elsewhere []string
	for _, name := range named {
		b, ok := s.steps[name].(step.Builder)
		if !ok {
			if len(names) > 0 {
				fmt.Fprintf(a.stdout, "%s: nothing to build (a %s step)\n", name, s.cfg.Step(name).Kind)
			}
			continue
		}
		if ok, why := s.planner.Applicable(name); !ok {
			if len(names) > 0 {
				fmt.Fprintf(a.stdout, "%s: not built: not applicable here (%s)\n", name, why)
			}
			elsewhere = append(elsewhere, notHere(s, name, why))
			continue
		}
		fmt.Fprintf(a.stderr, "sysinit: %s: building\n", name)
		res, err := b.Build(ctx, a.stderr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			a.errorf("%s: %v", name, err)
			failed++
			continue
		}
		built++
		printBuilt(a.stdout, name, res)
	}
	switch {
	case built+failed > 0 || len(names) > 0:
	case len(elsewhere) > 0:
		fmt.Fprintln(a.stdout, "nothing to build here: no nix step applies to this machine: "+strings.Join(elsewhere, ", "))
	default:
		fmt.Fprintln(a.stdout, "nothing to build: no step here builds with nix (nix-darwin, nixos, home-manager and nix-profile steps do)")
	}
	if failed > 0 {
		return &exitError{code: ExitFailed}
	}
	return nil
}

// printBuilt is build's product: the path, and what it changes.
func printBuilt(w io.Writer, name string, b step.Built) {
	fmt.Fprintf(w, "%s: %s\n", name, b.Path)
	switch {
	case b.Active == "":
		fmt.Fprintln(w, "  nothing is active yet to compare it with")
	case b.Active == b.Path:
		fmt.Fprintln(w, "  already the active system: a refresh would not switch")
	default:
		fmt.Fprintf(w, "  against the active %s:\n", b.Active)
		for _, l := range strings.Split(strings.TrimRight(b.Diff, "\n"), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		fmt.Fprintf(w, "  %s\n", b.Summary)
	}
}

// targets checks the step names given and returns them, or every step's
// when none is.
func (s *session) targets(names []string) ([]string, error) {
	for _, n := range names {
		if s.cfg.Step(n) == nil {
			return nil, &plan.UnknownStepError{Name: n, Known: configStepNames(s.cfg)}
		}
	}
	if len(names) > 0 {
		return names, nil
	}
	return configStepNames(s.cfg), nil
}

// notHere names a nix step that does not apply to this machine, its kind
// and why: "mac (nix-darwin: only for darwin; this is linux)". A config
// whose nix steps are all for other machines has nix steps all the same.
func notHere(s *session, name, why string) string {
	return fmt.Sprintf("%s (%s: %s)", name, s.cfg.Step(name).Kind, why)
}
