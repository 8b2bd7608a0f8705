package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// Fixture is a generated config repo on a stand-in machine, refreshed
// until nothing is left to do: what the Go benchmarks of the no-change
// path start from.
type Fixture struct {
	Repo string   // the config repo
	Env  []string // the environment sysinit must run with there
	Log  string   // the stand-ins' call log
}

// NewFixture generates a repo of files files under dir, lays out its
// machine with stand-ins that run self (a sysinit binary) at latencies
// lat, and refreshes it with self until a refresh is a no-change one
// whose stat cache holds every file.
func NewFixture(ctx context.Context, dir string, files int, self string, environ []string, lat Latencies) (*Fixture, error) {
	repo := filepath.Join(dir, "repo")
	if err := GenerateTree(repo, files); err != nil {
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
	if _, _, err := timed(ctx, repo, m.env, self, "refresh", "--progress=never"); err != nil {
		return nil, fmt.Errorf("first refresh: %w", err)
	}
	// Files changed within the racy window are not cached; wait it out so
	// that the last refresh leaves every file in the stat cache.
	time.Sleep(racyWindow - time.Since(changed))
	if _, _, err := timed(ctx, repo, m.env, self, "refresh", "--progress=never"); err != nil {
		return nil, fmt.Errorf("second refresh: %w", err)
	}
	return &Fixture{Repo: repo, Env: m.env, Log: m.log}, nil
}

// EditComment rewrites a comment in one of the flake's modules, the n-th
// such edit: the cosmetic scenario's change, after which the system
// evaluates to the same out path.
func (f *Fixture) EditComment(n int) error {
	return writeRepoFile(f.Repo, cosmeticFile, cosmeticEdit(n), 0o644)
}
