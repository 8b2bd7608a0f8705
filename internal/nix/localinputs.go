package nix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// Nix reads some flake inputs from this machine's directories on every
// evaluation, and flake.lock does not say what it read:
//
//   - `--override-input NAME REF` (and `--override-flake FROM REF`) in
//     extra-args: an override is locked afresh on each command, never
//     written to flake.lock, so a local REF is read as it is now;
//   - a path input that flake.lock locks without a narHash: a relative
//     one (`path:../shared`) on Nix ≥ 2.18, which records it with
//     "parent" and reads it from the parent flake's source each time;
//   - a git input on this machine locked without a rev (a dirty tree).
//
// A path input locked with a narHash is read from the store copy of that
// hash (Nix 2.8, 2.26 and 2.34 alike: an edit of the directory changes
// nothing until flake.lock is updated), and a git input locked with a rev
// reads that commit: flake.lock, an input already, covers both. So does it
// every remote input.

// overrideFlags are the flags of nix whose second operand is a flake
// reference nix fetches unlocked.
var overrideFlags = map[string]bool{"--override-input": true, "--override-flake": true}

// overrides are the flake references extra-args override inputs with, as
// "FLAG NAME REF" for messages, and the references themselves.
func overrides(args []string) (names, refs []string) {
	for i := 0; i+2 < len(args); i++ {
		if overrideFlags[args[i]] {
			names = append(names, args[i]+" "+args[i+1]+" "+args[i+2])
			refs = append(refs, args[i+2])
			i += 2
		}
	}
	return names, refs
}

// rev40 is a full commit id in a github:/gitlab:/sourcehut: reference.
var rev40 = lazyregexp.New(`^[0-9a-f]{40}$`)

// remotePinned reports whether a remote flake reference names fixed
// content: a rev= or narHash= attribute, or a commit id as the third path
// element of github:OWNER/REPO/REV (and its kin).
func remotePinned(ref string) bool {
	base, _, _ := strings.Cut(ref, "#")
	loc, query, _ := strings.Cut(base, "?")
	for _, kv := range strings.Split(query, "&") {
		if strings.HasPrefix(kv, "rev=") || strings.HasPrefix(kv, "narHash=") {
			return true
		}
	}
	for _, scheme := range []string{"github:", "gitlab:", "sourcehut:"} {
		if rest, ok := strings.CutPrefix(loc, scheme); ok {
			parts := strings.Split(rest, "/")
			return len(parts) >= 3 && rev40().MatchString(parts[len(parts)-1])
		}
	}
	return false
}

// lockFile is the part of flake.lock sysinit reads.
type lockFile struct {
	Root  string              `json:"root"`
	Nodes map[string]lockNode `json:"nodes"`
}

type lockNode struct {
	Inputs map[string]json.RawMessage `json:"inputs"`
	Locked map[string]any             `json:"locked"`
	Parent []string                   `json:"parent"`
}

// liveLockedDirs reads the flake.lock in flakeDir and returns the
// directories nix reads as they are on each evaluation (see above), with
// the input each belongs to. A missing flake.lock names none: nix writes
// one, and flake.lock is an input of its own.
func liveLockedDirs(flakeDir string) (dirs, names []string, modes []readMode, err error) {
	file := filepath.Join(flakeDir, "flake.lock")
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading %s: %w", file, err)
	}
	dirs, names, modes, err = liveDirsOf(data, flakeDir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return dirs, names, modes, nil
}

// liveDirsOf is liveLockedDirs of the flake.lock data of the flake in
// flakeDir.
func liveDirsOf(data []byte, flakeDir string) (dirs, names []string, modes []readMode, err error) {
	var lf lockFile
	if err := json.Unmarshal(data, &lf); err != nil {
		return nil, nil, nil, err
	}
	keys := make([]string, 0, len(lf.Nodes))
	for k := range lf.Nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == lf.Root {
			continue
		}
		d, live, err := lf.liveDir(k, flakeDir, 0)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("input %q: %w", k, err)
		}
		if live {
			m := readTree
			switch p, _ := lf.Nodes[k].Locked["path"].(string); {
			case lf.Nodes[k].Locked["type"] == "git":
				m = readGit
			case !filepath.IsAbs(p):
				m = readParent
			}
			dirs, names, modes = append(dirs, d), append(names, k), append(modes, m)
		}
	}
	return dirs, names, modes, nil
}

// maxLockDepth bounds the chains of parents and follows in a flake.lock.
const maxLockDepth = 32

// liveDir is the directory node key is read from, and whether nix reads it
// live (see above).
func (lf *lockFile) liveDir(key, flakeDir string, depth int) (string, bool, error) {
	if depth > maxLockDepth {
		return "", false, errors.New("parents nest too deep")
	}
	n := lf.Nodes[key]
	str := func(k string) string { s, _ := n.Locked[k].(string); return s }
	if str("narHash") != "" {
		return "", false, nil
	}
	switch str("type") {
	case "path":
		p := str("path")
		if p == "" {
			return "", false, errors.New("a path input with no path")
		}
		if filepath.IsAbs(p) {
			return filepath.Clean(p), true, nil
		}
		// Relative to the flake that names it: its parent, found by the
		// input names from the root.
		base := flakeDir
		if len(n.Parent) > 0 {
			pk, err := lf.resolve(n.Parent, depth)
			if err != nil {
				return "", false, err
			}
			d, ok, err := lf.liveDir(pk, flakeDir, depth+1)
			if err != nil {
				return "", false, err
			}
			if !ok {
				// The parent is locked by hash; so, through it, is this.
				return "", false, nil
			}
			base = d
		}
		return filepath.Join(base, filepath.FromSlash(p)), true, nil
	case "git":
		u := str("url")
		if str("rev") != "" || !strings.HasPrefix(u, "file://") {
			return "", false, nil
		}
		return filepath.Clean(strings.TrimPrefix(u, "file://")), true, nil
	}
	return "", false, nil
}

