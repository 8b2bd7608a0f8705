package bench_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/bench"
)

// TestFleet runs the fleet scenario on three stand-in machines: every
// sysinit run must have skipped each machine's step after one master
// connection and one probe per machine (checked by the scenario itself),
// and at the default latencies it must come out ahead of refreshing the
// machines one by one by more than their number.
func TestFleet(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed; the bench repos are git repositories")
	}
	r, err := bench.Run(context.Background(), bench.Options{
		Self: self(t), Version: "test", Command: "sysinit bench (test)",
		Sizes: []int{80}, Scenarios: []string{bench.Fleet}, Runs: 2, Warmup: 0, Scale: 0.01,
		Latencies: bench.DefaultLatencies(), RealNix: "off", WorkDir: t.TempDir(), FleetHosts: 3,
		Environ: os.Environ(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 1 || r.Groups[0].Fleet != 3 {
		t.Fatalf("groups = %+v", r.Groups)
	}
	s := r.Groups[0].Scenario(bench.Fleet)
	if s == nil || s.Tools[0].Tool != bench.ToolSysinit || s.Tool(bench.ToolOld) == nil {
		t.Fatalf("fleet scenario = %+v", s)
	}
	if s.Launched != "ssh ×6 per run" {
		t.Errorf("sysinit launched %s, want one master and one probe per machine", s.Launched)
	}
	if old := s.Tool(bench.ToolOld); old.ProjectedRatio < 3 {
		t.Errorf("host by host projects to %v, only %.1f× sysinit's %v", old.Projected.Median, old.ProjectedRatio, s.Tools[0].Projected.Median)
	}
	found := false
	for _, g := range r.Goals {
		if strings.HasPrefix(g.Goal, "fleet of 3") {
			found = true
		}
	}
	if !found {
		t.Errorf("no fleet goal in %+v", r.Goals)
	}
}
