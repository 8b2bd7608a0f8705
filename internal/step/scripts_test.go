package step

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExecuted(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"scripts/install.sh", "scripts/lib/env.sh", "tools/gen.py", "x", "conf/app.yaml", "sub/Makefile", "setup.py"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("scripts/install.sh", filepath.Join(root, "inst")); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "scripts")
	tests := []struct {
		cmd, dir string
		want     []string
	}{
		{"./scripts/install.sh out/fonts", root, []string{"scripts/install.sh"}},
		{"scripts/install.sh", root, []string{"scripts/install.sh"}},
		{"bash scripts/install.sh", root, []string{"scripts/install.sh"}},
		{"bash -eu scripts/install.sh", root, []string{"scripts/install.sh"}},
		{"sh -c ./x", root, []string{"x"}},
		{"sh -ec './scripts/install.sh && ./x'", root, []string{"scripts/install.sh", "x"}},
		{"/bin/bash -- x", root, []string{"x"}},
		{"install.sh", sub, nil}, // through PATH, not the repo
		{"./install.sh", sub, []string{"scripts/install.sh"}},
		{"bash install.sh", sub, []string{"scripts/install.sh"}},
		{"cd scripts && ./install.sh", root, []string{"install.sh", "scripts/install.sh"}},
		{". ./scripts/lib/env.sh; make", root, []string{"GNUmakefile", "Makefile", "makefile", "scripts/lib/env.sh"}},
		{"source scripts/lib/env.sh", root, []string{"scripts/lib/env.sh"}},
		{"python3 tools/gen.py --out x", root, []string{"tools/gen.py"}},
		{"python3.12 -u tools/gen.py", root, []string{"tools/gen.py"}},
		{"python3 -c 'print(1)'", root, nil},
		{"env FOO=1 sudo -u me ./x", root, []string{"x"}},
		{"exec ./x", root, []string{"x"}},
		{"echo $(./x) | ./scripts/install.sh", root, []string{"scripts/install.sh", "x"}},
		{"./inst", root, []string{"inst", "scripts/install.sh"}},
		{"'./scripts/install.sh'", root, []string{"scripts/install.sh"}},
		{`./scripts/lib/"env.sh"`, root, []string{"scripts/lib/env.sh"}},
		{"./missing.sh", root, []string{"missing.sh"}},
		{"$HOME/bin/x", root, nil},
		{"../outside.sh", root, nil},
		{"/usr/bin/env", root, nil},
		{"echo hi; true", root, nil},
		{"launchctl kickstart -k system/org.nixos.nix-daemon", root, nil},
		{"if [ -x ./x ]; then ./x; fi", root, []string{"x"}},
		{"( unclosed", root, nil},
		// Wrappers, with the values and operands they take.
		{"nice -n 5 ./x", root, []string{"x"}},
		{"nice -10 ./x", root, []string{"x"}},
		{"timeout 5 ./x", root, []string{"x"}},
		{"timeout -s KILL 5m ./x", root, []string{"x"}},
		{"sudo -E -u root env -u HOME FOO=1 exec ./x", root, []string{"x"}},
		{"ionice -c 3 stdbuf -oL ./x", root, []string{"x"}},
		{"flock /tmp/lock ./x", root, []string{"x"}},
		{"chrt 10 ./x", root, []string{"x"}},
		{"exec -a name ./x", root, []string{"x"}},
		// Heredocs and stdin fed to a shell; eval.
		{"bash <<EOF\n./scripts/install.sh\nEOF", root, []string{"scripts/install.sh"}},
		{"sh -s <<-'EOF'\n\t./x $HOME\n\tEOF", root, []string{"x"}},
		{"bash < x", root, []string{"x"}},
		{"cat <<EOF\n./x\nEOF", root, nil}, // data, not a script
		{"eval ./x", root, []string{"x"}},
		{"eval 'cd scripts && ./install.sh'", root, []string{"install.sh", "scripts/install.sh"}},
		// make, just.
		{"make -C sub", root, []string{"sub/GNUmakefile", "sub/Makefile", "sub/makefile"}},
		{"make -Csub all", root, []string{"sub/GNUmakefile", "sub/Makefile", "sub/makefile"}},
		{"make -f sub/Makefile", root, []string{"sub/Makefile"}},
		{"just build", root, []string{".justfile", "Justfile", "justfile"}},
		// Words naming files of the repo.
		{"deploy --config conf/app.yaml", root, []string{"conf/app.yaml"}},
		{"pip install -e . && python3 setup.py", root, []string{"setup.py"}},
		{"cat < conf/app.yaml", root, []string{"conf/app.yaml"}},
		{"touch ran out/missing.txt", root, nil},
		{"mkdir -p conf && touch conf/app.yaml && test -f conf/app.yaml", root, nil}, // outputs, not inputs
		{"cp conf/app.yaml setup.py", root, []string{"conf/app.yaml"}},
	}
	for _, tt := range tests {
		got := Executed(tt.cmd, tt.dir, root)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Executed(%q, %s) = %q, want %q", tt.cmd, tt.dir, got, tt.want)
		}
	}
}

