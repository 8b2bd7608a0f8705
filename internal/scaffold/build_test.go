package scaffold

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

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
	if !strings.Contains(unwrapped(Build(r, m, LoaderKeys())), "# examples/x/nix.custom.conf is another nix.custom.conf: it is not installed") {
		t.Errorf("the other one is not named:\n%s", data)
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}
}

// unwrapped renders f with no comment wrapped, so that tests look for
// what a comment says, not where it breaks.
func unwrapped(f *File) string {
	f.width = 1 << 20
	return string(f.Render())
}

// exampleTree is examples/nix-darwin's shape with the README's old
// Taskfile: a Mac (lv426) with Homebrew declared in nix-darwin, a NixOS
// box (nostromo) and a home-manager user.
func exampleTree(t *testing.T) string {
	return writeTree(t, map[string]string{
		"flake.nix": `{
  outputs = { self, nixpkgs, nix-darwin, home-manager, ... }: {
    darwinConfigurations.lv426 = nix-darwin.lib.darwinSystem { modules = [ ./hosts/lv426 ./modules/darwin ]; };
    nixosConfigurations.nostromo = nixpkgs.lib.nixosSystem { modules = [ ./hosts/nostromo ]; };
    homeConfigurations."ripley@nostromo" = home-manager.lib.homeManagerConfiguration { modules = [ ./home/ripley.nix ]; };
  };
}`,
		"hosts/lv426/default.nix":     "{}",
		"hosts/nostromo/default.nix":  "{}",
		"home/ripley.nix":             "{}",
		"modules/darwin/default.nix":  "{ imports = [ ./homebrew.nix ]; }",
		"modules/darwin/homebrew.nix": "{\n  homebrew = {\n    enable = true;\n    brews = [ \"wget\" ];\n  };\n}\n",
		"Taskfile.yml": `version: '3'
tasks:
  nix:refresh:
    cmds:
      - nix flake update
      - sudo darwin-rebuild switch --flake .#lv426
      - brew update
`,
	})
}

// TestBuildHostGiven: the configuration named for this host is this
// machine's; the one the old refresh switched to by name is another
// machine's when the host names a configuration (init --host nostromo on
// a Taskfile written for lv426). A step commented out says to comment out
// the active one only when there is one, and the Homebrew note names no
// "system step" that is not nix-darwin's.
func TestBuildHostGiven(t *testing.T) {
	dir := exampleTree(t)
	m := Machine{GOOS: "linux", Host: "nostromo", User: "ripley"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := unwrapped(Build(r, m, LoaderKeys()))
	for _, want := range []string{
		"# this machine: nixosConfigurations.nostromo (flake.nix:4)\n[steps.system]\n",
		"# darwinConfigurations.lv426 (flake.nix:3): another configuration of this flake: on that machine, uncomment this step (or run `sysinit init` there)\n",
		"# was: sudo darwin-rebuild switch --flake .#lv426 (Taskfile.yml task nix:refresh)\n# [steps.darwin-lv426]\n",
		"# this machine: homeConfigurations.ripley@nostromo (flake.nix:5)\n[steps.home]\n",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("missing %q in\n%s", want, data)
		}
	}
	if strings.Contains(data, "system step") {
		t.Errorf("names a system step, which here is nixos's:\n%s", data)
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}

	// On lv426, the other configurations' steps: the nixos one has no
	// active step of its kind to comment out.
	m = Machine{GOOS: "darwin", Host: "lv426", User: "ripley"}
	data = unwrapped(Build(r, m, LoaderKeys()))
	for _, want := range []string{
		"# this machine: darwinConfigurations.lv426 (flake.nix:3)\n",
		"# nixosConfigurations.nostromo (flake.nix:4): another configuration of this flake: on that machine, uncomment this step (or run `sysinit init` there)\n",
		"nix-darwin   = \"system\"",
		"inside step system's activation",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("missing %q in\n%s", want, data)
		}
	}
}

