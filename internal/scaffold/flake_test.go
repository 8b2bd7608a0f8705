package scaffold

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLexNix(t *testing.T) {
	src := `{
  # a comment with darwinConfigurations = { x = 1; };
  /* block
     comment */ a = "s ${ "nested ${b}" } t";
  b = ''
    ''${not} interpolation ${x} '''quoted'''
  '';
  c = ./hosts/lv426;
  d = <nixpkgs>;
  e = a // b;
  f = github:owner/repo;
  g = ./hosts/${name}/default.nix;
  h = x: x.y or 1;
}`
	var got []string
	for _, tk := range lexNix(src) {
		s := tk.text
		if tk.dynamic {
			s += "(dyn)"
		}
		got = append(got, s)
	}
	want := []string{"{",
		"a", "=", "s  t(dyn)", ";",
		"b", "=", "\n    ${not} interpolation  ''quoted''\n  (dyn)", ";",
		"c", "=", "./hosts/lv426", ";",
		"d", "=", "<nixpkgs>", ";",
		"e", "=", "a", "//", "b", ";",
		"f", "=", "github:owner/repo", ";",
		"g", "=", "./hosts/${…}/default.nix(dyn)", ";",
		"h", "=", "x", ":", "x", ".", "y", "or", "1", ";",
		"}"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tokens:\n got %q\nwant %q", got, want)
	}
	toks := lexNix(src)
	if toks[len(toks)-1].line != 14 {
		t.Errorf("last token on line %d, want 14", toks[len(toks)-1].line)
	}
}

