package nixgraph

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"
)

// memSource is a tree in memory. Entries starting with "-> " are symlinks.
// It counts reads, and knows every file's Sum when withSums is set (as a
// caller's stat cache would).
type memSource struct {
	files    map[string]string
	withSums bool
	reads    int
	stats    int
}

func (m *memSource) Stat(p string) (Stat, error) {
	m.stats++
	c, ok := m.files[p]
	if !ok {
		return Stat{}, fmt.Errorf("stat %s: %w", p, fs.ErrNotExist)
	}
	st := Stat{Symlink: strings.HasPrefix(c, "-> ")}
	if m.withSums {
		st.Sum, st.HaveSum = SumOf([]byte(strings.TrimPrefix(c, "-> "))), true
	}
	return st, nil
}

func (m *memSource) Read(p string) (File, error) {
	m.reads++
	c, ok := m.files[p]
	if !ok {
		return File{}, fmt.Errorf("read %s: %w", p, fs.ErrNotExist)
	}
	if t, ok := strings.CutPrefix(c, "-> "); ok {
		return File{Symlink: true, Target: t}, nil
	}
	return File{Data: []byte(c)}, nil
}

func (m *memSource) tracked() []string {
	var out []string
	for p := range m.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// testRepo is a multi-host flake: a and b share modules/shared.nix; b's
// module reads a sibling of a path held in a variable; c uses self.
func testRepo() *memSource {
	return &memSource{files: map[string]string{
		"flake.nix": `{ outputs = { self }: {
			lib = import ./lib;
			nixosConfigurations = {
				a = self.lib.sys [ ./hosts/a ./modules/shared.nix ];
				b = self.lib.sys [ ./hosts/b ./modules/shared.nix ];
				c = self.lib.sys [ ./hosts/c ];
			};
			checks.x86_64-linux.a = self.nixosConfigurations.a.config.system.build.toplevel;
			devShells.x86_64-linux.default = import ./unused/shell.nix;
		}; }`,
		"flake.lock":                "{}",
		"lib/default.nix":           `{ sys = modules: modules; }`,
		"hosts/a/default.nix":       `{ imports = [ ./hw.nix ../../modules/editor ]; x = builtins.readFile ./motd; }`,
		"hosts/a/hw.nix":            `{ }`,
		"hosts/a/motd":              "hi",
		"hosts/b/default.nix":       `{ self, ... }: let base = ../../modules/banner; in { x = builtins.readFile (base + ".txt"); r = self.rev or "dirty"; imports = [ ../../modules/link.nix ]; }`,
		"hosts/c/default.nix":       `{ self, ... }: { src = "${self}/x"; }`,
		"modules/shared.nix":        `{ imports = map (n: ./services + "/${n}.nix") [ "ssh" ]; home = ~/.config; }`,
		"modules/services/ssh.nix":  `{ }`,
		"modules/services/time.nix": `{ }`,
		"modules/editor/default.nix": `{ imports = [ ./plugins.nix ]; init = builtins.readFile ./init.lua;
			colors = "${./theme}/colors"; # ../../README.md
		}`,
		"modules/editor/plugins.nix":   `{ p = builtins.attrNames (builtins.readDir ./plugins); }`,
		"modules/editor/plugins/a.nix": `{ }`,
		"modules/editor/init.lua":      "-- ./not/nix",
		"modules/editor/theme/colors":  "red",
		"modules/editor/theme/extra":   "blue",
		"modules/banner.txt":           "banner",
		"modules/link.nix":             "-> ../shared-real/real.nix",
		"shared-real/real.nix":         `{ x = import ./dep.nix; }`,
		"shared-real/dep.nix":          `1`,
		"unused/u.nix":                 `{ }`,
		"unused/shell.nix":             `{ }`,
		"README.md":                    "# repo",
	}}
}

func analyze(t *testing.T, src *memSource, entries, others []string, cache *Cache) *Result {
	t.Helper()
	// Each other entry is hosts/NAME, the entry of nixosConfigurations.NAME.
	var o []Config
	for _, e := range others {
		o = append(o, Config{Name: "nixosConfigurations." + path.Base(e), Entries: []string{e}})
	}
	res, err := Analyze(src, Request{Tracked: src.tracked(), Config: Config{Name: "nixosConfigurations." + path.Base(entries[0]), Entries: entries}, Others: o}, cache)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAnalyzeReach: the files each configuration of testRepo reaches.
func TestAnalyzeReach(t *testing.T) {
	entries := map[string][]string{
		"a": {"hosts/a", "modules/shared.nix"},
		"b": {"hosts/b", "modules/shared.nix"},
		"c": {"hosts/c"},
	}
	others := func(self string) []string {
		var o []string
		for n, e := range entries {
			if n != self {
				o = append(o, e[0])
			}
		}
		return o
	}
	common := []string{"flake.lock", "flake.nix", "lib/default.nix",
		"modules/services/ssh.nix", "modules/services/time.nix", "modules/shared.nix"}
	tests := []struct {
		name string
		want []string
	}{
		{"a", append([]string{"hosts/a/default.nix", "hosts/a/hw.nix", "hosts/a/motd",
			"modules/editor/default.nix", "modules/editor/init.lua", "modules/editor/plugins.nix",
			"modules/editor/plugins/a.nix", "modules/editor/theme/colors", "modules/editor/theme/extra"}, common...)},
		{"b", append([]string{"hosts/b/default.nix", "modules/banner.txt", "modules/link.nix",
			"shared-real/dep.nix", "shared-real/real.nix"}, common...)},
		{"c", testRepo().tracked()}, // "${self}" hashes the whole tree
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := analyze(t, testRepo(), entries[tt.name], others(tt.name), nil)
			sort.Strings(tt.want)
			if strings.Join(res.Files, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("reached:\n  %s\nwant:\n  %s", strings.Join(res.Files, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestAnalyzeReports: widenings, impure inputs and git metadata name the
// construct and file:line.
func TestAnalyzeReports(t *testing.T) {
	res := analyze(t, testRepo(), []string{"hosts/b", "modules/shared.nix"}, []string{"hosts/a", "hosts/c"}, nil)
	var w []string
	for _, x := range res.Widenings {
		w = append(w, x.String())
	}
	wantW := []string{
		"modules/shared.nix:1: path + interpolated string widens to modules/services/….nix",
	}
	if strings.Join(w, "\n") != strings.Join(wantW, "\n") {
		t.Errorf("widenings:\n  %s\nwant:\n  %s", strings.Join(w, "\n  "), strings.Join(wantW, "\n  "))
	}
	if len(res.GitHead) != 1 || res.GitHead[0] != (Site{File: "hosts/b/default.nix", Line: 1, Construct: "self.rev"}) {
		t.Errorf("git head sites: %+v", res.GitHead)
	}
	if len(res.Impure) != 1 || res.Impure[0].String() != "modules/shared.nix:1: home path ~/.config" {
		t.Errorf("impure: %v", res.Impure)
	}
}

// TestChainSymlink: a chain through a symlink and a prefix.
func TestChainSymlink(t *testing.T) {
	res := analyze(t, testRepo(), []string{"hosts/b"}, nil, nil)
	var got []string
	for _, e := range res.Chain("shared-real/dep.nix") {
		got = append(got, e.String())
	}
	want := []string{
		"hosts/b/default.nix (entry)",
		"hosts/b/default.nix:1 → modules/link.nix",
		"modules/link.nix → shared-real/real.nix (symlink)",
		"shared-real/real.nix:1 → shared-real/dep.nix",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("chain:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	got = nil
	for _, e := range res.Chain("modules/banner.txt") {
		got = append(got, e.String())
	}
	want = []string{"hosts/b/default.nix (entry)", "hosts/b/default.nix:1 → modules/banner.txt (by modules/banner)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("chain:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestChain: why a file is reachable, step by step from an entry.
func TestChain(t *testing.T) {
	res := analyze(t, testRepo(), []string{"hosts/a", "modules/shared.nix"}, []string{"hosts/b", "hosts/c"}, nil)
	tests := []struct {
		file string
		want []string
	}{
		{"hosts/a/default.nix", []string{"hosts/a/default.nix (entry)"}},
		{"modules/editor/plugins/a.nix", []string{
			"hosts/a/default.nix (entry)",
			"hosts/a/default.nix:1 → modules/editor/plugins/a.nix (by modules/editor)",
		}},
		{"modules/banner.txt", nil},
		{"modules/services/ssh.nix", []string{
			"modules/shared.nix (entry)",
			"modules/shared.nix:1 → modules/services/ssh.nix (by modules/services/….nix; path + interpolated string)",
		}},
		{"lib/default.nix", []string{"flake.nix (flake)", "flake.nix:2 → lib/default.nix (by lib; flake output lib, read at flake.nix:4)"}},
		{"README.md", nil},
		{"not/tracked", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range res.Chain(tt.file) {
			got = append(got, e.String())
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("Chain(%s):\n  %s\nwant:\n  %s", tt.file, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
		}
		if res.Reaches(tt.file) != (tt.want != nil) {
			t.Errorf("Reaches(%s) = %v", tt.file, res.Reaches(tt.file))
		}
	}
}

// TestAnalyzeRules: one rule of the package doc per case.
func TestAnalyzeRules(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		entries []string
		others  []string
		// otherName names the configuration whose entries others are
		// ("": nixosConfigurations.b).
		otherName string
		roots     []string
		want      []string // reached, besides flake.nix
		impure    []string
	}{
		{
			name:    "a reference reaches every file its path starts with",
			files:   map[string]string{"m/a.nix": "./b", "m/b": "", "m/b.nix": "", "m/b/c": "", "m/bc.txt": "", "m/x": ""},
			entries: []string{"m/a.nix"},
			want:    []string{"m/a.nix", "m/b", "m/b.nix", "m/b/c", "m/bc.txt"},
		},
		{
			name:    "an interpolated path reaches what holds its literal tail",
			files:   map[string]string{"d.nix": "[ ./hosts/${h}/key.pub (import (./m + \"/${n}.conf\")) ]", "hosts/a/key.pub": "", "hosts/a/x.nix": "", "hosts/key.pub": "", "hosts/b/c/key.pub.old": "", "m/x.conf": "../y", "m/z.txt": "", "y": ""},
			entries: []string{"d.nix"},
			want:    []string{"d.nix", "hosts/a/key.pub", "hosts/b/c/key.pub.old", "hosts/key.pub", "m/x.conf", "y"},
		},
		{
			name:    "an entry reaches only what is at or under it",
			files:   map[string]string{"hosts/a/x.nix": "", "hosts/ab/y.nix": "", "hosts/a.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/x.nix"},
		},
		{
			name:    "a directory symlink on the way is followed",
			files:   map[string]string{"a.nix": "import ./cfg/x.nix", "cfg": "-> real", "real/x.nix": "", "real/y": ""},
			entries: []string{"a.nix"},
			want:    []string{"a.nix", "cfg", "real/x.nix", "real/y"},
		},
		{
			name:    "a file imported as code is read whatever its name",
			files:   map[string]string{"a.nix": "import ./x.conf", "x.conf": "./y.txt", "y.txt": "", "z.txt": "./w", "w": ""},
			entries: []string{"a.nix"},
			want:    []string{"a.nix", "x.conf", "y.txt"},
		},
		{
			name: "a dynamic import may read a file of any name",
			files: map[string]string{"d.nix": "[ (import (./cfg + \"/${n}\")) (import (dir + \"/x\")) ]", "cfg/plain": "import ../y.nix", "y.nix": "",
				"cfg/notes.txt": "see /etc/hosts and ~/x", "x": "../z", "z": ""},
			entries: []string{"d.nix"},
			want:    []string{"cfg/notes.txt", "cfg/plain", "d.nix", "x", "y.nix", "z"},
		},
		{
			name:    "data is not read as code",
			files:   map[string]string{"a.nix": "builtins.readFile ./x.conf", "x.conf": "./y.txt", "y.txt": ""},
			entries: []string{"a.nix"},
			want:    []string{"a.nix", "x.conf"},
		},
		{
			name:    "flake.nix reaches what this configuration's definition names, not what another's does",
			files:   map[string]string{"flake.nix": "{ outputs = _: { nixosConfigurations = { a = mk [ ./hosts/a ./overlays ]; b = mk [ ./hosts/b ./hosts/${name} ]; }; }; }", "hosts/a/d.nix": "", "hosts/b/d.nix": "", "hosts/common.nix": "", "overlays/o.nix": "import ../hosts/c/pkgs.nix", "hosts/c/pkgs.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/c/pkgs.nix", "overlays/o.nix"},
		},
		{
			name: "a file inside another configuration's entry that flake.nix names is reached",
			files: map[string]string{"flake.nix": "{ outputs = _: { nixosConfigurations = { a = mk [ ./hosts/a { imports = [ ./hosts/b/users.nix ]; } ]; b = mk [ ./hosts/b ]; }; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "hosts/b/users.nix": "", "overlays/o.nix": "import ../hosts/b/pkgs.nix", "hosts/b/pkgs.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/users.nix"},
		},
		{
			name:    "another configuration's entry is reached from this one's modules",
			files:   map[string]string{"flake.nix": "{ outputs = _: { nixosConfigurations.b = mk ./hosts/b; }; }", "hosts/a/d.nix": "import ../b/shared.nix", "hosts/b/shared.nix": "", "hosts/b/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/shared.nix"},
		},
		{
			name: "a module this configuration's definition shares with another's entries is reached",
			files: map[string]string{"flake.nix": "{ outputs = _: { nixosConfigurations.a = mk [ ./hosts/a ./modules/shared.nix ]; nixosConfigurations.b = mk [ ./hosts/b ./modules/shared.nix ]; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "modules/shared.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b", "modules/shared.nix"},
			want:    []string{"hosts/a/d.nix", "modules/shared.nix"},
		},
		{
			name: "another configuration's entry named in this configuration's definition is reached",
			files: map[string]string{"flake.nix": "{ outputs = _: { nixosConfigurations = { a = mk [ ./hosts/a ./hosts/b ]; b = mk [ ./hosts/b ]; }; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix"},
		},
		{
			name: "another configuration's entry interpolated, imported, read or bound in this one's definition is reached",
			files: map[string]string{"flake.nix": `{ outputs = _: { nixosConfigurations.a = mk [ "${./hosts/b}" (import ./hosts/c) { root = ./hosts/d; } (builtins.readDir ./hosts/e) ]; nixosConfigurations.b = mk [ ./hosts/b ./hosts/c ./hosts/d ./hosts/e ]; }; }`,
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "hosts/c/default.nix": "", "hosts/d/d.nix": "", "hosts/e/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b", "hosts/c", "hosts/d", "hosts/e"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "hosts/c/default.nix", "hosts/d/d.nix", "hosts/e/d.nix"},
		},
		{
			name: "another configuration's entry in a let binding or under a computed name is reached",
			files: map[string]string{"flake.nix": `{ outputs = _: let b = ./hosts/b; in { nixosConfigurations = { a = mk [ ./hosts/a b ]; } // genAttrs [ "c" ] (h: mk [ (./hosts + "/${h}") ]); nixosConfigurations.b = mk [ b ]; }; }`,
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "hosts/c/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b", "hosts/c"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "hosts/c/d.nix"},
		},
		{
			name: "another configuration's entry in a set handed to a function is reached",
			files: map[string]string{"flake.nix": `{ outputs = _: { nixosConfigurations = mapAttrs (n: p: mk [ p ]) { a = ./hosts/b; b = ./hosts/a; }; }; }`,
				"hosts/a/d.nix": "", "hosts/b/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix"},
		},
		{
			name: "a set selected from is not the configurations' set",
			files: map[string]string{"flake.nix": `{ outputs = _: { nixosConfigurations = { b = { a = mk [ ./hosts/b ]; }; }.b; }; }`,
				"hosts/a/d.nix": "", "hosts/b/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix"},
		},
		{
			name: "a configuration named by a literal string keeps its entries to itself",
			files: map[string]string{"flake.nix": `{ outputs = _: { homeConfigurations."b" = mk [ ./hosts/b ]; homeConfigurations = { "b" = mk [ ./hosts/b ]; }; }; }`,
				"hosts/a/d.nix": "", "hosts/b/d.nix": ""},
			entries:   []string{"hosts/a"},
			others:    []string{"hosts/b"},
			otherName: "homeConfigurations.b",
			want:      []string{"hosts/a/d.nix"},
		},
		{
			name: "another configuration's definition is not read, unless this one reads that configuration",
			files: map[string]string{"flake.nix": "{ outputs = { self }: { nixosConfigurations.a = mk [ ./hosts/a ]; nixosConfigurations.b = mk [ ./hosts/b ./extra.nix ]; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "extra.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix"},
		},
		{
			name: "another configuration's definition is read when this one reads that configuration",
			files: map[string]string{"flake.nix": "{ outputs = { self }: { nixosConfigurations.a = mk [ ./hosts/a ]; nixosConfigurations.b = mk [ ./hosts/b ./extra.nix ]; }; }",
				"hosts/a/d.nix": "{ self, ... }: self.nixosConfigurations.b.config", "hosts/b/d.nix": "", "extra.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"extra.nix", "hosts/a/d.nix", "hosts/b/d.nix"},
		},
		{
			name: "importing flake.nix reads every deferred output and let binding",
			files: map[string]string{"flake.nix": "{ outputs = _: let l = import ./l.nix; in { packages.x = import ./p.nix; devShells.x = l; nixosConfigurations.a = mk [ ./hosts/a ]; }; }",
				"hosts/a/d.nix": "{ x = ((import ../../flake.nix).outputs { }).devShells.x; }", "p.nix": "", "l.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "l.nix", "p.nix"},
		},
		{
			name: "flake.nix importing itself reads every deferred output and let binding",
			files: map[string]string{"flake.nix": "{ outputs = _: let l = import ./l.nix; in { packages.x = import ./p.nix; devShells.x = l; nixosConfigurations.a = mk [ ./hosts/a (import ./flake.nix).description ]; }; }",
				"hosts/a/d.nix": "", "p.nix": "", "l.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "l.nix", "p.nix"},
		},
		{
			name: "an output name under another attribute (foo.packages, bar = { packages … }) is not the deferred output",
			files: map[string]string{"flake.nix": "{ outputs = { self }: { foo.packages = import ./p.nix; bar = { packages = import ./q.nix; }; packages.x = import ./r.nix; nixosConfigurations.a = mk [ ./hosts/a ]; }; }",
				"hosts/a/d.nix": "{ self, ... }: { x = self.foo.packages; y = self.bar.packages; }", "p.nix": "", "q.nix": "", "r.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "p.nix", "q.nix"},
		},
		{
			name: "a computed import that may name flake.nix reads every deferred output",
			files: map[string]string{"flake.nix": "{ outputs = _: { packages.x = import ./p.nix; nixosConfigurations.a = mk [ ./hosts/a ]; }; }",
				"hosts/a/d.nix": `{ x = import (../.. + "/fl${f}"); }`, "p.nix": "", "q.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "p.nix"},
		},
		{
			name:    "another configuration by a computed name is the whole flake, except in flake.nix",
			files:   map[string]string{"flake.nix": "self.nixosConfigurations.b", "hosts/a/d.nix": "outputs.nixosConfigurations.${n}.config", "hosts/b/d.nix": "", "x": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "x"},
		},
		{
			name: "another configuration named literally is what its entries reach",
			files: map[string]string{"flake.nix": "[ ./hosts/a ./hosts/b ]", "hosts/a/d.nix": "outputs.nixosConfigurations.b.config.x",
				"hosts/b/d.nix": "import ../../shared/s.nix", "shared/s.nix": "", "x": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "shared/s.nix"},
		},
		{
			name:    "a configuration the request does not know by that name is the whole flake",
			files:   map[string]string{"hosts/a/d.nix": "inputs.self.nixosConfigurations.zz.config", "hosts/b/d.nix": "", "x": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "x"},
		},
		{
			name: "flake.nix's references under an output no one reads are not followed",
			files: map[string]string{"flake.nix": "{ outputs = { self }: { checks.x = self.nixosConfigurations.b; devShells.x = import ./shell.nix; y = self.rev or null; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "shell.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix"},
		},
		{
			name: "flake.nix's references under an output a module reads are followed",
			files: map[string]string{"flake.nix": "{ outputs = { self }: { checks.x = self.nixosConfigurations.b; devShells.x = import ./shell.nix; }; }",
				"hosts/a/d.nix": "{ outputs, ... }: { x = outputs.checks.x; }", "hosts/b/d.nix": "", "shell.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix"},
		},
		{
			name: "flake.nix reads what it hands a configuration in a let or outside outputs names",
			files: map[string]string{"flake.nix": "{ outputs = { self }: let pkgs = import ./pkgs; in { packages = pkgs; nixosConfigurations.a = f { inherit pkgs; home = self.nixosConfigurations.b.config; }; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "pkgs/default.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "pkgs/default.nix"},
		},
		{
			name: "a let binding used in two configurations' definitions is read by each, whichever comes first",
			files: map[string]string{"flake.nix": "{ outputs = { self }: let lib = import ./lib; in { nixosConfigurations.b = lib.mk [ ./hosts/b ]; nixosConfigurations.a = lib.mk [ ./hosts/a ]; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "lib/default.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "lib/default.nix"},
		},
		{
			name: "a let binding used only under outputs no one reads is not followed, nor what it uses",
			files: map[string]string{"flake.nix": "{ outputs = { self }: let mkApp = n: \"${self}/apps/${n}\"; appsFor = s: { x = mkApp s; }; sh = import ./shell.nix; in { apps.x = appsFor \"x\"; devShells.x = sh; nixosConfigurations.a = f { }; }; }",
				"hosts/a/d.nix": "", "hosts/b/d.nix": "", "shell.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix"},
		},
		{
			name: "a let binding used under an output a module reads is followed, and what it uses",
			files: map[string]string{"flake.nix": "{ outputs = { self }: let mkApp = n: \"${self}/apps/${n}\"; appsFor = s: { x = mkApp s; }; sh = import ./shell.nix; in { apps.x = appsFor \"x\"; devShells.x = sh; nixosConfigurations.a = f { }; }; }",
				"hosts/a/d.nix": "{ self, ... }: self.apps.x", "hosts/b/d.nix": "", "shell.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix", "shell.nix"},
		},
		{
			name: "a let binding used outside outputs is followed, through a cycle of bindings",
			files: map[string]string{"flake.nix": "{ outputs = { self }: let a = { x = b.y; p = import ./p.nix; }; b = { y = a.p; }; c = import ./c.nix; in { packages.x = c; nixosConfigurations.a = f b; }; }",
				"hosts/a/d.nix": "", "p.nix": "", "c.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "p.nix"},
		},
		{
			name: "a let binding used through with or inherit is followed",
			files: map[string]string{"flake.nix": "{ outputs = { self }: let s = { q = import ./q.nix; }; t = import ./t.nix; in { nixosConfigurations.a = with s; f { inherit t; x = q; }; }; }",
				"hosts/a/d.nix": "", "q.nix": "", "t.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "q.nix", "t.nix"},
		},
		{
			name: "flake.nix reading an output before it defines it",
			files: map[string]string{"flake.nix": "{ outputs = { self }: { nixosConfigurations.a = f self.packages.x; packages.x = import ./p.nix; }; }",
				"hosts/a/d.nix": "", "p.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "p.nix"},
		},
		{
			name:    "a rec set in flake.nix defers nothing",
			files:   map[string]string{"flake.nix": "{ outputs = rec { packages.x = import ./p.nix; nixosConfigurations.a = f packages.x; }; }", "hosts/a/d.nix": "", "p.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "p.nix"},
		},
		{
			name:    "self.outputs as a value reads every output",
			files:   map[string]string{"flake.nix": "{ outputs = { self }: { devShells.x = import ./shell.nix; }; }", "hosts/a/d.nix": "{ self, ... }: { o = f self.outputs; }", "shell.nix": ""},
			entries: []string{"hosts/a"},
			want:    []string{"hosts/a/d.nix", "shell.nix"},
		},
		{
			name:    "self as a value in flake.nix is the whole tree, others' entries too",
			files:   map[string]string{"flake.nix": "{ outputs = { self }: { src = self; }; }", "hosts/a/d.nix": "", "hosts/b/d.nix": ""},
			entries: []string{"hosts/a"},
			others:  []string{"hosts/b"},
			want:    []string{"hosts/a/d.nix", "hosts/b/d.nix"},
		},
		{
			name:    "a path leaving the tree is impure",
			files:   map[string]string{"a/d.nix": "[ ../../x ../b (./. + \"x\") /etc/hosts ]", "b": ""},
			entries: []string{"a"},
			want:    []string{"a/d.nix", "b"},
			impure:  []string{"a/d.nix:1: path outside the flake ../../x", "a/d.nix:1: absolute path /etc/hosts"},
		},
		{
			name:    "a path + string at the root that is not /… leaves the tree",
			files:   map[string]string{"d.nix": "./. + \"x\"", "dx": ""},
			entries: []string{"d.nix"},
			want:    []string{"d.nix"},
			impure:  []string{"d.nix:1: path outside the flake ./.x"},
		},
		{
			name:    "an absolute path into the tree is followed and impure",
			files:   map[string]string{"d.nix": "import /home/me/cfg/m/x.nix", "m/x.nix": "./y", "m/y": ""},
			entries: []string{"d.nix"},
			roots:   []string{"/home/me/cfg/"},
			want:    []string{"d.nix", "m/x.nix", "m/y"},
			impure:  []string{"d.nix:1: absolute path into the tree (untracked files too) /home/me/cfg/m/x.nix"},
		},
		{
			name:    "dirOf reaches the parent",
			files:   map[string]string{"a/b/d.nix": "builtins.readDir (dirOf ./.)", "a/x": "", "c": ""},
			entries: []string{"a/b/d.nix"},
			want:    []string{"a/b/d.nix", "a/x"},
		},
		{
			name:    "a non-literal readDir widens to the file's directory",
			files:   map[string]string{"m/d.nix": "builtins.readDir dir", "m/x/y": "", "n": ""},
			entries: []string{"m/d.nix"},
			want:    []string{"m/d.nix", "m/x/y"},
		},
		{
			name:    "an entry of the root reaches everything",
			files:   map[string]string{"a": "", "b/c": ""},
			entries: []string{"."},
			want:    []string{"a", "b/c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otherName := "nixosConfigurations.b"
			if tt.otherName != "" {
				otherName = tt.otherName
			}
			files := map[string]string{"flake.nix": "{ }"}
			for k, v := range tt.files {
				files[k] = v
			}
			src := &memSource{files: files}
			res, err := Analyze(src, Request{Tracked: src.tracked(), Config: Config{Name: "nixosConfigurations.a", Entries: tt.entries},
				Others: []Config{{Name: otherName, Entries: tt.others}}, Roots: tt.roots}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{"flake.nix"}, tt.want...)
			sort.Strings(want)
			if strings.Join(res.Files, " ") != strings.Join(want, " ") {
				t.Errorf("reached %q, want %q", res.Files, want)
			}
			var imp []string
			for _, i := range res.Impure {
				imp = append(imp, i.String())
			}
			if strings.Join(imp, "\n") != strings.Join(tt.impure, "\n") {
				t.Errorf("impure %q, want %q", imp, tt.impure)
			}
		})
	}
}

// TestSetAsideWhole: the diagnostic reach without whole-tree widenings
// still reports them.
func TestSetAsideWhole(t *testing.T) {
	src := testRepo()
	req := Request{Tracked: src.tracked(), Config: Config{Entries: []string{"hosts/c"}}, Others: []Config{{Entries: []string{"hosts/a"}}, {Entries: []string{"hosts/b"}}}}
	whole, err := Analyze(src, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetAsideWhole = true
	aside, err := Analyze(src, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Files) != len(src.files) || len(aside.Files) >= len(whole.Files) || aside.Reaches("README.md") {
		t.Errorf("whole: %d files, set aside: %v", len(whole.Files), aside.Files)
	}
	for _, w := range whole.Widenings {
		if w.Dir != "." {
			continue
		}
		found := false
		for _, v := range aside.Widenings {
			found = found || v == w
		}
		if !found {
			t.Errorf("set aside, the whole-tree widening %v is not reported", w)
		}
	}
}

func TestAnalyzeErrors(t *testing.T) {
	src := testRepo()
	_, err := Analyze(src, Request{Tracked: src.tracked(), Config: Config{Entries: []string{"hosts/zz"}}}, nil)
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Entry != "hosts/zz" {
		t.Errorf("a missing entry: %v", err)
	}
	// A tracked file that cannot be read is an error, not a skip.
	tracked := append(src.tracked(), "hosts/a/gone.nix")
	_, err = Analyze(src, Request{Tracked: tracked, Config: Config{Entries: []string{"hosts/a"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "hosts/a/gone.nix") {
		t.Errorf("an unreadable file: %v", err)
	}
}

// TestCacheWarm: with every content cached and the caller's sums at hand, a
// second analysis reads and parses nothing, and finds the same.
func TestCacheWarm(t *testing.T) {
	entries := []string{"hosts/a", "modules/shared.nix"}
	cold := testRepo()
	cold.withSums = true
	cache := NewCache()
	want := analyze(t, cold, entries, nil, cache)
	if cold.reads == 0 {
		t.Fatal("the cold run read nothing")
	}

	// Through Marshal/Unmarshal, as the caller stores it.
	loaded, err := UnmarshalCache(cache.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	warm := testRepo()
	warm.withSums = true
	got := analyze(t, warm, entries, nil, loaded)
	if warm.reads != 0 {
		t.Errorf("the warm run read %d files", warm.reads)
	}
	if _, misses := loaded.Stats(); misses != 0 {
		t.Errorf("the warm run missed the cache %d times", misses)
	}
	if strings.Join(got.Files, " ") != strings.Join(want.Files, " ") || fmt.Sprint(got.Widenings) != fmt.Sprint(want.Widenings) ||
		fmt.Sprint(got.Impure) != fmt.Sprint(want.Impure) || fmt.Sprint(got.GitHead) != fmt.Sprint(want.GitHead) {
		t.Errorf("warm result differs:\n%+v\n%+v", got, want)
	}

	// An edited file is read again, and only that one.
	edited := testRepo()
	edited.withSums = true
	edited.files["hosts/a/hw.nix"] = "{ imports = [ ../../unused/u.nix ]; }"
	res := analyze(t, edited, entries, nil, loaded)
	if edited.reads != 1 || !res.Reaches("unused/u.nix") {
		t.Errorf("after an edit: %d reads, reaches the new import: %v", edited.reads, res.Reaches("unused/u.nix"))
	}

	// Without sums, contents are read but not parsed again.
	nosum := testRepo()
	loaded2, _ := UnmarshalCache(cache.Marshal())
	analyze(t, nosum, entries, nil, loaded2)
	if _, misses := loaded2.Stats(); misses != 0 {
		t.Errorf("without sums the cache missed %d times", misses)
	}
}

func TestCacheMarshal(t *testing.T) {
	c := NewCache()
	analyze(t, testRepo(), []string{"hosts/b"}, nil, c)
	data := c.Marshal()
	d, err := UnmarshalCache(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Marshal()) != string(data) {
		t.Error("Marshal after Unmarshal differs")
	}
	// Another version of the rules: an empty cache, not an error.
	other := append([]byte(nil), data...)
	other[len(cacheMagic)]++
	other = other[:len(other)-8]
	other = appendSum(other)
	if d, err := UnmarshalCache(other); err != nil || d.Len() != 0 {
		t.Errorf("other version: %v, %d entries", err, d.Len())
	}
	// Corruption is an error.
	for _, bad := range [][]byte{nil, []byte("nixgraph"), data[:len(data)-1], append([]byte("x"), data[1:]...)} {
		if _, err := UnmarshalCache(bad); err == nil {
			t.Errorf("corrupt data %q decoded", bad)
		}
	}
	flipped := append([]byte(nil), data...)
	flipped[20] ^= 1
	if _, err := UnmarshalCache(flipped); err == nil {
		t.Error("a flipped bit decoded")
	}
	// Prune drops what no analysis used since loading.
	d.Prune()
	if d.Len() != 0 {
		t.Errorf("after Prune with nothing used: %d entries", d.Len())
	}
}

// TestStopAtWhole: stopping at a reference to the whole tree still
// reaches every tracked file, says it stopped, and visits fewer files than
// the whole analysis, which finds git metadata read after the stop.
func TestStopAtWhole(t *testing.T) {
	files := map[string]string{
		"flake.nix":           "{ outputs = { self, nixpkgs }: { nixosConfigurations.a = nixpkgs.lib.nixosSystem { modules = [ ./hosts/a ]; }; }; }",
		"hosts/a/default.nix": "{ self, ... }: { imports = [ ../../modules/late.nix ]; environment.etc.src.source = toString self; }",
		"modules/late.nix":    "{ self, ... }: { system.configurationRevision = self.rev; }",
		"README.md":           "# a",
		"docs/x.md":           "x",
	}
	for _, stop := range []bool{false, true} {
		src := &memSource{files: files}
		res, err := Analyze(src, Request{Tracked: src.tracked(), Config: Config{Entries: []string{"hosts/a"}}, StopAtWhole: stop}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Files) != len(files) || res.Stopped != stop {
			t.Errorf("stop %v: %d of %d files, stopped %v", stop, len(res.Files), len(files), res.Stopped)
		}
		if stop && (len(res.GitHead) != 0 || src.stats >= len(files)) {
			t.Errorf("stopped, yet looked on: git metadata %v, %d stats", res.GitHead, src.stats)
		}
		if !stop && len(res.GitHead) != 1 {
			t.Errorf("the whole analysis finds git metadata at %v, want modules/late.nix", res.GitHead)
		}
	}
}

// A step that builds an attribute under a deferred output (a nix-profile
// of packages.x86_64-linux.tool) reads flake.nix's definition of it: the
// file that definition hands the package is an input.
func TestAnalyzeOwnOutputs(t *testing.T) {
	files := map[string]string{
		"flake.nix":     "{ outputs = { self }: { packages.x86_64-linux.tool = import ./pkgs/tool.nix { extra = ./pkgs/extra.txt; }; checks.x = import ./c.nix; nixosConfigurations.a = mk [ ./hosts/a ]; }; }",
		"pkgs/tool.nix": "{ extra }: extra", "pkgs/extra.txt": "", "c.nix": "", "hosts/a/d.nix": "",
	}
	for _, tt := range []struct {
		outputs []string
		want    []string
	}{
		{nil, []string{"hosts/a/d.nix", "pkgs/tool.nix"}},
		{[]string{"packages", "legacyPackages"}, []string{"hosts/a/d.nix", "pkgs/extra.txt", "pkgs/tool.nix"}},
		{[]string{"*"}, []string{"c.nix", "hosts/a/d.nix", "pkgs/extra.txt", "pkgs/tool.nix"}},
	} {
		src := &memSource{files: files}
		res, err := Analyze(src, Request{Tracked: src.tracked(), Config: Config{Entries: []string{"pkgs/tool.nix"}}, Outputs: tt.outputs}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range res.Files {
			if f != "flake.nix" && f != "flake.lock" {
				got = append(got, f)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("outputs %q: reached %q, want %q", tt.outputs, got, tt.want)
		}
	}
}
