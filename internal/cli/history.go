package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/ui"
)

func (a *app) newHistory() *cobra.Command {
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "history",
		Short: "Show past runs and how long each step took",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if limit < 1 {
				return usageError{fmt.Errorf("--limit=%d: must be at least 1", limit)}
			}
			return a.runHistory(asJSON, limit)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON")
	c.Flags().IntVarP(&limit, "limit", "n", 10, "show the last `N` runs (at least 1)")
	return c
}

// jsonRun is the `history --json` contract.
type jsonRun struct {
	ID          string        `json:"id"`
	Command     string        `json:"command"`
	Start       time.Time     `json:"start"`
	WallMS      float64       `json:"wall_ms"`
	Interrupted bool          `json:"interrupted"`
	Steps       []jsonRunStep `json:"steps"`
}

type jsonRunStep struct {
	Name       string  `json:"name"`
	Status     string  `json:"status"`
	Reason     string  `json:"reason,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// openStoreOnly opens the state store of the config without loading its
// steps, so history works even while the config is broken.
func (a *app) openStoreOnly(readOnly bool) (*state.Store, string, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, "", fmt.Errorf("reading config: %w", err)
	}
	sp, err := a.storePath(filepath.Dir(path))
	if err != nil {
		return nil, "", err
	}
	st, err := state.Open(sp, state.Options{ReadOnly: readOnly, Warn: a.warn})
	return st, path, err
}

func (a *app) runHistory(asJSON bool, limit int) error {
	st, _, err := a.openStoreOnly(true)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(limit)
	if err != nil {
		return err
	}
	if asJSON {
		out := []jsonRun{}
		for _, r := range runs {
			jr := jsonRun{ID: r.ID, Command: r.Command, Start: r.Start, WallMS: ms(r.Wall), Interrupted: r.Interrupted, Steps: []jsonRunStep{}}
			for _, s := range r.Steps {
				jr.Steps = append(jr.Steps, jsonRunStep{Name: s.Name, Status: s.Status, Reason: s.Reason, DurationMS: ms(s.Duration)})
			}
			out = append(out, jr)
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(runs) == 0 {
		fmt.Fprintln(a.stdout, "no runs recorded yet (runs where every step was up to date are not recorded)")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, r := range runs {
		var ran, failed, blocked int
		for _, s := range r.Steps {
			switch s.Status {
			case "done":
				ran++
			case "failed":
				failed++
			case "blocked":
				blocked++
			}
		}
		status := fmt.Sprintf("ran %d, failed %d, blocked %d", ran, failed, blocked)
		if r.Interrupted {
			status += ", interrupted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Start.Local().Format("2006-01-02 15:04:05"), r.ID, ui.Duration(r.Wall), status)
		for _, s := range r.Steps {
			if s.Status == "skipped" || s.Status == "not-applicable" {
				continue
			}
			fmt.Fprintf(tw, "\t  %s\t%s\t%s\n", s.Name, ui.Duration(s.Duration), s.Status)
		}
	}
	return tw.Flush()
}

func (a *app) newForget() *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "forget STEP...|--all",
		Short: "Drop what sysinit recorded for steps, so the next refresh runs them",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usageError{fmt.Errorf("pass step names or --all, not both")}
			case !all && len(args) == 0:
				return usageError{fmt.Errorf("name the steps to forget, or pass --all")}
			}
			return a.runForget(args, all)
		},
		ValidArgsFunction: a.completeSteps,
	}
	c.Flags().BoolVar(&all, "all", false, "forget every step")
	return c
}

func (a *app) runForget(names []string, all bool) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	for _, n := range names {
		if cfg.Step(n) == nil {
			return &plan.UnknownStepError{Name: n, Known: configStepNames(cfg)}
		}
	}
	sp, err := a.storePath(cfg.Dir)
	if err != nil {
		return err
	}
	lock, err := state.Acquire(sp, true, func(pid int) {
		a.warn(fmt.Sprintf("another sysinit (pid %d) is refreshing this repo; waiting for it to finish", pid))
	})
	if err != nil {
		return err
	}
	defer lock.Release()
	st, err := state.Open(sp, state.Options{Warn: a.warn})
	if err != nil {
		return err
	}
	defer st.Close()
	if all {
		if err := st.ForgetAll(); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "forgot every step; the next refresh runs them all")
		return nil
	}
	if err := st.Forget(names...); err != nil {
		return err
	}
	what := "it"
	if len(names) > 1 {
		what = "them"
	}
	fmt.Fprintf(a.stdout, "forgot %s; the next refresh runs %s where it applies\n", joinNames(names), what)
	return nil
}