// writeTree writes files (path → content) under a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func names(cs []Configuration) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestReadFlake(t *testing.T) {
	tests := []struct {
		name                string
		files               map[string]string
		darwin, nixos, home []string
		entry               map[string][]string // configuration → entry
		dynamic             int
		dynamicText         []string // what Dynamic says, when the test says
	}{
		{
			// As in Misterio77/nix-config: an empty set defines no
			// configuration, and nothing in it is computed.
			name:  "an empty set",
			files: map[string]string{"flake.nix": `{ outputs = { ... }: { nixosConfigurations.a = mk { modules = [ ./a ]; }; homeConfigurations = {}; darwinConfigurations = { }; }; }`, "a/default.nix": "{ }"},
			nixos: []string{"a"},
			entry: map[string][]string{"a": {"a"}},
		},
		{
			// As in AVGVSTVS96/nixos-config: a let … in before the set.
			name: "let in before the set",
			files: map[string]string{"flake.nix": `{ outputs = { ... }: {
  nixosConfigurations = let base = a // b; mk = host: system: nixosSystem { modules = [ ./hosts/${host} ]; }; in {
    "nixos-x86_64" = mk "nixos" "x86_64-linux";
    vm-x86_64 = mk "vm" "x86_64-linux";
  };
}; }`},
			nixos: []string{"nixos-x86_64", "vm-x86_64"},
		},
		{
			name: "nested sets and dotted paths",
			files: map[string]string{
				"flake.nix": `{
  description = "machines";
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
  outputs = { self, nixpkgs, nix-darwin, home-manager, ... }@inputs:
    let
      system = "aarch64-darwin";
      mk = x: x; # darwinConfigurations = { decoy = 1; };
    in {
      darwinConfigurations."lv426" = nix-darwin.lib.darwinSystem {
        inherit system;
        modules = [ ./hosts/lv426 ./modules/darwin { homebrew.enable = true; } (import ./modules/extra.nix) ];
      };
      darwinConfigurations.sulaco = nix-darwin.lib.darwinSystem { modules = [ ./hosts/sulaco.nix ./missing.nix ]; };
      nixosConfigurations = {
        nostromo = nixpkgs.lib.nixosSystem {
          modules = with nixpkgs; [ ./hosts/nostromo ];
        };
        inherit (self.lib) gateway;
      };
      homeConfigurations = {
        "ripley@nostromo" = home-manager.lib.homeManagerConfiguration { modules = [ ./home/ripley.nix ]; };
      };
    };
}`,
				"hosts/lv426/default.nix": "{}", "modules/darwin/default.nix": "{}", "modules/extra.nix": "{}",
				"hosts/sulaco.nix": "{}", "hosts/nostromo/default.nix": "{}", "home/ripley.nix": "{}",
			},
			darwin: []string{"lv426", "sulaco"}, nixos: []string{"nostromo", "gateway"}, home: []string{"ripley@nostromo"},
			entry: map[string][]string{"lv426": {"hosts/lv426", "modules/darwin"}, "sulaco": {"hosts/sulaco.nix"}, "nostromo": nil},
		},
		{
			name: "flake-parts, import of a file, genAttrs and a dynamic name",
			files: map[string]string{
				"flake.nix": `{
  outputs = inputs@{ flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      flake = {
        darwinConfigurations = import ./hosts/darwin { inherit inputs; };
        nixosConfigurations = nixpkgs.lib.genAttrs [ "a" "b" ] (n: mkHost n) // (import ./hosts/pi { inherit inputs; });
        homeConfigurations.${user} = mkHome user;
      };
    };
}`,
				"hosts/darwin/default.nix": `{ inputs, ... }:
let
  mk = name: inputs.nix-darwin.lib.darwinSystem { modules = [ ./${name} ]; };
in {
  work-mac = mk "work-mac";
  home-mac = mk "home-mac";
}`,
				"hosts/pi/default.nix": `{ inputs }: { pi = inputs.nixpkgs.lib.nixosSystem { modules = [ ./. ]; }; }`,
			},
			darwin: []string{"work-mac", "home-mac"}, nixos: []string{"a", "b", "pi"}, dynamic: 1,
		},
		{
			name: "a computed part beside a literal one",
			files: map[string]string{
				"flake.nix": `{
  outputs = { self, nixpkgs, darwin, ... }:
    let
      hosts = [ "odie" "nermal" ];
      inherit (nixpkgs.lib) genAttrs;
    in {
      darwinConfigurations = genAttrs [ "jon" "liz" ] mk // {
        garfield = darwin.lib.darwinSystem { modules = [ ]; };
      };
      nixosConfigurations = genAttrs hosts mk // {
        arbuckle = nixpkgs.lib.nixosSystem { modules = [ ]; };
      } // (import ./missing.nix);
    };
}`,
			},
			darwin: []string{"jon", "liz", "garfield"}, nixos: []string{"arbuckle"},
			dynamicText: []string{"nixosConfigurations at flake.nix:10: genAttrs hosts mk", "nixosConfigurations at flake.nix:12: (import ./missing.nix)"},
		},
		{
			name: "configurations computed by a function",
			files: map[string]string{
				"flake.nix": `{ outputs = { nixpkgs, ... }: { darwinConfigurations = nixpkgs.lib.mapAttrs mkHost hosts; }; }`,
			},
			dynamic: 1,
		},
		{
			name: "a string mentioning a kind is no definition",
			files: map[string]string{
				"flake.nix": `{ description = "darwinConfigurations = { x = 1; }"; outputs = _: { }; }`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			got, err := ReadFlake(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got.Darwin), tt.darwin) || !reflect.DeepEqual(names(got.NixOS), tt.nixos) || !reflect.DeepEqual(names(got.Home), tt.home) {
				t.Errorf("got darwin %q nixos %q home %q; want %q %q %q", names(got.Darwin), names(got.NixOS), names(got.Home), tt.darwin, tt.nixos, tt.home)
			}
			if tt.dynamicText != nil {
				var texts []string
				for _, d := range got.Dynamic {
					texts = append(texts, d.String())
				}
				if !reflect.DeepEqual(texts, tt.dynamicText) {
					t.Errorf("dynamic = %q, want %q", got.Dynamic, tt.dynamicText)
				}
			} else if len(got.Dynamic) != tt.dynamic {
				t.Errorf("dynamic = %q, want %d", got.Dynamic, tt.dynamic)
			}
			for _, c := range append(append(got.Darwin, got.NixOS...), got.Home...) {
				if want, ok := tt.entry[c.Name]; ok && !reflect.DeepEqual(c.Entry, want) {
					t.Errorf("%s entry = %q, want %q", c.Name, c.Entry, want)
				}
			}
		})
	}
}
