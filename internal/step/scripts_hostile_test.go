package step

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// covers reports whether rel is an input of a: listed, or under one of
// its directories.
func covers(a Analysis, rel string) bool {
	if slices.Contains(a.Files, rel) {
		return true
	}
	for _, d := range a.Dirs {
		if d == "." || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// TestScriptReadsAreInputs: what a script really reads or runs is an
// input, listed or under a directory that is, in the ways scripts reach
// files that a plain reading of `. ./x` does not see. A miss is a wrong
// skip.
func TestScriptReadsAreInputs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		// cd to a directory only known when it runs, then a relative path.
		"cdx/run.sh": "#!/bin/bash\ncd \"$(git rev-parse --show-toplevel)/sub\"\n. ./a\n",
		"sub/a":      "true\n",
		// pushd moves the working directory as cd does.
		"pd/run.sh": "#!/bin/bash\npushd sub >/dev/null\n. ./a\n",
		// A variable sysinit cannot read may hold an absolute path.
		"scripts/abs.sh": "#!/bin/bash\nD=$(foo \"$0\")\n. \"$D/lib\"\n",
		"scripts/lib":    "true\n",
		// find -exec and xargs run what they are handed.
		"fx/run.sh":       "#!/bin/bash\nfind hooks -name '*.sh' -exec sh {} \\;\n",
		"hooks/a.sh":      "true\n",
		"hooks/b":         "true\n",
		"more/al.sh":      "#!/bin/bash\nshopt -s expand_aliases\nalias load='. ./sub/a'\nload\n",
		"more/hs.sh":      "#!/bin/bash\nbash <<< '. ./sub/a'\n",
		"more/su.sh":      "#!/bin/bash\nsu -c '. ./sub/a' nobody\n",
		"more/sc.sh":      "#!/bin/bash\nscript -qc '. ./sub/a' /dev/null\n",
		"more/be.sh":      "#!/bin/bash\nexport BASH_ENV=./sub/a\nbash -c true\n",
		"path/run.sh":     "#!/bin/bash\nexport PATH=\"$(dirname \"$0\")/bin:$PATH\"\nmytool\n",
		"path/dyn.sh":     "#!/bin/bash\nPATH=\"$HOME/bin:$(npm bin):$PATH\"\nmytool\n",
		"path/bin/mytool": "#!/bin/sh\n",
		"pipe/run.sh":     "#!/bin/bash\ncd pipe\ncat y | bash\n",
		"pipe/y":          "true\n",
		"pipe2/run.sh":    "#!/bin/bash\nprintf '. ./pipe/y\\n' | sh -s x\ncurl -fsSL https://example.com/i.sh | bash\n",
		"xa/run.sh":       "#!/bin/bash\nfind hooks -type f | xargs -n1 bash\n",
		"tr/run.sh":       "#!/bin/bash\ntrap '. ./tr/y' EXIT\n",
		"tr/y":            "true\n",
	}
	writeTree(t, root, files)
	if err := os.Mkdir(filepath.Join(root, "step"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd, dir, read string
	}{
		{"./cdx/run.sh", "", "sub/a"},
		{"./pd/run.sh", "", "sub/a"},
		{"../scripts/abs.sh", "step", "scripts/lib"},
		{"./fx/run.sh", "", "hooks/a.sh"},
		{"./xa/run.sh", "", "hooks/b"},
		{"./tr/run.sh", "", "tr/y"},
		{"./pipe/run.sh", "", "pipe/y"},
		{"./pipe2/run.sh", "", "pipe/y"},
		{"./path/run.sh", "", "path/bin/mytool"},
		{"./more/al.sh", "", "sub/a"},
		{"./more/hs.sh", "", "sub/a"},
		{"./more/su.sh", "", "sub/a"},
		{"./more/sc.sh", "", "sub/a"},
		{"./more/be.sh", "", "sub/a"},
		{"./path/dyn.sh", "", "path/bin/mytool"},
		{"PATH=\"$PWD/path/bin:$PATH\"; mytool", "", "path/bin/mytool"},
	}
	for _, tt := range tests {
		a := Analyze(tt.cmd, filepath.Join(root, tt.dir), root)
		if !covers(a, tt.read) {
			t.Errorf("Analyze(%q) in %q: %s is no input: files %q dirs %q", tt.cmd, tt.dir, tt.read, a.Files, a.Dirs)
		} else if !slices.Contains(a.Files, tt.read) && slices.Index(a.Why, "") >= 0 && len(a.Dirs) == 1 {
			t.Errorf("Analyze(%q): %s is an input under %q with no note", tt.cmd, tt.read, a.Dirs)
		}
	}
}

// TestLinkedOutScriptIsRead: a script of the repository whose real file
// is outside it (ext -> ~/src/tools) is read like one inside: what it
// sources from the repository is an input.
func TestLinkedOutScriptIsRead(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "x.sh"), []byte("#!/bin/sh\n. ./lib.sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lib.sh"), []byte("true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out, filepath.Join(root, "ext")); err != nil {
		t.Fatal(err)
	}
	a := Analyze("./ext/x.sh", root, root)
	if !covers(a, "lib.sh") {
		t.Errorf("lib.sh is no input: files %q dirs %q", a.Files, a.Dirs)
	}
	// A script outside that the command line names by its own path is
	// still not read: /usr/local/bin/tool is not the repository's.
	if a := Analyze(filepath.Join(out, "x.sh"), root, root); covers(a, "lib.sh") {
		t.Errorf("a script outside, named outside, is read: %q", a.Files)
	}
}

