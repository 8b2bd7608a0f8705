package nix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unsafe"
)

// Git index entry modes (the object type lives in the top four bits).
const (
	modeTypeMask = 0o170000
	modeGitlink  = 0o160000 // a submodule's commit
	modeDir      = 0o040000 // a sparse-index directory entry
)

// indexEntry is one path in git's index.
type indexEntry struct {
	Path         string // slash-separated, relative to the work tree
	Mode         uint32
	Stage        int  // 0, or 1–3 while a merge conflict is unresolved
	IntentToAdd  bool // `git add -N`: listed by ls-files, so nix sees it
	SkipWorktree bool
}

// Gitlink reports whether the entry is a submodule.
func (e indexEntry) Gitlink() bool { return e.Mode&modeTypeMask == modeGitlink }

// indexError is an index file sysinit cannot read.
type indexError struct {
	File string
	Msg  string
}

func (e *indexError) Error() string { return "reading git index " + e.File + ": " + e.Msg }

// parseIndex decodes a git index file (versions 2, 3 and 4) and returns its
// entries in index order. hashLen is the object id size: 20 for SHA-1
// repositories, 32 for SHA-256. The trailing checksum is not verified: git
// replaces the index by rename, so a reader never sees a torn file, and
// hashing a large index would cost more than the whole fast path.
//
// The paths of a version 2 or 3 index share data's memory, which saves a
// copy of the whole file on every refresh: data must not be modified
// afterwards.
func parseIndex(data []byte, hashLen int) ([]indexEntry, error) {
	bad := func(format string, args ...any) error {
		return &indexError{Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) < 12 || string(data[:4]) != "DIRC" {
		return nil, bad("not a git index (no DIRC signature)")
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, bad("index version %d is not supported (2, 3 and 4 are)", version)
	}
	count := binary.BigEndian.Uint32(data[8:12])
	// Each entry takes at least 62 bytes; a count beyond that is corrupt,
	// and checking first keeps a bad count from allocating gigabytes.
	if uint64(count) > uint64(len(data))/62 {
		return nil, bad("index claims %d entries in %d bytes", count, len(data))
	}
	fixed := 40 + hashLen + 2 // stat data, object id, flags
	entries := make([]indexEntry, 0, count)
	off := 12
	// v2/v3 paths are substrings of data itself: no allocation per path.
	// v4 paths are rebuilt from the previous one in turn.
	var whole string
	if version < 4 {
		whole = unsafe.String(unsafe.SliceData(data), len(data))
	}
	var prev, cur []byte
	for i := uint32(0); i < count; i++ {
		start := off
		if len(data)-off < fixed {
			return nil, bad("entry %d is truncated", i)
		}
		mode := binary.BigEndian.Uint32(data[off+24 : off+28])
		flags := binary.BigEndian.Uint16(data[off+40+hashLen : off+fixed])
		off += fixed
		e := indexEntry{Mode: mode, Stage: int(flags>>12) & 3}
		if flags&0x4000 != 0 { // extended flags follow
			if version < 3 {
				return nil, bad("entry %d has extended flags in a version %d index", i, version)
			}
			if len(data)-off < 2 {
				return nil, bad("entry %d is truncated", i)
			}
			ext := binary.BigEndian.Uint16(data[off : off+2])
			off += 2
			e.SkipWorktree = ext&0x4000 != 0
			e.IntentToAdd = ext&0x2000 != 0
		}
		if version == 4 {
			strip, n, err := indexVarint(data[off:])
			if err != nil {
				return nil, bad("entry %d: %v", i, err)
			}
			off += n
			if strip > uint64(len(prev)) {
				return nil, bad("entry %d strips %d bytes from a %d-byte path", i, strip, len(prev))
			}
			nul := bytes.IndexByte(data[off:], 0)
			if nul < 0 {
				return nil, bad("entry %d: path is not terminated", i)
			}
			cur = append(append(cur[:0], prev[:len(prev)-int(strip)]...), data[off:off+nul]...)
			off += nul + 1
			prev, cur = cur, prev
			e.Path = string(prev)
		} else {
			nul := bytes.IndexByte(data[off:], 0)
			if nul < 0 {
				return nil, bad("entry %d: path is not terminated", i)
			}
			e.Path = whole[off : off+nul]
			// Entries are NUL-padded to a multiple of 8 bytes, with at
			// least one NUL.
			off = start + (off-start+nul+8)&^7
			if off > len(data) {
				return nil, bad("entry %d is truncated", i)
			}
		}
		entries = append(entries, e)
	}
	// Extensions first: in a split index, entries that replace shared ones
	// have empty paths, and "split index" is the useful message.
	if err := checkExtensions(data[off:], hashLen); err != nil {
		return nil, bad("%v", err)
	}
	for i, e := range entries {
		if e.Path == "" {
			return nil, bad("entry %d has an empty path", i)
		}
	}
	return entries, nil
}

// checkExtensions rejects the index extensions that change which entries
// exist: a split index keeps most of them in another file, and a sparse
// index folds whole directories into one entry (seen as a modeDir entry).
func checkExtensions(rest []byte, hashLen int) error {
	for len(rest) > hashLen {
		if len(rest) < 8 {
			return errors.New("truncated extension header")
		}
		sig := string(rest[:4])
		size := binary.BigEndian.Uint32(rest[4:8])
		if sig == "link" {
			return errors.New("split index (core.splitIndex) is not supported; run `git update-index --no-split-index`")
		}
		if uint64(size) > uint64(len(rest)-8) {
			return fmt.Errorf("extension %q is truncated", sig)
		}
		rest = rest[8+size:]
	}
	return nil
}

// indexVarint decodes git's offset varint (each continuation adds one
// before shifting, so every value has exactly one encoding).
func indexVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("truncated path prefix length")
	}
	c := b[0]
	v := uint64(c & 127)
	n := 1
	for c&128 != 0 {
		if n >= len(b) || n > 9 {
			return 0, 0, errors.New("bad path prefix length")
		}
		c = b[n]
		n++
		v = ((v + 1) << 7) | uint64(c&127)
	}
	return v, n, nil
}

