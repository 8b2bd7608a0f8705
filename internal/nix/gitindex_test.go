package nix

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// requireGit skips (or, with SYSINIT_REQUIRE_NIX=1, fails) without git.
func requireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("git not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skip("git not installed: " + err.Error())
	}
}

// gitEnv makes git hermetic: no user or system config, a fixed identity,
// and no background maintenance (newer git starts it after a commit, and
// its lock files come and go in .git while a test reads it).
func gitEnv(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.DevNull,
		"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
		"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
		"GIT_CONFIG_COUNT": "2",
		"GIT_CONFIG_KEY_0": "maintenance.auto", "GIT_CONFIG_VALUE_0": "false",
		"GIT_CONFIG_KEY_1": "gc.auto", "GIT_CONFIG_VALUE_1": "0",
	} {
		t.Setenv(k, v)
	}
}

// git runs git in dir for test set-up and returns its stdout.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "protocol.file.allow=always"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lsFiles is git's own answer, deduplicated like ours.
func lsFiles(t testing.TB, dir string, extra ...string) []string {
	t.Helper()
	out := git(t, dir, append([]string{"ls-files", "-z"}, extra...)...)
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f != "" && (len(files) == 0 || files[len(files)-1] != f) {
			files = append(files, f)
		}
	}
	return files
}

func indexVersion(t testing.TB, dir string) uint32 {
	t.Helper()
	gd := strings.TrimSpace(git(t, dir, "rev-parse", "--absolute-git-dir"))
	data, err := os.ReadFile(filepath.Join(gd, "index"))
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(data[4:8])
}

// newRepo makes a repository with paths chosen to exercise v4 prefix
// compression (shared prefixes of varying length), deep and long names.
func newRepo(t testing.TB, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, append([]string{"init", "-q", "-b", "main"}, args...)...)
	long := strings.Repeat("x", 200)
	for _, p := range []string{
		"flake.nix", "flake.lock", "modules/a.nix", "modules/ab.nix", "modules/b/c.nix",
		"modules/b/cd.nix", "z", long + "/" + long + ".nix", "spaces in name.txt", "ünïcode.nix",
	} {
		writeFile(t, filepath.Join(dir, p), p+"\n")
	}
	if err := os.Symlink("modules/a.nix", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	return dir
}

func ourFiles(t testing.TB, dir string, submodules bool) []string {
	t.Helper()
	r, ok, err := findRepo(dir)
	if err != nil || !ok {
		t.Fatalf("findRepo(%s) = %v, %v", dir, ok, err)
	}
	files, err := trackedFiles(r, submodules)
	if err != nil {
		t.Fatalf("trackedFiles: %v", err)
	}
	return files
}

