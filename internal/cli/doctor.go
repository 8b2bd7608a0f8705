package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/doctor"
	"github.com/sysinit/sysinit/internal/kinds"
	"github.com/sysinit/sysinit/internal/state"
)

func (a *app) newDoctor() *cobra.Command {
	var asJSON bool
	var checks strings.Builder
	for _, c := range doctor.Checks {
		fmt.Fprintf(&checks, "  %-15s %s\n", c.Name, c.Doc)
	}
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the machine and the config for what makes refreshes slow or fail",
		Long: `doctor checks this machine and the config for what makes refreshes slow or
makes them fail, and prints each finding with its fix. It exits 0 when it
finds nothing, 1 otherwise. It runs nix --version, nix config show, sudo -n
true and nix eval (for the flake's configurations) at most once each, and
changes nothing.

Checks:
` + checks.String(),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDoctor(cmd.Context(), asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	return c
}

func (a *app) runDoctor(ctx context.Context, asJSON bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	in := &doctor.Input{}
	path, err := a.configPath()
	switch {
	case errors.Is(err, errNoConfig):
		dir := a.dir
		if dir == "" {
			if dir, err = os.Getwd(); err != nil {
				return fmt.Errorf("finding the working directory: %w", err)
			}
		}
		in.Dir = dir
	case err != nil:
		return err
	default:
		cfg, err := config.Load(path, kinds.Decls())
		if err != nil {
			return err
		}
		in.Config, in.Dir, in.Steps = cfg.File, cfg.Dir, doctor.FromConfig(cfg)
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "flake.nix")); err == nil {
		in.Flake = true
	}
	m := &doctor.Real{Ctx: ctx, Exec: command.Exec{Root: os.Geteuid() == 0}, Env: a.getenv}
	cache, err1 := state.BaseDir(a.getenv, "XDG_CACHE_HOME", ".cache")
	st, err2 := state.BaseDir(a.getenv, "XDG_STATE_HOME", ".local/state")
	m.BaseDirErr = errors.Join(err1, err2)
	if err1 == nil {
		m.CacheDir = filepath.Join(cache, "sysinit")
	}
	if err2 == nil {
		m.StateDir = filepath.Join(st, "sysinit")
	}
	in.M = m
	findings := doctor.Run(in)
	if asJSON {
		out := struct {
			Findings []doctor.Finding `json:"findings"`
			Checks   []string         `json:"checks"`
		}{Findings: append([]doctor.Finding{}, findings...)}
		for _, c := range doctor.Checks {
			out.Checks = append(out.Checks, c.Name)
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			head := f.Check
			if f.Step != "" {
				head += " (step " + f.Step + ")"
			}
			fmt.Fprintf(a.stdout, "%s: %s\n  fix: %s\n", head, f.Problem, f.Fix)
		}
		switch len(findings) {
		case 0:
			fmt.Fprintf(a.stdout, "sysinit doctor: no findings (%d checks)\n", len(doctor.Checks))
		case 1:
			fmt.Fprintln(a.stdout, "sysinit doctor: 1 finding")
		default:
			fmt.Fprintf(a.stdout, "sysinit doctor: %d findings\n", len(findings))
		}
	}
	if len(findings) > 0 {
		return &exitError{code: ExitFailed}
	}
	return nil
}
