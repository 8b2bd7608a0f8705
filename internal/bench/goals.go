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
		if g.Fleet > 0 {
			if fs := g.Scenario(Fleet); fs != nil {
				if old := fs.Tool(ToolOld); old != nil {
					ratio, at := old.ProjectedRatio, " at the default latencies"
					if !r.projects() {
						ratio, at = old.Ratio, ""
					}
					add(fmt.Sprintf("fleet of %d, no-change: ≥ %d× faster than refreshing host by host%s (one connection and one probe per machine, all at once)", g.Fleet, g.Fleet, at),
						ratio >= float64(g.Fleet), "%s (host by host %s)", FormatRatio(ratio), FormatDuration(old.Projected.Median))
				}
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
		// A real change costs one evaluation: no slower than the gates
		// that rebuild on a checksum (issue 13).
		if s := g.Scenario(Incremental); s != nil {
			for _, tool := range []string{ToolGoTask, ToolSnippet} {
				if t := s.Tool(tool); t != nil {
					ratio := r.ratio(t)
					add(fmt.Sprintf("incremental, %s: no slower than %s%s", size, tool, r.at()), ratio >= 1,
						"%s (%s vs %s)", FormatRatio(ratio), FormatDuration(r.median(s.Tools[0])), FormatDuration(r.median(*t)))
				}
			}
		}
		// A revert costs no evaluation: the profile and activation, and
		// sysinit's own time (every run that evaluated was refused).
		if s := g.Scenario(Revert); s != nil && s.Overhead != nil {
			add(fmt.Sprintf("revert, %s: no evaluation, sysinit's own overhead < 50 ms", size), s.Overhead.Median < 50*time.Millisecond,
				"%s (total %s%s; launched %s)", FormatDuration(s.Overhead.Median), FormatDuration(r.median(s.Tools[0])), r.at(), s.Launched)
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
				ratio := r.ratio(old)
				add(fmt.Sprintf("full, %s: ≥ 2.3× faster than the old refresh%s", size, r.at()), ratio >= 2.3,
					"%s (%s vs %s)", FormatRatio(ratio), FormatDuration(r.median(f.Tools[0])), FormatDuration(r.median(*old)))
			}
			if gt := f.Tool(ToolGoTask); gt != nil {
				ratio := r.ratio(gt)
				add(fmt.Sprintf("full, %s: no slower than go-task%s", size, r.at()), ratio >= 1,
					"%s (%s vs %s)", FormatRatio(ratio), FormatDuration(r.median(f.Tools[0])), FormatDuration(r.median(*gt)))
			}
		}
	}
	return gs
}

// ratio is t's time over sysinit's, at the default latencies when the
// report projects to them.
func (r *Report) ratio(t *ToolResult) float64 {
	if r.projects() {
		return t.ProjectedRatio
	}
	return t.Ratio
}

// median is t's median, at the default latencies when the report projects.
func (r *Report) median(t ToolResult) time.Duration {
	if r.projects() {
		return t.Projected.Median
	}
	return t.Wall.Median
}

// at says which latencies the figures of ratio and median are at.
func (r *Report) at() string {
	if r.projects() {
		return " at the default latencies"
	}
	return ""
}
