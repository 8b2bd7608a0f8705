package step

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExecuted(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"scripts/install.sh", "scripts/lib/env.sh", "tools/gen.py", "x"} {
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
		{". ./scripts/lib/env.sh; make", root, []string{"scripts/lib/env.sh"}},
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
	}
	for _, tt := range tests {
		got := Executed(tt.cmd, tt.dir, root)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Executed(%q, %s) = %q, want %q", tt.cmd, tt.dir, got, tt.want)
		}
	}
}
