package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// TestLoaderKeys keeps LoaderKeys true to the loader: init writes a key
// only when the loader accepts it, and writes it as soon as it does. When
// this fails after a key landed in internal/config, switch it on in
// LoaderKeys.
func TestLoaderKeys(t *testing.T) {
	dir := writeTree(t, map[string]string{"Brewfile": "brew \"jq\"\n", "hosts/a/default.nix": "{}\n", "flake.nix": "{ outputs = _: { }; }\n"})
	tests := []struct {
		key  string
		on   bool
		toml string
	}{
		{"nix-darwin", LoaderKeys().BrewFromNixDarwin, `
[steps.system]
kind = "nix-darwin"
flake = ".#a"
[steps.brew]
kind = "brew-bundle"
nix-darwin = "system"
`},
		{"entry", LoaderKeys().Entry, `
[steps.system]
kind = "nix-darwin"
flake = ".#a"
entry = ["hosts/a"]
`},
	}
	for _, tt := range tests {
		_, err := config.Parse(filepath.Join(dir, "sysinit.toml"), []byte(tt.toml), kinds.Decls())
		unknown := false
		var ce config.Errors
		if errors.As(err, &ce) {
			for _, e := range ce {
				if strings.Contains(e.Msg, "unknown key") && strings.Contains(e.Msg, tt.key) || strings.Contains(e.Msg, "`"+tt.key+"` is a") {
					unknown = true
				}
			}
		}
		if unknown == tt.on {
			t.Errorf("key %q: LoaderKeys says %v, but the loader accepts it: %v (error: %v)", tt.key, tt.on, !unknown, err)
		}
	}
}

// TestBuildLoads builds and renders configs for repositories of every
// shape the tests know, with each combination of keys the loader
// accepts, and loads them.
func TestBuildLoads(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"flake.nix": `{ outputs = { nix-darwin, nixpkgs, home-manager, ... }: {
  darwinConfigurations.lv426 = nix-darwin.lib.darwinSystem { modules = [ ./hosts/lv426 ./modules/darwin ]; };
  darwinConfigurations."work.mac" = nix-darwin.lib.darwinSystem { modules = [ ./hosts/work ]; };
  nixosConfigurations.nostromo = nixpkgs.lib.nixosSystem { modules = [ ./hosts/nostromo ]; };
  homeConfigurations."ripley@nostromo" = home-manager.lib.homeManagerConfiguration { modules = [ ./home.nix ]; };
}; }`,
		"hosts/lv426/default.nix":    "{}",
		"hosts/work/default.nix":     "{}",
		"hosts/nostromo/default.nix": "{}",
		"home.nix":                   "{}",
		"modules/darwin/default.nix": "{ homebrew.enable = true; }",
		"nix.custom.conf":            "max-jobs = auto\n",
		"Brewfile":                   "brew \"jq\"\n",
		"linux/Brewfile":             "brew \"htop\"\n",
		"Taskfile.yml": `version: '3'
tasks:
  refresh:
    cmds:
      - nix flake update
      - sudo cp nix.custom.conf /etc/nix/ && sudo launchctl kickstart -k system/org.nixos.nix-daemon
      - NIXPKGS_ALLOW_UNFREE=1 sudo -E darwin-rebuild switch --flake .#lv426 --impure --show-trace --max-jobs 4
      - brew update && brew bundle --cleanup
      - git add -A && git commit -m "refresh $(date)"
      - nixos-rebuild switch --flake .#web --target-host root@web
`,
	})
	for _, keys := range []Keys{{}, LoaderKeys()} {
		for _, host := range []string{"lv426", "nostromo", "elsewhere"} {
			r, err := Read(t.Context(), dir, Machine{GOOS: "darwin", Host: host, User: "ripley"})
			if err != nil {
				t.Fatal(err)
			}
			data := Build(r, Machine{GOOS: "darwin", Host: host, User: "ripley"}, keys).Render()
			if _, err := config.Parse(filepath.Join(dir, "sysinit.toml"), data, kinds.Decls()); err != nil {
				t.Errorf("host %s, keys %+v: the config does not load: %v\n%s", host, keys, err, data)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "flake.lock")); err == nil {
		t.Error("Read wrote flake.lock")
	}
}
