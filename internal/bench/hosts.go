package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// The multi-host group: a flake of three configurations (hostsFiles), each
// a nix step, where one host's module is edited. With `entry`, sysinit
// evaluates that host alone; without, every host (the other two then find
// nothing to build). The stand-in nix counts as one evaluation each
// `nix eval`, and evaluates a host from the files nix would read (see
// closureFiles), so a host sysinit skips did not change.

// MultiHost is the scenario of the multi-host group.
const MultiHost = "multi-host"

// ToolSysinitWhole is sysinit on the same repo with a config whose nix
// steps name no entry: the whole flake (every tracked file) is each
// step's input.
const ToolSysinitWhole = "whole flake"

// hostsRepoFiles is the size of the multi-host repo: the smallest size
// asked for.
func hostsRepoFiles(o *Options) int {
	n := slices.Min(o.Sizes)
	return max(n, len(hostsFiles()))
}

// NewHostsFixture is the three-configuration repo of files files on a
// stand-in machine, refreshed with both configs (entry and no entry) until
// a refresh is a no-change one whose stat cache holds every file.
func NewHostsFixture(ctx context.Context, dir string, files int, self string, environ []string, lat Latencies) (*Fixture, error) {
	repo := filepath.Join(dir, "repo")
	if err := GenerateHostsTree(repo, files); err != nil {
		return nil, err
	}
	if err := gitInit(ctx, repo); err != nil {
		return nil, err
	}
	changed := time.Now()
	m, err := newMachine(filepath.Join(dir, "machine"), repo, self, lat, environ)
	if err != nil {
		return nil, err
	}
	refresh := func(what string) error {
		for _, argv := range [][]string{{self, "refresh", "--progress=never"}, {self, "--config", hostsWholeToml, "refresh", "--progress=never"}} {
			if _, _, err := timed(ctx, repo, m.env, argv...); err != nil {
				return fmt.Errorf("%s refresh: %w", what, err)
			}
		}
		return nil
	}
	if err := refresh("first"); err != nil {
		return nil, err
	}
	time.Sleep(racyWindow - time.Since(changed))
	if err := refresh("second"); err != nil {
		return nil, err
	}
	env := append(m.env[:len(m.env):len(m.env)], "SYSINIT_BENCH_SELF="+self)
	return &Fixture{Repo: repo, Env: env, Log: m.log}, nil
}

// WholeConfig is the multi-host fixture's config without entry, for
// --config.
const WholeConfig = hostsWholeToml

// EditHost makes the n-th edit of a module only host h0 reads.
func (f *Fixture) EditHost(n int) error {
	return writeRepoFile(f.Repo, hostEditFile, hardware(0, n), 0o644)
}

// ShareSelf makes the module every host imports use self as a value (as
// nix.registry built from inputs does), so that each configuration reads
// the whole flake, and refreshes until nothing is left to do.
func (f *Fixture) ShareSelf(ctx context.Context) error {
	if err := writeRepoFile(f.Repo, "modules/common.nix", "# Every host, and the flake's source.\n{ self, ... }:\n\n{\n  environment.etc.\"flake-source\".text = toString self;\n}\n", 0o644); err != nil {
		return err
	}
	changed := time.Now()
	self := lookupEnv(f.Env, "SYSINIT_BENCH_SELF")
	if self == "" {
		return errors.New("the fixture does not know its sysinit binary")
	}
	for i := 0; i < 2; i++ {
		if _, _, err := timed(ctx, f.Repo, f.Env, self, "refresh", "--progress=never"); err != nil {
			return err
		}
		if i == 0 {
			time.Sleep(racyWindow - time.Since(changed))
		}
	}
	return nil
}

// runMultiHost measures the multi-host scenario.
func runMultiHost(ctx context.Context, o *Options, r *Report, work string, lat Latencies) (*Group, error) {
	size := hostsRepoFiles(o)
	o.progress("3 configurations, %s files: generating and refreshing the repo", thousands(size))
	dir := filepath.Join(work, fmt.Sprintf("hosts-%d", size))
	repo := filepath.Join(dir, "repo")
	if err := GenerateHostsTree(repo, size); err != nil {
		return nil, err
	}
	if err := gitInit(ctx, repo); err != nil {
		return nil, err
	}
	m, err := newMachine(filepath.Join(dir, "machine"), repo, o.Self, lat, o.Environ)
	if err != nil {
		return nil, err
	}
	e := &sizeEnv{o: o, m: m, repo: repo, changed: time.Now(), label: "3 configurations"}
	for _, t := range []string{ToolSysinit, ToolSysinitWhole} {
		if _, _, err := timed(ctx, repo, m.env, e.argv(t)...); err != nil {
			return nil, fmt.Errorf("first refresh: %w", err)
		}
	}
	sc := e.scenario(MultiHost)
	res, err := e.run(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MultiHost, err)
	}
	return &Group{Label: fmt.Sprintf("3 configurations, %s files, stand-in managers", thousands(size)), Files: size, Scenarios: []ScenarioResult{*res}}, nil
}

// hostsScenario is the multi-host scenario's recipe: h0's hardware
// edited; with entry only h0 evaluates (and switches), without it h1 and
// h2 evaluate too and find nothing to switch.
func (e *sizeEnv) hostsScenario() *scenario {
	return &scenario{
		name: MultiHost, what: "one host's module edited in a repo of three configurations",
		tools: []string{ToolSysinit, ToolSysinitWhole},
		prepare: func(_ string, n int) error {
			e.changed = time.Now()
			return writeRepoFile(e.repo, hostEditFile, hardware(0, n), 0o644)
		},
		expect:      map[string]string{"h0": "done:switched", "h1": "skipped", "h2": "skipped"},
		expectWhole: map[string]string{"h0": "done:switched", "h1": "done:nothing built or switched", "h2": "done:nothing built or switched"},
		evaluations: true,
	}
}

// evaluationsNote says how many evaluations a run started.
func evaluationsNote(n float64) string {
	if n == 1 {
		return "1 nix evaluation per run"
	}
	return fmt.Sprintf("%g nix evaluations per run", n)
}

// countEvals counts the evaluations among calls: nix eval, as sysinit
// evaluates a system before it builds.
func countEvals(calls []Call) int {
	n := 0
	for _, c := range calls {
		if c.Name == "nix" && len(c.Argv) > 0 && c.Argv[0] == "eval" {
			n++
		}
	}
	return n
}