// TestOddAssignments: a variable set by a command rather than an
// assignment (printf -v, read, a nameref, ${X:=…}, eval) holds what
// sysinit cannot read: what it names is an input however it is set.
func TestOddAssignments(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"a":      "true\n",
		"lib/b":  "true\n",
		"pv.sh":  "#!/bin/bash\nF=./a\nprintf -v F '%s/%s' lib b\n. \"$F\"\n",
		"rd.sh":  "#!/bin/bash\nF=./a\nread -r F <<< \"lib/b\"\n. \"$F\"\n",
		"nr.sh":  "#!/bin/bash\nG=lib\ndeclare -n F=G\n. \"./$F/b\"\n",
		"df.sh":  "#!/bin/bash\nF=./a\n: \"${F:=x}\"\nunset F\n: \"${F:=lib/b}\"\n. \"$F\"\n",
		"ev.sh":  "#!/bin/bash\nF=./a\neval 'F=lib/b'\n. \"$F\"\n",
		"lc.sh":  "#!/bin/bash\nF=./a\nf() { local F; F=$1; . \"$F\"; }\nf lib/b\n",
		"gs.sh":  "#!/bin/bash\nF=./a\ngetopts f: F\n. \"$F\"\n",
		"mf.sh":  "#!/bin/bash\nF=./a\nmapfile -t F < <(echo lib/b)\n. \"$F\"\n",
		"ex.sh":  "#!/bin/bash\nF=./a\nexport F+=x\n. \"$F\"\n",
		"ln.sh":  "#!/bin/bash\nF=./a\nlet F=1\n. \"$F\"\n",
		"rdd.sh": "#!/bin/bash\nF=./a\nwhile read -r F; do . \"$F\"; done < list\n",
		"list":   "lib/b\n",
	}
	writeTree(t, root, files)
	for _, s := range []string{"pv.sh", "rd.sh", "nr.sh", "df.sh", "ev.sh", "lc.sh", "gs.sh", "mf.sh", "ex.sh", "ln.sh", "rdd.sh"} {
		if a := Analyze("./"+s, root, root); !covers(a, "lib/b") {
			t.Errorf("%s: lib/b is no input: files %q dirs %q", s, a.Files, a.Dirs)
		}
	}
}

// TestPipedShellFromNetwork: a script fetched from the network and piped
// to a shell is no file of the repository.
func TestPipedShellFromNetwork(t *testing.T) {
	root := t.TempDir()
	for _, cmd := range []string{"curl -fsSL https://example.com/i.sh | bash", "wget -qO- https://example.com/i.sh | sh -s -- --yes", "echo hi | tee x"} {
		if a := Analyze(cmd, root, root); len(a.Dirs) != 0 {
			t.Errorf("Analyze(%q): dirs %q (%q)", cmd, a.Dirs, a.Why)
		}
	}
	if a := Analyze("echo \"$X\" | bash", root, root); !slices.Equal(a.Dirs, []string{"."}) || len(a.Why) != 1 || !strings.Contains(a.Why[0], "pipe") {
		t.Errorf("a pipe of what sysinit cannot read into a shell: dirs %q why %q", a.Dirs, a.Why)
	}
}

// TestGitTopLevel: `cd "$(git rev-parse --show-toplevel)"` goes to the
// repository's top, as git would say it, so what follows is read from
// there rather than making the whole repository an input; outside any
// repository the path stays unknown and the repository is the input.
func TestGitTopLevel(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "cfg") // the config dir, below the git top
	writeTree(t, top, map[string]string{
		"cfg/sub.sh":   "#!/bin/bash\ncd \"$(git rev-parse --show-toplevel)/cfg\"\n. ./y.sh\n",
		"cfg/y.sh":     "true\n",
		"cfg/other.sh": "true\n",
	})
	// No .git anywhere: git would fail, the cd is unknown, and the
	// repository is the input.
	a := Analyze("./sub.sh", root, root)
	if !covers(a, "y.sh") || !slices.Contains(a.Dirs, ".") {
		t.Fatalf("no .git: files %q dirs %q, want the repository as the input", a.Files, a.Dirs)
	}
	if err := os.Mkdir(filepath.Join(top, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	a = Analyze("./sub.sh", root, root)
	if !slices.Contains(a.Files, "y.sh") {
		t.Errorf("y.sh (at the git top's cfg/) is no input: files %q", a.Files)
	}
	if slices.Contains(a.Dirs, ".") || covers(a, "other.sh") {
		t.Errorf("the whole repository is an input though the cd was read: dirs %q", a.Dirs)
	}
}

// TestXargsReplaceNamesNoFile: with -I R (-i, --replace) xargs puts what
// it reads where R is, so scripts/{}.sh is no file's name: it is not
// listed (plan warned that a pattern the user never wrote selected no
// file); every script xargs may run is still an input.
func TestXargsReplaceNamesNoFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"list.txt": "a\n", "scripts/a.sh": "true\n", "scripts/%.sh": "true\n"})
	for _, cmd := range []string{
		"xargs -a list.txt -I{} sh scripts/{}.sh",
		"xargs -I {} sh scripts/{}.sh < list.txt",
		"xargs -i sh scripts/{}.sh < list.txt",
		"xargs --replace=% bash scripts/%.sh < list.txt",
	} {
		a := Analyze(cmd, root, root)
		for _, f := range a.Files {
			if strings.ContainsAny(f, "{}%") {
				t.Errorf("Analyze(%q) lists %q, which xargs fills in", cmd, f)
			}
		}
		if !covers(a, "scripts/a.sh") {
			t.Errorf("Analyze(%q): scripts/a.sh is no input: files %q dirs %q", cmd, a.Files, a.Dirs)
		}
	}
}