// TestBuildOffStepNamesTheActiveOne: with two configurations of a kind,
// the other's step says which step to comment out.
func TestBuildOffStepNamesTheActiveOne(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"flake.nix": `{ outputs = { nix-darwin, ... }: { darwinConfigurations = { lv426 = nix-darwin.lib.darwinSystem { }; sulaco = nix-darwin.lib.darwinSystem { }; }; }; }`,
	})
	m := Machine{GOOS: "darwin", Host: "lv426", User: "ripley"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := unwrapped(Build(r, m, LoaderKeys()))
	want := "# darwinConfigurations.sulaco (flake.nix:1): another configuration of this flake: on that machine, uncomment this step and comment out step system (or run `sysinit init` there)\n"
	if !strings.Contains(data, want) {
		t.Errorf("missing %q in\n%s", want, data)
	}
}

// TestBuildComputedPart: a configuration output that is part literal,
// part computed (genAttrs hosts mk // { arbuckle = …; }) gets steps for the
// names read and a note at the end naming the part that was not; an
// output computed whole gets its note too.
func TestBuildComputedPart(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"flake.nix": `{
  outputs = { self, nixpkgs, darwin, ... }:
    let
      hosts = [ "odie" "nermal" ];
      inherit (nixpkgs.lib) genAttrs mapAttrs;
    in {
      nixosConfigurations = genAttrs hosts mk // {
        arbuckle = nixpkgs.lib.nixosSystem { modules = [ ]; };
      };
      darwinConfigurations = mapAttrs mkMac macs;
    };
}`,
	})
	m := Machine{GOOS: "linux", Host: "odie", User: "jon"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := unwrapped(Build(r, m, LoaderKeys()))
	for _, want := range []string{
		"# [steps.nixos-arbuckle]\n",
		"# flake.nix:7 computes part of nixosConfigurations (`genAttrs hosts mk`), which a static read cannot name: the steps above are for arbuckle only. If this machine's configuration is another, add a nixos step with flake = \".#NAME\" (`nix eval .#nixosConfigurations --apply builtins.attrNames` lists them)\n",
		"# flake.nix:10 computes darwinConfigurations (`mapAttrs mkMac macs`), which a static read cannot name; add a nix-darwin step with flake = \".#NAME\"",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("missing %q in\n%s", want, data)
		}
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}
}

