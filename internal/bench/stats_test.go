package bench

import (
	"slices"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestNewStats(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"one", []time.Duration{5 * ms}, Stats{N: 1, Median: 5 * ms, Min: 5 * ms, Max: 5 * ms}},
		{"odd, unsorted", []time.Duration{9 * ms, 1 * ms, 4 * ms}, Stats{N: 3, Median: 4 * ms, Min: 1 * ms, Max: 9 * ms}},
		{"even: mean of the middle two", []time.Duration{4 * ms, 1 * ms, 2 * ms, 8 * ms}, Stats{N: 4, Median: 3 * ms, Min: 1 * ms, Max: 8 * ms}},
		{"repeated", []time.Duration{2 * ms, 2 * ms, 2 * ms, 7 * ms, 2 * ms}, Stats{N: 5, Median: 2 * ms, Min: 2 * ms, Max: 7 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			if got := NewStats(tc.in); got != tc.want {
				t.Errorf("NewStats(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("NewStats reordered its input: %v", tc.in)
				}
			}
		})
	}
}

func TestRatio(t *testing.T) {
	a, b := NewStats([]time.Duration{30 * ms}), NewStats([]time.Duration{10 * ms})
	for _, tc := range []struct {
		name string
		a, b Stats
		want float64
	}{
		{"slower", a, b, 3},
		{"faster", b, a, 1.0 / 3},
		{"unknown a", Stats{}, b, 0},
		{"unknown b", a, Stats{}, 0},
		{"zero median", a, Stats{N: 1}, 0},
	} {
		if got := Ratio(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: Ratio = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestUnionLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []interval
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []interval{{10, 20}}, 10},
		{"disjoint", []interval{{30, 40}, {10, 20}}, 20},
		{"overlapping", []interval{{10, 30}, {20, 40}}, 30},
		{"nested", []interval{{10, 50}, {20, 30}}, 40},
		{"touching", []interval{{10, 20}, {20, 30}}, 20},
		{"chain", []interval{{0, 10}, {5, 15}, {14, 20}, {100, 101}}, 21},
	} {
		if got := unionLength(tc.in); got != tc.want {
			t.Errorf("%s: unionLength(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestCriticalPath(t *testing.T) {
	after := map[string][]string{"system": {"flake-update", "nix-conf"}}
	for _, tc := range []struct {
		name string
		dur  map[string]time.Duration
		want time.Duration
	}{
		{"nothing ran", map[string]time.Duration{}, 0},
		{"through the slower dependency", map[string]time.Duration{"flake-update": 20, "nix-conf": 2, "system": 100, "brew": 50}, 120},
		{"an independent step is longer", map[string]time.Duration{"flake-update": 20, "system": 10, "brew": 50}, 50},
		{"a dependency that did not run", map[string]time.Duration{"system": 10}, 10},
	} {
		if got := criticalPath(tc.dur, after); got != tc.want {
			t.Errorf("%s: criticalPath = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A cycle (never in a valid config) must still end.
	if got := criticalPath(map[string]time.Duration{"a": 1, "b": 1}, map[string][]string{"a": {"b"}, "b": {"a"}}); got <= 0 {
		t.Errorf("criticalPath of a cycle = %v", got)
	}
}

func TestRotate(t *testing.T) {
	tools := []string{"a", "b", "c"}
	for i, want := range []string{"abc", "bca", "cab", "abc"} {
		got := ""
		for _, s := range rotate(tools, i) {
			got += s
		}
		if got != want {
			t.Errorf("rotate(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestProjectExtra(t *testing.T) {
	calls := []Call{
		{Name: "nix", Argv: []string{"flake", "update"}, Slept: int64(20 * ms), End: int64(20 * ms)},
		{Name: "launchctl", Slept: int64(2 * ms), End: int64(2 * ms)},
		{Name: "nix", Argv: []string{"eval"}, Slept: int64(6 * ms), End: int64(26 * ms)},
		// Beside the eval, inside its time: adds nothing to the path.
		{Name: "nix", Argv: []string{"store", "diff-closures"}, Slept: int64(3 * ms), End: int64(25 * ms)},
		{Name: "brew", Argv: []string{"bundle"}, Slept: int64(40 * ms), End: int64(40 * ms)},
		{Name: "sudo", Slept: 0},
	}
	for _, tc := range []struct {
		name       string
		scale      float64
		sequential bool
		want       time.Duration
	}{
		{"scale 1 adds nothing", 1, false, 0},
		{"sequential: everything, ×(1/s−1)", 0.5, true, 71 * ms},
		{"parallel: the critical path", 0.5, false, 40 * ms},
		{"parallel, scale 0.1", 0.1, false, 360 * ms},
	} {
		if got := projectExtra(calls, tc.scale, tc.sequential); got != tc.want {
			t.Errorf("%s: projectExtra = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A step whose stand-ins overlap counts their longest chain, not
	// their sum.
	system := []Call{
		{Name: "nix", Argv: []string{"build"}, Slept: int64(10 * ms), Start: 0, End: int64(10 * ms)},
		{Name: "nix-env", Slept: int64(4 * ms), Start: int64(15 * ms), End: int64(20 * ms)},
		{Name: "nix", Argv: []string{"store", "diff-closures"}, Slept: int64(3 * ms), Start: int64(15 * ms), End: int64(19 * ms)},
	}
	if got := projectExtra(system, 0.5, false); got != 14*ms {
		t.Errorf("overlapping stand-ins: projectExtra = %v, want 14ms", got)
	}
	// The closure diff starts beside the profile and sleeps past its end,
	// into the gap before activate starts: at scale 1 it would end long
	// before activate (0.3 s beside 4 s), so its time is not on the path.
	// The union of the sleeps counted that overhang ×(1/scale − 1).
	switched := []Call{
		{Name: "nix", Argv: []string{"eval"}, Slept: int64(60 * ms), Start: 0, End: int64(61 * ms)},
		{Name: "nix", Argv: []string{"build"}, Slept: int64(100 * ms), Start: int64(68 * ms), End: int64(169 * ms)},
		{Name: "nix-env", Slept: int64(5 * ms), Start: int64(175 * ms), End: int64(181 * ms)},
		{Name: "nix", Argv: []string{"store", "diff-closures"}, Slept: int64(3 * ms), Start: int64(179 * ms), End: int64(184 * ms)},
		{Name: "activate", Slept: int64(35 * ms), Start: int64(187 * ms), End: int64(223 * ms)},
	}
	if got, want := projectExtra(switched, 0.01, false), time.Duration(float64(200*ms)*99); got != want {
		t.Errorf("diff beside the switch: projectExtra = %v, want %v (eval, build, profile, activate)", got, want)
	}
	// A diff that outlasts what runs beside it is on the path.
	slow := slices.Clone(switched)
	slow[3].Slept, slow[3].End = int64(50*ms), int64(230*ms)
	if got, want := projectExtra(slow, 0.5, false), 60*ms+100*ms+50*ms; got != want {
		t.Errorf("slow diff: projectExtra = %v, want %v (eval, build, diff)", got, want)
	}
}

func TestOwnOverhead(t *testing.T) {
	calls := []Call{
		{Name: "nix", Start: 100, End: 600},
		{Name: "sudo", Start: 650, End: 650},
		{Name: "nix-env", Start: 700, End: 800},
		{Name: "brew", Start: 500, End: 750}, // overlaps both
	}
	// Covered, each from its launch 10 before its start: 90–800 = 710
	// (brew's launch, and sudo's, fall inside nix's run).
	if got := ownOverhead(1000, calls, 10); got != 290 {
		t.Errorf("ownOverhead = %v, want 290ns", got)
	}
	// Two launches back to back, and one beside a run, counted once.
	calls = []Call{
		{Name: "nix", Start: 100, End: 200},
		{Name: "nix-env", Start: 300, End: 400},
		{Name: "nix", Argv: []string{"store", "diff-closures"}, Start: 320, End: 350},
	}
	if got := ownOverhead(1000, calls, 10); got != 780 {
		t.Errorf("overlapping launch: ownOverhead = %v, want 780ns", got)
	}
}
