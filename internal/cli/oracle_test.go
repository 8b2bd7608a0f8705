package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/cli"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/state"
)

var (
	oracleSeed   = flag.Int64("oracle.seed", 0, "seed for TestOracle (0 = time-based)")
	oracleRounds = flag.Int("oracle.rounds", 2000, "edit sequences TestOracle plays")
)

// TestOracle plays random edit sequences on a repo, each followed by a
// refresh, and checks every decision against the oracle: the step re-runs
// if and only if the content of its inputs (paths, types, exec bits,
// bytes, symlink targets, the files behind a linked directory, the script
// its run line executes) or its definition (its command line, the real sh
// it runs with) changed since its last success, or its record cannot be
// trusted (renamed away and back; recorded in the future while it has an
// `every`). The edits include the traps of shared/reference/false-skips.md:
// same-size edits with the mtime restored (`touch -r`), moves between
// directories, deletes, new hidden files, chmod +x, symlink retargets,
// files appearing under a pattern that matched nothing, definition edits,
// step renames, PATH changes and clock steps — and edits that must NOT
// re-run it: touches, identical rewrites, excluded and outside files, the
// repo reached through a second path, another PATH entry for the same sh.
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
	for _, f := range []string{"src/a/x", "src/a/y", "src/b/z", "src/.h", "outside/o", "shared/s1", "shared2/s2"} {
		write(t, filepath.Join(repo, f), "init "+f)
	}
	write(t, filepath.Join(repo, "scripts/run.sh"), "#!/bin/sh\ntrue\n")
	must(t, os.Chmod(filepath.Join(repo, "scripts/run.sh"), 0o755))
	must(t, os.Symlink("a/x", filepath.Join(repo, "src/link")))
	must(t, os.Symlink("../shared", filepath.Join(repo, "src/dirlink")))
	// A second path to the repo, and PATH entries for sh: one that reaches
	// the same program, one that is another program.
	link := filepath.Join(filepath.Dir(repo), "repo-link")
	must(t, os.Symlink(repo, link))
	sameSh, otherSh := filepath.Join(filepath.Dir(repo), "bin-same"), filepath.Join(filepath.Dir(repo), "bin-other")
	realSh, err := exec.LookPath("sh")
	must(t, err)
	must(t, os.MkdirAll(sameSh, 0o755))
	must(t, os.Symlink(realSh, filepath.Join(sameSh, "sh")))
	write(t, filepath.Join(otherSh, "sh"), "#!"+realSh+"\nexec "+realSh+" \"$@\"\n")
	must(t, os.Chmod(filepath.Join(otherSh, "sh"), 0o755))
	basePath := os.Getenv("PATH")
	w := &oracleWorld{t: t, rng: rng, repo: repo, version: 1, name: "s"}
	w.writeConfig()

	type record struct {
		snap    map[string]string
		version int
		shell   string
	}
	records := map[string]record{} // what the oracle expects sysinit to hold, by step name
	var history []string
	stepped := false
	// check refreshes through dir and compares the decision with the oracle.
	check := func(round int, dir string) {
		now := snapshot(t, repo)
		shell := w.shell()
		last, ok := records[w.name]
		want := !ok || stepped || last.version != w.version || last.shell != shell || !equal(now, last.snap)
		got := refreshStep(t, dir, w.name)
		if got != want {
			start := max(0, len(history)-5)
			t.Fatalf("seed %d, round %d: step %s ran = %v, oracle says %v\nlast rounds:\n  %s",
				seed, round, w.name, got, want, strings.Join(history[start:], "\n  "))
		}
		// Every refresh retires the records of steps the config no longer has.
		for name := range records {
			if name != w.name {
				delete(records, name)
			}
		}
		if got {
			records[w.name] = record{now, w.version, shell}
		}
		stepped = false
	}
	for round := 0; round < rounds; round++ {
		n := 1 + rng.Intn(3)
		var ops []string
		for i := 0; i < n; i++ {
			switch rng.Intn(24) {
			case 0:
				ops = append(ops, w.rename())
				if rng.Intn(2) == 0 { // and back, after a refresh under the new name
					history = append(history, fmt.Sprintf("round %d: %s", round, strings.Join(ops, "; ")))
					check(round, repo)
					ops = []string{w.rename()}
				}
			case 1:
				dir := []string{"", sameSh, otherSh}[rng.Intn(3)]
				path := basePath
				if dir != "" {
					path = dir + string(os.PathListSeparator) + basePath
				}
				t.Setenv("PATH", path)
				ops = append(ops, "PATH first: "+filepath.Base(dir))
			case 2:
				if _, ok := records[w.name]; ok {
					w.clockStep()
					stepped = true
					ops = append(ops, "clock set back below the last success")
				}
			default:
				ops = append(ops, edit(t, rng, repo, &w.version, w.writeConfig))
			}
		}
		dir := repo
		if rng.Intn(4) == 0 {
			dir = link
			ops = append(ops, "refresh through the second path")
		}
		history = append(history, fmt.Sprintf("round %d: %s", round, strings.Join(ops, "; ")))
		check(round, dir)
	}
}

