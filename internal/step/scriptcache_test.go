package step

import (
	"encoding/binary"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/zeebo/xxh3"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// nextRun is what a later sysinit process starts from: the cache c wrote,
// and no script read or parsed in memory.
func nextRun(t *testing.T, c *Analyses) *Analyses {
	t.Helper()
	scripts.Clear()
	next := LoadAnalyses(c.Marshal())
	if len(next.entries) != len(c.entries) {
		t.Fatalf("the cache did not load back: %d entries, want %d", len(next.entries), len(c.entries))
	}
	return next
}

// counts runs fn and returns the analyses it derived and the scripts it
// parsed.
func counts(fn func()) (derived, parsed int64) {
	d, p := derivations.Load(), parses.Load()
	fn()
	return derivations.Load() - d, parses.Load() - p
}

// analyzeCached checks that c gives what a fresh analysis gives, and says
// whether it derived it (a miss) or found it.
func analyzeCached(t *testing.T, c *Analyses, cmd, dir, root string) (Analysis, bool) {
	t.Helper()
	var got Analysis
	derived, _ := counts(func() { got = c.Analyze(cmd, dir, root) })
	if want := Analyze(cmd, dir, root); !reflect.DeepEqual(got, want) {
		t.Fatalf("Analyze(%q) from the cache = %+v\nwant %+v", cmd, got, want)
	}
	return got, derived > 0
}

var cachedRepo = map[string]string{
	"scripts/install.sh": "#!/bin/sh\nset -e\n. ./scripts/lib.sh\n. \"$(dirname \"$0\")/common.sh\"\n" +
		"[ -f ./scripts/local.sh ] && . ./scripts/local.sh\ncat conf/extra.yaml\nrun-parts scripts/hooks.d\n" +
		"for f in scripts/plugins/*.sh; do . \"$f\"; done\n./link.sh\n",
	"scripts/lib.sh":       "echo lib v1\n",
	"scripts/common.sh":    "echo common\n",
	"scripts/hooks.d/10":   "#!/bin/sh\necho hook\n",
	"scripts/plugins/a.sh": "echo a\n",
	"target-a.sh":          "#!/bin/sh\necho a\n",
	"target-b.sh":          "#!/bin/sh\n. ./from-b.sh\n",
}

func newCachedRepo(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, cachedRepo)
	if err := os.Symlink("target-a.sh", filepath.Join(root, "link.sh")); err != nil {
		t.Fatal(err)
	}
	return root
}

// A second run in which nothing changed derives nothing and parses no
// script: it re-reads them and repeats the look-ups, and the cache needs
// no writing.
func TestAnalysesSecondRunParsesNothing(t *testing.T) {
	root := newCachedRepo(t)
	cmd := "./scripts/install.sh"
	c := LoadAnalyses(nil)
	var first Analysis
	derived, parsed := counts(func() { first = c.Analyze(cmd, root, root) })
	if derived != 1 || parsed < 5 {
		t.Fatalf("first run: derived %d, parsed %d; want 1 and every script", derived, parsed)
	}
	if !slices.Contains(first.Files, "scripts/hooks.d/10") || first.By["scripts/lib.sh"] == "" {
		t.Fatalf("first run: %+v", first)
	}
	if !c.Changed() {
		t.Error("a new analysis does not mark the cache changed")
	}
	next := nextRun(t, c)
	for range 3 { // plan, advice, a re-decision: each checks, none parses
		var got Analysis
		derived, parsed = counts(func() { got = next.Analyze(cmd, root, root) })
		if derived != 0 || parsed != 0 {
			t.Fatalf("second run: derived %d, parsed %d; want none", derived, parsed)
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("second run = %+v\nwant %+v", got, first)
		}
	}
	if next.Changed() {
		t.Error("a run that found every analysis would write the cache")
	}
	// ScriptsOf and ScriptNotes go through it too.
	derived, parsed = counts(func() {
		next.ScriptsOf(root, Script{Key: "run", Cmd: cmd, Dir: root})
		next.ScriptNotes(root, Script{Key: "run", Cmd: cmd, Dir: root})
	})
	if derived != 0 || parsed != 0 {
		t.Fatalf("ScriptsOf, ScriptNotes: derived %d, parsed %d; want none", derived, parsed)
	}
}

