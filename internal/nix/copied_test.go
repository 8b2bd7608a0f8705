package nix

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/fingerprint"
)

// What nix copies is what is fingerprinted (false-skips.md, trap 15): the
// nested .git directories a path: flake copies, a flake checked out as a
// git submodule read the way git reads it. Where nix is installed, its
// own listing of the copied source is the reference.

// listFlake is a flake whose `files` output lists every file nix copied
// of it (symlinks as files: nix copies them as they are).
const listFlake = `{
  outputs = { self }: let
    list = dir: prefix: builtins.concatLists (builtins.attrValues (builtins.mapAttrs
      (n: t: if t == "directory" then list "${dir}/${n}" "${prefix}${n}/" else [ "${prefix}${n}" ])
      (builtins.readDir dir)));
  in { files = list self ""; v = import ./v.nix; };
}
`

// nixFiles is what nix copies of flake, a flake reference, sorted.
func nixFiles(t *testing.T, flake string) []string {
	t.Helper()
	nix, err := exec.LookPath("nix")
	if err != nil {
		return nil
	}
	cmd := exec.Command(nix, "eval", "--json", flake+"#files")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("nix eval %s: %v\n%s", flake, err, msg)
	}
	var files []string
	if err := json.Unmarshal(out, &files); err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	t.Logf("nix copied %d files of %s", len(files), flake)
	return files
}

// present lists the entries of m that exist, and are not directories,
// below prefix (with prefix cut off): what a copy of prefix holds.
func present(m *fingerprint.Manifest, prefix string) []string {
	var out []string
	for _, e := range m.Entries {
		rest, ok := strings.CutPrefix(e.Path, prefix)
		if ok && e.Type != fingerprint.TypeMissing && e.Type != fingerprint.TypeDir {
			out = append(out, rest)
		}
	}
	return out
}

func scanSpec(t *testing.T, root string, spec fingerprint.Spec, cache *fingerprint.Cache) *fingerprint.Manifest {
	t.Helper()
	ms, err := (&fingerprint.Scanner{Root: root, Cache: cache}).Scan(context.Background(), []fingerprint.Spec{spec})
	if err != nil {
		t.Fatal(err)
	}
	return ms[0]
}