// TestAnalyzeDynamic: a program a variable names makes the directory it
// may be in an input, and says why; one under a directory outside the
// repository names nothing of it.
func TestAnalyzeDynamic(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		cmd  string
		dirs []string
	}{
		{"./x", nil},
		{`"$TOOL" x`, []string{"."}},
		{"./scripts/$NAME.sh", []string{"scripts"}},
		{"bash scripts/$NAME", []string{"scripts"}},
		{`sh -c "$CMD"`, []string{"."}},
		{`eval "$CMD"`, []string{"."}},
		{". $ENVFILE", []string{"."}},
		{"sudo $X", []string{"."}},
		{`/bin/bash -c "$(curl -fsSL https://example.com/install.sh)"`, nil}, // from the network
		{`bash -c "$(cat ./x)"`, []string{"."}},
		{"$SYSINIT_OUT/bin/setup", nil},
		{`"$HOME/bin/x"`, nil},
		{"~/bin/x", nil},
		{"${HOME}/bin/x", nil},
		{"/opt/$X/bin", nil},
		{"echo $X", nil}, // an argument, not a program
	}
	for _, tt := range tests {
		a := Analyze(tt.cmd, root, root)
		if !slices.Equal(a.Dirs, tt.dirs) || len(a.Why) != len(a.Dirs) {
			t.Errorf("Analyze(%q): dirs %q why %q, want %q", tt.cmd, a.Dirs, a.Why, tt.dirs)
		}
	}
	if why := Analyze(`"$TOOL" x`, root, root).Why; len(why) != 1 || !strings.Contains(why[0], `"$TOOL"`) || !strings.Contains(why[0], "every file of the repository") {
		t.Errorf("why = %q", why)
	}
}

