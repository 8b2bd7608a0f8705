package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/step"
)

type planOptions struct {
	json, exitCode bool
}

func (a *app) newPlan() *cobra.Command {
	o := &planOptions{}
	c := &cobra.Command{
		Use:               "plan [STEP...]",
		Short:             "Show what a refresh would run and why; runs and writes nothing",
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPlan(cmd.Context(), o, args, false, false)
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print the plan as JSON")
	c.Flags().BoolVar(&o.exitCode, "exit-code", false, "exit 1 when any step would run")
	return c
}

// jsonPlan is the stable `plan --json` contract.
type jsonPlan struct {
	Steps []jsonStep `json:"steps"`
}

type jsonStep struct {
	Name    string        `json:"name"`
	Action  string        `json:"action"` // run | skip | fail (its tool is missing)
	Reasons []plan.Reason `json:"reasons"`
	Recheck bool          `json:"recheck,omitempty"`
	// Intent: what the run will do, for a step whose work depends on
	// whether it is due (flake-update: lock, or move the pins).
	Intent string   `json:"intent,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	// Warnings: an input pattern that selects no file, say.
	Warnings []string `json:"warnings,omitempty"`
	// LastRun: the step's last run did not succeed (failed, interrupted)
	// or it was rolled back since.
	LastRun *jsonLastRun `json:"last_run,omitempty"`
}

// jsonLastRun is a lastRun under --json.
type jsonLastRun struct {
	Run     string    `json:"run"`
	Command string    `json:"command"`
	Time    time.Time `json:"time"`
	Status  string    `json:"status"`
	Detail  string    `json:"detail"`
	Log     string    `json:"log,omitempty"`
}

func (a *app) runPlan(ctx context.Context, o *planOptions, args []string, force, update bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := a.open(true)
	if err != nil {
		return err
	}
	defer s.close()
	s.planner.Only, s.planner.Force, s.planner.Update = args, force, update
	p, err := s.plan(ctx)
	if err != nil {
		return err
	}
	news := a.lastRuns(s, p.Steps)
	if o.json {
		out := jsonPlan{Steps: []jsonStep{}}
		for _, d := range p.Steps {
			js := jsonStep{Name: d.Name, Action: "skip", Reasons: d.Reasons, Recheck: d.Recheck, Intent: d.Intent(), Notes: advice(d), Warnings: d.Warnings}
			if lr, ok := news[d.Name]; ok {
				js.LastRun = &jsonLastRun{Run: lr.RunID, Command: lr.Command, Time: lr.Time, Status: lr.Status, Detail: lr.Detail, Log: lr.Log}
			}
			switch {
			case d.Missing() != "":
				js.Action = "fail"
			case d.Run:
				js.Action = "run"
			}
			out.Steps = append(out.Steps, js)
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printPlan(a.stdout, p, news)
	}
	if o.exitCode && p.WillRun() {
		return &exitError{code: ExitFailed}
	}
	return nil
}

// maxFiles is how many changed files plan lists per step; why lists all.
const maxFiles = 10

// lastRuns is lastRuns for the steps of ds that will run: for a step
// the plan skips, what it last did is moot (the machine is as its last
// success left it). What cannot be read is a warning, not a failure of
// the command that shows it.
func (a *app) lastRuns(s *session, ds []*plan.Decision) map[string]lastRun {
	var names []string
	for _, d := range ds {
		if d.Run && d.Applicable() {
			names = append(names, d.Name)
		}
	}
	logs, err := a.logsDir()
	if err != nil {
		logs = ""
	}
	news, err := lastRuns(s.store, logs, names, s.records)
	if err != nil {
		a.warn("reading the history: " + err.Error())
	}
	return news
}

func printPlan(w io.Writer, p *plan.Plan, news map[string]lastRun) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var run, skip, na, fail int
	for _, d := range p.Steps {
		action := "skip"
		switch {
		case !d.Applicable():
			action = "n/a"
			na++
		case d.Missing() != "":
			action = "fail"
			fail++
		case d.Run:
			action = "run"
			run++
		default:
			skip++
		}
		for i, r := range d.Reasons {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", action, d.Name, reasonText(r))
			} else {
				fmt.Fprintf(tw, "\t\t%s\n", reasonText(r))
			}
			printFiles(tw, "\t\t  ", r.Files, maxFiles)
		}
		if d.Recheck {
			fmt.Fprintf(tw, "\t\t(checked again after %s runs)\n", strings.Join(d.Config.After, ", "))
		}
		if in := d.Intent(); in != "" {
			fmt.Fprintf(tw, "\t\tit %s\n", in)
		}
		for _, n := range advice(d) {
			fmt.Fprintf(tw, "\t\tnote: %s\n", n)
		}
		for _, w := range d.Warnings {
			fmt.Fprintf(tw, "\t\twarning: %s\n", w)
		}
		if lr, ok := news[d.Name]; ok {
			lr.print(tw, "\t\t")
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d to run, %d up to date", run, skip)
	if fail > 0 {
		fmt.Fprintf(w, ", %d will fail", fail)
	}
	if na > 0 {
		fmt.Fprintf(w, ", %d not applicable", na)
	}
	fmt.Fprintln(w)
}

// advice is what a step says about the setup, for plan and why only (it
// may read many files).
func advice(d *plan.Decision) []string {
	if a, ok := d.Step.(step.Advisor); ok && d.Applicable() {
		return a.Advice(d.Token)
	}
	return nil
}

func reasonText(r plan.Reason) string { return r.String() }

func printFiles(w io.Writer, indent string, files []plan.FileChange, max int) {
	for i, f := range files {
		if max > 0 && i == max {
			fmt.Fprintf(w, "%s… and %d more (sysinit why STEP lists them all)\n", indent, len(files)-max)
			return
		}
		if f.Note != "" {
			fmt.Fprintf(w, "%s%-8s  %s  (%s)\n", indent, f.Change, f.Path, f.Note)
			continue
		}
		fmt.Fprintf(w, "%s%-8s  %s\n", indent, f.Change, f.Path)
	}
}

func loadQuiet(path string) (*config.Config, error) { return config.Load(path, kinds.Decls()) }

// terminalWidth reports the width of w's terminal, rechecked on each call
// so the live view follows resizes.
func terminalWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
		return 80
	}
}

// terminalHeight reports the rows of w's terminal; 0 = unknown.
func terminalHeight(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if _, rows, err := term.GetSize(int(f.Fd())); err == nil {
				return rows
			}
		}
		return 0
	}
}