// TestBuildFlakeInHome: the old command's flake written with ~ or $HOME
// (`--flake ~/dotfiles#vm`, the shell expands it, nix does not) is this
// repository when it leads there: flake = ".#vm" with its entry. One
// that leads elsewhere is carried over expanded, without the entry read
// from this repository's flake.nix; before, init stopped with "the config
// init made does not load (a bug in sysinit init)" and wrote nothing.
func TestBuildFlakeInHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SUDO_USER", "") // as the user, not under sudo
	dir := filepath.Join(home, "dotfiles")
	tree := map[string]string{
		"flake.nix":            `{ outputs = { nixpkgs, ... }: { nixosConfigurations.vm = nixpkgs.lib.nixosSystem { modules = [ ./hosts/vm ]; }; }; }`,
		"hosts/vm/default.nix": `{ }`,
	}
	src := writeTree(t, tree)
	if err := os.Rename(src, dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOTFILES", dir)
	t.Setenv("ELSEWHERE", "/srv/elsewhere")
	m := Machine{GOOS: "linux", Host: "vm", User: "sam"}
	for _, tc := range []struct{ ref, want string }{
		{"~/dotfiles#vm", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"\"$HOME/dotfiles#vm\"", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"${HOME}/dotfiles/#vm", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"~/elsewhere#vm", "flake = \"" + home + "/elsewhere#vm\"\n"},
		// The task runner's working directory is the repository.
		{"$(pwd)#vm", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"\"$PWD#vm\"", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"\"${PWD}/.#vm\"", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		// A variable set where init runs, as in the user's shell.
		{"\"$DOTFILES#vm\"", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"$ELSEWHERE#vm", "flake = \"/srv/elsewhere#vm\"\n"},
		// One init cannot expand: this repository's, and the comment says so.
		{"\"$UNSET_HERE#vm\"", "init cannot tell the old command's flake: \"$UNSET_HERE#vm\" expands to what"},
		{"\"$(git rev-parse --show-toplevel)#vm\"", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
	} {
		data := buildJustfile(t, dir, m, "switch:\n  nix flake update --flake "+tc.ref+"\n  sudo nixos-rebuild switch --flake "+tc.ref+"\n")
		if !strings.Contains(data, tc.want) {
			t.Errorf("--flake %s: missing %q in\n%s", tc.ref, tc.want, data)
		}
		if strings.Contains(data, "flake = \"~") || strings.Contains(data, "flake = \"$") || strings.Contains(data, "flake = \"\\\"") {
			t.Errorf("--flake %s: a flake-update step keeps the ~:\n%s", tc.ref, data)
		}
		if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
			t.Errorf("--flake %s: does not load: %v\n%s", tc.ref, err, data)
		}
	}
}

func TestOneLine(t *testing.T) {
	long := "error: Couldn't resolve host name (" + strings.Repeat("cache.nixos.org ", 12) + ") while fetching"
	got := oneLine(long + "\n\n  more")
	if len(got) > 162 || !strings.HasSuffix(got, "org …") {
		t.Errorf("oneLine cut inside a word or kept too much: %q", got)
	}
	wide := strings.Repeat("é", 100) // no space to cut at: a rune boundary
	if got := oneLine(wide); !utf8.ValidString(got) {
		t.Errorf("oneLine cut a rune: %q", got)
	}
	if got := oneLine("short\n note"); got != "short note" {
		t.Errorf("oneLine(short) = %q", got)
	}
}

// TestBuildFlakeInOtherHome: ~user/dotfiles is user's home, as the shell
// expands it (it was written as flake = "~user/dotfiles#vm", a path under
// the repository); one init cannot look up is this repository's, with the
// comment. Under sudo (HOME=/root), ~ is the home of the user who ran
// sudo, who ran the old command: `sudo sysinit init` wrote
// flake = "/root/dotfiles#vm", another flake than the repository.
func TestBuildFlakeInOtherHome(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	home := t.TempDir()
	dir := filepath.Join(home, "dotfiles")
	src := writeTree(t, map[string]string{
		"flake.nix":            `{ outputs = { nixpkgs, ... }: { nixosConfigurations.vm = nixpkgs.lib.nixosSystem { modules = [ ./hosts/vm ]; }; }; }`,
		"hosts/vm/default.nix": `{ }`,
	})
	if err := os.Rename(src, dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUDO_USER", "")
	m := Machine{GOOS: "linux", Host: "vm", User: "sam"}
	build := func(ref string) string {
		t.Helper()
		return buildJustfile(t, dir, m, "switch:\n  sudo nixos-rebuild switch --flake "+ref+"\n")
	}
	for ref, want := range map[string]string{
		"~" + u.Username + "/elsewhere#vm": "flake = \"" + filepath.Join(u.HomeDir, "elsewhere") + "#vm\"",
		"~nosuchuser21/dotfiles#vm":        "flake: ~nosuchuser21/dotfiles#vm expands to what",
	} {
		if data := build(ref); !strings.Contains(data, want) || strings.Contains(data, "flake = \"~") {
			t.Errorf("--flake %s: missing %q in\n%s", ref, want, data)
		}
	}

	// Under sudo: HOME is root's, the old command was the user's.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SUDO_USER", "sam")
	sudoHome = func(name string) (string, bool) {
		if name == "sam" {
			return home, true
		}
		return "", false
	}
	t.Cleanup(func() { sudoHome = lookupSudoHome })
	if data := build("~/dotfiles#vm"); !strings.Contains(data, "flake = \".#vm\"\nentry = [\"hosts/vm\"]") {
		t.Errorf("under sudo, ~/dotfiles is not the repository:\n%s", data)
	}
}

// TestBuildFlakeAfterCd: a cd earlier in the same command line (or #!
// recipe) moves the flake the old command applied: `cd /srv/x &&
// nixos-rebuild switch --flake .#vm` applied /srv/x's, not this
// repository's. A cd init cannot follow leaves this repository's, said.
func TestBuildFlakeAfterCd(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SUDO_USER", "")
	dir := filepath.Join(home, "dotfiles")
	src := writeTree(t, map[string]string{
		"flake.nix":            `{ outputs = { nixpkgs, ... }: { nixosConfigurations.vm = nixpkgs.lib.nixosSystem { modules = [ ./hosts/vm ]; }; }; }`,
		"hosts/vm/default.nix": `{ }`,
		"nix/flake.nix":        `{ outputs = { ... }: { }; }`,
	})
	if err := os.Rename(src, dir); err != nil {
		t.Fatal(err)
	}
	m := Machine{GOOS: "linux", Host: "vm", User: "sam"}
	for _, tc := range []struct{ recipe, want string }{
		{"  cd /srv/x && sudo nixos-rebuild switch --flake .#vm\n", "flake = \"/srv/x#vm\"\n"},
		{"  cd /srv/x; sudo nixos-rebuild switch --flake \"$PWD#vm\"\n", "flake = \"/srv/x#vm\"\n"},
		{"  cd nix && nix flake update && cd .. && sudo nixos-rebuild switch --flake .#vm\n", "flake = \"./nix\"\n"},
		{"  cd ~/dotfiles && sudo nixos-rebuild switch --flake .#vm\n", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		{"  #!/usr/bin/env bash\n  cd /srv/x\n  sudo nixos-rebuild switch --flake .#vm\n", "flake = \"/srv/x#vm\"\n"},
		{"  cd \"$(mktemp -d)\" && sudo nixos-rebuild switch --flake .#vm\n", "init cannot tell the old command's flake: it ran in a directory"},
		// A recipe's lines run in shells of their own: a cd ends with its line.
		{"  cd /srv/x\n  sudo nixos-rebuild switch --flake .#vm\n", "flake = \".#vm\"\nentry = [\"hosts/vm\"]"},
		// A flake that is no path is where it was.
		{"  cd /srv/x && sudo nixos-rebuild switch --flake github:o/r#vm\n", "flake = \"github:o/r#vm\"\n"},
	} {
		data := buildJustfile(t, dir, m, "switch:\n"+tc.recipe)
		if !strings.Contains(data, tc.want) {
			t.Errorf("%q: missing %q in\n%s", tc.recipe, tc.want, data)
		}
		if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
			t.Errorf("%q: does not load: %v\n%s", tc.recipe, err, data)
		}
	}
}

// TestClassifyCdScope: a cd changes the directory of what follows it in
// the same shell only. A subshell's, a pipeline's, a background job's, a
// command substitution's cd and an uncalled function's stay where they are
// (`(cd nix && nix flake update) && nixos-rebuild switch --flake .#vm`
// applied this repository's flake, which init wrote as ./nix#vm, another,
// unsaid); popd goes back; `builtin cd` and `command cd` are cd; env
// --chdir and sudo --chdir move one command; a cd that may or may not
// have run (in an if, a loop, after ||) is a directory init cannot tell.
func TestClassifyCdScope(t *testing.T) {
	const unknown = "?" // the flake kept, with a note saying init could not tell
	for _, tc := range []struct{ line, want string }{
		{"(cd nix && nix flake update) && nixos-rebuild switch --flake .#vm", ".#vm"},
		{"( cd nix; nix flake update ); nixos-rebuild switch --flake .#vm", ".#vm"},
		{"time (cd nix && nix flake update); nixos-rebuild switch --flake .#vm", ".#vm"},
		{"(cd nix && nix flake update) && nixos-rebuild switch --flake .#vm", "./nix"},
		{"pushd nix; nix flake update; popd; nixos-rebuild switch --flake .#vm", ".#vm"},
		{"pushd nix; pushd /srv; popd; nixos-rebuild switch --flake .#vm", "./nix#vm"},
		{"builtin cd nix && nix flake update", "./nix"},
		{"command cd nix && nix flake update", "./nix"},
		{"f() { cd nix; }; nixos-rebuild switch --flake .#vm", ".#vm"},
		{"f() { cd nix; }; f; nixos-rebuild switch --flake .#vm", unknown},
		{"export D=$(cd nix && pwd); nixos-rebuild switch --flake .#vm", ".#vm"},
		{"for f in $(cd nix; ls); do :; done; nixos-rebuild switch --flake .#vm", ".#vm"},
		{"[[ -n $(cd nix; pwd) ]] && nixos-rebuild switch --flake .#vm", ".#vm"},
		{"cd nix & nixos-rebuild switch --flake .#vm", ".#vm"},
		{"cd nix | cat; nixos-rebuild switch --flake .#vm", ".#vm"},
		{"if [ -d nix ]; then cd nix; fi; nix flake update", unknown},
		{"if cd nix; then nix flake update; fi", "./nix"},
		{"cd nix 2>/dev/null || cd etc/nix; nix flake update", unknown},
		{"cd nix || exit 1; nix flake update", "./nix"},
		{"for h in a b; do cd nix; done; nix flake update", unknown},
		{"for h in a b; do (cd $h && nix flake update); done; nixos-rebuild switch --flake .#vm", ".#vm"},
		{"case $x in a) cd nix;; esac; nix flake update", unknown},
		{"{ cd nix; }; nix flake update", "./nix"},
		{"env --chdir=nix nix flake update", "./nix"},
		{"env -C /srv/x nixos-rebuild switch --flake .#vm", "/srv/x#vm"},
		{"sudo -D /srv/x nixos-rebuild switch --flake .#vm", "/srv/x#vm"},
		{"sudo --chdir=/srv/x nixos-rebuild switch --flake .#vm", "/srv/x#vm"},
		{"cd /srv && sudo --chdir x nixos-rebuild switch --flake .#vm", "/srv/x#vm"},
		{"nix flake update --flake git+file://$PWD", "git+file://."},
		{"cd nix && nix flake update --flake git+file://$PWD", unknown},
		{"nixos-rebuild switch --flake git+file://$PWD/nix#vm", unknown},
		{"cd /srv && cd x && nixos-rebuild switch --flake .#vm", "/srv/x#vm"},
		{"if true; then :; else cd nix; fi; nix flake update", unknown},
	} {
		var got []action
		for _, a := range classify(tc.line) {
			if a.recognized() {
				got = append(got, a)
			}
		}
		if len(got) == 0 {
			t.Errorf("%q: no action", tc.line)
			continue
		}
		// The last action is the one the case is about, but for
		// the first two subshell cases' flake update (./nix).
		a := got[len(got)-1]
		if tc.want == "./nix" && len(got) > 1 {
			a = got[0]
		}
		switch {
		case tc.want == unknown && a.flakeNote == "":
			t.Errorf("%q: flake %q with no note, want one saying init cannot tell", tc.line, a.flake)
		case tc.want != unknown && (a.flake != tc.want || a.flakeNote != ""):
			t.Errorf("%q: flake %q (note %q), want %q", tc.line, a.flake, a.flakeNote, tc.want)
		}
	}
}

// TestBuildTestIsNoStep: a test ([ … ], test …) changes nothing, so it is
// no command step to carry over. In john-s-lin/infra's justfile the hm
// recipe's script tests its arguments (if [ "{{impure}}" = "impure" ];
// then args+=(--impure); fi), and init wrote each test as a commented-out
// command step: "was: [ \"\" = \"impure\" ]", named "step" and "backup".
func TestBuildTestIsNoStep(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"flake.nix": `{ outputs = { home-manager, ... }: { homeConfigurations."sam@vm" = home-manager.lib.homeManagerConfiguration { modules = [ ./home.nix ]; }; }; }`,
		"justfile": `impure := ""

hm host="sam@vm" backup="backup":
    #!/usr/bin/env bash
    args=()
    if [ "{{impure}}" = "impure" ]; then
        args+=("--impure")
    fi
    if test "{{backup}}" = "backup"; then
        args+=("-b" "bak")
    fi
    nix run home-manager -- switch --flake .#{{host}} "${args[@]}"
`,
	})
	m := Machine{GOOS: "linux", Host: "vm", User: "sam"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := string(Build(r, m, LoaderKeys()).Render())
	if !strings.Contains(data, "[steps.home]\n") {
		t.Errorf("no home step in\n%s", data)
	}
	for _, bad := range []string{`"impure" ]`, `test \"backup\"`, "[steps.step]", "[steps.backup]", "[steps.test]"} {
		if strings.Contains(data, bad) {
			t.Errorf("a test became a step (%q) in\n%s", bad, data)
		}
	}
}

// TestBuildNothingFound: the note for a repository init found nothing in
// says so once; it read "…or refresh task (Taskfile, justfile,
// mise.toml)" and then "refresh task. Add steps by hand", the words twice
// (harrykantas/dotfiles, whose refresh is a Makefile's).
func TestBuildNothingFound(t *testing.T) {
	dir := writeTree(t, map[string]string{"Makefile": "switch:\n\tsudo darwin-rebuild switch --flake .#mac\n"})
	m := Machine{GOOS: "darwin", Host: "mac", User: "sam"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := string(Build(r, m, LoaderKeys()).Render())
	if !strings.Contains(data, "Found nothing to refresh here") {
		t.Fatalf("no note in\n%s", data)
	}
	if n := strings.Count(data, "refresh task"); n != 1 {
		t.Errorf("%q %d times in\n%s", "refresh task", n, data)
	}
	if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(data), kinds.Decls()); err != nil {
		t.Errorf("does not load: %v\n%s", err, data)
	}
}

// TestBuildByHostNameOtherFlakeHint: when the old command applied the flake
// in nix/ by the host name (harrykantas/dotfiles: cd nix && sudo
// darwin-rebuild switch --flake .#"$(scutil --get LocalHostName)"), the
// hint for naming the configuration names that flake: ".#NAME" is this
// repository's, another flake (here none at all).
func TestBuildByHostNameOtherFlakeHint(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"nix/flake.nix": `{ outputs = { nix-darwin, ... }: { darwinConfigurations."mac" = nix-darwin.lib.darwinSystem { modules = [ ./hosts/mac.nix ]; }; }; }`,
		"justfile":      "switch:\n\tcd nix && sudo darwin-rebuild switch --flake .#\"$(scutil --get LocalHostName)\"\n",
	})
	m := Machine{GOOS: "darwin", Host: "mac", User: "sam"}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	data := string(Build(r, m, LoaderKeys()).Render())
	if !strings.Contains(data, "flake = \"./nix\"") {
		t.Fatalf("not the flake in nix/:\n%s", data)
	}
	if strings.Contains(data, `".#NAME"`) || !strings.Contains(data, `"./nix#NAME"`) {
		t.Errorf("the hint names another flake than the step's:\n%s", data)
	}
}

// buildJustfile writes just as dir's justfile and returns the sysinit.toml
// init builds for dir on m.
func buildJustfile(t *testing.T, dir string, m Machine, just string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte(just), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Read(t.Context(), dir, m)
	if err != nil {
		t.Fatal(err)
	}
	return string(Build(r, m, LoaderKeys()).Render())
}
