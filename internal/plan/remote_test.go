package plan_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
)

// remoteFake is a fakeStep acting on another machine, whose platform the
// test sets.
type remoteFake struct {
	*fakeStep
	target string
	goos   string
	err    error
	asked  *atomic.Int32
}

func (r remoteFake) Platform(context.Context) (string, error) {
	r.asked.Add(1)
	return r.goos, r.err
}

func (r remoteFake) Target() string { return r.target }

// hostsFixture is a fixture whose config comes from the loader, so that
// a step with `hosts` is there as its (step, host) pairs.
func hostsFixture(t *testing.T) (*fixture, *atomic.Int32) {
	t.Helper()
	kinds := config.NewKinds(&config.Kind{Name: "fake", Targets: true}, &config.Kind{Name: "plain"})
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(`
[hosts.mac]
ssh = "me@mac"
[hosts.box]
ssh = "root@box"
[steps.sys]
kind = "fake"
os = ["darwin"]
hosts = ["mac", "box", "local"]
[steps.later]
kind = "plain"
after = ["sys"]
`), kinds)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil, cfg.Steps...)
	f.cfg, f.p.Config = cfg, cfg
	asked := &atomic.Int32{}
	f.p.Steps["sys@mac"] = remoteFake{fakeStep: f.fakes["sys@mac"], target: "mac", goos: "darwin", asked: asked}
	f.p.Steps["sys@box"] = remoteFake{fakeStep: f.fakes["sys@box"], target: "box", err: errors.New("cannot reach box (root@box): Connection refused"), asked: asked}
	return f, asked
}

// TestRemotePlatform: a step acting on another machine is judged by that
// machine's platform, not this one's; one whose machine cannot be reached
// runs, its reasons led by cannot-tell (it fails with why when it runs).
func TestRemotePlatform(t *testing.T) {
	f, asked := hostsFixture(t)
	p := f.plan()
	var names []string
	for _, d := range p.Steps {
		names = append(names, d.Name)
	}
	if want := []string{"sys@mac", "sys@box", "sys@local", "later"}; !slices.Equal(names, want) {
		t.Fatalf("plan covers %v, want %v", names, want)
	}
	checkReasons(t, p.Decision("sys@mac"), []reason{{plan.NeverRan, "", nil}})
	checkReasons(t, p.Decision("sys@box"), []reason{{plan.CannotTell, "cannot reach box", nil}, {plan.NeverRan, "", nil}})
	checkReasons(t, p.Decision("sys@local"), []reason{{plan.NotApplicable, "only for darwin; this is linux", nil}})
	if !p.Decision("sys@box").Run || !p.Decision("sys@mac").Run {
		t.Error("the remote pairs must run")
	}
	if asked.Load() < 2 {
		t.Errorf("Platform asked %d times, want each remote step asked", asked.Load())
	}

	// Recorded: the reachable one is probed and up to date; the other
	// still cannot be told.
	f.succeed("sys@mac", "later")
	p = f.plan()
	checkReasons(t, p.Decision("sys@mac"), []reason{{plan.UpToDate, "", nil}})
	if got := f.fakes["sys@mac"].probed(); len(got) == 0 {
		t.Error("sys@mac was not probed")
	}

	// The wrong platform makes the pair not applicable there.
	f.p.Steps["sys@mac"] = remoteFake{fakeStep: f.fakes["sys@mac"], target: "mac", goos: "linux", asked: asked}
	checkReasons(t, f.plan().Decision("sys@mac"), []reason{{plan.NotApplicable, "only for darwin; mac is linux", nil}})
}

// TestSelectPairs: naming a step with `hosts` selects all its pairs, and
// --force with that name forces each of them.
func TestSelectPairs(t *testing.T) {
	f, _ := hostsFixture(t)
	f.p.Steps["sys@mac"] = remoteFake{fakeStep: f.fakes["sys@mac"], target: "mac", goos: "darwin", asked: &atomic.Int32{}}
	f.succeed()
	f.p.Only, f.p.Force = []string{"sys"}, true
	got, err := f.p.Select()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sys@mac", "sys@box", "sys@local"}; !slices.Equal(got, want) {
		t.Errorf("Select(sys) = %v, want %v", got, want)
	}
	checkReasons(t, f.plan().Decision("sys@mac"), []reason{{plan.Forced, plan.ForceDetail, nil}})

	f.p.Only = []string{"sys@mac"}
	got, _ = f.p.Select()
	if !slices.Equal(got, []string{"sys@mac"}) {
		t.Errorf("Select(sys@mac) = %v", got)
	}
	f.p.Only = []string{"later"}
	got, _ = f.p.Select()
	if want := []string{"sys@mac", "sys@box", "sys@local", "later"}; !slices.Equal(got, want) {
		t.Errorf("Select(later) = %v, want %v", got, want)
	}
}

// TestSameInputsScannedOnce: steps whose inputs are the same set of files —
// the pairs of a step with `hosts` — share one fingerprint.
func TestSameInputsScannedOnce(t *testing.T) {
	f := newFixture(t, map[string]string{"src/a": "a", "src/b": "b"},
		&config.Step{Name: "s@one", Inputs: []string{"src/**"}},
		&config.Step{Name: "s@two", Inputs: []string{"src/**"}},
		&config.Step{Name: "other", Inputs: []string{"src/a"}},
	)
	f.succeed()
	p := f.plan()
	one, two, other := p.Decision("s@one").Manifest, p.Decision("s@two").Manifest, p.Decision("other").Manifest
	if one == nil || one != two {
		t.Errorf("the pairs' manifests are %p and %p, want one shared", one, two)
	}
	if other == nil || other == one || other.Digest == one.Digest {
		t.Errorf("another step's inputs must be its own: %p %v", other, other)
	}
	checkReasons(t, p.Decision("s@two"), []reason{{plan.UpToDate, "", nil}})
	f.write("src/b", "changed")
	p = f.plan()
	checkReasons(t, p.Decision("s@one"), []reason{{plan.InputsChanged, "src/b modified", []plan.FileChange{{Path: "src/b", Change: "modified"}}}})
	checkReasons(t, p.Decision("s@two"), []reason{{plan.InputsChanged, "src/b modified", []plan.FileChange{{Path: "src/b", Change: "modified"}}}})
	checkReasons(t, p.Decision("other"), []reason{{plan.UpToDate, "", nil}})
}
