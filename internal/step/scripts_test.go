package step

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
