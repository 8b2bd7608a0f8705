package nix

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sysinit/sysinit/internal/fingerprint"
)

// notLocalError is a flake whose files sysinit cannot see, so it cannot
// tell when it changed; the step runs every time, saying this.
type notLocalError struct {
	Flake  string
	Reason string
}

func (e *notLocalError) Error() string {
	return fmt.Sprintf("flake %q %s, so sysinit cannot see when it changes", e.Flake, e.Reason)
}

// flakeSource describes where nix reads a local flake from.
type flakeSource struct {
	repo   gitRepo
	inGit  bool
	detail string // for the log: how the inputs were found
}

// sourceOf finds the git repository nix will copy the flake from.
func sourceOf(ref flakeRef) (flakeSource, error) {
	if ref.pathScheme {
		return flakeSource{detail: "a path: flake: nix copies the whole directory, so every file under it is an input"}, nil
	}
	repo, ok, err := findRepo(ref.dir)
	if err != nil {
		return flakeSource{}, err
	}
	if !ok {
		return flakeSource{detail: ref.dir + " is not in a git repository: nix copies the whole directory, so every file under it is an input"}, nil
	}
	return flakeSource{repo: repo, inGit: true, detail: "inputs: the files git tracks in " + repo.root + " and flake.lock"}, nil
}

// flakeInputs says which files nix sees for ref, relative to cfgDir: the
// files git tracks in the flake's repository (nix copies the whole
// repository, so a flake in a subdirectory can import ../x), the flake's
// flake.nix and flake.lock (listed even when untracked or missing, so that
// their appearance is a change), and extra globs.
func flakeInputs(cfgDir string, ref flakeRef, extra []string) (fingerprint.Spec, error) {
	v, err := viewFlake(cfgDir, ref, extra)
	if err != nil || v.whole {
		return v.spec, err
	}
	return v.specOf(v.tracked, true)
}

// flakeView is what nix sees of a local flake, and how to name its files
// in a Spec.
type flakeView struct {
	spec fingerprint.Spec // Root and Patterns; Files too when whole
	// whole: the flake is not read through git (a path: flake, or one
	// outside any repository): spec holds the whole directory already.
	whole    bool
	detail   string // why, when whole
	repo     gitRepo
	tracked  []string // relative to repo.root
	flakeDir string   // the flake's directory, relative to repo.root ("." at the top)
	relRoot  string   // repo.root relative to cfgDir
	cfgDir   string
}

// viewFlake reads what nix sees of ref: its repository's tracked files, or,
// for a flake nix copies whole, the directory.
func viewFlake(cfgDir string, ref flakeRef, extra []string) (*flakeView, error) {
	v := &flakeView{spec: fingerprint.Spec{Patterns: extra}, cfgDir: cfgDir}
	if !ref.local() {
		return v, &notLocalError{Flake: ref.raw, Reason: "is not on this machine"}
	}
	if ref.pinned {
		return v, &notLocalError{Flake: ref.raw, Reason: "names a git ref or rev, so nix reads a commit rather than the files"}
	}
	src, err := sourceOf(ref)
	if err != nil {
		return v, err
	}
	if !src.inGit {
		relDir, err := relSlash(cfgDir, ref.dir)
		if err != nil {
			return v, err
		}
		// Nix copies the whole directory as it is: every .git directory
		// in it (a path: flake in a git checkout changes with every
		// commit, a vendored checkout's with each of its own), symlinks
		// as symlinks. A directory outside the config directory is named
		// by its absolute path.
		if outside(relDir) {
			relDir = filepath.ToSlash(filepath.Clean(ref.dir))
		}
		v.spec.Trees = []string{relDir}
		v.whole, v.detail = true, src.detail
		return v, nil
	}
	subs := ref.submodules
	if !subs {
		// Newer nix reads `inputs.self.submodules = true` from flake.nix.
		// A mention of the word is enough to include them: extra files only
		// cost an evaluation, a missing one a wrong skip.
		data, err := os.ReadFile(filepath.Join(ref.dir, "flake.nix"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return v, fmt.Errorf("reading flake.nix: %w", err)
		}
		subs = bytes.Contains(data, []byte("submodules"))
	}
	v.repo = src.repo
	if v.tracked, err = trackedFiles(src.repo, subs); err != nil {
		return v, err
	}
	if v.relRoot, err = relSlash(cfgDir, src.repo.root); err != nil {
		return v, err
	}
	if v.flakeDir, err = relSlash(src.repo.root, ref.dir); err != nil {
		return v, err
	}
	if outside(v.relRoot) {
		// The repository starts above the config directory: its paths
		// are relative to its own root, and so must the extra patterns be.
		down, err := relSlash(src.repo.root, cfgDir)
		if err != nil {
			return v, err
		}
		v.spec.Root = src.repo.root
		v.spec.Patterns = nil
		for _, p := range extra {
			bang, rest := "", p
			if r, ok := strings.CutPrefix(p, "!"); ok {
				bang, rest = "!", r
			}
			if !strings.HasPrefix(rest, "/") { // absolute ones name the same files from anywhere
				// down is a path, not a pattern: "!nix" or "[nix]"
				// must name that directory.
				rest = path.Join(fingerprint.EscapeGlob(down), rest)
			}
			v.spec.Patterns = append(v.spec.Patterns, bang+rest)
		}
	}
	return v, nil
}

// specKey is the path a Spec (and the stat cache) names the tracked file p
// by; ok is false when the stat cache does not hold it (a repository above
// the config directory is scanned apart).
func (v *flakeView) specKey(p string) (string, bool) {
	switch {
	case v.relRoot == ".":
		return p, true
	case outside(v.relRoot):
		return p, false
	}
	return v.relRoot + "/" + p, true
}

// specOf is the spec of the tracked files files (relative to the
// repository), the flake's flake.nix and flake.lock, and with head, the
// files that say which commit HEAD is.
func (v *flakeView) specOf(files []string, head bool) (fingerprint.Spec, error) {
	spec := v.spec
	out := make([]string, 0, len(files)+4)
	out = append(out, files...)
	out = append(out, path.Join(v.flakeDir, "flake.nix"), path.Join(v.flakeDir, "flake.lock"))
	if v.relRoot != "." && !outside(v.relRoot) {
		// A repository inside the config directory: its paths gain its prefix.
		for i, f := range out {
			out[i] = v.relRoot + "/" + f
		}
	}
	if head {
		heads, err := v.repo.headFiles()
		if err != nil {
			return spec, err
		}
		// HEAD and its ref live in the git directory, which for a submodule
		// or a linked worktree is not the work tree's .git: named relative to
		// the spec's root when below it, else by absolute path.
		base := v.cfgDir
		if spec.Root != "" {
			base = spec.Root
		}
		for _, h := range heads {
			rel, err := relSlash(base, h)
			if err != nil {
				return spec, err
			}
			if outside(rel) {
				rel = filepath.ToSlash(h)
			}
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	spec.Files = dedupSorted(out)
	return spec, nil
}

func outside(rel string) bool { return rel == ".." || strings.HasPrefix(rel, "../") }

func relSlash(base, target string) (string, error) {
	rel, err := filepath.Rel(base, target)
	if err != nil {
		return "", fmt.Errorf("locating %s from %s: %w", target, base, err)
	}
	return filepath.ToSlash(rel), nil
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
