package plan_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// fakeStep is a step kind reduced to what plan asks of it: a definition,
// an input spec and a probe whose answer the test sets.
type fakeStep struct {
	mu        sync.Mutex
	def       []string
	spec      fingerprint.Spec
	inputsErr error
	drift     string
	probeErr  error
	defCalls  int
	inCalls   int      // calls of Inputs
	probes    []string // the tokens Probe was called with
}

func (s *fakeStep) Definition() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defCalls++
	return slices.Clone(s.def)
}

func (s *fakeStep) Inputs(context.Context) (fingerprint.Spec, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inCalls++
	return s.spec, s.inputsErr
}

func (s *fakeStep) Probe(_ context.Context, token string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes = append(s.probes, token)
	return s.drift, s.probeErr
}

func (s *fakeStep) Run(context.Context, *step.RunContext) (step.Outcome, error) {
	return step.Outcome{}, errors.New("plan must never run a step")
}

func (s *fakeStep) probed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.probes)
}

// updater is a fakeStep that fetches on its own schedule.
type updater struct {
	*fakeStep
	updates bool
}

func (u updater) Updates() bool { return u.updates }

// toolless is a fakeStep whose tool is missing from this machine.
type toolless struct {
	*fakeStep
	why string
}

func (u toolless) Unavailable() string { return u.why }

// fixture is a config directory with steps, and the state a success of
// each would have left.
type fixture struct {
	t         testing.TB
	root      string
	cfg       *config.Config
	fakes     map[string]*fakeStep
	p         *plan.Planner
	manifests map[string][]byte
	manErr    error
	now       time.Time
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var shell = func() string {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return "/bin/sh"
	}
	return sh
}()

