package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0"},
		{812 * time.Microsecond, "812µs"},
		{6123 * time.Microsecond, "6.12ms"},
		{61230 * time.Microsecond, "61.2ms"},
		{612 * time.Millisecond, "612ms"},
		{1200 * time.Millisecond, "1.20s"},
		{11700 * time.Millisecond, "11.7s"},
		{117 * time.Second, "117s"},
		{-3 * time.Millisecond, "-3.00ms"},
	} {
		if got := FormatDuration(tc.in); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "–"}, {-1, "–"}, {1.04, "1.04×"}, {23.46, "23.5×"}, {20714.4, "20714×"},
	} {
		if got := FormatRatio(tc.in); got != tc.want {
			t.Errorf("FormatRatio(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecadeLabel(t *testing.T) {
	for e, want := range map[int]string{-7: "1e-07s", -6: "1µs", -4: "100µs", -3: "1ms", -1: "100ms", 0: "1s", 2: "100s", 3: "1000s"} {
		if got := decadeLabel(e); got != want {
			t.Errorf("decadeLabel(%d) = %q, want %q", e, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[int]string{7: "7", 200: "200", 2000: "2,000", 20000: "20,000", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

func st(ms ...int) Stats {
	var ds []time.Duration
	for _, m := range ms {
		ds = append(ds, time.Duration(m)*time.Millisecond)
	}
	return NewStats(ds)
}

// sampleReport is a small report with every kind of row.
func sampleReport() *Report {
	over := st(8, 9, 10)
	crit := st(1700, 1710, 1720)
	r := &Report{
		Version: "v0.test", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Command: "sysinit bench --runs 3",
		Machine: Machine{OS: "linux", Arch: "amd64", CPUs: 2, CPU: "Test CPU", Kernel: "Linux 6.1", Go: "go1.26", LoadBefore: "0.1 0.2 0.3", LoadAfter: "0.4 0.5 0.6"},
		Scale:   0.01, Runs: 3, Warmup: 1, Latencies: DefaultLatencies().Rows(0.01), LaunchGap: 5 * time.Millisecond,
		Groups: []Group{{Label: "2,000 files, stand-in managers", Files: 2000, Scenarios: []ScenarioResult{
			{Name: NoChange, What: "nothing changed", Launched: "nothing", Tools: []ToolResult{
				{Tool: ToolSysinit, Wall: st(5, 6, 7), Projected: st(5, 6, 7)},
				{Tool: ToolOld, Wall: st(1200, 1210, 1220), Projected: st(117000), Ratio: 201.7, ProjectedRatio: 19500},
				{Tool: ToolFloor, Wall: st(5, 5, 6), Projected: st(5, 5, 6), Ratio: 0.83, ProjectedRatio: 0.83, Note: "stats every file | decides nothing"},
			}},
			{Name: Cosmetic, What: "a comment", Launched: "nix ×1 per run", Overhead: &over, Tools: []ToolResult{
				{Tool: ToolSysinit, Wall: st(80, 81, 82), Projected: st(6000)},
				{Tool: ToolOld, Wall: st(1250), Projected: st(119000), Ratio: 15.4, ProjectedRatio: 19.8},
			}},
			{Name: Full, What: "cold", Launched: "brew ×3", CriticalPath: &crit, Efficiency: 0.99, Tools: []ToolResult{
				{Tool: ToolSysinit, Wall: st(1760), Projected: st(166000)},
				{Tool: ToolOld, Wall: st(3500), Projected: st(337000), Ratio: 1.99, ProjectedRatio: 2.03},
			}},
		}}, {Label: "real nix", Files: 3, RealNix: true, Scenarios: []ScenarioResult{
			{Name: NoChange, What: "nothing", Launched: "nothing", Tools: []ToolResult{
				{Tool: ToolSysinit, Wall: st(5)},
				{Tool: ToolNixBuild, Wall: st(37), Ratio: 7.4},
			}},
		}}},
		Correctness: []Correctness{{Change: "flake.lock only", Affects: "rebuild", Verdicts: []Verdict{{ToolSysinit, true}, {ToolSnippet, false}}}},
	}
	r.Goals = evaluateGoals(r, false)
	return r
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"latencies × 0.01", "2,000 files, stand-in managers", "real nix",
		"no-change", "cosmetic", "full", "old refresh", "floor",
		"sysinit's own overhead 9.00ms (8.00ms–10.0ms)", "parallel efficiency 0.990",
		"flake.lock only", "misses it", "notices",
		"met      no-change, 2,000 files: median < 10 ms: 6.00ms",
		"NOT MET  full, 2,000 files: ≥ 2.3× faster",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: the median column starts at the same offset on every
	// row of a group's table.
	var cols []int
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "old refresh"); i >= 0 && strings.Contains(line, "s ") {
			cols = append(cols, i)
		}
	}
	if len(cols) < 3 || cols[0] != cols[1] || cols[1] != cols[2] {
		t.Errorf("tool column at offsets %v, want equal:\n%s", cols, out)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Measured 2026-01-02 03:04 UTC by `sysinit bench --runs 3`",
		"| CPU | Test CPU, 2 CPUs (linux/amd64) |",
		"| load average | 0.1 0.2 0.3 before, 0.4 0.5 0.6 after |",
		"### 2,000 files, stand-in managers",
		"| scenario | tool | median (min–max) | × sysinit | at scale 1 | × sysinit | notes |",
		"| **no-change** | **sysinit** | 6.00ms (5.00ms–7.00ms) | 1 | 6.00ms | 1 |",
		"|  | old refresh | 1.21s (1.20s–1.22s) | 202× | 117s | 19500× |  |",
		`stats every file \| decides nothing`,
		"|  | nix build | 37.0ms (37.0ms–37.0ms) | 7.40× |  |",
		"### Does each tool notice the change?",
		"| flake.lock only | rebuild | notices | misses it |",
		"### Goals",
		"| `brew-check` | brew bundle check, all installed | 1.20s | 12.0ms |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	// Every table row has as many cells as its header.
	cells := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cells == 0 {
			cells = n
		} else if n != cells {
			t.Errorf("row has %d cells, its header %d: %s", n-1, cells-1, line)
		}
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Groups[0].Scenario(NoChange).Tool(ToolOld).Wall != r.Groups[0].Scenarios[0].Tools[1].Wall {
		t.Errorf("JSON lost the figures: %+v", back.Groups[0].Scenarios[0])
	}
	if !strings.Contains(b.String(), `"median_ns": 6000000`) {
		t.Errorf("durations are not in ns: %s", b.String()[:400])
	}
}

func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, with one bar per tool result plus the background.
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	rects, texts := 0, []string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v\n%s", err, b.String())
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "rect" {
				rects++
			}
		case xml.CharData:
			texts = append(texts, string(el))
		}
	}
	// The background, a bar per tool, and a scale-1 marker for the five
	// results whose projection is longer than what was measured.
	if want := 1 + (3 + 2 + 2 + 2) + 5; rects != want {
		t.Errorf("%d rects, want %d", rects, want)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"2,000 files, stand-in managers · no-change", "real nix · no-change", "1.21s  (202×)  → 117s at scale 1 (19500×)", "1ms", "100s"} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestEvaluateGoals(t *testing.T) {
	r := sampleReport()
	got := map[string]bool{}
	for _, g := range r.Goals {
		got[g.Goal] = g.Met
	}
	for goal, met := range map[string]bool{
		"no-change, 2,000 files: median < 10 ms":                                               true,
		"no-change, 2,000 files: ≤ 1.25× the floor":                                            true,
		"no-change, 2,000 files: ≥ 1000× faster than the old refresh at the default latencies": true,
		"no-change, 2,000 files: no brew (nor any manager) process starts":                     true,
		"cosmetic, 2,000 files: sysinit's own overhead < 50 ms":                                true,
		"full, 2,000 files: parallel efficiency ≥ 0.95":                                        true,
		"full, 2,000 files: ≥ 2.3× faster than the old refresh at the default latencies":       false,
		"real nix, no-change: ≥ 3× faster than `nix build` of the same flake":                  true,
	} {
		if m, ok := got[goal]; !ok || m != met {
			t.Errorf("goal %q: met=%v present=%v, want met=%v", goal, m, ok, met)
		}
	}
	if len(got) != 8 {
		t.Errorf("%d goals, want 8: %v", len(got), got)
	}
}

// TestEvaluateGoalsIssue13 holds the figures against the goals of issue
// 13, at the default latencies: a real change no slower than go-task and
// the checksum gate, a full refresh no slower than go-task and ≥ 2.3×
// faster than the old refresh, a revert that costs sysinit < 50 ms.
func TestEvaluateGoalsIssue13(t *testing.T) {
	over, slow := st(11), st(60)
	crit := st(1600)
	r := &Report{Scale: 0.01, Groups: []Group{{Files: 2000, Scenarios: []ScenarioResult{
		{Name: Incremental, Overhead: &over, Tools: []ToolResult{
			{Tool: ToolSysinit, Projected: st(20000)},
			{Tool: ToolSnippet, Projected: st(20000), ProjectedRatio: 1.0},
			{Tool: ToolGoTask, Projected: st(19000), ProjectedRatio: 0.95},
		}},
		{Name: Revert, Overhead: &over, Launched: "nix ×1, nix-env ×1, activate ×1 per run", Tools: []ToolResult{{Tool: ToolSysinit, Projected: st(4000)}}},
		{Name: Full, CriticalPath: &crit, Tools: []ToolResult{
			{Tool: ToolSysinit, Projected: st(146000)},
			{Tool: ToolOld, Projected: st(337000), ProjectedRatio: 2.31},
			{Tool: ToolGoTask, Projected: st(160000), ProjectedRatio: 1.1},
		}},
	}}, {Files: 20000, Scenarios: []ScenarioResult{
		{Name: Revert, Overhead: &slow, Tools: []ToolResult{{Tool: ToolSysinit, Projected: st(4100)}}},
	}}}}
	got := map[string]Goal{}
	for _, g := range evaluateGoals(r, true) {
		got[g.Goal] = g
	}
	for goal, met := range map[string]bool{
		"incremental, 2,000 files: no slower than bash checksum at the default latencies": true,
		"incremental, 2,000 files: no slower than go-task at the default latencies":       false,
		"revert, 2,000 files: no evaluation, sysinit's own overhead < 50 ms":              true,
		"revert, 20,000 files: no evaluation, sysinit's own overhead < 50 ms":             false,
		"full, 2,000 files: ≥ 2.3× faster than the old refresh at the default latencies":  true,
		"full, 2,000 files: no slower than go-task at the default latencies":              true,
	} {
		if g, ok := got[goal]; !ok || g.Met != met {
			t.Errorf("goal %q: %+v (present %v), want met=%v", goal, g, ok, met)
		}
	}
	if g := got["revert, 2,000 files: no evaluation, sysinit's own overhead < 50 ms"]; !strings.Contains(g.Got, "11.0ms (total 4.00s at the default latencies; launched nix ×1, nix-env ×1, activate ×1 per run)") {
		t.Errorf("revert goal says %q", g.Got)
	}
}