// TestDynamicCommandLineIsNoPath: a command line sh -c (eval, trap, su -c
// …) runs that expands something is a command line, not a path: with
// `sh -c "sh scripts/run.sh $X"` the input was "every file under
// sh scripts" (a directory no file is in), so an edit of scripts/run.sh
// left the step up to date. What it runs may be anywhere in the
// repository.
func TestDynamicCommandLineIsNoPath(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"scripts/run.sh": "true\n"})
	for _, cmd := range []string{
		`sh -c "sh scripts/run.sh $X"`,
		`bash -c "cd scripts && ./run.sh $X"`,
		`eval "sh scripts/run.sh $X"`,
		`su -c "sh scripts/run.sh $X" me`,
		`trap "sh scripts/run.sh $X" EXIT`,
		`sh <<< "sh scripts/run.sh $X"`,
	} {
		a := Analyze(cmd, root, root)
		if !covers(a, "scripts/run.sh") {
			t.Errorf("Analyze(%q): scripts/run.sh is no input: files %q dirs %q", cmd, a.Files, a.Dirs)
		}
		for _, d := range a.Dirs {
			if strings.ContainsAny(d, " ;&") {
				t.Errorf("Analyze(%q): dir %q is a command line, not a path", cmd, d)
			}
		}
	}
	// A command line does not narrow to the directory it starts in: $X
	// may complete it with ../lib.sh, or ; . ./lib.sh. A program's path
	// does, as the value of a variable in a path is taken to stay in it.
	for cmd, want := range map[string]string{`sh -c "scripts/$X.sh"`: ".", `sh "scripts/$X.sh"`: "scripts"} {
		if a := Analyze(cmd, root, root); !slices.Equal(a.Dirs, []string{want}) {
			t.Errorf(`Analyze(%q): dirs %q, want [%s]`, cmd, a.Dirs, want)
		}
	}
}

// TestDynamicCommandLineTail: what a dynamic command line holds after its
// first expansion is code too: `sh -c "scripts/$X.sh; . ./lib.sh"` sources
// lib.sh, yet only scripts/ was the input (the static start held no blank),
// so an edit of lib.sh left the step up to date. A line whose static text
// anywhere holds a blank or an operator is no path.
func TestDynamicCommandLineTail(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"scripts/run.sh": "true\n", "lib.sh": "true\n"})
	for _, cmd := range []string{
		`sh -c "scripts/$X.sh; . ./lib.sh"`,
		`sh -c 'scripts/'"$X"'.sh && . ./lib.sh'`,
		`sh -c "scripts/$X.sh|sh lib.sh"`,
		"sh -c \"scripts/$X.sh\n. ./lib.sh\"",
		`sh -c "scripts/$(echo run).sh;. lib.sh"`,
		`sh -c scripts/$X.sh\;.\ ./lib.sh`,
		`eval "scripts/$X.sh; . ./lib.sh"`,
		`trap "scripts/$X.sh; . ./lib.sh" EXIT`,
		`su -c "scripts/$X.sh && . ./lib.sh" nobody`,
		`bash <<< "scripts/$X.sh; . ./lib.sh"`,
		`bash -c 'sh -c "scripts/$X.sh; . ./lib.sh"'`,
		`find scripts -exec sh -c "scripts/$X.sh; . ./lib.sh" \;`,
		`sh -c "scripts/$X.sh<lib.sh"`,
		// The command string is the first operand after -c and its options.
		`sh -c -- ". ./lib.sh"`,
		`sh -c -e ". ./lib.sh"`,
		`sh -c -- "scripts/$X.sh; . ./lib.sh"`,
	} {
		if a := Analyze(cmd, root, root); !covers(a, "lib.sh") {
			t.Errorf("Analyze(%q): lib.sh is no input: files %q dirs %q", cmd, a.Files, a.Dirs)
		}
	}
}
