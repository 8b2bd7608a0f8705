package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/cli"
)

var (
	oracleSeed   = flag.Int64("oracle.seed", 0, "seed for TestOracle (0 = time-based)")
	oracleRounds = flag.Int("oracle.rounds", 2000, "edit sequences TestOracle plays")
)

// TestOracle plays random edit sequences on a repo, each followed by a
// refresh, and checks every decision against the oracle: the step re-runs
// if and only if the content of its inputs (paths, types, exec bits,
// bytes, symlink targets) or its definition changed since its last
// success. The edits include the traps of shared/reference/false-skips.md:
// same-size edits with the mtime restored (`touch -r`), moves between
// directories, deletes, new hidden files, chmod +x, symlink retargets and
// definition edits — and edits that must NOT re-run it: touches,
// identical rewrites, excluded and outside files.
func TestOracle(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rounds := *oracleRounds
	if testing.Short() {
		rounds = 200
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d (rerun with -oracle.seed=%d)", seed, seed)

	repo := homeAndRepo(t)
	for _, f := range []string{"src/a/x", "src/a/y", "src/b/z", "src/.h", "outside/o"} {
		write(t, filepath.Join(repo, f), "init "+f)
	}
	must(t, os.Symlink("a/x", filepath.Join(repo, "src/link")))
	version := 1
	writeConfig := func() {
		write(t, filepath.Join(repo, "sysinit.toml"), fmt.Sprintf(`[steps.s]
kind   = "command"
inputs = ["src/**", "!src/**/*.tmp"]
run    = "true # v%d"
`, version))
	}
	writeConfig()

	var last map[string]string // oracle snapshot at the last success
	lastVersion := 0
	var history []string
	for round := 0; round < rounds; round++ {
		n := 1 + rng.Intn(3)
		var ops []string
		for i := 0; i < n; i++ {
			ops = append(ops, edit(t, rng, repo, &version, writeConfig))
		}
		history = append(history, fmt.Sprintf("round %d: %s", round, strings.Join(ops, "; ")))
		now := snapshot(t, filepath.Join(repo, "src"))
		want := last == nil || version != lastVersion || !equal(now, last)
		got := refresh(t, repo)
		if got != want {
			start := max(0, len(history)-5)
			t.Fatalf("seed %d, round %d: step ran = %v, oracle says %v\nlast rounds:\n  %s",
				seed, round, got, want, strings.Join(history[start:], "\n  "))
		}
		if got {
			last, lastVersion = now, version
		}
	}
}

// edit applies one random edit and describes it.
func edit(t *testing.T, rng *rand.Rand, repo string, version *int, writeConfig func()) string {
	files := regularFiles(t, filepath.Join(repo, "src"))
	pick := func() string {
		if len(files) == 0 {
			p := filepath.Join(repo, "src/a/x")
			write(t, p, "revived")
			return p
		}
		return files[rng.Intn(len(files))]
	}
	rel := func(p string) string { r, _ := filepath.Rel(repo, p); return r }
	switch rng.Intn(13) {
	case 0: // same size, mtime restored: only ctime (and content) differ
		p := pick()
		fi := stat(t, p)
		data := readFile(t, p)
		if len(data) == 0 {
			data = []byte("x")
		}
		data[rng.Intn(len(data))] ^= 1 + byte(rng.Intn(8))
		must(t, os.WriteFile(p, data, fi.Mode().Perm()))
		must(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		return "same-size edit + touch -r " + rel(p)
	case 1: // new content
		p := pick()
		write(t, p, fmt.Sprintf("content %d", rng.Int()))
		return "edit " + rel(p)
	case 2: // move between directories
		p := pick()
		dst := filepath.Join(repo, "src", []string{"a", "aa", "b", "b/c"}[rng.Intn(4)], filepath.Base(p))
		if dst == p {
			return "move (no-op) " + rel(p)
		}
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		if _, err := os.Lstat(dst); err == nil {
			return "move (target exists) " + rel(p)
		}
		must(t, os.Rename(p, dst))
		return "move " + rel(p) + " -> " + rel(dst)
	case 3:
		p := pick()
		must(t, os.Remove(p))
		return "delete " + rel(p)
	case 4:
		p := filepath.Join(repo, "src", []string{"a", "b", "."}[rng.Intn(3)], fmt.Sprintf(".hidden%d", rng.Intn(4)))
		write(t, p, "hidden")
		return "write hidden " + rel(p)
	case 5:
		p := pick()
		fi := stat(t, p)
		must(t, os.Chmod(p, fi.Mode().Perm()^0o111))
		return "chmod ±x " + rel(p)
	case 6:
		link := filepath.Join(repo, "src/link")
		_ = os.Remove(link)
		must(t, os.Symlink([]string{"a/x", "a/y", "b/z", "nowhere"}[rng.Intn(4)], link))
		return "retarget src/link"
	case 7:
		*version = 1 + rng.Intn(3)
		writeConfig()
		return fmt.Sprintf("definition v%d", *version)
	// Edits that change nothing the step depends on.
	case 8:
		p := pick()
		now := time.Now().Add(time.Duration(rng.Intn(5)) * time.Second)
		must(t, os.Chtimes(p, now, now))
		return "touch " + rel(p)
	case 9:
		p := pick()
		fi := stat(t, p)
		must(t, os.WriteFile(p, readFile(t, p), fi.Mode().Perm()))
		return "identical rewrite " + rel(p)
	case 10:
		p := filepath.Join(repo, "src/a/scratch.tmp")
		write(t, p, fmt.Sprintf("tmp %d", rng.Int()))
		return "edit excluded " + rel(p)
	case 11:
		write(t, filepath.Join(repo, "outside/o"), fmt.Sprintf("o %d", rng.Int()))
		return "edit outside"
	default: // edit, then put the original bytes back
		p := pick()
		fi := stat(t, p)
		orig := readFile(t, p)
		write(t, p, "temporary")
		must(t, os.WriteFile(p, orig, fi.Mode().Perm()))
		return "edit and restore " + rel(p)
	}
}

// refresh runs `sysinit refresh --json` in-process and reports whether
// the step ran.
func refresh(t *testing.T, repo string) bool {
	var out, errb bytes.Buffer
	code := cli.Main([]string{"-C", repo, "refresh", "--json"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("refresh exited %d: %s%s", code, out.String(), errb.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var e struct{ Type, Step, Status string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad event %q: %v", sc.Text(), err)
		}
		if e.Type == "step-end" && e.Step == "s" {
			return e.Status == "done"
		}
		if e.Type == "run-start" && strings.Contains(sc.Text(), `"name":"s","status":"skipped"`) {
			return false
		}
	}
	t.Fatalf("no decision for step s in:\n%s", out.String())
	return false
}

// snapshot is the oracle's view of the inputs: what nix or a script would see.
func snapshot(t *testing.T, root string) map[string]string {
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".tmp") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			m[rel] = "link:" + target
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		m[rel] = fmt.Sprintf("file:%v:%s", fi.Mode().Perm()&0o111 != 0, data)
		return err
	})
	must(t, err)
	return m
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func regularFiles(t *testing.T, root string) []string {
	var out []string
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".tmp") {
			out = append(out, p)
		}
		return nil
	}))
	return out
}

// homeAndRepo gives the test a HOME of its own (sysinit keeps its state
// under it) and returns the path of a repo beside it, not yet created.
func homeAndRepo(t *testing.T) string {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local/state"))
	return filepath.Join(dir, "repo")
}

func write(t *testing.T, p, s string) {
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(s), 0o644))
}

func readFile(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

func stat(t *testing.T, p string) fs.FileInfo {
	fi, err := os.Stat(p)
	must(t, err)
	return fi
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