// newFixture makes one fake step per config step, whose definition names
// it and whose inputs are the step's `inputs` patterns.
func newFixture(t testing.TB, files map[string]string, steps ...*config.Step) *fixture {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	f := &fixture{
		t:         t,
		root:      root,
		cfg:       &config.Config{File: filepath.Join(root, "sysinit.toml"), Dir: root, Steps: steps},
		fakes:     map[string]*fakeStep{},
		manifests: map[string][]byte{},
		now:       time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	byName := map[string]step.Step{}
	for _, cs := range steps {
		if cs.Kind == "" {
			cs.Kind = "fake"
		}
		fs := &fakeStep{def: []string{"kind=fake", "run=" + cs.Name}, spec: fingerprint.Spec{Patterns: cs.Inputs}}
		f.fakes[cs.Name] = fs
		byName[cs.Name] = fs
	}
	f.p = &plan.Planner{
		Config:  f.cfg,
		Steps:   byName,
		Records: map[string]state.Record{},
		OldManifest: func(name string) ([]byte, error) {
			if f.manErr != nil {
				return nil, f.manErr
			}
			return f.manifests[name], nil
		},
		Scanner:  &fingerprint.Scanner{Root: root},
		Exec:     command.Exec{},
		Shell:    shell,
		Now:      func() time.Time { return f.now },
		GOOS:     "linux",
		LookPath: exec.LookPath,
	}
	return f
}

// plan plans, failing the test on error.
func (f *fixture) plan() *plan.Plan {
	f.t.Helper()
	p, err := f.p.Plan(context.Background())
	if err != nil {
		f.t.Fatalf("Plan: %v", err)
	}
	return p
}

// succeed records a success of the named steps (all when none are named)
// the way the runner does: the fingerprint of a plan taken now, the token
// "tok-NAME", started now.
func (f *fixture) succeed(names ...string) {
	f.t.Helper()
	for _, d := range f.plan().Steps {
		if len(names) > 0 && !slices.Contains(names, d.Name) || !d.Applicable() {
			continue
		}
		if d.Unscanned {
			d = f.p.Decide(context.Background(), d.Name)
		}
		if d.Manifest == nil {
			f.t.Fatalf("%s: no manifest to record: %s", d.Name, d.Summary())
		}
		data, err := d.Manifest.MarshalBinary()
		if err != nil {
			f.t.Fatal(err)
		}
		f.p.Records[d.Name] = state.Record{
			Step:             d.Name,
			Definition:       d.Definition,
			DefinitionDigest: d.DefinitionDigest,
			InputsDigest:     d.Manifest.Digest.String(),
			Token:            "tok-" + d.Name,
			Started:          f.now,
			Duration:         time.Second,
			RunID:            "baseline",
		}
		f.manifests[d.Name] = data
	}
}

func (f *fixture) write(name, body string) { writeFiles(f.t, f.root, map[string]string{name: body}) }

func (f *fixture) remove(name string) {
	if err := os.Remove(filepath.Join(f.root, filepath.FromSlash(name))); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) step(name string) *config.Step { return f.cfg.Step(name) }

// reason is what a test expects of a plan.Reason: the kind, a part of the
// detail, and the files exactly.
type reason struct {
	kind   plan.ReasonKind
	detail string
	files  []plan.FileChange
}

func checkReasons(t *testing.T, d *plan.Decision, want []reason) {
	t.Helper()
	if len(d.Reasons) != len(want) {
		t.Fatalf("%s: reasons %v, want %d of them: %v", d.Name, d.Reasons, len(want), want)
	}
	for i, w := range want {
		got := d.Reasons[i]
		if got.Kind != w.kind || !strings.Contains(got.Detail, w.detail) || !slices.Equal(got.Files, w.files) {
			t.Errorf("%s: reason %d = %+v, want kind %s, detail containing %q, files %v", d.Name, i, got, w.kind, w.detail, w.files)
		}
	}
}

var longName = strings.Repeat("n", 300)

// TestDecision is the decision truth table. Every row starts from one step
// "s" with inputs src/**, whose success was recorded from a plan of the same
// tree (so, left alone, it is up to date), changes one thing, and plans
// again. The probe is the step's own cheap probe, then `check`; both are
// consulted only when nothing else already makes the step run.
//
//	change since the recorded success          run  reasons (in order)
//	nothing                                    no   up-to-date (probe asked with the recorded token)
//	a file outside the inputs                  no   up-to-date
//	no record                                  yes  never-ran
//	--force, no record                         yes  forced(--force), never-ran
//	definition: a key changed, one added       yes  definition-changed "env, run changed"
//	definition: a key removed                  yes  definition-changed "run changed"
//	an input modified / added / removed        yes  inputs-changed, files from the old manifest
//	several inputs                             yes  inputs-changed "2 files (first, …)"
//	an input, old manifest missing/unreadable  yes  inputs-changed "the previous file list is not available"
//	  or corrupt
//	an input named too long to stat            yes  cannot-tell "reading inputs: …", no manifest
//	Inputs() fails                             yes  cannot-tell "reading inputs: …"
//	clock at Started + every                   yes  ttl-expired
//	clock at Started + every - 1ns             no   up-to-date
//	clock set back before Started, with every  yes  ttl-expired "… in the future …"
//	clock set back before Started, no every    no   up-to-date
//	every, a later success not scheduled       yes  ttl-expired, counted from Due
//	the last run started and did not finish    yes  unfinished (even with inputs as recorded)
//	probe reports drift                        yes  probe-failed (the drift)
//	probe fails                                yes  cannot-tell "probing the machine"
//	check exits 0 (in the config dir, env set) no   up-to-date
//	check exits 1                              yes  probe-failed "check … exited 1"
//	check cannot start                         yes  cannot-tell "running check"
//	probe drifts and check would fail          yes  probe-failed (the drift only)
//	inputs changed and probe drifts            yes  inputs-changed only; probe not asked
//	definition + inputs + ttl                  yes  all three, in that order
//	--force                                    yes  forced(--force); probe not asked
//	--force, inputs changed                    yes  forced(--force), inputs-changed
//	--update, Updater that updates             yes  forced(--update)
//	--update, Updater that does not update     no   up-to-date
//	--update, not an Updater                   no   up-to-date
//	no --update, Updater that updates          no   up-to-date
//	os = another OS                            no   not-applicable "only for darwin; this is linux"
//	requires a program not on PATH             no   not-applicable "… is not on PATH"
//	requires a program on PATH                 no   up-to-date
//	the kind's tool is missing (Availability)  yes  tool-missing (the kind's reason and the fix);
//	                                                 the runner fails it without starting it
//	the kind's tool is there                   no   up-to-date
func TestDecision(t *testing.T) {
	files := map[string]string{"src/a.txt": "a", "src/b.txt": "b", "other.txt": "o"}
	tests := []struct {
		name       string
		change     func(f *fixture)
		run        bool
		reasons    []reason
		probed     bool // Probe asked with the recorded token
		noManifest bool
	}{
		{
			name:    "nothing changed",
			change:  func(f *fixture) {},
			reasons: []reason{{plan.UpToDate, "nothing changed", nil}},
			probed:  true,
		},
		{
			name:    "file outside the inputs",
			change:  func(f *fixture) { f.write("other.txt", "changed") },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:       "never ran",
			change:     func(f *fixture) { delete(f.p.Records, "s") },
			run:        true,
			reasons:    []reason{{plan.NeverRan, "no success recorded", nil}},
			noManifest: true, // read at its turn: Decision.Unscanned
		},
		{
			name:       "never ran, forced",
			change:     func(f *fixture) { delete(f.p.Records, "s"); f.p.Force = true },
			run:        true,
			reasons:    []reason{{plan.Forced, "--force", nil}, {plan.NeverRan, "", nil}},
			noManifest: true,
		},
		{
			name:    "definition key changed and one added",
			change:  func(f *fixture) { f.fakes["s"].def = []string{"env=X=1", "kind=fake", "run=other"} },
			run:     true,
			reasons: []reason{{plan.DefinitionChanged, "env, run changed", nil}},
		},
		{
			name:    "definition key removed",
			change:  func(f *fixture) { f.fakes["s"].def = []string{"kind=fake"} },
			run:     true,
			reasons: []reason{{plan.DefinitionChanged, "run changed", nil}},
		},
		{
			name:    "input modified",
			change:  func(f *fixture) { f.write("src/a.txt", "A") },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "src/a.txt modified", []plan.FileChange{{Path: "src/a.txt", Change: "modified"}}}},
		},
		{
			name:    "input added",
			change:  func(f *fixture) { f.write("src/deep/c.txt", "c") },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "src/deep/c.txt added", []plan.FileChange{{Path: "src/deep/c.txt", Change: "added"}}}},
		},
		{
			name:    "input removed",
			change:  func(f *fixture) { f.remove("src/b.txt") },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "src/b.txt removed", []plan.FileChange{{Path: "src/b.txt", Change: "removed"}}}},
		},
		{
			name:   "several inputs",
			change: func(f *fixture) { f.write("src/a.txt", "A"); f.write("src/c.txt", "c") },
			run:    true,
			reasons: []reason{{plan.InputsChanged, "2 files (src/a.txt modified, …)", []plan.FileChange{
				{Path: "src/a.txt", Change: "modified"}, {Path: "src/c.txt", Change: "added"},
			}}},
		},
		{
			name:    "input changed, old manifest missing",
			change:  func(f *fixture) { f.write("src/a.txt", "A"); delete(f.manifests, "s") },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "the previous file list is not available", nil}},
		},
		{
			name:    "input changed, old manifest unreadable",
			change:  func(f *fixture) { f.write("src/a.txt", "A"); f.manErr = errors.New("store closed") },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "the previous file list is not available", nil}},
		},
		{
			name:    "input changed, old manifest corrupt",
			change:  func(f *fixture) { f.write("src/a.txt", "A"); f.manifests["s"] = []byte("garbage") },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "the previous file list is not available", nil}},
		},
		{
			name: "input cannot be read",
			change: func(f *fixture) {
				f.fakes["s"].spec.Files = []string{longName}
			},
			run:        true,
			reasons:    []reason{{plan.CannotTell, "reading inputs: ", nil}},
			noManifest: true,
		},
		{
			name:       "Inputs fails",
			change:     func(f *fixture) { f.fakes["s"].inputsErr = errors.New("flake.nix: no such flake") },
			run:        true,
			reasons:    []reason{{plan.CannotTell, "reading inputs: flake.nix: no such flake", nil}},
			noManifest: true,
		},
		{
			name:    "ttl reached",
			change:  func(f *fixture) { f.step("s").Every = 24 * time.Hour; f.now = f.now.Add(24 * time.Hour) },
			run:     true,
			reasons: []reason{{plan.TTLExpired, "last ran 24h0m0s ago; every 24h0m0s", nil}},
		},
		{
			name:    "ttl not yet reached",
			change:  func(f *fixture) { f.step("s").Every = 24 * time.Hour; f.now = f.now.Add(24*time.Hour - 1) },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:    "clock set back, with every",
			change:  func(f *fixture) { f.step("s").Every = 24 * time.Hour; f.now = f.now.Add(-time.Hour) },
			run:     true,
			reasons: []reason{{plan.TTLExpired, "recorded 1h0m0s in the future", nil}},
		},
		{
			name:    "clock set back, no every",
			change:  func(f *fixture) { f.now = f.now.Add(-time.Hour) },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name: "ttl counts from the last run its schedule asked for",
			change: func(f *fixture) {
				f.step("s").Every = time.Hour
				rec := f.p.Records["s"]
				rec.Due = f.now.Add(-2 * time.Hour) // a later run only did what its inputs needed
				f.p.Records["s"] = rec
			},
			run:     true,
			reasons: []reason{{plan.TTLExpired, "last ran 2h0m0s ago; every 1h0m0s", nil}},
		},
		{
			name:    "last run unfinished, inputs as recorded",
			change:  func(f *fixture) { f.p.Unfinished = map[string]string{"s": "run-7"} },
			run:     true,
			reasons: []reason{{plan.Unfinished, "its last run (run-7) ended without a success", nil}},
		},
		{
			name:    "probe drift",
			change:  func(f *fixture) { f.fakes["s"].drift = "/run/current-system points elsewhere" },
			run:     true,
			reasons: []reason{{plan.ProbeFailed, "/run/current-system points elsewhere", nil}},
			probed:  true,
		},
		{
			name:    "probe error",
			change:  func(f *fixture) { f.fakes["s"].probeErr = errors.New("readlink: permission denied") },
			run:     true,
			reasons: []reason{{plan.CannotTell, "probing the machine: readlink: permission denied", nil}},
			probed:  true,
		},
		{
			name: "check exits 0",
			change: func(f *fixture) {
				// Relative path and env: the check runs in the config
				// directory with the step's env.
				f.step("s").Check = `test -f src/a.txt && test "$GREETING" = hi`
				f.step("s").Env = map[string]string{"GREETING": "hi"}
			},
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:    "check exits 1",
			change:  func(f *fixture) { f.step("s").Check = "exit 1" },
			run:     true,
			reasons: []reason{{plan.ProbeFailed, `check "exit 1" exited 1`, nil}},
			probed:  true,
		},
		{
			name:    "check cannot start",
			change:  func(f *fixture) { f.step("s").Check = "true"; f.p.Shell = "/nonexistent/sh" },
			run:     true,
			reasons: []reason{{plan.CannotTell, `running check "true": `, nil}},
			probed:  true,
		},
		{
			name: "probe drifts and check would fail",
			change: func(f *fixture) {
				f.fakes["s"].drift = "drifted"
				f.step("s").Check = "exit 1"
			},
			run:     true,
			reasons: []reason{{plan.ProbeFailed, "drifted", nil}},
			probed:  true,
		},
		{
			name:    "inputs changed and probe drifts",
			change:  func(f *fixture) { f.write("src/a.txt", "A"); f.fakes["s"].drift = "drifted" },
			run:     true,
			reasons: []reason{{plan.InputsChanged, "src/a.txt modified", []plan.FileChange{{Path: "src/a.txt", Change: "modified"}}}},
		},
		{
			name: "definition, inputs and ttl",
			change: func(f *fixture) {
				f.fakes["s"].def = []string{"kind=fake", "run=new"}
				f.write("src/a.txt", "A")
				f.step("s").Every = time.Hour
				f.now = f.now.Add(2 * time.Hour)
			},
			run: true,
			reasons: []reason{
				{plan.DefinitionChanged, "run changed", nil},
				{plan.InputsChanged, "src/a.txt modified", []plan.FileChange{{Path: "src/a.txt", Change: "modified"}}},
				{plan.TTLExpired, "every 1h0m0s", nil},
			},
		},
		{
			name:    "forced",
			change:  func(f *fixture) { f.p.Force = true },
			run:     true,
			reasons: []reason{{plan.Forced, plan.ForceDetail, nil}},
		},
		{
			name:   "forced, inputs changed",
			change: func(f *fixture) { f.p.Force = true; f.write("src/b.txt", "B") },
			run:    true,
			reasons: []reason{
				{plan.Forced, plan.ForceDetail, nil},
				{plan.InputsChanged, "src/b.txt modified", []plan.FileChange{{Path: "src/b.txt", Change: "modified"}}},
			},
		},
		{
			name: "--update, updater that updates",
			change: func(f *fixture) {
				f.p.Steps["s"] = updater{f.fakes["s"], true}
				f.p.Update = true
			},
			run:     true,
			reasons: []reason{{plan.Forced, "--update", nil}},
		},
		{
			name: "--update, updater that does not update",
			change: func(f *fixture) {
				f.p.Steps["s"] = updater{f.fakes["s"], false}
				f.p.Update = true
			},
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:    "--update, not an updater",
			change:  func(f *fixture) { f.p.Update = true },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:    "no --update, updater that updates",
			change:  func(f *fixture) { f.p.Steps["s"] = updater{f.fakes["s"], true} },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:    "another OS",
			change:  func(f *fixture) { f.step("s").OS = []string{"darwin"} },
			reasons: []reason{{plan.NotApplicable, "only for darwin; this is linux", nil}},
		},
		{
			name:    "required program missing",
			change:  func(f *fixture) { f.step("s").Requires = []string{"sh", "sysinit-test-no-such-tool"} },
			reasons: []reason{{plan.NotApplicable, "sysinit-test-no-such-tool is not on PATH", nil}},
		},
		{
			name:    "required program present",
			change:  func(f *fixture) { f.step("s").Requires = []string{"sh"} },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
		{
			name:       "kind's tool missing",
			change:     func(f *fixture) { f.p.Steps["s"] = toolless{f.fakes["s"], "nix is not installed"} },
			run:        true,
			reasons:    []reason{{plan.ToolMissing, "nix is not installed; or add `os` or `requires`", nil}},
			noManifest: true,
		},
		{
			name:    "kind's tool present",
			change:  func(f *fixture) { f.p.Steps["s"] = toolless{f.fakes["s"], ""} },
			reasons: []reason{{plan.UpToDate, "", nil}},
			probed:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, files, &config.Step{Name: "s", Inputs: []string{"src/**"}})
			f.succeed()
			fake := f.fakes["s"]
			fake.probes, fake.defCalls = nil, 0
			tt.change(f)

			d := f.plan().Decision("s")
			if d == nil {
				t.Fatal("no decision for s")
			}
			checkReasons(t, d, tt.reasons)
			if d.Run != tt.run {
				t.Errorf("Run = %v, want %v (%s)", d.Run, tt.run, d.Summary())
			}
			if got := fake.probed(); tt.probed != (len(got) > 0) || len(got) > 0 && !slices.Equal(got, []string{"tok-s"}) {
				t.Errorf("Probe called with %q, want probed=%v with the recorded token", got, tt.probed)
			}
			if !d.Applicable() || d.Missing() != "" {
				if d.Run != (d.Missing() != "") || d.Manifest != nil || d.Definition != nil || fake.defCalls != 0 {
					t.Errorf("a step that cannot run here was examined: %+v, %d Definition calls", d, fake.defCalls)
				}
				return
			}
			if want := fake.def; !slices.Equal(d.Definition, want) || d.DefinitionDigest != plan.Digest(want) {
				t.Errorf("Definition %q / digest %s, want %q / %s", d.Definition, d.DefinitionDigest, want, plan.Digest(want))
			}
			if rec, ok := f.p.Records["s"]; ok && d.Token != rec.Token {
				t.Errorf("Token = %q, want the recorded %q", d.Token, rec.Token)
			}
			if tt.noManifest != (d.Manifest == nil) {
				t.Errorf("Manifest = %v, want nil: %v", d.Manifest, tt.noManifest)
			}
			// A step that never ran is fingerprinted at its turn, not by the plan.
			if neverRan := d.Reasons[len(d.Reasons)-1].Kind == plan.NeverRan; d.Unscanned != neverRan {
				t.Errorf("Unscanned = %v, want %v (%s)", d.Unscanned, neverRan, d.Summary())
			}
		})
	}
}

