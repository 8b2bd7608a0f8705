package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sysinit/sysinit/internal/state"
)

// TestLegacyStoreThroughSymlink: sysinit used to key a repo's records by
// the directory as reached, so a repo used through a symlink has its
// store under the link's path. It is found there, and moved to the real
// path's slot on the next refresh: an upgrade re-runs nothing.
func TestLegacyStoreThroughSymlink(t *testing.T) {
	repo := homeAndRepo(t)
	write(t, filepath.Join(repo, "sub/keep"), "k")
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ndir = \"sub\"\nrun = \"true\"\n")
	link := filepath.Join(filepath.Dir(repo), "link")
	must(t, os.Symlink(repo, link))
	if !refresh(t, repo) {
		t.Fatal("the first refresh did not run the step")
	}
	real, err := state.Path(os.Getenv, repo)
	must(t, err)
	legacy, err := state.Path(os.Getenv, link)
	must(t, err)
	if real == legacy {
		t.Fatal("the link and the repo map to one store path; the test proves nothing")
	}
	// What an older sysinit run through the link left behind.
	must(t, os.Rename(real, legacy))

	if refresh(t, link) {
		t.Error("the refresh through the link ran the step again")
	}
	if _, err := os.Stat(real); err != nil {
		t.Errorf("the store was not moved to %s: %v", real, err)
	}
	if _, err := os.Stat(legacy); err == nil {
		t.Errorf("the old store %s is still there", legacy)
	}
	if refresh(t, repo) {
		t.Error("the refresh through the real path ran the step again")
	}
}