// TestPathFlakeCopiesNestedGit: nix copies a path: flake, or a flake
// directory outside git, whole: .git directories at any depth and
// symlinks as symlinks. The inputs are exactly those files, so a commit
// in a vendored checkout inside it is a change.
func TestPathFlakeCopiesNestedGit(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	haveNix := requireNixOrNote(t)
	for _, tc := range []struct{ name, flake, dir string }{
		{"path: flake in the config dir", "path:.#x", "."},
		{"directory outside git, below the config dir", "./sub#x", "sub"},
		{"directory outside git, beside the config dir", "../beside#x", "../beside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			cfg := filepath.Join(base, "cfg")
			dir := filepath.Join(cfg, tc.dir)
			writeFile(t, filepath.Join(cfg, "sysinit.toml"), "")
			writeFile(t, filepath.Join(dir, "flake.nix"), listFlake)
			writeFile(t, filepath.Join(dir, "v.nix"), `"one"`)
			writeFile(t, filepath.Join(dir, "modules/real/a.nix"), "{}")
			if err := os.Symlink("real", filepath.Join(dir, "modules/link")); err != nil {
				t.Fatal(err)
			}
			vendor := filepath.Join(dir, "vendor/lib")
			writeFile(t, filepath.Join(vendor, "lib.nix"), "{}")
			git(t, vendor, "init", "-q", "-b", "main")
			git(t, vendor, "add", "-A")
			git(t, vendor, "commit", "-qm", "one")
			if tc.dir == "." {
				// A path: flake in a git checkout copies its top .git too.
				git(t, dir, "init", "-q", "-b", "main")
			}
			ref, err := parseFlakeRef(tc.flake, cfg)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := flakeInputs(cfg, ref, []string{"extra/**"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(spec.Patterns, []string{"extra/**"}) || len(spec.Trees) != 1 {
				t.Fatalf("spec %+v: want one tree and the extra pattern", spec)
			}
			cache := &fingerprint.Cache{}
			before := scanSpec(t, cfg, spec, cache)
			prefix := filepath.ToSlash(dir) + "/"
			if rel, _ := filepath.Rel(cfg, dir); !strings.HasPrefix(rel, "..") {
				prefix = strings.TrimPrefix(filepath.ToSlash(rel)+"/", "./")
			}
			ours := present(before, prefix)
			for _, want := range []string{"vendor/lib/.git/HEAD", "vendor/lib/lib.nix", "modules/link", "modules/real/a.nix"} {
				if !slices.Contains(ours, want) {
					t.Errorf("inputs lack %s: %q", want, ours)
				}
			}
			if slices.Contains(ours, "modules/link/a.nix") {
				t.Error("the symlink was followed; nix copies it as a symlink")
			}
			if haveNix {
				flakeRef := tc.flake
				if tc.dir != "." {
					flakeRef = "path:" + dir
				}
				if got := nixFiles(t, strings.TrimSuffix(strings.ReplaceAll(flakeRef, "path:.", "path:"+cfg), "#x")); !slices.Equal(got, ours) {
					t.Errorf("nix copied\n %q\nsysinit fingerprints\n %q", got, ours)
				}
			}
			writeFile(t, filepath.Join(vendor, "lib.nix"), "{ x = 1; }")
			git(t, vendor, "commit", "-qam", "two")
			after := scanSpec(t, cfg, spec, cache)
			if after.Digest == before.Digest {
				t.Error("a commit in a nested checkout did not change the inputs")
			}
		})
	}
}

// requireNixOrNote reports whether nix is there to compare with; without
// it the test still checks what sysinit fingerprints, unless
// SYSINIT_REQUIRE_NIX=1 demands nix.
func requireNixOrNote(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("nix"); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Logf("nix not installed: not comparing with what nix copies")
		return false
	}
	return true
}

// submoduleFlake makes a repository holding a flake and a superproject
// that has it as the submodule cfg, the way `git submodule add` does:
// cfg/.git is a file, "gitdir: ../.git/modules/cfg".
func submoduleFlake(t *testing.T) (super, sub string) {
	t.Helper()
	lib := t.TempDir()
	git(t, lib, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(lib, "flake.nix"), listFlake)
	writeFile(t, filepath.Join(lib, "v.nix"), `"one"`)
	writeFile(t, filepath.Join(lib, "modules/a.nix"), "{}")
	git(t, lib, "add", "-A")
	git(t, lib, "commit", "-qm", "one")
	super = t.TempDir()
	git(t, super, "init", "-q", "-b", "main")
	git(t, super, "submodule", "add", "-q", lib, "cfg")
	git(t, super, "commit", "-qm", "add cfg")
	sub = filepath.Join(super, "cfg")
	data, err := os.ReadFile(filepath.Join(sub, ".git"))
	if err != nil || !strings.HasPrefix(string(data), "gitdir: ") {
		t.Fatalf("cfg/.git should be a gitdir file: %q, %v", data, err)
	}
	return super, sub
}

