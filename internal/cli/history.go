package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
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
	Name       string        `json:"name"`
	Status     string        `json:"status"`
	Reasons    []plan.Reason `json:"reasons"`
	Detail     string        `json:"detail,omitempty"` // blocked, interrupted; or a run recorded without reasons
	Error      string        `json:"error,omitempty"`  // failed
	DurationMS float64       `json:"duration_ms"`
}

// jsonRunStepOf words a recorded step as the refresh --json step-end does.
func jsonRunStepOf(s state.RunStep) jsonRunStep {
	js := jsonRunStep{Name: s.Name, Status: s.Status, Reasons: []plan.Reason{}, DurationMS: ui.Millis(s.Duration)}
	for _, r := range s.Reasons {
		js.Reasons = append(js.Reasons, plan.Reason{Kind: plan.ReasonKind(r.Kind), Detail: r.Detail})
	}
	switch {
	case s.Status == string(runner.StatusFailed):
		js.Error = s.Reason
	case len(js.Reasons) == 0 || s.Status == string(runner.StatusBlocked) || s.Status == string(runner.StatusInterrupted):
		js.Detail = s.Reason
	}
	return js
}

// historyOf is what the history keeps of a run: each step's outcome, with
// the reasons of the decision it ran (or was skipped) under.
func historyOf(id, cmd string, res *runner.Result, book *decisions) state.Run {
	r := state.Run{ID: id, Command: cmd, Start: time.Now().Add(-res.Summary.Wall), Wall: res.Summary.Wall, Interrupted: res.Summary.Interrupted}
	for _, s := range res.Steps {
		rs := state.RunStep{Name: s.Name, Status: string(s.Status), Reason: s.Reason, Duration: s.Duration, End: s.Ended}
		for _, why := range book.reasons(s.Name) {
			rs.Reasons = append(rs.Reasons, state.RunReason{Kind: string(why.Kind), Detail: why.Detail})
		}
		r.Steps = append(r.Steps, rs)
	}
	return r
}

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
	sp, id, err := a.storePath(path, !readOnly)
	if err != nil {
		return nil, "", err
	}
	st, err := state.Open(sp, a.storeOptions(readOnly, id))
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
			jr := jsonRun{ID: r.ID, Command: r.Command, Start: r.Start, WallMS: ui.Millis(r.Wall), Interrupted: r.Interrupted, Steps: []jsonRunStep{}}
			for _, s := range r.Steps {
				jr.Steps = append(jr.Steps, jsonRunStepOf(s))
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
		if r.Command != "" && r.Command != "refresh" {
			status = r.Command // sysinit rollback: its step says how it went
		}
		if r.Interrupted {
			status += ", interrupted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", clock(r.Start), r.ID, ui.Duration(r.Wall), status)
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
	var resolved []string
	for _, n := range names {
		// A step with `hosts` stands for all its (step, host) pairs.
		pairs := cfg.Resolve(n)
		if len(pairs) == 0 {
			return plan.Unknown(cfg, n)
		}
		resolved = append(resolved, pairs...)
	}
	names = resolved
	sp, id, err := a.storePath(a.givenConfig, true)
	if err != nil {
		return err
	}
	lock, err := state.Acquire(sp, true, func(h state.Holder) { a.warn(waitingFor(h)) })
	if err != nil {
		return err
	}
	defer lock.Release()
	if err := a.adoptLegacyStore(a.givenConfig, sp); err != nil {
		a.warn(err.Error())
	}
	st, err := state.Open(sp, a.storeOptions(false, id))
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