// resolve is the node the input path names (input names from the root).
func (lf *lockFile) resolve(inputPath []string, depth int) (string, error) {
	if depth > maxLockDepth {
		return "", errors.New("follows nest too deep")
	}
	key := lf.Root
	for _, name := range inputPath {
		raw, ok := lf.Nodes[key].Inputs[name]
		if !ok {
			return "", fmt.Errorf("no input %q in %s", strings.Join(inputPath, "/"), key)
		}
		var next string
		if err := json.Unmarshal(raw, &next); err != nil {
			var follows []string
			if err := json.Unmarshal(raw, &follows); err != nil {
				return "", fmt.Errorf("input %q: neither a node nor follows", name)
			}
			if next, err = lf.resolve(follows, depth+1); err != nil {
				return "", err
			}
		}
		key = next
	}
	return key, nil
}

// addLocalInputs adds to spec what nix reads of this machine beyond the
// flake's own source (see above): the override references in extra-args
// and the inputs flake.lock locks without a hash. v is the flake's view;
// a directory inside its repository adds the tracked files under it.
func (sy *system) addLocalInputs(spec *fingerprint.Spec, v *flakeView) error {
	var dirs, why []string
	names, refs := overrides(sy.k.ExtraArgs)
	var modes []readMode
	for i, r := range refs {
		ref, err := parseFlakeRef(r, sy.workDir)
		if err != nil {
			return fmt.Errorf("extra-args %s: %w", names[i], err)
		}
		switch {
		case !ref.local():
			if !remotePinned(r) {
				return &notLocalError{Flake: r, Reason: "(from extra-args " + names[i] + ") names no rev or narHash: nix fetches it as it is now"}
			}
			continue
		case ref.pinned && !strings.Contains(r, "rev="):
			return &notLocalError{Flake: r, Reason: "(from extra-args " + names[i] + ") names a branch, not a commit: nix reads its newest commit"}
		case ref.pinned:
			continue // a commit; extra-args are in the definition
		}
		m := readTree
		if ref.gitFiltered {
			m = readGit
		}
		dirs, why, modes = append(dirs, ref.dir), append(why, names[i]), append(modes, m)
	}
	if sy.ref.local() {
		ld, ln, lm, err := liveLockedDirs(sy.ref.dir)
		if err != nil {
			return err
		}
		for i, d := range ld {
			dirs, why, modes = append(dirs, d), append(why, "flake.lock input "+ln[i]), append(modes, lm[i])
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	base := sy.cfgDir
	if spec.Root != "" {
		base = spec.Root
	}
	name := func(abs string) (string, error) {
		rel, err := relSlash(base, abs)
		if err != nil || outside(rel) {
			return filepath.ToSlash(abs), err
		}
		return rel, nil
	}
	for i, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			// Nix fails on it; the step runs and shows that.
			return fmt.Errorf("%s: %w", why[i], err)
		}
		if modes[i] != readTree && v != nil && !v.whole && v.repo.root != "" && within(v.repo.root, d) {
			// Read from the flake's own source: the tracked files under it;
			// all of them when nix copies the repository for it.
			sub, err := relSlash(v.repo.root, d)
			if err != nil {
				return err
			}
			if modes[i] == readGit {
				sub = "."
			}
			for _, f := range v.tracked {
				if sub == "." || strings.HasPrefix(f, sub+"/") {
					n, err := name(filepath.Join(v.repo.root, filepath.FromSlash(f)))
					if err != nil {
						return err
					}
					spec.Files = append(spec.Files, n)
				}
			}
			continue
		}
		if v != nil && v.whole && within(sy.ref.dir, d) {
			continue // inside the tree already read whole
		}
		repo, inGit := gitRepo{}, false
		if modes[i] == readGit {
			var err error
			if repo, inGit, err = findRepo(d); err != nil {
				return fmt.Errorf("%s: %w", why[i], err)
			}
		}
		if !inGit {
			n, err := name(d)
			if err != nil {
				return err
			}
			spec.Trees = append(spec.Trees, n)
			continue
		}
		// Nix copies the repository's tracked files (with ?dir=, still the
		// whole repository), and its commit.
		tracked, err := trackedFiles(repo, false)
		if err != nil {
			return fmt.Errorf("%s: %w", why[i], err)
		}
		heads, err := repo.headFiles()
		if err != nil {
			return fmt.Errorf("%s: %w", why[i], err)
		}
		for _, f := range tracked {
			heads = append(heads, filepath.Join(repo.root, filepath.FromSlash(f)))
		}
		for _, abs := range heads {
			n, err := name(abs)
			if err != nil {
				return err
			}
			spec.Files = append(spec.Files, n)
		}
	}
	sort.Strings(spec.Files)
	spec.Files = dedupSorted(spec.Files)
	sort.Strings(spec.Trees)
	spec.Trees = dedupSorted(spec.Trees)
	return nil
}

// readMode is how nix reads a directory it takes an input from.
type readMode int

const (
	// readTree: a path: reference, copied whole.
	readTree readMode = iota
	// readGit: a directory in a git repository, read through git: the
	// repository's tracked files and its commit.
	readGit
	// readParent: a relative path input, read from the parent flake's
	// source: in the flake's repository, the tracked files under it.
	readParent
)

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && !outside(filepath.ToSlash(rel)) && !path.IsAbs(rel)
}