// TestUnreadableInputOnlyItsStep: one step's input cannot be read. The joint
// scan fails, so each spec is scanned alone: only that step is cannot-tell;
// the others are decided normally.
func TestUnreadableInputOnlyItsStep(t *testing.T) {
	f := newFixture(t, map[string]string{"a/x": "x", "b/y": "y", "c/z": "z"},
		&config.Step{Name: "a", Inputs: []string{"a/**"}},
		&config.Step{Name: "b", Inputs: []string{"b/**"}},
		&config.Step{Name: "c", Inputs: []string{"c/**"}},
	)
	f.succeed()
	// A name longer than any file system allows: stat fails even for root,
	// as an unreadable file would.
	f.fakes["b"].spec.Files = []string{longName}
	f.write("c/z", "Z")

	p := f.plan()
	checkReasons(t, p.Decision("a"), []reason{{plan.UpToDate, "", nil}})
	checkReasons(t, p.Decision("b"), []reason{{plan.CannotTell, "reading inputs: ", nil}})
	checkReasons(t, p.Decision("c"), []reason{{plan.InputsChanged, "c/z modified", []plan.FileChange{{Path: "c/z", Change: "modified"}}}})
	if p.Decision("a").Manifest == nil || p.Decision("c").Manifest == nil || p.Decision("b").Manifest != nil {
		t.Errorf("manifests: a %v, b %v, c %v; want only b's missing", p.Decision("a").Manifest, p.Decision("b").Manifest, p.Decision("c").Manifest)
	}
	if !p.Decision("b").Run {
		t.Error("b is not run though its inputs could not be read")
	}
}

