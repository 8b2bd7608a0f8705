package bench

import (
	"fmt"
	"time"
)

// evaluateGoals holds the figures against the speed goals of the issues.
// A goal whose scenario was not measured is left out.
func evaluateGoals(r *Report, goTask bool) []Goal {
	var gs []Goal
	add := func(goal string, met bool, format string, a ...any) {
		gs = append(gs, Goal{Goal: goal, Met: met, Got: fmt.Sprintf(format, a...)})
	}
	for _, g := range r.Groups {
		size := thousands(g.Files) + " files"
		if s := g.Scenario(MultiHost); s != nil {
			if sys, whole := s.Tool(ToolSysinit), s.Tool(ToolSysinitWhole); sys != nil && whole != nil {
				add("multi-host: editing one host's module evaluates that host alone (3 → 1 with entry)", sys.Evaluations == 1 && whole.Evaluations == 3,
					"%g with entry (%s), %g without (%s)", sys.Evaluations, FormatDuration(sys.Wall.Median), whole.Evaluations, FormatDuration(whole.Wall.Median))
			}
			continue
		}
		if g.RealNix {
			if nc := g.Scenario(NoChange); nc != nil {
				if nb := nc.Tool(ToolNixBuild); nb != nil {
					add("real nix, no-change: ≥ 3× faster than `nix build` of the same flake", nb.Ratio >= 3,
						"%s vs %s: %s", FormatDuration(nc.Tools[0].Wall.Median), FormatDuration(nb.Wall.Median), FormatRatio(nb.Ratio))
				}
			}
			if c := g.Scenario(Cosmetic); c != nil && c.Overhead != nil {
				add("real nix, cosmetic: sysinit's own overhead < 50 ms", c.Overhead.Median < 50*time.Millisecond,
					"%s (total %s)", FormatDuration(c.Overhead.Median), FormatDuration(c.Tools[0].Wall.Median))
			}
			continue
		}
		if nc := g.Scenario(NoChange); nc != nil {
			sys := nc.Tools[0]
			if g.Files == 2000 {
				got := FormatDuration(sys.Wall.Median)
				if st := nc.Tool(ToolStart); st != nil {
					got += fmt.Sprintf(" (starting the binary alone: %s)", FormatDuration(st.Wall.Median))
				}
				add("no-change, 2,000 files: median < 10 ms", sys.Wall.Median < 10*time.Millisecond, "%s", got)
			}
			if fl := nc.Tool(ToolFloor); fl != nil && fl.Ratio > 0 {
				over := 1 / fl.Ratio
				add(fmt.Sprintf("no-change, %s: ≤ 1.25× the floor", size), over <= 1.25,
					"%.2f× (%s vs %s)", over, FormatDuration(sys.Wall.Median), FormatDuration(fl.Wall.Median))
			}
			if gt := nc.Tool(ToolGoTask); goTask && gt != nil && g.Files == 2000 {
				add("no-change, 2,000 files: ≥ 6× faster than go-task's checksum run", gt.Ratio >= 6,
					"%s (go-task %s)", FormatRatio(gt.Ratio), FormatDuration(gt.Wall.Median))
			}
			if old := nc.Tool(ToolOld); old != nil {
				ratio, at := old.ProjectedRatio, "at the default latencies"
				if !r.projects() {
					ratio = old.Ratio
				}
				add(fmt.Sprintf("no-change, %s: ≥ 1000× faster than the old refresh %s", size, at), ratio >= 1000,
					"%s (old refresh %s)", FormatRatio(ratio), FormatDuration(old.Projected.Median))
			}
			add(fmt.Sprintf("no-change, %s: no brew (nor any manager) process starts", size), nc.Launched == "nothing",
				"%s", nc.Launched)
		}
		for _, name := range []string{Cosmetic, Incremental} {
			if s := g.Scenario(name); s != nil && s.Overhead != nil {
				add(fmt.Sprintf("%s, %s: sysinit's own overhead < 50 ms", name, size), s.Overhead.Median < 50*time.Millisecond,
					"%s (total %s)", FormatDuration(s.Overhead.Median), FormatDuration(s.Tools[0].Wall.Median))
			}
		}
		if f := g.Scenario(Full); f != nil && f.CriticalPath != nil {
			eff, at := f.Efficiency, ""
			if f.ProjectedEfficiency > 0 {
				// Judged where the goal is set, at the default latencies;
				// the measured figure is shown beside it.
				eff, at = f.ProjectedEfficiency, " at the default latencies"
			}
			add(fmt.Sprintf("full, %s: parallel efficiency ≥ 0.95%s", size, at), eff >= 0.95,
				"%.3f (measured at scale %g: %.3f, critical path %s, wall %s)", eff, r.Scale, f.Efficiency, FormatDuration(f.CriticalPath.Median), FormatDuration(f.Tools[0].Wall.Median))
			if old := f.Tool(ToolOld); old != nil {
				ratio := old.ProjectedRatio
				if !r.projects() {
					ratio = old.Ratio
				}
				add(fmt.Sprintf("full, %s: ≥ 2× faster than the old refresh at the default latencies", size), ratio >= 2,
					"%s (%s vs %s)", FormatRatio(ratio), FormatDuration(f.Tools[0].Projected.Median), FormatDuration(old.Projected.Median))
			}
		}
	}
	return gs
}
