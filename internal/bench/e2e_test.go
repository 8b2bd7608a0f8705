package bench_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/bench"
)

// TestRunEndToEnd runs a tiny bench — a small repo, latencies × 0.001,
// two runs — and checks the report's structure, that every sysinit run
// did what its scenario is about, and that sysinit's no-change runs
// started no stand-in manager.
func TestRunEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed; the bench repos are git repositories")
	}
	exe := self(t)
	var progress []string
	// Fleet needs the Debian roots: fleet_test.go runs it.
	perSize := slices.DeleteFunc(slices.Clone(bench.Scenarios), func(s string) bool { return s == bench.Fleet || s == bench.MultiHost })
	r, err := bench.Run(context.Background(), bench.Options{
		Self: exe, Version: "test", Command: "sysinit bench (test)",
		Sizes: []int{80}, Scenarios: append(slices.Clone(perSize), bench.MultiHost), Runs: 2, Warmup: 0, Scale: 0.001,
		Latencies: bench.DefaultLatencies(), RealNix: "off", WorkDir: t.TempDir(),
		Environ: os.Environ(), Progress: func(s string) { progress = append(progress, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 2 || r.Groups[0].Files != 80 {
		t.Fatalf("groups = %+v", r.Groups)
	}
	// The multi-host group: with entry, an edit of one host's module
	// evaluates that host alone; without, all three.
	mh := r.Groups[1].Scenario(bench.MultiHost)
	if mh == nil {
		t.Fatalf("no multi-host scenario: %+v", r.Groups[1])
	}
	if sys, whole := mh.Tool(bench.ToolSysinit), mh.Tool(bench.ToolSysinitWhole); sys == nil || whole == nil || sys.Evaluations != 1 || whole.Evaluations != 3 {
		t.Errorf("multi-host: tools %+v; want 1 evaluation with entry, 3 without", mh.Tools)
	}
	g := r.Groups[0]
	var names []string
	for _, s := range g.Scenarios {
		names = append(names, s.Name)
		if s.Name == bench.BrewNix {
			// sysinit with the repo's second config, alone: the figures
			// are its two steps beside each other.
			if len(s.Tools) != 1 || s.Tools[0].Tool != bench.ToolBrewNix || s.Beside == nil || s.Beside.System.N != 2 || s.Beside.Brew.N != 2 || s.Beside.Brew.Min <= 0 ||
				!strings.Contains(s.Launched, "brew") || !strings.Contains(s.Launched, "nix") {
				t.Errorf("%s: %+v", s.Name, s)
			}
			continue
		}
		if s.Tools[0].Tool != bench.ToolSysinit {
			t.Errorf("%s: first tool is %s, want sysinit", s.Name, s.Tools[0].Tool)
		}
		for _, tool := range s.Tools {
			if tool.Wall.N != 2 || tool.Wall.Min <= 0 || tool.Wall.Min > tool.Wall.Median || tool.Wall.Median > tool.Wall.Max {
				t.Errorf("%s/%s: stats %+v", s.Name, tool.Tool, tool.Wall)
			}
		}
		if s.Tool(bench.ToolOld) == nil || s.Tool(bench.ToolSnippet) == nil {
			t.Errorf("%s: baselines missing: %+v", s.Name, s.Tools)
		}
	}
	if !slices.Equal(names, perSize) {
		t.Errorf("scenarios %v, want %v", names, perSize)
	}
	nc := g.Scenario(bench.NoChange)
	if nc.Launched != "nothing" {
		t.Errorf("sysinit's no-change runs launched %s", nc.Launched)
	}
	if nc.Tool(bench.ToolFloor) == nil {
		t.Error("no-change has no floor")
	}
	// The stand-ins were there to be started: the old refresh and a full
	// sysinit run start them.
	if full := g.Scenario(bench.Full); !strings.Contains(full.Launched, "brew") || !strings.Contains(full.Launched, "nix") || full.CriticalPath == nil || full.Efficiency <= 0 {
		t.Errorf("full: launched %q, critical path %v, efficiency %v", full.Launched, full.CriticalPath, full.Efficiency)
	}
	if old := nc.Tool(bench.ToolOld); old.Projected.Median <= old.Wall.Median {
		t.Errorf("the old refresh projects to %v at scale 1, not more than %v", old.Projected.Median, old.Wall.Median)
	}
	for _, name := range []string{bench.Cosmetic, bench.Incremental} {
		if s := g.Scenario(name); s.Overhead == nil || !strings.Contains(s.Launched, "nix") {
			t.Errorf("%s: overhead %v, launched %q", name, s.Overhead, s.Launched)
		}
	}
	// A revert: the profile and activation, no evaluation (a run that
	// evaluated would have stopped the bench).
	if rv := g.Scenario(bench.Revert); rv.Overhead == nil || !strings.Contains(rv.Launched, "nix-env ×1") || !strings.Contains(rv.Launched, "activate ×1") {
		t.Errorf("revert: overhead %v, launched %q", rv.Overhead, rv.Launched)
	}
	if len(r.Correctness) != 3 {
		t.Fatalf("correctness rows: %+v", r.Correctness)
	}
	for _, c := range r.Correctness {
		for _, v := range c.Verdicts {
			want := v.Tool == bench.ToolSysinit // the snippet misses all three
			if v.Noticed != want {
				t.Errorf("%s: %s noticed = %v, want %v", c.Change, v.Tool, v.Noticed, want)
			}
		}
	}
	if len(r.Goals) == 0 || r.LaunchGap <= 0 {
		t.Errorf("goals %v, launch gap %v", r.Goals, r.LaunchGap)
	}
	if len(progress) == 0 {
		t.Error("no progress reported")
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### 80 files, stand-in managers", "| **no-change** | **sysinit** |", "| **full** |", "### 3 configurations", "| **multi-host** | **sysinit** |", "1 nix evaluation per run", "3 nix evaluations per run", "### Goals"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	base := bench.Options{Self: "/bin/true", Sizes: []int{100}, Scenarios: bench.Scenarios, Runs: 1, Scale: 1}
	for _, tc := range []struct {
		name string
		edit func(*bench.Options)
		want string
	}{
		{"no runs", func(o *bench.Options) { o.Runs = 0 }, "runs = 0"},
		{"zero scale", func(o *bench.Options) { o.Scale = 0 }, "scale = 0"},
		{"unknown scenario", func(o *bench.Options) { o.Scenarios = []string{"warp"} }, `unknown scenario "warp"`},
		{"tiny repo", func(o *bench.Options) { o.Sizes = []int{3} }, "size 3"},
		{"real-nix value", func(o *bench.Options) { o.RealNix = "maybe" }, `real-nix = "maybe"`},
	} {
		o := base
		tc.edit(&o)
		if _, err := bench.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