func TestSelect(t *testing.T) {
	steps := func() []*config.Step {
		return []*config.Step{
			{Name: "base"},
			{Name: "mid", After: []string{"base"}},
			{Name: "top", After: []string{"mid"}},
			{Name: "solo"},
			{Name: "join", After: []string{"solo", "base"}},
		}
	}
	tests := []struct {
		only []string
		want []string
	}{
		{nil, []string{"base", "mid", "top", "solo", "join"}},
		{[]string{"top"}, []string{"base", "mid", "top"}},
		{[]string{"solo", "base"}, []string{"base", "solo"}},
		{[]string{"join"}, []string{"base", "solo", "join"}},
		{[]string{"top", "top"}, []string{"base", "mid", "top"}},
	}
	for _, tt := range tests {
		f := newFixture(t, nil, steps()...)
		f.p.Only = tt.only
		got, err := f.p.Select()
		if err != nil {
			t.Fatalf("Select(%v): %v", tt.only, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Select(%v) = %v, want %v", tt.only, got, tt.want)
		}
		var planned []string
		for _, d := range f.plan().Steps {
			planned = append(planned, d.Name)
		}
		if !slices.Equal(planned, tt.want) {
			t.Errorf("Plan with Only %v covers %v, want %v", tt.only, planned, tt.want)
		}
	}
}

func TestUnknownStep(t *testing.T) {
	f := newFixture(t, nil, &config.Step{Name: "a"}, &config.Step{Name: "b"})
	f.p.Only = []string{"a", "nope"}
	for name, call := range map[string]func() error{
		"Select": func() error { _, err := f.p.Select(); return err },
		"Plan":   func() error { _, err := f.p.Plan(context.Background()); return err },
	} {
		err := call()
		var ue *plan.UnknownStepError
		if !errors.As(err, &ue) {
			t.Fatalf("%s: err = %v, want *UnknownStepError", name, err)
		}
		if ue.Name != "nope" || !slices.Equal(ue.Known, []string{"a", "b"}) {
			t.Errorf("%s: %+v", name, ue)
		}
		if want := `no step named "nope" (steps: a, b)`; err.Error() != want {
			t.Errorf("%s: Error() = %q, want %q", name, err, want)
		}
	}
}

// TestForceOnlyNamed: --force with names forces those steps; the steps
// they depend on come along but are decided as usual.
func TestForceOnlyNamed(t *testing.T) {
	f := newFixture(t, map[string]string{"x": "x"},
		&config.Step{Name: "dep", Inputs: []string{"x"}},
		&config.Step{Name: "named", After: []string{"dep"}, Inputs: []string{"x"}},
		&config.Step{Name: "other", Inputs: []string{"x"}},
	)
	f.succeed()
	f.p.Only, f.p.Force = []string{"named"}, true
	p := f.plan()
	if len(p.Steps) != 2 {
		t.Fatalf("plan covers %d steps, want dep and named", len(p.Steps))
	}
	checkReasons(t, p.Decision("named"), []reason{{plan.Forced, plan.ForceDetail, nil}})
	checkReasons(t, p.Decision("dep"), []reason{{plan.UpToDate, "", nil}})

	f.p.Only = nil
	for _, d := range f.plan().Steps {
		checkReasons(t, d, []reason{{plan.Forced, plan.ForceDetail, nil}})
	}
}

// TestRecheck: a skipped step downstream (directly or not) of one that
// will run is marked for re-deciding; steps elsewhere, steps that run, and
// not-applicable steps are not.
func TestRecheck(t *testing.T) {
	f := newFixture(t, map[string]string{"x": "x"},
		&config.Step{Name: "up", Inputs: []string{"x"}},
		&config.Step{Name: "child", After: []string{"up"}, Inputs: []string{"x"}},
		&config.Step{Name: "grandchild", After: []string{"child"}, Inputs: []string{"x"}},
		&config.Step{Name: "runs-too", After: []string{"up"}, Inputs: []string{"x"}},
		&config.Step{Name: "elsewhere", Inputs: []string{"x"}},
		&config.Step{Name: "after-elsewhere", After: []string{"elsewhere"}, Inputs: []string{"x"}},
		&config.Step{Name: "other-os", After: []string{"up"}, OS: []string{"plan9"}},
	)
	f.succeed()
	delete(f.p.Records, "up")
	delete(f.p.Records, "runs-too")
	want := map[string][2]bool{ // run, recheck
		"up":              {true, false},
		"child":           {false, true},
		"grandchild":      {false, true},
		"runs-too":        {true, false},
		"elsewhere":       {false, false},
		"after-elsewhere": {false, false},
		"other-os":        {false, false},
	}
	p := f.plan()
	for _, d := range p.Steps {
		if got := [2]bool{d.Run, d.Recheck}; got != want[d.Name] {
			t.Errorf("%s: run, recheck = %v, want %v", d.Name, got, want[d.Name])
		}
	}
	if !p.WillRun() {
		t.Error("WillRun() = false")
	}

	f.succeed()
	p = f.plan()
	for _, d := range p.Steps {
		if d.Recheck {
			t.Errorf("%s: Recheck set though nothing runs", d.Name)
		}
	}
	if p.WillRun() {
		t.Error("WillRun() = true though nothing runs")
	}
}

// TestDecide: re-deciding one step takes a fresh fingerprint, as after an
// upstream step rewrote its inputs.
func TestDecide(t *testing.T) {
	f := newFixture(t, map[string]string{"gen/out": "1"},
		&config.Step{Name: "gen"},
		&config.Step{Name: "use", After: []string{"gen"}, Inputs: []string{"gen/**"}},
		&config.Step{Name: "other-os", OS: []string{"plan9"}},
	)
	f.succeed()
	d := f.plan().Decision("use")
	if d.Run {
		t.Fatalf("use runs before anything changed: %s", d.Summary())
	}
	before := d.Manifest.Digest

	f.write("gen/out", "2") // what gen's run would do
	d = f.p.Decide(context.Background(), "use")
	checkReasons(t, d, []reason{{plan.InputsChanged, "gen/out modified", []plan.FileChange{{Path: "gen/out", Change: "modified"}}}})
	if !d.Run || d.Manifest == nil || d.Manifest.Digest == before {
		t.Errorf("Decide kept the old fingerprint: run %v, manifest %v", d.Run, d.Manifest)
	}
	if d.Recheck {
		t.Error("Decide set Recheck")
	}

	f.write("gen/out", "1")
	checkReasons(t, f.p.Decide(context.Background(), "use"), []reason{{plan.UpToDate, "", nil}})
	checkReasons(t, f.p.Decide(context.Background(), "other-os"), []reason{{plan.NotApplicable, "only for plan9", nil}})

	f.fakes["use"].spec.Files = []string{longName}
	d = f.p.Decide(context.Background(), "use")
	checkReasons(t, d, []reason{{plan.CannotTell, "reading inputs: ", nil}})
	if !d.Run || d.Manifest != nil {
		t.Errorf("unreadable inputs on Decide: run %v, manifest %v", d.Run, d.Manifest)
	}
}

// TestDecideConcurrent: the runner re-decides from each step's goroutine,
// so re-decisions of two steps whose upstream steps end together overlap,
// and they share the Planner's one Scanner and its stat cache. Run with
// -race.
func TestDecideConcurrent(t *testing.T) {
	// One step per goroutine: a step shared by two goroutines would order
	// them through its own lock and hide the race.
	var steps []*config.Step
	files := map[string]string{}
	for i := range 8 {
		name := string(rune('a' + i))
		steps = append(steps, &config.Step{Name: name, Inputs: []string{name + "/**"}})
		for j := range 50 {
			files[fmt.Sprintf("%s/%d", name, j)] = name
		}
	}
	f := newFixture(t, files, steps...)
	cache, err := fingerprint.LoadCache(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.p.Scanner.Cache = cache
	f.succeed()
	var wg sync.WaitGroup
	for _, s := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if d := f.p.Decide(context.Background(), s.Name); d.Run {
					t.Errorf("%s: %s", s.Name, d.Summary())
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestPlanCancelled(t *testing.T) {
	f := newFixture(t, map[string]string{"x": "x"}, &config.Step{Name: "s", Inputs: []string{"x"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.p.Plan(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Plan with a cancelled context: err = %v, want context.Canceled", err)
	}
}

// cancellingRunner interrupts the plan just as the check starts.
type cancellingRunner struct {
	cancel context.CancelFunc
}

func (r cancellingRunner) Run(ctx context.Context, c *command.Cmd) error {
	r.cancel()
	return command.Exec{}.Run(ctx, c)
}

// TestCheckInterrupted: a check cut short by an interrupt says nothing
// about the machine: cannot-tell, not drift.
func TestCheckInterrupted(t *testing.T) {
	f := newFixture(t, map[string]string{"x": "x"}, &config.Step{Name: "s", Inputs: []string{"x"}, Check: "exit 1"})
	f.succeed()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.p.Exec = cancellingRunner{cancel}
	p, err := f.p.Plan(ctx)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	checkReasons(t, p.Decision("s"), []reason{{plan.CannotTell, `running check "exit 1"`, nil}})
}

func TestSummary(t *testing.T) {
	tests := []struct {
		reasons []plan.Reason
		want    string
	}{
		{[]plan.Reason{{Kind: plan.UpToDate, Detail: "nothing changed since the last success"}}, "up to date"},
		{[]plan.Reason{{Kind: plan.NotApplicable, Detail: "only for darwin; this is linux"}}, "only for darwin; this is linux"},
		{[]plan.Reason{{Kind: plan.NeverRan, Detail: "no success recorded"}}, "never ran: no success recorded"},
		{[]plan.Reason{{Kind: plan.Forced, Detail: "--force"}, {Kind: plan.InputsChanged, Detail: "x modified"}}, "forced: --force; inputs changed: x modified"},
		{[]plan.Reason{{Kind: plan.InputsChanged}}, "inputs changed"},
	}
	for _, tt := range tests {
		d := &plan.Decision{Reasons: tt.reasons}
		if got := d.Summary(); got != tt.want {
			t.Errorf("Summary(%v) = %q, want %q", tt.reasons, got, tt.want)
		}
		if want := tt.reasons[0].Kind != plan.NotApplicable; d.Applicable() != want {
			t.Errorf("Applicable(%v) = %v", tt.reasons, d.Applicable())
		}
	}
}

func TestDigest(t *testing.T) {
	sets := [][]string{
		nil,
		{""},
		{"a=1", "b=2"},
		{"b=2", "a=1"},
		{"a=1\nb=2"},
		{"a=1b=2"},
		{"a=1", "b=2", ""},
	}
	seen := map[string]int{}
	for i, s := range sets {
		d := plan.Digest(s)
		if d != plan.Digest(slices.Clone(s)) {
			t.Errorf("Digest(%q) is not stable", s)
		}
		if j, ok := seen[d]; ok {
			t.Errorf("Digest(%q) = Digest(%q)", s, sets[j])
		}
		seen[d] = i
	}
}

// TestPlanLeavesNeverRanUnscanned: a step that never ran runs whatever its
// inputs hold, so the plan does not read them — even unreadable ones, which
// would otherwise cost a walk — and Decide fingerprints it at its turn.
func TestPlanLeavesNeverRanUnscanned(t *testing.T) {
	f := newFixture(t, map[string]string{"a": "1", "b": "2"},
		&config.Step{Name: "old", Inputs: []string{"a"}},
		&config.Step{Name: "new", Inputs: []string{"b", "missing-dir/**"}})
	f.succeed("old")
	p := f.plan()
	old, fresh := p.Decision("old"), p.Decision("new")
	if old.Unscanned || old.Manifest == nil {
		t.Errorf("old: unscanned %v, manifest %v; want it fingerprinted", old.Unscanned, old.Manifest)
	}
	if !fresh.Unscanned || fresh.Manifest != nil || !fresh.Run {
		t.Fatalf("new: unscanned %v, manifest %v, run %v; want it to run unscanned", fresh.Unscanned, fresh.Manifest, fresh.Run)
	}
	checkReasons(t, fresh, []reason{{plan.NeverRan, "no success recorded", nil}})
	d := f.p.Decide(context.Background(), "new")
	if d.Unscanned || d.Manifest == nil || len(d.Manifest.Entries) != 1 || d.Manifest.Entries[0].Path != "b" {
		t.Fatalf("Decide(new): unscanned %v, manifest %+v; want the fingerprint of b", d.Unscanned, d.Manifest)
	}
	checkReasons(t, d, []reason{{plan.NeverRan, "no success recorded", nil}})
}

// TestWarm: Warm hashes the inputs of unscanned steps that wait for
// another step into the stat cache (and only theirs), so that their
// decision at their turn stats without reading; an edit after Warm is
// still seen, because the cache is keyed by stat signature.
func TestWarm(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"first.txt": "1", "later.txt": "2", "quiet.txt": "3", "after-quiet.txt": "4"},
		&config.Step{Name: "first", Inputs: []string{"first.txt"}},
		&config.Step{Name: "later", Inputs: []string{"later.txt"}, After: []string{"first"}},
		&config.Step{Name: "quiet", Inputs: []string{"quiet.txt"}},
		// Waits only for a step that will not run: its turn comes at once.
		&config.Step{Name: "after-quiet", Inputs: []string{"after-quiet.txt"}, After: []string{"quiet"}})
	f.succeed("quiet")
	cache, err := fingerprint.LoadCache(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.p.Scanner.Cache = cache
	// Files younger than the racy window are never cached; wait it out.
	time.Sleep(2100 * time.Millisecond)
	p := f.plan()
	if cache.Len() != 1 {
		t.Fatalf("the plan cached %d files, want quiet.txt alone: the rest never ran", cache.Len())
	}
	f.p.Warm(context.Background(), p)
	if cache.Len() != 2 {
		t.Fatalf("after Warm the cache holds %d files, want quiet.txt and later.txt", cache.Len())
	}
	f.write("later.txt", "changed")
	d := f.p.Decide(context.Background(), "later")
	want, err := fingerprint.HashFile(filepath.Join(f.root, "later.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Manifest == nil || len(d.Manifest.Entries) != 1 || d.Manifest.Entries[0].Hash != want || d.Manifest.Entries[0].Size != int64(len("changed")) {
		t.Errorf("Decide after an edit recorded %+v, want the hash of the new content", d.Manifest)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.p.Warm(ctx, p) // must return, not block
}

// TestPrefetch: Plan decides with the inputs Prefetch read, once; a later
// Plan, Decide and Warm read them afresh.
func TestPrefetch(t *testing.T) {
	f := newFixture(t, map[string]string{"a": "1", "b": "2"}, &config.Step{Name: "s", Inputs: []string{"a"}})
	f.succeed()
	fake := f.fakes["s"]
	calls := func() int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.inCalls
	}
	before := calls()
	f.p.Prefetch(context.Background())
	for deadline := time.Now().Add(5 * time.Second); calls() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Prefetch did not read the inputs")
		}
	}
	// Prefetch has read spec "a"; the step now says "b".
	fake.mu.Lock()
	fake.spec = fingerprint.Spec{Files: []string{"b"}}
	fake.mu.Unlock()
	d := f.plan().Decision("s")
	if n := calls() - before; n != 1 {
		t.Errorf("Prefetch and Plan read the inputs %d times, want once", n)
	}
	if d.Manifest == nil || len(d.Manifest.Entries) != 1 || d.Manifest.Entries[0].Path != "a" {
		t.Fatalf("Plan after Prefetch fingerprinted %+v, want the prefetched a", d.Manifest)
	}
	checkReasons(t, d, []reason{{plan.UpToDate, "", nil}})
	for _, d := range []*plan.Decision{f.p.Decide(context.Background(), "s"), f.plan().Decision("s")} {
		if d.Manifest == nil || len(d.Manifest.Entries) != 1 || d.Manifest.Entries[0].Path != "b" {
			t.Errorf("a later decision fingerprinted %+v, want b, read afresh", d.Manifest)
		}
	}
}

// TestWarmBesideDecide: Warm runs in the background while the runner
// decides steps whose turn came; under -race (as CI runs it) a copy of the
// Scanner taken outside the scan lock is a data race.
func TestWarmBesideDecide(t *testing.T) {
	f := newFixture(t, map[string]string{"a.txt": "1", "b.txt": "2", "c.txt": "3"},
		&config.Step{Name: "a", Inputs: []string{"a.txt"}},
		&config.Step{Name: "b", Inputs: []string{"b.txt"}, After: []string{"a"}},
		&config.Step{Name: "c", Inputs: []string{"c.txt"}, After: []string{"a"}})
	p := f.plan()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			f.p.Warm(context.Background(), p)
		}
	}()
	for range 50 {
		f.p.Decide(context.Background(), "a")
	}
	<-done
}

// TestRecheckRandomGraphs checks Select, Recheck and Waits on random
// `after` graphs against their definitions, walked naively: the selected
// steps are the named ones and all they come after; a skipped applicable
// step is rechecked iff some step it comes after, directly or through
// other selected steps, will run; a step waits iff one it comes after
// directly may run.
func TestRecheckRandomGraphs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	indirect := 0 // rechecks found only through another step
	for trial := range 200 {
		n := 2 + rng.IntN(25)
		steps := make([]*config.Step, n)
		for i := range steps {
			steps[i] = &config.Step{Name: fmt.Sprintf("s%02d", i)}
		}
		// A random order of the steps orders the graph: edges go both
		// ways in file order, never into a cycle.
		order := rng.Perm(n)
		for i := 0; i < n; i++ {
			for j := 0; j < i; j++ {
				if rng.IntN(4) == 0 {
					s := steps[order[i]]
					s.After = append(s.After, steps[order[j]].Name)
				}
			}
			if rng.IntN(8) == 0 {
				steps[order[i]].OS = []string{"plan9"}
			}
		}
		f := newFixture(t, nil, steps...)
		f.succeed()
		for _, s := range steps {
			if rng.IntN(5) == 0 {
				delete(f.p.Records, s.Name)
			}
		}
		var only []string
		if rng.IntN(2) == 0 {
			for _, s := range steps {
				if rng.IntN(6) == 0 {
					only = append(only, s.Name)
				}
			}
		}
		f.p.Only = only
		p := f.plan()

		// The naive definitions.
		want := map[string]bool{}
		var add func(string)
		add = func(name string) {
			if !want[name] {
				want[name] = true
				for _, a := range f.cfg.Step(name).After {
					add(a)
				}
			}
		}
		for _, s := range steps {
			if len(only) == 0 || slices.Contains(only, s.Name) {
				add(s.Name)
			}
		}
		var got []string
		for _, d := range p.Steps {
			got = append(got, d.Name)
		}
		var wantNames []string
		for _, s := range steps {
			if want[s.Name] {
				wantNames = append(wantNames, s.Name)
			}
		}
		if !slices.Equal(got, wantNames) {
			t.Fatalf("trial %d: selected %v, want %v", trial, got, wantNames)
		}
		var upstreamRuns func(string, map[string]bool) bool
		upstreamRuns = func(name string, seen map[string]bool) bool {
			for _, a := range f.cfg.Step(name).After {
				da := p.Decision(a)
				if da == nil || seen[a] {
					continue
				}
				seen[a] = true
				if da.Run || upstreamRuns(a, seen) {
					return true
				}
			}
			return false
		}
		for _, d := range p.Steps {
			wantRecheck := !d.Run && d.Applicable() && upstreamRuns(d.Name, map[string]bool{})
			if d.Recheck != wantRecheck {
				t.Errorf("trial %d: %s: Recheck = %v, want %v (after %v)", trial, d.Name, d.Recheck, wantRecheck, d.Config.After)
			}
			if wantRecheck && !slices.ContainsFunc(d.Config.After, func(a string) bool { return p.Decision(a) != nil && p.Decision(a).Run }) {
				indirect++
			}
			wantWaits := false
			for _, a := range d.Config.After {
				if da := p.Decision(a); da != nil && da.MayRun() {
					wantWaits = true
				}
			}
			if p.Waits(d) != wantWaits {
				t.Errorf("trial %d: %s: Waits = %v, want %v", trial, d.Name, p.Waits(d), wantWaits)
			}
		}
	}
	if indirect == 0 {
		t.Error("no trial had a step rechecked through another step only; the graphs test too little")
	}
	t.Logf("%d rechecks through another step", indirect)
}

// TestStoreLinkNote: an input link to a store path whose content cannot be
// taken as fixed (here: one still being built, whose files do not yet have
// nix's mtime of 1) is read file by file, and plan says why — for the step
// whose inputs hold the link, not for the others.
func TestStoreLinkNote(t *testing.T) {
	if _, err := os.Stat("/nix/store"); err != nil {
		t.Skip("no /nix/store")
	}
	dir := fmt.Sprintf("/nix/store/%s-sysinit-plan-test-%d", strings.Repeat("0", 32), os.Getpid())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot write to the store: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	writeFiles(t, dir, map[string]string{"x": "x"})
	f := newFixture(t, map[string]string{"b/y": "y"},
		&config.Step{Name: "a", Inputs: []string{"wip"}},
		&config.Step{Name: "b", Inputs: []string{"b/**"}},
	)
	if err := os.Symlink(dir, filepath.Join(f.root, "wip")); err != nil {
		t.Fatal(err)
	}
	f.succeed() // a step that never ran is not scanned
	p := f.plan()
	a, b := p.Decision("a"), p.Decision("b")
	if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "input wip links to store path "+dir) || !strings.Contains(a.Warnings[0], "still being built") {
		t.Errorf("a warns %q, want one saying wip leads to a store path still being built", a.Warnings)
	}
	if len(b.Warnings) != 0 {
		t.Errorf("b warns %q, want nothing", b.Warnings)
	}
	if a.Manifest == nil || len(a.Manifest.Entries) != 2 {
		t.Errorf("a's manifest %v, want the link and the file behind it", a.Manifest)
	}
}