// TestTrackedFilesMatchGit compares the index reader with `git ls-files`
// on real repositories in each index version and shape.
func TestTrackedFilesMatchGit(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T) string
		version uint32
	}{
		{"v2", func(t *testing.T) string { return newRepo(t) }, 2},
		{"v3 intent-to-add", func(t *testing.T) string {
			dir := newRepo(t)
			writeFile(t, filepath.Join(dir, "modules/new.nix"), "x")
			git(t, dir, "add", "-N", "modules/new.nix")
			return dir
		}, 3},
		{"v4", func(t *testing.T) string {
			dir := newRepo(t)
			git(t, dir, "update-index", "--index-version", "4")
			return dir
		}, 4},
		{"v4 intent-to-add and removal", func(t *testing.T) string {
			dir := newRepo(t)
			git(t, dir, "update-index", "--index-version", "4")
			writeFile(t, filepath.Join(dir, "modules/b/ca.nix"), "x")
			git(t, dir, "add", "-N", "modules/b/ca.nix")
			git(t, dir, "rm", "-q", "--cached", "modules/ab.nix")
			return dir
		}, 4},
		{"committed then modified", func(t *testing.T) string {
			dir := newRepo(t)
			git(t, dir, "commit", "-qm", "one")
			writeFile(t, filepath.Join(dir, "modules/a.nix"), "changed")
			return dir
		}, 2},
		{"sha256", func(t *testing.T) string { return newRepo(t, "--object-format=sha256") }, 2},
		{"merge conflict", func(t *testing.T) string {
			dir := newRepo(t)
			git(t, dir, "commit", "-qm", "base")
			git(t, dir, "checkout", "-qb", "other")
			writeFile(t, filepath.Join(dir, "z"), "other\n")
			git(t, dir, "commit", "-qam", "other")
			git(t, dir, "checkout", "-q", "main")
			writeFile(t, filepath.Join(dir, "z"), "main\n")
			git(t, dir, "commit", "-qam", "main")
			cmd := exec.Command("git", "merge", "-q", "other")
			cmd.Dir = dir
			if err := cmd.Run(); err == nil {
				t.Fatal("merge did not conflict")
			}
			return dir
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			if v := indexVersion(t, dir); v != tt.version {
				t.Fatalf("git wrote index version %d, want %d: the case does not test what it says", v, tt.version)
			}
			got, want := ourFiles(t, dir, false), lsFiles(t, dir)
			if !slices.Equal(got, want) {
				t.Errorf("tracked files differ from git ls-files\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

func TestTrackedFilesWorktree(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	dir := newRepo(t)
	git(t, dir, "commit", "-qm", "one")
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, dir, "worktree", "add", "-q", wt)
	writeFile(t, filepath.Join(wt, "only-here.nix"), "x")
	git(t, wt, "add", "only-here.nix")
	if fi, err := os.Lstat(filepath.Join(wt, ".git")); err != nil || fi.IsDir() {
		t.Fatalf("worktree .git should be a file: %v", err)
	}
	got, want := ourFiles(t, wt, false), lsFiles(t, wt)
	if !slices.Equal(got, want) || !slices.Contains(got, "only-here.nix") {
		t.Errorf("worktree files\n got: %q\nwant: %q", got, want)
	}
	// From a subdirectory, the repository is found by walking up.
	if sub := ourFiles(t, filepath.Join(wt, "modules"), false); !slices.Equal(sub, want) {
		t.Errorf("from a subdirectory\n got: %q\nwant: %q", sub, want)
	}
}

func TestTrackedFilesSubmodules(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	lib := newRepo(t)
	git(t, lib, "commit", "-qm", "lib")
	inner := newRepo(t)
	git(t, inner, "commit", "-qm", "inner")
	git(t, lib, "submodule", "add", "-q", inner, "nested")
	git(t, lib, "commit", "-qm", "nested")

	dir := newRepo(t)
	git(t, dir, "submodule", "add", "-q", lib, "vendor/lib")
	git(t, dir, "submodule", "update", "--init", "--recursive", "-q")

	with := ourFiles(t, dir, true)
	if want := lsFiles(t, dir, "--recurse-submodules"); !slices.Equal(with, want) {
		t.Errorf("with submodules\n got: %q\nwant: %q", with, want)
	}
	if !slices.Contains(with, "vendor/lib/nested/flake.nix") {
		t.Errorf("nested submodule files missing: %q", with)
	}
	without := ourFiles(t, dir, false)
	for _, f := range without {
		if strings.HasPrefix(f, "vendor/lib") {
			t.Errorf("without submodules, %s is listed", f)
		}
	}
	if !slices.Contains(without, ".gitmodules") || !slices.Contains(without, "flake.nix") {
		t.Errorf("without submodules, the repository's own files are missing: %q", without)
	}
}

func TestTrackedFilesUnsupported(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	t.Run("split index", func(t *testing.T) {
		dir := newRepo(t)
		git(t, dir, "update-index", "--split-index")
		r, _, err := findRepo(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = trackedFiles(r, false)
		if err == nil || !strings.Contains(err.Error(), "split index") {
			t.Fatalf("err = %v, want a split index error", err)
		}
	})
	t.Run("sparse index", func(t *testing.T) {
		dir := newRepo(t)
		git(t, dir, "commit", "-qm", "one")
		git(t, dir, "sparse-checkout", "set", "--cone", "--sparse-index", "modules")
		r, _, err := findRepo(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = trackedFiles(r, false)
		if err == nil || !strings.Contains(err.Error(), "sparse index") {
			t.Fatalf("err = %v, want a sparse index error", err)
		}
	})
	t.Run("no index yet", func(t *testing.T) {
		dir := t.TempDir()
		git(t, dir, "init", "-q")
		if files := ourFiles(t, dir, false); len(files) != 0 {
			t.Fatalf("files = %q, want none", files)
		}
	})
}

// TestParseIndexCorrupt checks that damaged indexes are errors, not panics
// or silently short lists.
func TestParseIndexCorrupt(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	dir := newRepo(t)
	good, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseIndex(good, 20); err != nil {
		t.Fatalf("good index: %v", err)
	}
	bigCount := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(bigCount[8:12], 1<<30)
	badVersion := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(badVersion[4:8], 5)
	tests := map[string][]byte{
		"empty":         nil,
		"no signature":  append([]byte("DIRX"), good[4:]...),
		"version 5":     badVersion,
		"huge count":    bigCount,
		"truncated":     good[:len(good)/2],
		"header only":   good[:12],
		"wrong hashlen": nil, // filled below
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			hashLen := 20
			if name == "wrong hashlen" {
				data, hashLen = good, 32
			}
			if _, err := parseIndex(data, hashLen); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("DIRC\x00\x00\x00\x02\x00\x00\x00\x00"))
	f.Add([]byte("DIRC\x00\x00\x00\x04\x00\x00\x00\x01" + strings.Repeat("\x00", 62) + "\x05a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseIndex(data, 20)
		if err == nil {
			for _, e := range entries {
				if e.Path == "" {
					t.Fatal("empty path accepted")
				}
			}
		}
	})
}

func TestIndexVarint(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
		n    int
	}{
		{[]byte{0}, 0, 1},
		{[]byte{127}, 127, 1},
		{[]byte{0x80, 0}, 128, 2},
		{[]byte{0x80, 0x7f}, 255, 2},
		{[]byte{0x81, 0}, 256, 2},
	}
	for _, tt := range tests {
		v, n, err := indexVarint(tt.in)
		if err != nil || v != tt.want || n != tt.n {
			t.Errorf("indexVarint(%x) = %d, %d, %v; want %d, %d", tt.in, v, n, err, tt.want, tt.n)
		}
	}
	for _, bad := range [][]byte{nil, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, _, err := indexVarint(bad); err == nil {
			t.Errorf("indexVarint(%x): no error", bad)
		}
	}
}
