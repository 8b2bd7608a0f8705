package nixgraph

import (
	"fmt"
	"strings"
	"testing"
)

// show renders a reference compactly: kind, text, +suffix, [construct],
// and "code" when its target is read as Nix.
func (r ref) show() string {
	k := map[refKind]string{refPath: "path", refImpure: "impure", refFlake: "flake", refHead: "head", refOutputs: "outputs", refFlakeOutput: "output", refLetUse: "use"}[r.Kind]
	s := k + " " + r.Text
	if r.Suffix != "" {
		s += fmt.Sprintf(" +%q", r.Suffix)
	}
	if r.Construct != "" {
		s += " [" + r.Construct + "]"
	}
	if r.Code {
		s += " code"
	}
	if r.Attr != "" && r.Kind == refOutputs {
		s += " attr=" + r.Attr
	}
	if r.Tail != "" {
		s += fmt.Sprintf(" tail=%q", strings.Split(r.Tail, "\x00"))
	}
	if r.Scope != "" {
		s += " scope=" + r.Scope
	}
	return s
}

func showRefs(src string) []string {
	refs, _ := extract([]byte(src), nil)
	out := []string{}
	for _, r := range refs {
		out = append(out, r.show())
	}
	return out
}

// TestExtract: what each construct makes of a file. Plain literals are
// references; what the analysis cannot follow is a reference named with
// its construct, widened; text in comments and strings is nothing.
func TestExtract(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"literals", `{ imports = [ ./a.nix ../b/c.nix ./dir ]; x = a/b; y = ./.; z = ../.; }`,
			[]string{"path ./a.nix", "path ../b/c.nix", "path ./dir", "path a/b", "path ./.", "path ../."}},
		{"import and callPackage read code", `[ (import ./x.txt) (import (./y)) (pkgs.callPackage ./pkg { }) (f ./data) ]`,
			[]string{"path ./x.txt code", "path ./y code", "path ./pkg code", "path ./data"}},
		{"comments and string text are not references", "# ./c.nix\n/* ./d.nix */ \"./e.nix ${x}\" ''./f.nix'' \"\\${./g}\" ''''${./h}'' \"$${./i}\"",
			[]string{}},
		{"interpolations in both string kinds are code", `"${./a}/colors" + ''${./b} ${"${./c}"}''`,
			[]string{"path ./a", "path ./b", "path ./c"}},
		{"path interpolation widens to its literal prefix", `[ ./hosts/${name}/default.nix ./${x}.nix ./a${b} ]`,
			[]string{`path ./hosts/ [path interpolation] tail=["/default.nix"]`, `path ./ [path interpolation] tail=[".nix"]`, "path ./a [path interpolation]"}},
		{"the literal tail of an interpolated path", `[ ../../${h}/keys/${k}.pub ./${a}${b}/x ./${a}/../../y (./m + "/${n}.nix") (./m + "/${n}" + ".nix") ]`,
			[]string{`path ../../ [path interpolation] tail=["/keys/" ".pub"]`, `path ./ [path interpolation] tail=["/x"]`,
				`path ./ +"/../.." [path interpolation]`, `path ./m +"/" [path + interpolated string] tail=[".nix"]`,
				`path ./m +"/" [path + interpolated string]`}},
		{"path + literal string is exact", `import (./. + "/dyn.nix")`,
			[]string{`path ./. +"/dyn.nix" code`}},
		{"path + interpolated string keeps the literal part", `map (n: ./modules + "/${n}") names`,
			[]string{`path ./modules +"/" [path + interpolated string]`}},
		{"path + interpolated string with a tail", `map (n: ./modules + "/${n}/default.nix") names`,
			[]string{`path ./modules +"/" [path + interpolated string] tail=["/default.nix"]`}},
		{"path + expression", `./. + x`,
			[]string{"path ./. [path + expression]"}},
		{"path + string + more", `./a + "/b" + x`,
			[]string{`path ./a +"/b" [path + string + …]`}},
		{"an argument followed by + is not the operand", `f ./a + "b"`,
			[]string{"path ./a"}},
		{"readDir of a literal", `builtins.mapAttrs (n: _: import ./modules/${n}) (builtins.readDir ./modules)`,
			[]string{"path ./modules/ [path interpolation] code", "path ./modules [builtins.readDir]", "path ./modules"}},
		{"readDir of a variable widens to the file's directory", `builtins.readDir dir`,
			[]string{"path ./ [builtins.readDir of a non-literal path]"}},
		{"builtins.path and filterSource", `[ (builtins.path { path = ./src; name = "s"; }) (builtins.filterSource f ./t) ]`,
			[]string{"path ./src [builtins.path]", "path ./src", "path ./t [builtins.filterSource]", "path ./t"}},
		{"lib.filesystem and lib.fileset", `[ (lib.filesystem.listFilesRecursive ./a) (lib.fileset.toSource { root = ./.; fileset = ./b; }) (lib.fileset.gitTracked ./.) ]`,
			[]string{"path ./a [lib.filesystem.listFilesRecursive]", "path ./a",
				"path ./. [lib.fileset.toSource]", "path ./.", "path ./b",
				"path ./. [lib.fileset.gitTracked]", "head lib.fileset.gitTracked [lib.fileset.gitTracked]", "path ./."}},
		{"cleanSource and import-tree", `[ (lib.cleanSource ./src) (inputs.import-tree ./modules) (import-tree dir) ]`,
			[]string{"path ./src [lib.cleanSource]", "path ./src", "path ./modules [import-tree]", "path ./modules", "path ./ [import-tree of a non-literal path]"}},
		{"haumea", `inputs.haumea.lib.load { src = ./src; inputs = { }; }`,
			[]string{"path ./src [haumea.lib.load]", "path ./src"}},
		{"import of a computed path", `[ (import (dir + "/x.nix")) (import (./. + "/y.nix")) ]`,
			[]string{"path ./ [import (… + …)] code", `path ./. +"/y.nix" code`}},
		{"dirOf", `[ (dirOf ./a/b) (builtins.dirOf x) ]`,
			[]string{`path ./a/b +"/.." [dirOf]`, "path ./a/b", "flake dirOf [dirOf of a non-literal path]"}},
		{"self whole", `{ a = "${self}/x"; b = self.outPath; c = self + "/y"; d = toString self; e = inputs.self; f = self.narHash; }`,
			[]string{"flake self [self used as a value]", "flake self.outPath [self.outPath]", "flake self [self used as a value]",
				"flake self [self used as a value]", "flake inputs.self [inputs.self used as a value]", "flake self.narHash [self.narHash]"}},
		{"self git metadata", `[ (self.rev or "dirty") self.shortRev self.dirtyRev self.lastModified self.lastModifiedDate self.revCount inputs.self.rev self.sourceInfo.rev ]`,
			[]string{"head self.rev [self.rev]", "head self.shortRev [self.shortRev]", "head self.dirtyRev [self.dirtyRev]",
				"head self.lastModified [self.lastModified]", "head self.lastModifiedDate [self.lastModifiedDate]",
				"head self.revCount [self.revCount]", "head inputs.self.rev [inputs.self.rev]", "head self.sourceInfo.rev [self.sourceInfo.rev]"}},
		{"testing an attribute of self", `[ (inputs.self ? rev) (self ? packages) (inputs ? self) ]`,
			[]string{"head inputs.self ? rev [inputs.self ? rev]"}},
		{"reading flake outputs", `[ self.nixosModules.default self.overlays.x self.packages.${system}.y self'.packages.z outputs.lib.f config.flake.checks self.hosts.a (f self.outputs) ]`,
			[]string{"output self.nixosModules [flake output nixosModules]", "output self.overlays [flake output overlays]",
				"output self.packages [flake output packages]", "output self'.packages [flake output packages]",
				"output outputs.lib [flake output lib]", "output config.flake.checks [flake output checks]",
				"output self.outputs [self.outputs used as a value]"}},
		{"outputs bound by name is watched by name", `{ inherit (self) outputs; y = { outputs = self.outputs; }; x = outputs.overlays.default; }`,
			[]string{"output outputs.overlays [flake output overlays]"}},
		{"no scopes in a file that defines no outputs", `{ packages.x = import ./pkgs; }`,
			[]string{"path ./pkgs code"}},
		{"scopes: under which output a reference is defined", `{
			inputs.sub.url = "path:./sub";
			outputs = { self }: let shared = import ./shared; in {
				packages.x86_64-linux = { a = import ./pkgs; };
				checks = builtins.mapAttrs (n: c: c.config) self.nixosConfigurations;
				nixosConfigurations.a = mk { modules = [ ./hosts/a { environment.packages = import ./p2; } ]; };
				lib = let h = import ./lib/h.nix; in h;
			};
		}`,
			[]string{"path ./sub [local flake reference]", "path ./shared code scope=let shared",
				"path ./pkgs code scope=packages", "outputs self.nixosConfigurations [another configuration's outputs] scope=checks",
				"path ./hosts/a", "path ./p2 code", "path ./lib/h.nix code scope=lib"}},
		{"let bindings: their references wait for a use, and each use has a scope", `{
			outputs = { self }: let
				mkApp = n: "${self}/apps/${n}";
				apps' = s: { x = mkApp s; };
				cfg = { a = shared; };
				shared = import ./shared;
				w = import ./w;
				b = { inherit w; };
				z = assert true; import ./z;
			in {
				apps.x = apps' "x";
				nixosConfigurations.a = mk { modules = [ (with cfg; a) b.w ]; };
				packages.y = let mkApp = 1; in mkApp;
			};
		}`,
			[]string{"flake self [self used as a value] scope=let mkApp", "path ./shared code scope=let shared",
				"path ./w code scope=let w", "path ./z code",
				"use mkApp [let binding mkApp] scope=let apps'", "use shared [let binding shared] scope=let cfg",
				"use w [let binding w] scope=let b", "use apps' [let binding apps'] scope=apps",
				"use cfg [let binding cfg]", "use b [let binding b]", "use mkApp [let binding mkApp] scope=packages"}},
		{"let bindings in a rec set or an old let: every scope is lost", `{ outputs = { self }: let a = import ./a; in rec { packages.x = a; }; }`,
			[]string{"path ./a code"}},
		{"another configuration", `[ self.nixosConfigurations.b.config outputs.homeConfigurations.me config.flake.darwinConfigurations.m ]`,
			[]string{"outputs self.nixosConfigurations.b [another configuration's outputs] attr=nixosConfigurations.b",
				"outputs outputs.homeConfigurations.me [another configuration's outputs] attr=homeConfigurations.me",
				"outputs config.flake.darwinConfigurations.m [another configuration's outputs] attr=darwinConfigurations.m"}},
		{"another configuration by a computed name", `[ outputs.nixosConfigurations.${host}.config self.nixosConfigurations ]`,
			[]string{"outputs outputs.nixosConfigurations.${…}.config [another configuration's outputs]",
				"outputs self.nixosConfigurations [another configuration's outputs]"}},
		{"the names of the configurations", `[ (lib.attrNames outputs.nixosConfigurations) (builtins.attrNames self.darwinConfigurations) ]`,
			[]string{}},
		{"self and inputs bound or passed on", `{ self, inputs, ... }@args: let s = inputs.nixpkgs; in { specialArgs = { inherit self inputs; }; x = inputs.nixpkgs.lib; inherit (self) outputs; inherit (inputs) self; }`,
			[]string{}},
		{"specialArgs = inputs passes self on under its name", `nixosSystem { specialArgs = inputs; } // { extraSpecialArgs = { a = 1; } // inputs; }`,
			[]string{}},
		{"inputs used whole holds self", `{ nix.registry = lib.mapAttrs (_: flake: { inherit flake; }) inputs; x = builtins.attrValues inputs; }`,
			[]string{"flake inputs [inputs used as a value (it holds self)]", "flake inputs [inputs used as a value (it holds self)]"}},
		{"inherit from self", `{ inherit (self) outPath rev; inherit (inputs.self) lastModified; }`,
			[]string{"flake self.outPath [self.outPath]", "head self.rev [self.rev]", "head inputs.self.lastModified [inputs.self.lastModified]"}},
		{"self reached through the arguments taken whole", `{ config, ... }@args: [ "${args.self}" args.self.rev (args.inputs.self.outPath) args.selfish ]`,
			[]string{"flake args.self [args.self used as a value]", "head args.self.rev [args.self.rev]", "flake args.inputs.self.outPath [args.inputs.self.outPath]"}},
		{"computed input name", `inputs.${name}`,
			[]string{"flake inputs.${…} [inputs with a computed name]"}},
		{"with self", `with inputs.self; x`,
			[]string{"flake with inputs.self [with self]"}},
		{"overlay self is a lambda parameter", `self: super: { x = self.callPackage ./x { }; }`,
			[]string{"path ./x code"}},
		{"impure", "[ ~/x <nixpkgs> /etc/hosts (builtins.getEnv \"HOME\") builtins.currentTime (import <nixpkgs/lib>) ~/${a} ]",
			[]string{"impure ~/x [home path]", "impure <nixpkgs> [search path]", "path /etc/hosts",
				"impure builtins.getEnv HOME [environment variable]", "impure builtins.currentTime [impure builtin]",
				"impure <nixpkgs/lib> [search path]", "impure ~/${…} [home path]"}},
		{"absolute path in a string", `[ (builtins.readFile "/etc/x") (import "~/y") ]`,
			[]string{"path /etc/x [absolute path in a string]", "impure ~/y [home path in a string]"}},
		{"getFlake", `[ (builtins.getFlake "path:./sub") (builtins.getFlake "github:o/r") (builtins.getFlake (toString ./.)) (builtins.getFlake x) ]`,
			[]string{"path ./sub [local flake reference]", "impure github:o/r [builtins.getFlake]",
				"path ./. [builtins.getFlake]", "path ./.", "flake builtins.getFlake [builtins.getFlake of a computed reference]"}},
		{"fetchGit and fetchTree of local paths", `[ (builtins.fetchGit ./.) (builtins.fetchTree { type = "path"; path = ./sub; }) ]`,
			[]string{"path ./. [builtins.fetchGit]", "head builtins.fetchGit [builtins.fetchGit]", "path ./.",
				"path ./sub [builtins.fetchTree]", "head builtins.fetchTree [builtins.fetchTree]", "path ./sub"}},
		{"local flake inputs", `{ inputs.a.url = "path:./sub"; inputs.b.url = "git+file:///abs/repo?ref=main"; inputs.c.url = path:../c; inputs.d.url = "github:o/r"; }`,
			[]string{"path ./sub [local flake reference]", "path /abs/repo [local flake reference]",
				"head git+file:///abs/repo?ref=main [git+file reference]", "path ../c [local flake reference]"}},
		{"definitions are not uses", `{ self = 1; inputs.nixpkgs.url = "github:a/b"; nixosConfigurations.x = 1; let inputs = 2; in inputs: self: 3; }`,
			[]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := showRefs(tt.src)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("extract(%s)\n got: %q\nwant: %q", tt.src, got, tt.want)
			}
		})
	}
}