// gitRepo is a work tree and where its git data lives.
type gitRepo struct {
	root    string // the work tree
	gitDir  string // holds index (for a linked worktree or submodule, not root/.git)
	hashLen int
}

// findRepo walks up from dir to the nearest directory holding .git, as nix
// does for a path-like flake reference. It returns ok=false when there is
// none. Only stat and small reads: this runs on every plan.
func findRepo(dir string) (gitRepo, bool, error) {
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			r, err := openRepo(d)
			return r, err == nil, err
		} else if !errors.Is(err, fs.ErrNotExist) {
			return gitRepo{}, false, fmt.Errorf("looking for the git repository of %s: %w", dir, err)
		}
		up := filepath.Dir(d)
		if up == d {
			return gitRepo{}, false, nil
		}
		d = up
	}
}

// openRepo reads root/.git: a directory, or a file saying "gitdir: PATH"
// (linked worktrees and submodules).
func openRepo(root string) (gitRepo, error) {
	dotGit := filepath.Join(root, ".git")
	fi, err := os.Stat(dotGit)
	if err != nil {
		return gitRepo{}, fmt.Errorf("reading %s: %w", dotGit, err)
	}
	r := gitRepo{root: root, gitDir: dotGit, hashLen: 20}
	if !fi.IsDir() {
		data, err := os.ReadFile(dotGit)
		if err != nil {
			return gitRepo{}, fmt.Errorf("reading %s: %w", dotGit, err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		gd, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
		if !ok {
			return gitRepo{}, fmt.Errorf("reading %s: no \"gitdir:\" line", dotGit)
		}
		gd = strings.TrimSpace(gd)
		if !filepath.IsAbs(gd) {
			gd = filepath.Join(root, gd)
		}
		r.gitDir = gd
	}
	if r.hashLen, err = objectHashLen(r.gitDir); err != nil {
		return gitRepo{}, err
	}
	return r, nil
}

// objectHashLen reads the repository config for extensions.objectFormat.
// A linked worktree keeps its config in the common dir.
func objectHashLen(gitDir string) (int, error) {
	common := gitDir
	if data, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(data))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = c
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("reading %s: %w", filepath.Join(gitDir, "commondir"), err)
	}
	cfg := filepath.Join(common, "config")
	data, err := os.ReadFile(cfg)
	if errors.Is(err, fs.ErrNotExist) {
		return 20, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", cfg, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "objectformat") &&
			strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "sha256") {
			return 32, nil
		}
	}
	return 20, nil
}

