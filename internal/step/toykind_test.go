package step_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// A toy kind, declared as a real one is, in one place: its keys, docs,
// checks and how it runs. Nothing else in sysinit learns of it.
var toyKind = &step.Kind{
	Kind: config.Kind{
		Name:    "greet",
		Summary: "write a greeting into a file",
		Keys:    &greetKeys{},
		Check: func(_ *config.Config, s *config.Step, r config.Reporter) {
			if k := config.KeysOf[greetKeys](s); k.Times != nil && *k.Times > 3 {
				r.Fail("times", "greet at most 3 times", "times = %d: too many", *k.Times)
			}
		},
	},
	New: func(cfg *config.Config, s *config.Step, _ *step.Env) (step.Step, error) {
		return &greet{k: config.KeysOf[greetKeys](s), dir: cfg.Dir}, nil
	},
}

type greetKeys struct {
	Name  string `key:"name" required:"true" example:"name = \"world\"" doc:"who to greet"`
	Into  string `key:"into" default:"greeting.txt" example:"into = \"hello.txt\"" doc:"the file to write"`
	Times *int   `key:"times" example:"times = 2" doc:"how often"`
}

type greet struct {
	k   *greetKeys
	dir string
}

func (g *greet) Definition() []string {
	var l step.Lines
	l.Add("name", g.k.Name)
	l.Add("into", g.k.Into)
	return l.Sorted()
}
func (g *greet) Inputs(context.Context) (fingerprint.Spec, error) { return fingerprint.Spec{}, nil }
func (g *greet) Probe(context.Context, string) (string, error)    { return "", nil }
func (g *greet) Run(context.Context, *step.RunContext) (step.Outcome, error) {
	return step.Outcome{Note: "greeted"}, os.WriteFile(filepath.Join(g.dir, g.k.Into), []byte("hello, "+g.k.Name+"\n"), 0o644)
}

// TestToyKind: a kind added in one package is loaded (its keys decoded,
// defaulted, checked, and refused on other kinds), documented, planned and
// run by the core, which knows nothing of it.
func TestToyKind(t *testing.T) {
	reg := step.Core()
	reg.Add(toyKind)
	dir := t.TempDir()
	path := filepath.Join(dir, config.FileName)

	for src, wants := range map[string][]string{
		"[steps.g]\nkind = \"greet\"\nsource = \"x\"\n":              {`greet step "g" needs ` + "`name`", "`source` is a file key; this step is kind \"greet\""},
		"[steps.g]\nkind = \"greet\"\nname = \"x\"\ntimes = 9\n":     {"sysinit.toml:4: times = 9: too many"},
		"[steps.g]\nkind = \"greet\"\nname = \"x\"\ntimes = \"9\"\n": {"`times` must be a whole number, not a string"},
		"[steps.g]\nkind = \"greet\"\nname = \"x\"\nsudo = true\n":   {"greet steps do not take `sudo`"},
	} {
		_, err := config.Parse(path, []byte(src), reg.Kinds())
		for _, want := range wants {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("loading %q: errors %v; want one saying %q", src, err, want)
			}
		}
	}
	var doc bytes.Buffer
	if err := config.WriteDocs(&doc, reg.Kinds(), "greet", true); err != nil || !strings.Contains(doc.String(), "| `into` | string, default \"greeting.txt\" | the file to write") {
		t.Errorf("docs of greet: %v\n%s", err, doc.String())
	}

	cfg, err := config.Parse(path, []byte("[steps.g]\nkind = \"greet\"\nname = \"toy\"\n"), reg.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	env := &step.Env{Exec: command.Exec{}, Getenv: os.Getenv, LookPath: exec.LookPath}
	steps := map[string]step.Step{}
	for _, cs := range cfg.Steps {
		if steps[cs.Name], err = reg.New(cfg, cs, env); err != nil {
			t.Fatal(err)
		}
	}
	planner := &plan.Planner{Config: cfg, Steps: steps, Records: map[string]state.Record{},
		Scanner: &fingerprint.Scanner{Root: dir}, Exec: command.Exec{}, Now: time.Now, GOOS: "linux", LookPath: exec.LookPath,
		OldManifest: func(string) ([]byte, error) { return nil, nil }}
	p, err := planner.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec := &records{}
	res := runner.Run(context.Background(), p, runner.Options{LogDir: filepath.Join(dir, "logs"), Redecide: planner.Decide}, rec, discard{})
	if res.Summary.Ran != 1 || len(rec.put) != 1 {
		t.Fatalf("ran %d, recorded %v", res.Summary.Ran, rec.put)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "greeting.txt")); string(got) != "hello, toy\n" {
		t.Errorf("greeting.txt = %q", got)
	}
}

type discard struct{}

func (discard) Event(runner.Event) {}

type records struct{ put []state.Record }

func (r *records) Put(rec state.Record, _ []byte) error { r.put = append(r.put, rec); return nil }
func (r *records) Start(string, string) error           { return nil }
