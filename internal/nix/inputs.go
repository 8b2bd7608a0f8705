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
	spec := fingerprint.Spec{Patterns: extra}
	if !ref.local() {
		return spec, &notLocalError{Flake: ref.raw, Reason: "is not on this machine"}
	}
	if ref.pinned {
		return spec, &notLocalError{Flake: ref.raw, Reason: "names a git ref or rev, so nix reads a commit rather than the files"}
	}
	src, err := sourceOf(ref)
	if err != nil {
		return spec, err
	}
	if !src.inGit {
		relDir, err := relSlash(cfgDir, ref.dir)
		if err != nil {
			return spec, err
		}
		// Nix copies the whole directory as it is: every .git directory
		// in it (a path: flake in a git checkout changes with every
		// commit, a vendored checkout's with each of its own), symlinks
		// as symlinks. A directory outside the config directory is named
		// by its absolute path.
		if outside(relDir) {
			relDir = filepath.ToSlash(filepath.Clean(ref.dir))
		}
		spec.Trees = []string{relDir}
		return spec, nil
	}
	subs := ref.submodules
	if !subs {
		// Newer nix reads `inputs.self.submodules = true` from flake.nix.
		// A mention of the word is enough to include them: extra files only
		// cost an evaluation, a missing one a wrong skip.
		data, err := os.ReadFile(filepath.Join(ref.dir, "flake.nix"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return spec, fmt.Errorf("reading flake.nix: %w", err)
		}
		subs = bytes.Contains(data, []byte("submodules"))
	}
	tracked, err := trackedFiles(src.repo, subs)
	if err != nil {
		return spec, err
	}
	relRoot, err := relSlash(cfgDir, src.repo.root)
	if err != nil {
		return spec, err
	}
	flakeDir, err := relSlash(src.repo.root, ref.dir)
	if err != nil {
		return spec, err
	}
	files := make([]string, 0, len(tracked)+4)
	files = append(files, tracked...)
	files = append(files, path.Join(flakeDir, "flake.nix"), path.Join(flakeDir, "flake.lock"))
	heads, err := src.repo.headFiles()
	if err != nil {
		return spec, err
	}
	switch {
	case relRoot == ".":
	case outside(relRoot):
		// The repository starts above the config directory: its paths
		// are relative to its own root, and so must the extra patterns be.
		down, err := relSlash(src.repo.root, cfgDir)
		if err != nil {
			return spec, err
		}
		spec.Root = src.repo.root
		spec.Patterns = nil
		for _, p := range extra {
			bang, rest := "", p
			if r, ok := strings.CutPrefix(p, "!"); ok {
				bang, rest = "!", r
			}
			if !strings.HasPrefix(rest, "/") { // absolute ones name the same files from anywhere
				rest = path.Join(down, rest)
			}
			spec.Patterns = append(spec.Patterns, bang+rest)
		}
	default:
		// A repository inside the config directory: its paths gain its prefix.
		for i, f := range files {
			files[i] = relRoot + "/" + f
		}
	}
	// HEAD and its ref live in the git directory, which for a submodule
	// or a linked worktree is not the work tree's .git: named relative to
	// the spec's root when below it, else by absolute path.
	base := cfgDir
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
		files = append(files, rel)
	}
	sort.Strings(files)
	spec.Files = dedupSorted(files)
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
