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

	// A tarball input as newer Nix locks one served by the lockable tarball
	// protocol (FlakeHub's URLs): lastModified, rev and revCount beside the
	// url, which Nix 2.8's tarball scheme refuses. A Nix that reads them
	// would go on to fetch the tarball; there is nothing to explain then.
	tb := filepath.Join(tmp, "tarball")
	writeFile(t, filepath.Join(tb, "flake.nix"), `{ inputs.t = { url = "https://example.invalid/t.tar.gz"; flake = false; }; outputs = { self, t }: { x = 1; }; }`)
	writeFile(t, filepath.Join(tb, "flake.lock"), `{
  "nodes": {
    "root": {"inputs": {"t": "t"}},
    "t": {
      "flake": false,
      "locked": {"lastModified": 1780327564, "narHash": "sha256-HiRPtA0spK+Dkgbhz/1zW9glXxNVB+L4Rj2VYmdawb8=", "rev": "6cc9bd98891b1fc6bb2b8cb3277df8bc72799ca6", "revCount": 149, "type": "tarball", "url": "https://example.invalid/pinned/t.tar.gz"},
      "original": {"type": "tarball", "url": "https://example.invalid/t.tar.gz"}
    }
  },
  "root": "root",
  "version": 7
}
`)
	if stderr, ok := eval(tb); ok || !strings.Contains(stderr, "unsupported tarball input attribute") {
		t.Logf("this nix reads a tarball lock's lastModified: nothing to explain")
	} else {
		e := newerLock("evaluating x", stderr, "Nix, "+nix, nil)
		if e == nil {
			t.Fatalf("not recognised as a lock written by a newer Nix: %s", stderr)
		}
		for _, want := range []string{"flake.lock was written by a newer Nix than this one", "tarball input", "'lastModified'", "upgrade nix"} {
			if !strings.Contains(e.Error(), want) {
				t.Errorf("%q lacks %q", e.Error(), want)
			}
		}
	}
	if got := newerLock("x", "error: unsupported tarball input attribute 'wrong'", nix, nil); got != nil {
		t.Errorf("a tarball attribute no Nix locks taken for a newer lock: %v", got)
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