// Whatever changed on disk that the analysis looked at, the cached result
// is not used: the analysis is made again, and is what a fresh one gives.
func TestAnalysesSeeChanges(t *testing.T) {
	cmd := "./scripts/install.sh"
	tests := []struct {
		name   string
		change func(t *testing.T, root string)
		want   string // a file the new analysis lists; "" for none to check
		cmd    string // run instead of cmd
		dir    string // the step's directory, relative to root
	}{
		{"a sourced lib now sources another", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"scripts/lib.sh": ". ./scripts/more.sh\n"})
		}, "scripts/more.sh", "", ""},
		{"a sourced lib edited, same size and time", func(t *testing.T, root string) {
			p := filepath.Join(root, "scripts/lib.sh")
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			writeTree(t, root, map[string]string{"scripts/lib.sh": ". ./s/mm.sh\n"}) // as long as "echo lib v1\n"
			if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, "s/mm.sh", "", ""},
		{"a file a script names appears", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"conf/extra.yaml": "x: 1\n"})
		}, "conf/extra.yaml", "", ""},
		{"a script it sources if present appears, sourcing another", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"scripts/local.sh": ". ./scripts/local2.sh\n"})
		}, "scripts/local2.sh", "", ""},
		{"a file added to a run-parts directory", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"scripts/hooks.d/20": "#!/bin/sh\n. ./scripts/hooklib.sh\n"})
		}, "scripts/hooklib.sh", "", ""},
		{"a file added where a glob matches", func(t *testing.T, root string) {
			writeTree(t, root, map[string]string{"scripts/plugins/b.sh": ". ./scripts/blib.sh\n"})
		}, "scripts/blib.sh", "", ""},
		{"a link pointed elsewhere", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "link.sh")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("target-b.sh", filepath.Join(root, "link.sh")); err != nil {
				t.Fatal(err)
			}
		}, "from-b.sh", "", ""},
		{"a script replaced by a directory", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "scripts/lib.sh")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(root, "scripts/lib.sh"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "", "", ""},
		{"a script removed", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "scripts/common.sh")); err != nil {
				t.Fatal(err)
			}
		}, "", "", ""},
		{"run changed", nil, "from-b.sh", "bash ./target-b.sh", ""},
		{"dir changed", nil, "scripts/scripts/install.sh", "", "scripts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newCachedRepo(t)
			c := LoadAnalyses(nil)
			before, _ := analyzeCached(t, c, cmd, root, root)
			if tt.want != "" && slices.Contains(before.Files, tt.want) {
				t.Fatalf("%s is an input before the change", tt.want)
			}
			next := nextRun(t, c)
			if tt.change != nil {
				tt.change(t, root)
			}
			runCmd, dir := cmd, root
			if tt.cmd != "" {
				runCmd = tt.cmd
			}
			if tt.dir != "" {
				dir = filepath.Join(root, tt.dir)
			}
			after, derived := analyzeCached(t, next, runCmd, dir, root)
			if !derived {
				t.Fatal("the cached analysis was used after the change")
			}
			if tt.want != "" && !slices.Contains(after.Files, tt.want) {
				t.Errorf("after the change, inputs %q lack %s", after.Files, tt.want)
			}
			if !next.Changed() {
				t.Error("a new analysis does not mark the cache changed")
			}
			// And the new analysis is what the run after finds.
			again := nextRun(t, next)
			if _, derived := analyzeCached(t, again, runCmd, dir, root); derived {
				t.Error("the new analysis was not kept")
			}
		})
	}
}

// A cache file that is damaged, cut short, empty, of another format or of
// another version of the analysis is ignored: everything is derived again,
// and nothing fails.
func TestAnalysesBadData(t *testing.T) {
	root := newCachedRepo(t)
	cmd := "./scripts/install.sh"
	c := LoadAnalyses(nil)
	c.Analyze(cmd, root, root)
	good := c.Marshal()
	flip := func(i int) []byte {
		b := slices.Clone(good)
		b[i] ^= 0x40
		return b
	}
	other := func() []byte {
		saved := build
		defer func() { build = saved }()
		build = func() string { return "v" + strconv.Itoa(derivationVersion+1) }
		return c.Marshal()
	}()
	cases := map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("not a cache at all, but long enough to have a checksum"),
		"truncated":     good[:len(good)/2],
		"magic":         flip(0),
		"body":          flip(len(good) / 2),
		"checksum":      flip(len(good) - 1),
		"appended":      append(slices.Clone(good), 0),
		"other version": other,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			bad := LoadAnalyses(data)
			if len(bad.entries) != 0 {
				t.Fatalf("loaded %d entries from bad data", len(bad.entries))
			}
			if _, derived := analyzeCached(t, bad, cmd, root, root); !derived {
				t.Fatal("not derived afresh")
			}
		})
	}
	// A well-formed file whose body is wrong (checksum recomputed) is
	// ignored too, not trusted halfway.
	for i := len(analysesMagic); i < len(good)-8; i += 7 {
		b := slices.Clone(good[:len(good)-8])
		b[i] ^= 0xff
		b = appendSum(b)
		bad := LoadAnalyses(b) // must not panic
		for k, e := range bad.entries {
			if len(e.a.Why) != len(e.a.Dirs) {
				t.Fatalf("entry %q loaded with %d notes for %d directories", k, len(e.a.Why), len(e.a.Dirs))
			}
		}
	}
}

