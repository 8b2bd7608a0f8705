package cli_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/state"
)

// TestRefreshSavesStatCache: the hashes a refresh computes — here all at
// the step's turn, as it never ran — are in the stored stat cache after
// it, so the next refresh only stats the files.
func TestRefreshSavesStatCache(t *testing.T) {
	repo := homeAndRepo(t)
	files := []string{"src/a", "src/b/c", "src/d"}
	for _, f := range files {
		write(t, filepath.Join(repo, f), "content of "+f)
	}
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ninputs = [\"src/**\"]\nrun = \"true\"\n")
	// Files younger than the racy window are hashed but never cached.
	time.Sleep(2100 * time.Millisecond)
	if !refresh(t, repo) {
		t.Fatal("the first refresh did not run the step")
	}
	id, err := state.IdentifyConfig(repo, "")
	must(t, err)
	path, err := state.Path(os.Getenv, id)
	must(t, err)
	st, err := state.Open(path, state.Options{ReadOnly: true})
	must(t, err)
	defer st.Close()
	data, err := st.StatCache()
	must(t, err)
	c, err := fingerprint.LoadCache(data)
	must(t, err)
	if c.Len() != len(files) {
		t.Errorf("the stored stat cache holds %d files, want %d", c.Len(), len(files))
	}
	if refresh(t, repo) {
		t.Error("the second refresh ran the step")
	}
}