// trackedFiles lists the files git tracks in r, relative to r.root, as
// `git ls-files` would (conflicted paths once, intent-to-add included).
// With submodules, a submodule's own tracked files replace its gitlink, as
// `git ls-files --recurse-submodules` does; without, a gitlink is left out,
// since nix sees an empty directory there.
func trackedFiles(r gitRepo, submodules bool) ([]string, error) {
	indexFile := filepath.Join(r.gitDir, "index")
	data, err := os.ReadFile(indexFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing added yet
	}
	if err != nil {
		return nil, fmt.Errorf("reading git index: %w", err)
	}
	entries, err := parseIndex(data, r.hashLen)
	if err != nil {
		var ie *indexError
		if errors.As(err, &ie) {
			ie.File = indexFile
		}
		return nil, err
	}
	files := make([]string, 0, len(entries))
	last := ""
	for _, e := range entries {
		if e.Path == last {
			continue // stages of one conflicted path
		}
		last = e.Path
		switch e.Mode & modeTypeMask {
		case modeDir:
			return nil, &indexError{File: indexFile, Msg: "a sparse index is not supported; run `git sparse-checkout disable` or set index.sparse=false"}
		case modeGitlink:
			if !submodules {
				continue
			}
			sub := filepath.Join(r.root, filepath.FromSlash(e.Path))
			if _, err := os.Lstat(filepath.Join(sub, ".git")); errors.Is(err, fs.ErrNotExist) {
				continue // not checked out: git lists nothing under it either
			} else if err != nil {
				return nil, fmt.Errorf("reading submodule %s: %w", e.Path, err)
			}
			sr, err := openRepo(sub)
			if err != nil {
				return nil, fmt.Errorf("reading submodule %s: %w", e.Path, err)
			}
			inner, err := trackedFiles(sr, true)
			if err != nil {
				return nil, fmt.Errorf("reading submodule %s: %w", e.Path, err)
			}
			for _, f := range inner {
				files = append(files, path.Join(e.Path, f))
			}
			continue
		}
		files = append(files, e.Path)
	}
	return files, nil
}

// headFiles are the files that say which commit HEAD is: HEAD itself and
// the branch it names (its loose ref, else packed-refs). On a clean tree
// nix builds from that commit and sets self.rev, so a commit alone can
// change the built system: these files are inputs of a nix step.
func (r gitRepo) headFiles() ([]string, error) {
	head := filepath.Join(r.gitDir, "HEAD")
	data, err := os.ReadFile(head)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", head, err)
	}
	files := []string{head}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "ref:")
	if !ok {
		return files, nil // detached: HEAD holds the commit id
	}
	common := r.gitDir
	if c, err := os.ReadFile(filepath.Join(r.gitDir, "commondir")); err == nil {
		common = strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(r.gitDir, common)
		}
	}
	loose := filepath.Join(common, filepath.FromSlash(strings.TrimSpace(ref)))
	if _, err := os.Lstat(loose); err == nil {
		return append(files, loose), nil
	}
	// Packed, or an unborn branch: packed-refs (if any) says which.
	return append(files, filepath.Join(common, "packed-refs")), nil
}
