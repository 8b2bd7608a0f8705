package nix

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewerLock: a flake.lock this nix cannot read because a newer Nix
// wrote it is explained as such, from what the real nix says. A lock
// version no Nix has reached fails on every nix; a relative path input as
// Nix 2.26 and later lock it (no hash, "parent") fails on Nix 2.8 and is
// read by newer ones, where there is nothing to explain.
func TestNewerLock(t *testing.T) {
	nix := requireNix(t)
	requireGit(t)
	gitEnv(t)
	tmp := t.TempDir()
	registry := filepath.Join(tmp, "registry.json")
	writeFile(t, registry, `{"flakes":[],"version":2}`)
	t.Setenv("NIX_CONFIG", strings.Join([]string{
		"experimental-features = nix-command flakes", "sandbox = false", "build-users-group =",
		"substituters =", "flake-registry = " + registry, "warn-dirty = false",
	}, "\n"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(tmp, "cache"))

	eval := func(dir string) (string, bool) {
		git := exec.Command("sh", "-c", "git init -q && git add -A")
		git.Dir = dir
		if out, err := git.CombinedOutput(); err != nil {
			t.Fatalf("git: %v\n%s", err, out)
		}
		cmd := exec.Command(nix, "eval", dir+"#x")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err == nil
	}

	v8 := filepath.Join(tmp, "v8")
	writeFile(t, filepath.Join(v8, "flake.nix"), `{ outputs = { self }: { x = 1; }; }`)
	writeFile(t, filepath.Join(v8, "flake.lock"), `{"nodes": {"root": {}}, "root": "root", "version": 8}`)
	stderr, ok := eval(v8)
	if ok {
		t.Fatalf("nix read a version 8 lock file")
	}
	e := newerLock("evaluating x", stderr, "Nix, "+nix, nil)
	if e == nil {
		t.Fatalf("not recognised as a lock written by a newer Nix: %s", stderr)
	}
	for _, want := range []string{"flake.lock was written by a newer Nix than this one", "lock file version 8", "upgrade nix"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%q lacks %q", e.Error(), want)
		}
	}

	rel := filepath.Join(tmp, "rel")
	writeFile(t, filepath.Join(rel, "sub", "flake.nix"), `{ outputs = { self }: { s = 3; }; }`)
	writeFile(t, filepath.Join(rel, "flake.nix"), `{ inputs.sub.url = "path:./sub"; outputs = { self, sub }: { x = sub.s; }; }`)
	// As Nix 2.34 wrote it (nix flake lock).
	writeFile(t, filepath.Join(rel, "flake.lock"), `{
  "nodes": {
    "root": {"inputs": {"sub": "sub"}},
    "sub": {
      "locked": {"path": "./sub", "type": "path"},
      "original": {"path": "./sub", "type": "path"},
      "parent": []
    }
  },
  "root": "root",
  "version": 7
}
`)
	stderr, ok = eval(rel)
	if ok {
		t.Logf("this nix reads relative path inputs: nothing to explain")
		return
	}
	e = newerLock("evaluating x", stderr, "Nix, "+nix, nil)
	if e == nil {
		t.Fatalf("not recognised as a lock written by a newer Nix: %s", stderr)
	}
	for _, want := range []string{"flake.lock was written by a newer Nix than this one", `{"path":"./sub","type":"path"}`, "relative path input", "upgrade nix"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%q lacks %q", e.Error(), want)
		}
	}
	if got := newerLock("x", "error: attribute 'x' missing", nix, nil); got != nil {
		t.Errorf("another error taken for a newer lock: %v", got)
	}
}