// TestSubmoduleFlake: a flake checked out as a git submodule is read the
// way git reads it: its index, HEAD and refs from the git directory its
// .git file names. Its tracked files are what nix copies; an untracked
// file is not an input; an edit, a `git add` and a commit are changes —
// whether the config lives in the superproject or in the submodule.
func TestSubmoduleFlake(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	haveNix := requireNixOrNote(t)
	for _, inSub := range []bool{false, true} {
		super, sub := submoduleFlake(t)
		gitDir := filepath.Join(super, ".git", "modules", "cfg")
		tc := struct {
			name, cfgDir, flake, prefix string
			heads                       []string
		}{"config in the superproject", super, "./cfg#x", "cfg/",
			[]string{".git/modules/cfg/HEAD", ".git/modules/cfg/refs/heads/main"}}
		if inSub {
			tc.name, tc.cfgDir, tc.flake, tc.prefix = "config in the submodule", sub, ".#x", ""
			tc.heads = []string{filepath.Join(gitDir, "HEAD"), filepath.Join(gitDir, "refs/heads/main")}
		}
		t.Run(tc.name, func(t *testing.T) {
			ref, err := parseFlakeRef(tc.flake, tc.cfgDir)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := flakeInputs(tc.cfgDir, ref, nil)
			if err != nil {
				t.Fatalf("flakeInputs: %v", err)
			}
			for _, h := range tc.heads {
				if !slices.Contains(spec.Files, h) {
					t.Errorf("inputs lack %s: %q", h, spec.Files)
				}
			}
			cache := &fingerprint.Cache{}
			scan := func() *fingerprint.Manifest {
				t.Helper()
				spec, err := flakeInputs(tc.cfgDir, ref, nil)
				if err != nil {
					t.Fatal(err)
				}
				return scanSpec(t, tc.cfgDir, spec, cache)
			}
			before := scan()
			var ours []string
			for _, f := range present(before, tc.prefix) {
				if !strings.HasPrefix(f, "/") && !strings.HasPrefix(f, ".git/") {
					ours = append(ours, f)
				}
			}
			if want := []string{"flake.nix", "modules/a.nix", "v.nix"}; !slices.Equal(ours, want) {
				t.Errorf("tracked files %q, want %q", ours, want)
			}
			if haveNix {
				if got := nixFiles(t, "git+file://"+sub); !slices.Equal(got, ours) {
					t.Errorf("nix copied %q, sysinit fingerprints %q", got, ours)
				}
				if got := nixFiles(t, sub); !slices.Equal(got, ours) {
					t.Errorf("nix copied %q from the path, sysinit fingerprints %q", got, ours)
				}
			}

			writeFile(t, filepath.Join(sub, "untracked.nix"), "{}")
			if m := scan(); m.Digest != before.Digest {
				t.Errorf("an untracked file changed the inputs: %v", m.Entries)
			}
			git(t, sub, "add", "untracked.nix")
			added := scan()
			if added.Digest == before.Digest {
				t.Error("git add in the submodule did not change the inputs")
			}
			git(t, sub, "commit", "-qm", "two")
			committed := scan()
			if committed.Digest == added.Digest {
				t.Error("a commit in the submodule did not change the inputs (HEAD's ref)")
			}
			git(t, sub, "checkout", "-q", "--detach", "HEAD~1")
			if m := scan(); m.Digest == committed.Digest {
				t.Error("checking out another commit did not change the inputs")
			}
			git(t, sub, "checkout", "-q", "main")
		})
	}
}

// TestLinkedWorktreeFlake: a flake in a linked worktree keeps HEAD in the
// main repository's .git/worktrees; it is an input by absolute path, so
// a commit in the worktree is a change (it used to make the step run
// every time, unable to tell).
func TestLinkedWorktreeFlake(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	main := t.TempDir()
	git(t, main, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(main, "flake.nix"), "{}")
	git(t, main, "add", "-A")
	git(t, main, "commit", "-qm", "one")
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, main, "worktree", "add", "-q", "-b", "work", wt)
	ref, err := parseFlakeRef(".#x", wt)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := flakeInputs(wt, ref, nil)
	if err != nil {
		t.Fatalf("flakeInputs: %v", err)
	}
	head := filepath.Join(main, ".git", "worktrees", "wt", "HEAD")
	if !slices.Contains(spec.Files, head) {
		t.Errorf("inputs lack %s: %q", head, spec.Files)
	}
	before := scanSpec(t, wt, spec, nil)
	git(t, wt, "commit", "-q", "--allow-empty", "-m", "two")
	if scanSpec(t, wt, spec, nil).Digest == before.Digest {
		t.Error("a commit in the worktree did not change the inputs")
	}
}