// oracleWorld is the config side of the oracle's repo: the step's name
// and definition version.
type oracleWorld struct {
	t       *testing.T
	rng     *rand.Rand
	repo    string
	version int
	name    string
}

func (w *oracleWorld) writeConfig() {
	write(w.t, filepath.Join(w.repo, "sysinit.toml"), fmt.Sprintf(`[steps.%s]
kind   = "command"
inputs = ["src/**", "!src/**/*.tmp", "fonts/**"]
every  = "24h"
run    = "./scripts/run.sh # v%d"
`, w.name, w.version))
}

// rename renames the step between two names: away, and back.
func (w *oracleWorld) rename() string {
	w.name = map[string]string{"s": "s2", "s2": "s"}[w.name]
	w.writeConfig()
	return "rename the step to " + w.name
}

// shell is the real path of the sh a refresh finds first on PATH.
func (w *oracleWorld) shell() string {
	sh, err := exec.LookPath("sh")
	must(w.t, err)
	real, err := filepath.EvalSymlinks(sh)
	must(w.t, err)
	return real
}

// clockStep moves the step's last success an hour into the future, as a
// clock set back by an hour leaves it.
func (w *oracleWorld) clockStep() {
	id, err := state.IdentifyConfig(config.StateDirOf(filepath.Join(w.repo, "sysinit.toml")))
	must(w.t, err)
	path, err := state.Path(os.Getenv, id)
	must(w.t, err)
	owner := state.LocalOwner(os.Getenv, id)
	st, err := state.Open(path, state.Options{Owner: &owner})
	must(w.t, err)
	defer st.Close()
	recs, err := st.Records()
	must(w.t, err)
	rec, ok := recs[w.name]
	if !ok {
		w.t.Fatalf("no record of %s to move", w.name)
	}
	m, err := st.Manifest(w.name)
	must(w.t, err)
	rec.Started = time.Now().Add(time.Hour)
	rec.Due = rec.Started
	must(w.t, st.Put(rec, m))
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
	switch rng.Intn(17) {
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
	case 13:
		link := filepath.Join(repo, "src/dirlink")
		_ = os.Remove(link)
		must(t, os.Symlink([]string{"../shared", "../shared2", "../nowhere"}[rng.Intn(3)], link))
		return "retarget src/dirlink"
	case 14: // behind the linked directory
		d := []string{"shared", "shared2"}[rng.Intn(2)]
		write(t, filepath.Join(repo, d, fmt.Sprintf("f%d", rng.Intn(3))), fmt.Sprintf("s %d", rng.Intn(3)))
		return "edit behind a link: " + d
	case 15: // a pattern that matched nothing now matches, or again does not
		p := filepath.Join(repo, "fonts/f.ttf")
		if _, err := os.Stat(p); err == nil {
			must(t, os.RemoveAll(filepath.Join(repo, "fonts")))
			return "remove fonts/"
		}
		write(t, p, "font")
		return "create fonts/f.ttf"
	case 16: // the script the run line executes
		write(t, filepath.Join(repo, "scripts/run.sh"), fmt.Sprintf("#!/bin/sh\ntrue %d\n", rng.Intn(3)))
		must(t, os.Chmod(filepath.Join(repo, "scripts/run.sh"), 0o755))
		return "edit scripts/run.sh"
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
// the step s ran.
func refresh(t *testing.T, repo string) bool { return refreshStep(t, repo, "s") }

// refreshStep runs `sysinit refresh --json` in-process and reports whether
// the step name ran.
func refreshStep(t *testing.T, repo, name string) bool {
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
		if e.Type == "step-end" && e.Step == name {
			return e.Status == "done"
		}
		if e.Type == "run-start" && strings.Contains(sc.Text(), `"name":"`+name+`","status":"skipped"`) {
			return false
		}
	}
	t.Fatalf("no decision for step %s in:\n%s", name, out.String())
	return false
}

// snapshot is the oracle's view of the inputs: what a script would see of
// src (through linked directories, whose links count too; *.tmp
// excluded), fonts, and the script the run line executes.
func snapshot(t *testing.T, repo string) map[string]string {
	m := map[string]string{}
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		must(t, err)
		for _, e := range ents {
			p, r := filepath.Join(dir, e.Name()), path.Join(rel, e.Name())
			if strings.HasSuffix(r, ".tmp") {
				continue
			}
			if e.Type()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(p)
				must(t, err)
				m[r] = "link:" + target
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					walk(p, r)
				}
				continue
			}
			if e.IsDir() {
				walk(p, r)
				continue
			}
			fi, err := e.Info()
			must(t, err)
			data, err := os.ReadFile(p)
			must(t, err)
			m[r] = fmt.Sprintf("file:%v:%s", fi.Mode().Perm()&0o111 != 0, data)
		}
	}
	walk(filepath.Join(repo, "src"), "src")
	walk(filepath.Join(repo, "fonts"), "fonts")
	data, err := os.ReadFile(filepath.Join(repo, "scripts/run.sh"))
	must(t, err)
	m["scripts/run.sh"] = string(data)
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
