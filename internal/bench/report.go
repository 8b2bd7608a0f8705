package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one `sysinit bench` measured.
type Report struct {
	Version   string       `json:"version"`
	Date      time.Time    `json:"date"`
	Command   string       `json:"command"`
	Machine   Machine      `json:"machine"`
	Scale     float64      `json:"scale"`
	Runs      int          `json:"runs"`
	Warmup    int          `json:"warmup"`
	Latencies []LatencyRow `json:"latencies"`
	// LaunchGap is what starting one stand-in costs outside its own
	// timing (the wrapper script and process start), measured before the
	// first scenario. Own overheads are net of the gap measured beside
	// each of their runs (ScenarioResult.LaunchGap), as load drifts.
	LaunchGap   time.Duration `json:"launch_gap_ns"`
	Groups      []Group       `json:"groups"`
	Correctness []Correctness `json:"correctness,omitempty"`
	Goals       []Goal        `json:"goals"`
	Notes       []string      `json:"notes,omitempty"`
}

// Machine describes where the figures come from.
type Machine struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	CPU        string `json:"cpu"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Build      string `json:"build,omitempty"` // how the sysinit binary was linked
	Nix        string `json:"nix,omitempty"`
	GoTask     string `json:"go_task,omitempty"`
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
}

// Group is the scenarios measured on one repo: a generated repo of Files
// files with stand-in managers, or the real-nix flake.
type Group struct {
	Label     string           `json:"label"`
	Files     int              `json:"files"`
	RealNix   bool             `json:"real_nix,omitempty"`
	Fleet     int              `json:"fleet,omitempty"` // the fleet group: how many machines
	Scenarios []ScenarioResult `json:"scenarios"`
}

// ScenarioResult is one scenario: sysinit and each baseline, side by side.
type ScenarioResult struct {
	Name  string       `json:"name"`
	What  string       `json:"what"`
	Tools []ToolResult `json:"tools"` // sysinit first
	// Launched is what sysinit started in the scenario, e.g. "nix ×1".
	Launched string `json:"launched"`
	// Overhead is sysinit's own time: wall minus the manager work it
	// launched (cosmetic, incremental).
	Overhead *Stats `json:"overhead,omitempty"`
	// LaunchGap is what starting one stand-in cost, measured beside each
	// run whose Overhead is given: the overhead is net of it.
	LaunchGap *Stats `json:"launch_gap,omitempty"`
	// CriticalPath and Efficiency (critical path / wall, medians) for full.
	CriticalPath *Stats  `json:"critical_path,omitempty"`
	Efficiency   float64 `json:"efficiency,omitempty"`
	// ProjectedEfficiency is Efficiency with the latencies at scale 1:
	// sysinit's fixed costs (a cold scan of every file) weigh less there.
	ProjectedEfficiency float64 `json:"projected_efficiency,omitempty"`
	// Beside is, for brew-nix-darwin, how long the system and brew steps
	// each took: the wall is about the longer, not their sum.
	Beside *Beside `json:"beside,omitempty"`
}

// Beside is the durations of two steps that run at once.
type Beside struct {
	System Stats `json:"system"`
	Brew   Stats `json:"brew"`
}

// ToolResult is one tool's timings in a scenario.
type ToolResult struct {
	Tool string `json:"tool"`
	Wall Stats  `json:"wall"`
	// Projected is Wall with the latencies on the tool's critical path
	// taken back to scale 1 (the default latencies).
	Projected Stats `json:"projected"`
	// Ratio and ProjectedRatio are this tool's median over sysinit's.
	Ratio          float64 `json:"ratio"`
	ProjectedRatio float64 `json:"projected_ratio"`
	// Evaluations is the median number of nix evaluations per run, in
	// the scenarios that count them (multi-host).
	Evaluations float64 `json:"evaluations,omitempty"`
	Note        string  `json:"note,omitempty"`
}

// Correctness is whether each tool notices one kind of change.
type Correctness struct {
	Change   string    `json:"change"`
	Affects  string    `json:"affects"` // what a correct tool must redo
	Verdicts []Verdict `json:"verdicts"`
}

// Verdict is one tool's answer to a change.
type Verdict struct {
	Tool    string `json:"tool"`
	Noticed bool   `json:"noticed"`
}

// Goal is one of the speed goals the issues set, against the figures.
type Goal struct {
	Goal string `json:"goal"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// Scenario finds a scenario of a group.
func (g *Group) Scenario(name string) *ScenarioResult {
	for i := range g.Scenarios {
		if g.Scenarios[i].Name == name {
			return &g.Scenarios[i]
		}
	}
	return nil
}