// The analysis touches the filesystem only through fsys, so that the
// cache checks every look-up it made: scripts.go and scriptfollow.go may
// not use os, io/fs or syscall, nor the functions of filepath that read
// the filesystem.
func TestAnalysisLooksOnlyThroughFsys(t *testing.T) {
	banned := map[string]bool{"os": true, "io/fs": true, "io/ioutil": true, "syscall": true, "golang.org/x/sys/unix": true}
	reads := map[string]bool{"EvalSymlinks": true, "Glob": true, "Abs": true, "Walk": true, "WalkDir": true}
	for _, name := range []string{"scripts.go", "scriptfollow.go"} {
		f, err := parser.ParseFile(gotoken.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); banned[p] {
				t.Errorf("%s imports %s: look through fsys, which the cache replays", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "filepath" && reads[sel.Sel.Name] {
					t.Errorf("%s calls filepath.%s: look through fsys, which the cache replays", name, sel.Sel.Name)
				}
				if sel.Sel.Name == "readScript" || sel.Sel.Name == "scriptBytes" {
					t.Errorf("%s reads a script itself: use fsys.script", name)
				}
			}
			if id, ok := n.(*ast.Ident); ok && (id.Name == "readScript" || id.Name == "scriptBytes") {
				t.Errorf("%s reads a script itself: use fsys.script", name)
			}
			return true
		})
	}
}

func appendSum(b []byte) []byte { return binary.LittleEndian.AppendUint64(b, xxh3.Hash(b)) }

// The steps' inputs are read in parallel (Prefetch): one cache serves them
// all, and is written while a re-decision may still look into it.
func TestAnalysesConcurrent(t *testing.T) {
	root := newCachedRepo(t)
	c := LoadAnalyses(nil)
	cmds := []string{"./scripts/install.sh", "bash ./target-b.sh", "./link.sh", "run-parts scripts/hooks.d"}
	done := make(chan bool)
	for i := range 8 {
		go func() {
			for j := range 20 {
				cmd := cmds[(i+j)%len(cmds)]
				if got, want := c.Analyze(cmd, root, root), Analyze(cmd, root, root); !reflect.DeepEqual(got, want) {
					t.Errorf("Analyze(%q) = %+v, want %+v", cmd, got, want)
				}
				if j%5 == 0 {
					LoadAnalyses(c.Marshal())
				}
			}
			done <- true
		}()
	}
	for range 8 {
		<-done
	}
	if n := len(LoadAnalyses(c.Marshal()).entries); n != len(cmds) {
		t.Errorf("%d entries kept, want %d", n, len(cmds))
	}
}

// The cache checks a script by hashing it as it is read; the analysis, by
// hashing what it read: both give the same answer, whatever the size.
func TestScriptSum(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 32<<10 - 1, 32 << 10, 32<<10 + 1, 100_000, maxScriptSize + 1} {
		p := filepath.Join(dir, strconv.Itoa(n))
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + i>>9)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, big, _, err := scriptBytes(p)
		if got, want := scriptSum(p), scriptAnswer(b, big, err); got != want || want[0] == '!' {
			t.Errorf("%d bytes: scriptSum %q, scriptAnswer %q", n, got, want)
		}
	}
	missing := filepath.Join(dir, "missing")
	b, big, _, err := scriptBytes(missing)
	if got, want := scriptSum(missing), scriptAnswer(b, big, err); got != want {
		t.Errorf("missing: scriptSum %q, scriptAnswer %q", got, want)
	}
}