// TestFollowScripts: the shell scripts a command runs are read as the
// shell would run them; what they source, execute or hand to run-parts is
// listed, with the script that brought it in.
func TestFollowScripts(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"scripts/install.sh":   "#!/bin/sh\n. ./scripts/lib.sh\n. \"$(dirname \"$0\")/common.sh\"\n./scripts/other.sh\nrun-parts --report scripts/hooks.d\n",
		"scripts/lib.sh":       "true\n",
		"scripts/common.sh":    "true\n",
		"scripts/other.sh":     "#!/usr/bin/env bash\nSCRIPT_DIR=$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\nsource \"$SCRIPT_DIR/lib/deep.sh\"\n",
		"scripts/lib/deep.sh":  "x=1\n",
		"scripts/hooks.d/10-a": "#!/bin/sh\n. ./scripts/hooklib.sh\n",
		"scripts/hooklib.sh":   "true\n",
		"cyc/a.sh":             ". cyc/b.sh\n",
		"cyc/b.sh":             ". cyc/a.sh\n",
		"py/gen.py":            "#!/usr/bin/env python3\n# . ./scripts/lib.sh\n",
		"z/run.zsh":            "#!/bin/zsh\nsource ${0:A:h}/zlib.zsh\n. z/zlib2.zsh\n",
		"z/zlib2.zsh":          "true\n",
		"here/run.sh":          "#!/bin/sh\ncd \"$(dirname \"$0\")\"\n. ./near.sh\n",
		"here/near.sh":         "true\n",
		"src/top.sh":           "DIR=${BASH_SOURCE%/*}\n. \"$DIR/x.sh\"\n",
		"src/x.sh":             "true\n",
		"pos/run.sh":           "#!/bin/sh\nrun() { echo \"+ $*\"; \"$@\"; }\nrun true\ncommand -v \"$TOOL\" >/dev/null\n",
		"loop/run.sh":          "#!/bin/sh\nfor f in ./loop/conf.d/*.sh; do . \"$f\"; done\n",
		"loop/conf.d/a.sh":     "true\n",
		"loop/conf.d/b.txt":    "true\n",
		"vars/run.sh":          "#!/bin/sh\nTOOL=./vars/tool.sh\nCFG=\"$HOME/.config/x\"\n. \"$CFG/env.sh\"\n\"$TOOL\" go\n",
		"vars/tool.sh":         "#!/bin/sh\n",
		"bad/run.sh":           "#!/bin/sh\nif then fi (\n",
		"nosheb/run":           ". ./nosheb/lib.sh\n",
		"nosheb/lib.sh":        "true\n",
		"bin/tool":             "\x7fELF\x00\x00. ./scripts/lib.sh\n",
		"cond/run.sh":          "#!/bin/sh\nif [ -z \"$T\" ]; then T=./cond/t.sh; fi\n\"$T\"\n",
		"cond/t.sh":            "true\n",
		"rd/run.sh":            "#!/bin/sh\nwhile read -r l; do echo \"$l\"; done < rd/list.txt\n",
		"rd/list.txt":          "a\n",
		"dl/run.sh":            "#!/bin/bash\nD=\"$(dirname \"$0\")\"\n. \"$D/lib/$NAME.sh\"\n",
		"top.sh":               "#!/bin/sh\nfor f in *.sh; do . \"./$f\"; done\n",
		"multi/run.sh":         "#!/bin/sh\nT=./multi/a.sh\nf() { T=./multi/b.sh; }\n\"$T\" go\n",
		"multi/a.sh":           "#!/bin/sh\n",
		"multi/b.sh":           "#!/bin/sh\n",
	}
	writeTree(t, root, files)
	tests := []struct {
		cmd  string
		want []string // files, beyond the command's own
		dirs []string
		by   map[string]string
	}{
		{"./scripts/install.sh", []string{"scripts/common.sh", "scripts/hooklib.sh", "scripts/hooks.d/10-a", "scripts/install.sh", "scripts/lib.sh", "scripts/lib/deep.sh", "scripts/other.sh"},
			[]string{"scripts/hooks.d"}, map[string]string{
				"scripts/lib.sh":       "sourced by scripts/install.sh",
				"scripts/common.sh":    "sourced by scripts/install.sh",
				"scripts/other.sh":     "executed by scripts/install.sh",
				"scripts/lib/deep.sh":  "sourced by scripts/other.sh, executed by scripts/install.sh",
				"scripts/hooks.d/10-a": "run with run-parts by scripts/install.sh",
				"scripts/hooklib.sh":   "sourced by scripts/hooks.d/10-a, run with run-parts by scripts/install.sh",
			}},
		// A cycle ends, both files listed.
		{"bash cyc/a.sh", []string{"cyc/a.sh", "cyc/b.sh"}, nil, map[string]string{"cyc/b.sh": "sourced by cyc/a.sh"}},
		// A Python script is listed, not read.
		{"./py/gen.py", []string{"py/gen.py"}, nil, nil},
		// zsh: ${0:A:h} is beyond sysinit: the repository is the input.
		{"./z/run.zsh", []string{"z/run.zsh", "z/zlib2.zsh"}, []string{"."}, nil},
		// cd "$(dirname "$0")" moves the script to its own directory.
		{"./here/run.sh", []string{"here/near.sh", "here/run.sh", "near.sh"}, nil, nil},
		// Sourced from the command line: BASH_SOURCE is the sourced file.
		{". src/top.sh", []string{"src/top.sh", "src/x.sh"}, nil, nil},
		// "$@" runs what the script was given; command -v runs nothing.
		{"./pos/run.sh", []string{"pos/run.sh"}, nil, nil},
		// A glob the script sources: the directory, and its matches.
		{"./loop/run.sh", []string{"loop/conf.d/a.sh", "loop/run.sh"}, []string{"loop/conf.d"}, nil},
		// A variable the script assigns is read; one under $HOME is outside.
		{"./vars/run.sh", []string{"vars/run.sh", "vars/tool.sh"}, nil, nil},
		// A script that does not parse: the repository is the input.
		{"./bad/run.sh", []string{"bad/run.sh"}, []string{"."}, nil},
		// No #!: a shell runs it as a script of its own; a binary is not one.
		{"./nosheb/run", []string{"nosheb/lib.sh", "nosheb/run"}, nil, nil},
		{"./bin/tool", []string{"bin/tool"}, nil, nil},
		// A variable set only under a condition may keep the
		// environment's value: what it names is unknown.
		{"./cond/run.sh", []string{"cond/run.sh"}, []string{"."}, nil},
		// What a variable of the script surely holds starts the directory
		// a path it cannot read is in.
		{"./dl/run.sh", []string{"dl/run.sh"}, []string{"dl/lib"}, nil},
		// A glob at the top of the repository: all of it, with a note.
		{"./top.sh", []string{"top.sh"}, []string{"."}, nil},
		// A variable with several values: each is run.
		{"./multi/run.sh", []string{"multi/a.sh", "multi/b.sh", "multi/run.sh"}, nil, nil},
		// What a loop reads on stdin.
		{"./rd/run.sh", []string{"rd/list.txt", "rd/run.sh"}, nil, map[string]string{"rd/list.txt": "named by rd/run.sh"}},
	}
	for _, tt := range tests {
		a := Analyze(tt.cmd, root, root)
		if !slices.Equal(a.Files, tt.want) || !slices.Equal(a.Dirs, tt.dirs) {
			t.Errorf("Analyze(%q): files %q dirs %q (why %q), want %q, %q", tt.cmd, a.Files, a.Dirs, a.Why, tt.want, tt.dirs)
		}
		for f, by := range tt.by {
			if a.By[f] != by {
				t.Errorf("Analyze(%q): %s is %q, want %q", tt.cmd, f, a.By[f], by)
			}
		}
	}
	if why := Analyze("./bad/run.sh", root, root).Why; len(why) != 1 || !strings.Contains(why[0], "bad/run.sh") || !strings.Contains(why[0], "does not parse") {
		t.Errorf("why = %q", why)
	}
	// ScriptsOf says what brought each file in, for plan and why.
	m := ScriptsOf(root, Script{Key: "run", Cmd: "./scripts/install.sh", Dir: root})
	if got := m["scripts/lib/deep.sh"]; got != "sourced by scripts/other.sh, executed by scripts/install.sh, which run executes" {
		t.Errorf("ScriptsOf: deep.sh: %q", got)
	}
	if got := m["scripts/install.sh"]; got != "run executes it" {
		t.Errorf("ScriptsOf: install.sh: %q", got)
	}
	if notes := ScriptNotes(root, Script{Key: "run", Cmd: "./scripts/install.sh", Dir: root}); len(notes) != 0 {
		t.Errorf("run-parts makes a note: %q", notes)
	}
}