// Tool finds a tool's result.
func (s *ScenarioResult) Tool(name string) *ToolResult {
	for i := range s.Tools {
		if s.Tools[i].Tool == name {
			return &s.Tools[i]
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

func writeJSON(w io.Writer, r any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// FormatDuration prints a duration with three significant digits in the
// unit that suits it: 812µs, 6.12ms, 1.20s, 117s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < 100*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

// FormatRatio prints a ratio: 1.04×, 23.5×, 1234×; "–" when unknown.
func FormatRatio(r float64) string {
	switch {
	case r <= 0 || math.IsNaN(r) || math.IsInf(r, 0):
		return "–"
	case r < 10:
		return fmt.Sprintf("%.2f×", r)
	case r < 100:
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.0f×", r)
}

func formatStats(s Stats) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", FormatDuration(s.Median), FormatDuration(s.Min), FormatDuration(s.Max))
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// projects reports whether the scale makes projections worth showing.
func (r *Report) projects() bool { return r.Scale != 1 }

// WriteText writes the tables for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "sysinit bench %s: %d runs after %d warm-up, latencies × %g; %d CPUs, %s",
		r.Version, r.Runs, r.Warmup, r.Scale, r.Machine.CPUs, r.Machine.CPU)
	if r.Machine.Build != "" {
		fmt.Fprintf(ew, "; built with %s", r.Machine.Build)
	}
	fmt.Fprintln(ew)
	for _, g := range r.Groups {
		fmt.Fprintf(ew, "\n%s\n", g.Label)
		proj := r.projects() && !g.RealNix
		// Fixed widths: every scenario's rows line up, and the line under
		// a scenario can run on without widening a column.
		row := func(cells ...string) {
			line := fmt.Sprintf("%-12s %-14s %8s %8s %8s %9s", cells[0], cells[1], cells[2], cells[3], cells[4], cells[5])
			if proj {
				line += fmt.Sprintf(" %11s %9s", cells[6], cells[7])
			}
			if note := cells[len(cells)-1]; note != "" {
				line += "  " + note
			}
			fmt.Fprintln(ew, strings.TrimRight(line, " "))
		}
		row("scenario", "tool", "median", "min", "max", "× sysinit", "at scale 1", "× sysinit", "")
		for _, s := range g.Scenarios {
			for i, t := range s.Tools {
				name := ""
				if i == 0 {
					name = s.Name
				}
				row(name, t.Tool, FormatDuration(t.Wall.Median), FormatDuration(t.Wall.Min), FormatDuration(t.Wall.Max), ratioCell(i, t.Ratio),
					projectedCell(t.Projected), ratioCell(i, t.ProjectedRatio), t.Note)
			}
			if x := scenarioExtra(s); x != "" {
				fmt.Fprintf(ew, "%13s%s\n", "", x)
			}
		}
	}
	if len(r.Correctness) > 0 {
		fmt.Fprintln(ew, "\nDoes each tool notice the change?")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		tools := correctnessTools(r.Correctness)
		fmt.Fprintf(tw, "change\t%s\t\n", strings.Join(tools, "\t"))
		for _, c := range r.Correctness {
			fmt.Fprintf(tw, "%s\t%s\t\n", c.Change, strings.Join(verdictCells(c, tools), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(ew, "\nGoals")
	for _, g := range r.Goals {
		mark := "met    "
		if !g.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(ew, "  %s  %s: %s\n", mark, g.Goal, g.Got)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(ew, "note: %s\n", n)
	}
	return ew.err
}

func projectedCell(s Stats) string {
	if s.N == 0 {
		return "–"
	}
	return FormatDuration(s.Median)
}

func ratioCell(i int, r float64) string {
	if i == 0 {
		return "1"
	}
	return FormatRatio(r)
}

// scenarioExtra is the line under a scenario's tools: overhead, critical
// path and parallel efficiency.
func scenarioExtra(s ScenarioResult) string {
	var parts []string
	if s.Launched != "" {
		parts = append(parts, "sysinit launched: "+s.Launched)
	}
	if s.Overhead != nil {
		o := "sysinit's own overhead " + formatStats(*s.Overhead)
		if s.LaunchGap != nil {
			o += " (net of " + FormatDuration(s.LaunchGap.Median) + " per stand-in started, measured beside each run)"
		}
		parts = append(parts, o)
	}
	if s.Beside != nil && len(s.Tools) > 0 {
		sys, brew := s.Beside.System.Median, s.Beside.Brew.Median
		parts = append(parts, fmt.Sprintf("system step %s, brew step %s beside it: wall %s against max %s and sum %s",
			FormatDuration(sys), FormatDuration(brew), FormatDuration(s.Tools[0].Wall.Median), FormatDuration(max(sys, brew)), FormatDuration(sys+brew)))
	}
	if s.CriticalPath != nil {
		p := fmt.Sprintf("critical path %s, parallel efficiency %.3f", FormatDuration(s.CriticalPath.Median), s.Efficiency)
		if s.ProjectedEfficiency > 0 {
			p += fmt.Sprintf(" (%.3f at scale 1)", s.ProjectedEfficiency)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func correctnessTools(cs []Correctness) []string {
	var tools []string
	seen := map[string]bool{}
	for _, c := range cs {
		for _, v := range c.Verdicts {
			if !seen[v.Tool] {
				seen[v.Tool] = true
				tools = append(tools, v.Tool)
			}
		}
	}
	return tools
}

func verdictCells(c Correctness, tools []string) []string {
	out := make([]string, len(tools))
	for i, t := range tools {
		out[i] = "–"
		for _, v := range c.Verdicts {
			if v.Tool == t {
				out[i] = "misses it"
				if v.Noticed {
					out[i] = "notices"
				}
			}
		}
	}
	return out
}

// WriteMarkdown writes the report as BENCHMARKS.md holds it.
func (r *Report) WriteMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	m := r.Machine
	fmt.Fprintf(ew, "Measured %s by `%s` (sysinit %s).\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Command, r.Version)
	fmt.Fprintf(ew, "| machine | |\n| --- | --- |\n")
	fmt.Fprintf(ew, "| CPU | %s, %d CPUs (%s/%s) |\n| kernel | %s |\n| Go | %s |\n", mdEscape(m.CPU), m.CPUs, m.OS, m.Arch, mdEscape(m.Kernel), m.Go)
	if m.Build != "" {
		fmt.Fprintf(ew, "| sysinit binary | %s |\n", mdEscape(m.Build))
	}
	if m.Nix != "" {
		fmt.Fprintf(ew, "| nix | %s |\n", mdEscape(m.Nix))
	}
	if m.GoTask != "" {
		fmt.Fprintf(ew, "| go-task | %s |\n", mdEscape(m.GoTask))
	}
	fmt.Fprintf(ew, "| load average | %s before, %s after |\n\n", m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(ew, "Each figure is the median (min–max) of %d runs after %d warm-up, each a whole process; tools run interleaved. Stand-in latencies × **%g**", r.Runs, r.Warmup, r.Scale)
	if r.projects() {
		fmt.Fprintf(ew, "; \"at scale 1\" puts the latencies on each tool's critical path back to the defaults")
	}
	fmt.Fprintf(ew, ".\n")
	for _, g := range r.Groups {
		fmt.Fprintf(ew, "\n### %s\n\n", g.Label)
		proj := r.projects() && !g.RealNix
		head := "| scenario | tool | median (min–max) | × sysinit |"
		sep := "| --- | --- | --- | --- |"
		if proj {
			head += " at scale 1 | × sysinit |"
			sep += " --- | --- |"
		}
		fmt.Fprintf(ew, "%s notes |\n%s --- |\n", head, sep)
		for _, s := range g.Scenarios {
			for i, t := range s.Tools {
				name := ""
				if i == 0 {
					name = "**" + s.Name + "**"
				}
				tool := t.Tool
				if i == 0 {
					tool = "**" + tool + "**"
				}
				fmt.Fprintf(ew, "| %s | %s | %s | %s |", name, tool, formatStats(t.Wall), ratioCell(i, t.Ratio))
				if proj {
					fmt.Fprintf(ew, " %s | %s |", projectedCell(t.Projected), ratioCell(i, t.ProjectedRatio))
				}
				note := t.Note
				if i == 0 {
					note = joinNonEmpty("; ", s.What, t.Note, scenarioExtra(s))
				}
				fmt.Fprintf(ew, " %s |\n", mdEscape(note))
			}
		}
	}
	if len(r.Correctness) > 0 {
		tools := correctnessTools(r.Correctness)
		fmt.Fprintf(ew, "\n### Does each tool notice the change?\n\n| change | must redo | %s |\n| --- | --- |%s\n", strings.Join(tools, " | "), strings.Repeat(" --- |", len(tools)))
		for _, c := range r.Correctness {
			fmt.Fprintf(ew, "| %s | %s | %s |\n", mdEscape(c.Change), mdEscape(c.Affects), strings.Join(verdictCells(c, tools), " | "))
		}
	}
	fmt.Fprintf(ew, "\n### Goals\n\n| goal | measured | |\n| --- | --- | --- |\n")
	for _, g := range r.Goals {
		mark := "met"
		if !g.Met {
			mark = "**not met**"
		}
		fmt.Fprintf(ew, "| %s | %s | %s |\n", mdEscape(g.Goal), mdEscape(g.Got), mark)
	}
	fmt.Fprintf(ew, "\n<details><summary>Stand-in latencies (default → used)</summary>\n\n| key | stands for | default | used |\n| --- | --- | --- | --- |\n")
	for _, l := range r.Latencies {
		fmt.Fprintf(ew, "| `%s` | %s | %s | %s |\n", l.Key, l.What, FormatDuration(l.Nominal), FormatDuration(l.Used))
	}
	fmt.Fprintf(ew, "\nStarting one stand-in cost %s outside its own timing at the start; sysinit's own overhead is net of what it cost beside each run.\n\n</details>\n", FormatDuration(r.LaunchGap))
	for _, n := range r.Notes {
		fmt.Fprintf(ew, "\n> %s\n", n)
	}
	return ew.err
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}
