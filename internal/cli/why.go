package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/ui"
)

func (a *app) newWhy() *cobra.Command {
	return &cobra.Command{
		Use:               "why STEP",
		Short:             "Explain a step's decision: every file and setting that changed since its last success",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runWhy(cmd.Context(), args[0])
		},
	}
}

func (a *app) runWhy(ctx context.Context, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := a.open(true)
	if err != nil {
		return err
	}
	defer s.close()
	if pairs := s.cfg.Pairs(name); len(pairs) > 0 {
		return usageError{fmt.Errorf("step %q runs on several machines; name one: %s", name, joinNames(pairs))}
	}
	if strings.HasPrefix(name, "@") {
		// @HOST explains the one step on a host, or asks which.
		switch on := s.cfg.Resolve(name); len(on) {
		case 0:
			return plan.Unknown(s.cfg, name)
		case 1:
			name = on[0]
		default:
			return usageError{fmt.Errorf("%s has several steps; name one: %s", name, joinNames(on))}
		}
	}
	if s.cfg.Step(name) == nil {
		return &plan.UnknownStepError{Name: name, Known: configStepNames(s.cfg)}
	}
	s.planner.Only = []string{name}
	p, err := s.plan(ctx)
	if err != nil {
		return err
	}
	d := p.Decision(name)
	w := a.stdout
	verdict := "up to date: a refresh skips it"
	switch {
	case !d.Applicable():
		verdict = "not applicable here"
	case d.Run:
		verdict = "a refresh runs it"
	}
	fmt.Fprintf(w, "%s: %s\n", name, verdict)
	if rec, ok := s.records[name]; ok {
		fmt.Fprintf(w, "  last success: %s (run %s, took %s)\n", clock(rec.Started), rec.RunID, ui.Duration(rec.Duration))
	}
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "  %s\n", reasonText(r))
		if c, ok := d.Step.(inputChainer); ok && r.Kind == plan.InputsChanged {
			printChains(w, "    ", r.Files, c)
		} else {
			printFiles(w, "    ", r.Files, 0)
		}
		if r.Kind == plan.DefinitionChanged {
			printDefinitionDiff(w, s.records[name].Definition, d.Definition)
		}
		if r.Kind == plan.BuiltBefore && d.Reuse != nil {
			fmt.Fprintf(w, "    goes back to %s (run %s, %s) without doing the work again\n", d.Reuse.Token, d.Reuse.RunID, clock(d.Reuse.Started))
		}
	}
	if d.Recheck {
		fmt.Fprintf(w, "  checked again after %s runs\n", strings.Join(d.Config.After, ", "))
	}
	if in := d.Intent(); in != "" {
		fmt.Fprintf(w, "  a refresh now %s\n", in)
	}
	if un := s.planner.Unlisted(d); len(un) > 0 {
		fmt.Fprintf(w, "  inputs it runs without listing them:\n")
		for _, f := range slices.Sorted(maps.Keys(un)) {
			fmt.Fprintf(w, "    %s  (%s)\n", f, un[f])
		}
	}
	for _, n := range advice(d) {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, warning := range d.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
	if lr, ok := a.lastRuns(s, []*plan.Decision{d})[name]; ok {
		lr.print(w, "  ")
	}
	return nil
}

// printDefinitionDiff shows the definition lines that differ. Env values
// may be secrets, so for env only the names are shown.
func printDefinitionDiff(w io.Writer, old, cur []string) {
	oldEnv, curEnv := envOf(old), envOf(cur)
	for _, l := range old {
		if !slices.Contains(cur, l) && !strings.HasPrefix(l, "env=") {
			fmt.Fprintf(w, "    - %s\n", l)
		}
	}
	for _, l := range cur {
		if !slices.Contains(old, l) && !strings.HasPrefix(l, "env=") {
			fmt.Fprintf(w, "    + %s\n", l)
		}
	}
	var names []string
	for k := range oldEnv {
		names = append(names, k)
	}
	for k := range curEnv {
		if _, ok := oldEnv[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		o, inOld := oldEnv[k]
		c, inCur := curEnv[k]
		switch {
		case !inOld:
			fmt.Fprintf(w, "    + env %s\n", k)
		case !inCur:
			fmt.Fprintf(w, "    - env %s\n", k)
		case o != c:
			fmt.Fprintf(w, "    ~ env %s (value changed)\n", k)
		}
	}
}

// envOf maps the env names of definition lines to their values.
func envOf(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		if kv, ok := strings.CutPrefix(l, "env="); ok {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	}
	return m
}
