package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/sysinit/sysinit/internal/cli"
	"github.com/sysinit/sysinit/internal/state"
)

// TestLegacyStoreThroughSymlink: sysinit used to key a repo's records by
// the directory as reached, so a repo used through a symlink has its
// store under the link's path. It is found there, and moved to the
// store named by the repo's identity on the next refresh: an upgrade
// re-runs nothing.
func TestLegacyStoreThroughSymlink(t *testing.T) {
	repo := homeAndRepo(t)
	write(t, filepath.Join(repo, "sub/keep"), "k")
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ndir = \"sub\"\nrun = \"true\"\n")
	link := filepath.Join(filepath.Dir(repo), "link")
	must(t, os.Symlink(repo, link))
	if !refresh(t, repo) {
		t.Fatal("the first refresh did not run the step")
	}
	id, err := state.IdentifyConfig(repo, "")
	must(t, err)
	current, err := state.Path(os.Getenv, id)
	must(t, err)
	legacy, err := state.LegacyPath(os.Getenv, link)
	must(t, err)
	// What an older sysinit run through the link left behind, its owner
	// naming the config by the link's path.
	must(t, os.Rename(current, legacy))
	setLegacyOwner(t, legacy, link)

	if refresh(t, link) {
		t.Error("the refresh through the link ran the step again")
	}
	if _, err := os.Stat(current); err != nil {
		t.Errorf("the store was not moved to %s: %v", current, err)
	}
	if _, err := os.Stat(legacy); err == nil {
		t.Errorf("the old store %s is still there", legacy)
	}
	if refresh(t, repo) {
		t.Error("the refresh through the real path ran the step again")
	}
}

// TestLegacyStoreByRealPath: the store an older sysinit named by the
// repo's real path, its owner naming the config by that path, keeps its
// records through the upgrade; read-only commands read it where it is.
func TestLegacyStoreByRealPath(t *testing.T) {
	repo := homeAndRepo(t)
	write(t, filepath.Join(repo, "in"), "v1")
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ninputs = [\"in\"]\nrun = \"true\"\n")
	if !refresh(t, repo) {
		t.Fatal("the first refresh did not run the step")
	}
	id, err := state.IdentifyConfig(repo, "")
	must(t, err)
	current, err := state.Path(os.Getenv, id)
	must(t, err)
	legacy, err := state.LegacyPath(os.Getenv, repo)
	must(t, err)
	must(t, os.Rename(current, legacy))
	setLegacyOwner(t, legacy, repo)

	var out, errb bytes.Buffer
	if code := cli.Main([]string{"-C", repo, "plan"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "skip") {
		t.Errorf("plan on the old store: exit %d, want s skipped:\n%s%s", code, out.String(), errb.String())
	}
	if _, err := os.Stat(legacy); err != nil {
		t.Errorf("plan moved the old store: %v", err)
	}
	if refresh(t, repo) {
		t.Error("the refresh after the upgrade ran the step again")
	}
	if _, err := os.Stat(current); err != nil {
		t.Errorf("the store was not moved to %s: %v", current, err)
	}
}

// setLegacyOwner writes the owner of the store at path as sysinit wrote
// it before owners held a HOME and the config's identity.
func setLegacyOwner(t *testing.T, path, configDir string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	must(t, err)
	defer db.Close()
	must(t, db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("owner"), []byte("machine="+state.LocalMachineID()+"\nuid="+strconv.Itoa(os.Geteuid())+"\nconfig="+configDir))
	}))
}
