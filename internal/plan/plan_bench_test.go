package plan_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/bench"
	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

// benchConfig is four steps whose inputs together cover the whole tree,
// as a refresh's steps cover a config repo.
const benchConfig = `[steps.all]
kind   = "command"
run    = "true"
inputs = ["**"]

[steps.flake]
kind   = "command"
run    = "true"
inputs = ["modules/**", "hosts/**", "flake.nix", "flake.lock"]

[steps.conf]
kind   = "command"
run    = "true"
inputs = ["**/*.conf"]

[steps.scripts]
kind   = "command"
run    = "true"
inputs = ["scripts/**", "!scripts/**/*.md"]
`

// BenchmarkPlan plans four up-to-date steps on generated config repos of
// 2,000 and 20,000 files with a warm stat cache: each iteration loads the
// cache from its bytes and plans, as a no-change refresh does.
func BenchmarkPlan(b *testing.B) {
	sizes := []int{2000, 20000}
	if testing.Short() {
		b.Log("-short: planning the 2,000-file tree only")
		sizes = sizes[:1]
	}
	dirs := map[int]string{}
	for _, n := range sizes {
		dirs[n] = filepath.Join(b.TempDir(), "repo")
		if err := bench.GenerateTree(dirs[n], n); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirs[n], config.FileName), []byte(benchConfig), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// Files changed less than 2 s before a scan are re-hashed every time
	// (the racy-git rule); plan the steady state.
	time.Sleep(2100 * time.Millisecond)
	for _, n := range sizes {
		p, cacheData := warmPlanner(b, dirs[n])
		b.Run(fmt.Sprintf("%d/warm", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := fingerprint.LoadCache(cacheData)
				if err != nil {
					b.Fatal(err)
				}
				p.Scanner = &fingerprint.Scanner{Root: p.Config.Dir, Cache: c}
				pl, err := p.Plan(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if pl.WillRun() {
					b.Fatalf("a step would run: %s", pl.Steps[0].Summary())
				}
			}
		})
	}
}

// warmPlanner plans once, records every step as succeeded with what it
// found, and returns a planner for which everything is up to date, with
// the stat cache that plan left.
func warmPlanner(b *testing.B, dir string) (*plan.Planner, []byte) {
	b.Helper()
	cfg, err := config.Load(filepath.Join(dir, config.FileName), step.Core().Kinds())
	if err != nil {
		b.Fatal(err)
	}
	env := &step.Env{Exec: command.Exec{}, Getenv: os.Getenv, LookPath: exec.LookPath}
	steps := map[string]step.Step{}
	for _, cs := range cfg.Steps {
		if steps[cs.Name], err = step.Core().New(cfg, cs, env); err != nil {
			b.Fatal(err)
		}
	}
	cache := &fingerprint.Cache{}
	p := &plan.Planner{
		Config: cfg, Steps: steps, Records: map[string]state.Record{},
		OldManifest: func(string) ([]byte, error) { return nil, nil },
		Scanner:     &fingerprint.Scanner{Root: cfg.Dir, Cache: cache},
		Exec:        command.Exec{}, Shell: "/bin/sh", Now: time.Now, GOOS: runtime.GOOS, LookPath: exec.LookPath,
	}
	first, err := p.Plan(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range first.Steps {
		if d.Unscanned {
			// Never ran: fingerprinted at its turn, as the runner does.
			d = p.Decide(context.Background(), d.Name)
		}
		if d.Manifest == nil {
			b.Fatalf("%s: no fingerprint to record: %s", d.Name, d.Summary())
		}
		p.Records[d.Name] = state.Record{Step: d.Name, Definition: d.Definition, DefinitionDigest: d.DefinitionDigest,
			InputsDigest: d.Manifest.Digest.String(), Started: time.Now()}
	}
	data, err := cache.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	return p, data
}

// chainConfig is n command steps, each after the one before: the longest
// `after` path a config of n steps can have.
func chainConfig(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[steps.s%05d]\nkind = \"command\"\nrun = \"true\"\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "after = [\"s%05d\"]\n", i-1)
		}
	}
	return b.String()
}

// BenchmarkPlanChain plans an `after` chain of 500, 2,000 and 10,000
// up-to-date steps with no input files: what is left is the planner's
// own work over the graph, which must grow linearly with the chain.
func BenchmarkPlanChain(b *testing.B) {
	for _, n := range []int{500, 2000, 10000} {
		dir := b.TempDir()
		path := filepath.Join(dir, config.FileName)
		if err := os.WriteFile(path, []byte(chainConfig(n)), 0o644); err != nil {
			b.Fatal(err)
		}
		p, _ := warmPlanner(b, dir)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pl, err := p.Plan(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if pl.WillRun() {
					b.Fatalf("a step would run: %s", pl.Steps[0].Summary())
				}
			}
		})
	}
}