// TestFollowDepth: a chain of scripts deeper than sysinit follows makes
// the repository the input rather than stopping silently.
func TestFollowDepth(t *testing.T) {
	root := t.TempDir()
	for i := range maxScripts + 2 {
		body := "#!/bin/sh\n./s" + strconv.Itoa(i+1) + ".sh\n"
		if err := os.WriteFile(filepath.Join(root, "s"+strconv.Itoa(i)+".sh"), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := Analyze("./s0.sh", root, root)
	if !slices.Equal(a.Dirs, []string{"."}) || !strings.Contains(a.Why[0], "deeper than sysinit follows") {
		t.Errorf("dirs %q why %q", a.Dirs, a.Why)
	}
}

// TestFollowCached: an edited script is read again; an unchanged one
// comes from the cache.
func TestFollowCached(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "run.sh")
	write := func(body string, mod time.Time) {
		if err := os.WriteFile(run, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(run, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("#!/bin/sh\n. ./a.sh\n", t0)
	if got := Executed("./run.sh", root, root); !slices.Equal(got, []string{"a.sh", "run.sh"}) {
		t.Fatalf("got %q", got)
	}
	write("#!/bin/sh\n. ./b.sh\n", t0.Add(time.Second))
	if got := Executed("./run.sh", root, root); !slices.Equal(got, []string{"b.sh", "run.sh"}) {
		t.Fatalf("after an edit: got %q", got)
	}
}
