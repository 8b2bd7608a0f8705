package scaffold

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// TestBuildByHostName: when the flake's configurations cannot be read and
// the old command left the choice to the host name, the step does too
// (flake = "."), rather than naming a configuration after this host that
// the flake may not define.
func TestBuildByHostName(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"flake.nix": `{ outputs = { nixpkgs, ... }: { nixosConfigurations = nixpkgs.lib.mapAttrs mkHost hosts; }; }`,
		"justfile":  "[linux]\ninstall:\n\tsudo nixos-rebuild switch --flake . --builders ''\n\n[macos]\ninstall:\n\tsudo darwin-rebuild switch --flake .\n",
	})
	m := Machine{GOOS: "linux", Host: "vm", User: "sam"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := string(Build(r, m, LoaderKeys()).Render())
	for _, want := range []string{
		"[steps.system]\nkind       = \"nixos\"\nflake      = \".\"  # the host name picks the configuration, as the old command did\nextra-args = [\"--builders\", \"\"]\n",
		"# this machine: nixosConfigurations by the host name (vm)\n",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("missing %q in\n%s", want, data)
		}
	}
	if strings.Contains(data, "darwin-rebuild") {
		t.Errorf("the [macos] recipe was read on Linux:\n%s", data)
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}
}

// TestBuildConfigsInAnImportedFile: a flake whose configurations live in a
// file it imports (outputs = inputs: import ./outputs inputs) gets this
// machine's step commented out, saying why and how to name it, rather than
// no nix step and no word.
func TestBuildConfigsInAnImportedFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"flake.nix":           `{ outputs = inputs: import ./outputs inputs; }`,
		"outputs/default.nix": `inputs: { darwinConfigurations.mac = inputs.darwin.lib.darwinSystem { modules = [ ../hosts/mac ]; }; }`,
	})
	m := Machine{GOOS: "darwin", Host: "mac", User: "sam"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := string(Build(r, m, LoaderKeys()).Render())
	for _, want := range []string{
		"# init found no darwinConfigurations in flake.nix itself; a file it imports may define them\n",
		"# [steps.system]\n# kind  = \"nix-darwin\"\n# flake = \".#mac\"  # the name of this machine's configuration\n",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("missing %q in\n%s", want, data)
		}
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}
	// Uncommented, it loads as the step it says.
	on := strings.ReplaceAll(data, "# [steps.system]\n# kind  = \"nix-darwin\"\n# flake = \".#mac\"", "[steps.system]\nkind  = \"nix-darwin\"\nflake = \".#mac\"")
	if on == data {
		t.Fatal("the step was not there to uncomment")
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(on), kinds.Decls()); err != nil {
		t.Errorf("uncommented, does not load: %v\n%s", err, on)
	}
}

// TestBuildTwoNixConfs: a second nix.custom.conf (an example's, deeper in
// the tree) is named in a note, not made a second step for the same
// destination, which would not load.
func TestBuildTwoNixConfs(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"nix.custom.conf":            "max-jobs = 8\n",
		"examples/x/nix.custom.conf": "max-jobs = 2\n",
	})
	m := Machine{GOOS: "linux", Host: "vm", User: "sam"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := string(Build(r, m, LoaderKeys()).Render())
	if !strings.Contains(data, "source    = \"nix.custom.conf\"") || strings.Count(data, "[steps.nix-conf") != 1 {
		t.Errorf("want one nix-conf step, from the top one:\n%s", data)
	}
	if !strings.Contains(unwrap(data), "# examples/x/nix.custom.conf is another nix.custom.conf: it is not installed") {
		t.Errorf("the other one is not named:\n%s", data)
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}
}

// unwrap joins the lines of each comment paragraph that wrap broke, so
// that tests look for what a comment says, not where it breaks.
func unwrap(data string) string {
	lines := strings.Split(data, "\n")
	var out []string
	for _, l := range lines {
		n := len(out)
		if n > 0 && strings.HasPrefix(l, "# ") && strings.HasPrefix(out[n-1], "# ") && !strings.HasPrefix(l, "# [") && !strings.Contains(l, " = ") && !strings.Contains(out[n-1], " = ") && !strings.HasPrefix(out[n-1], "# [") {
			out[n-1] += " " + strings.TrimPrefix(l, "# ")
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
