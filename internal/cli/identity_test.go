package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/cli"
)

// refreshSays runs `sysinit -C dir refresh --json` and reports whether step
// s ran, and what sysinit wrote to stderr.
func refreshSays(t *testing.T, dir string) (ran bool, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main([]string{"-C", dir, "refresh", "--json"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("refresh exited %d: %s%s", code, out.String(), errb.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var e struct{ Type, Step, Status string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad event %q: %v", sc.Text(), err)
		}
		if e.Type == "step-end" && e.Step == "s" {
			return e.Status == "done", errb.String()
		}
	}
	return false, errb.String()
}

// bindMount mounts dir at a second path, as a user's bind mount, a case
// variant on a case-insensitive filesystem or a macOS firmlink gives a
// second path to one directory that resolving symlinks does not undo.
func bindMount(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a bind mount needs root")
	}
	second := filepath.Join(t.TempDir(), "second")
	must(t, os.Mkdir(second, 0o755))
	if out, err := exec.Command("mount", "--bind", dir, second).CombinedOutput(); err != nil {
		t.Skipf("mount --bind: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", second).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", second, err, out)
		}
	})
	return second
}

// TestSecondPathToRepo: the repo reached through a second path (here a
// bind mount) has the same records. Above all, a run made through one path
// replaces what the other recorded: the input edited and refreshed through
// B, then put back, must run again through A — the machine holds B's
// version, whatever A recorded before.
func TestSecondPathToRepo(t *testing.T) {
	repo := homeAndRepo(t)
	write(t, filepath.Join(repo, "in"), "v1")
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ninputs = [\"in\"]\nrun = \"true\"\n")
	if ran, errs := refreshSays(t, repo); !ran {
		t.Fatalf("the first refresh did not run the step: %s", errs)
	}
	second := bindMount(t, repo)
	if ran, errs := refreshSays(t, second); ran {
		t.Errorf("through the second path, nothing changed, yet the step ran: %s", errs)
	}
	write(t, filepath.Join(second, "in"), "v2")
	if ran, errs := refreshSays(t, second); !ran {
		t.Fatalf("through the second path, the edited input did not run the step: %s", errs)
	}
	write(t, filepath.Join(repo, "in"), "v1")
	if ran, _ := refreshSays(t, repo); !ran {
		t.Error("the input put back to what the first path recorded was skipped, but the machine has v2 from the second path")
	}
}

// TestStoreOfAnotherHome: the same uid with another HOME (a store left by,
// or copied from, another home) gets none of its records: every step runs,
// and sysinit says whose the store is.
func TestStoreOfAnotherHome(t *testing.T) {
	repo := homeAndRepo(t)
	write(t, filepath.Join(repo, "in"), "v1")
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ninputs = [\"in\"]\nrun = \"true\"\n")
	if ran, errs := refreshSays(t, repo); !ran {
		t.Fatalf("the first refresh did not run the step: %s", errs)
	}
	first := os.Getenv("HOME")
	// XDG_CACHE_HOME stays: the store is the one the first HOME wrote.
	other := filepath.Join(filepath.Dir(first), "other-home")
	must(t, os.MkdirAll(other, 0o755))
	t.Setenv("HOME", other)
	ran, errs := refreshSays(t, repo)
	if !ran {
		t.Error("with another HOME, the first HOME's record was trusted")
	}
	if !strings.Contains(errs, "the state store belongs to") || !strings.Contains(errs, "(HOME "+first+")") {
		t.Errorf("stderr does not say whose the store is:\n%s", errs)
	}
	if ran, errs := refreshSays(t, repo); ran {
		t.Errorf("the second run with the new HOME ran again: %s", errs)
	}
}
