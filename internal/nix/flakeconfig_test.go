package nix

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReadNixConfig(t *testing.T) {
	cases := []struct {
		name, src  string
		want       []flakeSetting
		unreadable bool
	}{
		{name: "none", src: `{ outputs = { self }: { }; }`},
		{name: "a set", src: `{
  description = "my machines"; # nixConfig in a comment
  nixConfig = {
    extra-substituters = [ "https://nix-community.cachix.org" "https://cache.example.org" ];
    extra-trusted-public-keys = [ "nix-community.cachix.org-1:mB9FSh9qf2dCimDSUo8Zy7bkq5CX+/rkCWyvRCYg3Fs=" ];
    "accept-flake-config" = true;
    max-jobs = 4;
    bash-prompt = "\"nix\" \${x} $$ \n";
  };
  outputs = { self, nixpkgs }: let
    x = 1; y = with nixpkgs; 2;
    nixConfig = "not this one";
  in { nixConfig = "nor this"; };
}`, want: []flakeSetting{
			{Name: "accept-flake-config", Value: "true"},
			{Name: "bash-prompt", Value: "\"nix\" ${x} $$ \n"},
			{Name: "extra-substituters", Value: "https://nix-community.cachix.org https://cache.example.org", List: []string{"https://nix-community.cachix.org", "https://cache.example.org"}},
			{Name: "extra-trusted-public-keys", Value: "nix-community.cachix.org-1:mB9FSh9qf2dCimDSUo8Zy7bkq5CX+/rkCWyvRCYg3Fs=", List: []string{"nix-community.cachix.org-1:mB9FSh9qf2dCimDSUo8Zy7bkq5CX+/rkCWyvRCYg3Fs="}},
			{Name: "max-jobs", Value: "4"},
		}},
		{name: "dotted, after outputs with strings, interpolation and let", src: `{
  inputs.nixpkgs.url = github:NixOS/nixpkgs/nixos-unstable;
  outputs = inputs@{ self, ... }: let inherit (self) x; s = "}${"{"}"; t = ''
    a ${ s } '' + "" + ''b}'';
  in assert true; { a = { }; };
  nixConfig.extra-substituters = "https://a.example";
  /* a block comment: nixConfig = { x = 1; }; */
  nixConfig.commit-lockfile-summary = "flake.lock: update";
}`, want: []flakeSetting{
			{Name: "commit-lockfile-summary", Value: "flake.lock: update"},
			{Name: "extra-substituters", Value: "https://a.example"},
		}},
		{name: "an empty list", src: `{ nixConfig.extra-substituters = [ ]; }`, want: []flakeSetting{{Name: "extra-substituters", Value: "", List: []string{}}}},
		{name: "an indented string", src: `{ nixConfig.extra-substituters = ''https://a''; }`, unreadable: true},
		{name: "a path", src: `{ nixConfig.netrc-file = ./netrc; }`, unreadable: true},
		{name: "interpolation", src: `{ nixConfig.x = "${y}"; }`, unreadable: true},
		{name: "a list of non-strings", src: `{ nixConfig.x = [ 1 ]; }`, unreadable: true},
		{name: "a let around the flake", src: `let x = 1; in { nixConfig.y = "z"; }`, unreadable: true},
		{name: "nested", src: `{ nixConfig.a.b = "c"; }`, unreadable: true},
		{name: "a dynamic name", src: `{ nixConfig = { ${"a"} = "b"; }; }`, unreadable: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readNixConfig([]byte(c.src))
			if c.unreadable {
				if !errors.Is(err, errNixConfigUnreadable) {
					t.Errorf("err = %v, want it unreadable (got %+v)", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	// Broken syntax is an error of its own kind, not a silent "none".
	for _, src := range []string{`{ nixConfig = { x = "a`, `{ nixConfig.x = "a"; x = (;`, `{ nixConfig.x = "a"; nixConfig = { x = "b"; }; }`} {
		if _, err := readNixConfig([]byte(src)); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}

var (
	nix28  = Version{Flavour: FlavourNix, Major: 2, Minor: 8}
	nix218 = Version{Flavour: FlavourNix, Major: 2, Minor: 18}
	nix226 = Version{Flavour: FlavourNix, Major: 2, Minor: 26, Patch: 3}
	nix234 = Version{Flavour: FlavourNix, Major: 2, Minor: 34}
	detsys = Version{Flavour: FlavourDeterminate, Major: 2, Minor: 29, Release: "3.6.2"}
	lix    = Version{Flavour: FlavourLix, Major: 2, Minor: 91, Patch: 1}
)

// TestJudgeFlakeSettings is nix's ConfigFile::apply, version by version:
//
//	setting                 accept-flake-config   trusted list     applied?
//	whitelisted             any                   any              yes (bash-prompt-prefix from 2.9)
//	other                   true                  any              yes
//	other                   false / unset         value: true      yes
//	other                   false / unset         value: false     no
//	other                   false / unset         absent           no (nix would ask; no terminal)
//	other (Lix)             false                 value: true      no (Lix refuses all)
//	other (Lix)             ask / unset           value: true      yes
func TestJudgeFlakeSettings(t *testing.T) {
	subst := flakeSetting{Name: "extra-substituters", Value: "https://a https://b", List: []string{"https://a", "https://b"}}
	prefix := flakeSetting{Name: "bash-prompt-prefix", Value: "(dev) "}
	summary := flakeSetting{Name: "commit-lock-file-summary", Value: "up"}
	emptyFirst := flakeSetting{Name: "extra-substituters", Value: " https://a", List: []string{"", "https://a"}}
	trusted := trustedList{"extra-substituters": {"https://a https://b": true}}
	distrusted := trustedList{"extra-substituters": {"https://a https://b": false}}
	cases := []struct {
		name    string
		s       flakeSetting
		v       Version
		accept  string
		list    trustedList
		apply   bool
		why     string
		valueIs string
	}{
		{"not trusted", subst, nix226, "", nil, false, "not trusted", ""},
		{"accept true", subst, nix226, "true", nil, true, "accept-flake-config = true", ""},
		{"accept yes", subst, nix28, "yes", nil, true, "accept-flake-config = true", ""},
		{"accept false", subst, nix226, "false", nil, false, "not trusted", ""},
		{"in the list", subst, nix226, "", trusted, true, "trusted in LIST", ""},
		{"in the list, accept false", subst, nix234, "false", trusted, true, "trusted in LIST", ""},
		{"marked untrusted", subst, nix226, "", distrusted, false, "marked untrusted in LIST", ""},
		{"another value in the list", flakeSetting{Name: "extra-substituters", Value: "https://a"}, nix226, "", trusted, false, "not trusted", ""},
		{"prefix on 2.8", prefix, nix28, "", nil, false, "not trusted", ""},
		{"prefix on 2.18", prefix, nix218, "", nil, true, "nix applies bash-prompt-prefix from any flake", ""},
		{"commit-lock-file-summary on 2.18", summary, nix218, "", nil, false, "not trusted", ""},
		{"commit-lock-file-summary on 2.26", summary, nix226, "", nil, true, "from any flake", ""},
		{"commit-lock-file-summary on Lix", summary, lix, "", nil, false, "not trusted", ""},
		{"Lix, accept false", subst, lix, "false", trusted, false, "Lix refuses every flake setting", ""},
		{"Lix, ask", subst, lix, "ask", trusted, true, "trusted in LIST", ""},
		{"Lix, default", subst, lix, "", nil, false, "not trusted", ""},
		{"Determinate, accept true", subst, detsys, "true", nil, true, "accept-flake-config = true", ""},
		{"leading empty element, 2.18", emptyFirst, nix218, "true", nil, true, "", " https://a"},
		{"leading empty element, 2.26", emptyFirst, nix226, "true", nil, true, "", "https://a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := judgeFlakeSettings([]flakeSetting{c.s}, c.v, c.accept, c.list, "LIST")
			if len(got) != 1 {
				t.Fatalf("got %d verdicts", len(got))
			}
			if got[0].Apply != c.apply || !strings.Contains(got[0].Why, c.why) {
				t.Errorf("got apply %v (%s), want %v (%s)", got[0].Apply, got[0].Why, c.apply, c.why)
			}
			if c.valueIs != "" && got[0].Value != c.valueIs {
				t.Errorf("value %q, want %q", got[0].Value, c.valueIs)
			}
		})
	}
}

func TestPlanFlakeConfig(t *testing.T) {
	apply := settingVerdict{Name: "extra-substituters", Value: "https://a", Apply: true, Why: "accept-flake-config = true"}
	refuse := settingVerdict{Name: "extra-trusted-public-keys", Value: "k:1", Why: "not trusted"}
	cases := []struct {
		name     string
		verdicts []settingVerdict
		ignored  []string
		options  []string
		notes    int
		fallback string
	}{
		{name: "nothing"},
		{name: "agreed", verdicts: []settingVerdict{apply, refuse}, ignored: []string{"extra-trusted-public-keys"},
			options: []string{"--option", "extra-substituters", "https://a"}, notes: 1},
		// nix refused one sysinit read as applied: nix's word wins.
		{name: "nix refused more", verdicts: []settingVerdict{apply}, ignored: []string{"extra-substituters"}, notes: 1},
		// nix applied one sysinit read as refused: let nix decide.
		{name: "nix applied more", verdicts: []settingVerdict{refuse}, fallback: "nix applied flake.nix's nixConfig.extra-trusted-public-keys"},
		{name: "nix refused one sysinit did not read", ignored: []string{"x"}, fallback: "did not read (x)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ignored := map[string]bool{}
			for _, n := range c.ignored {
				ignored[n] = true
			}
			p := planFlakeConfig(c.verdicts, ignored, "nix build .#x")
			if !slices.Equal(p.Options, c.options) || len(p.Notes) != c.notes || !strings.Contains(p.Fallback, c.fallback) || (c.fallback == "") != (p.Fallback == "") {
				t.Errorf("got %+v", p)
			}
			for _, n := range p.Notes {
				if strings.Contains(n, "does not apply here") && !strings.Contains(n, "nix build .#x") {
					t.Errorf("note does not say how to accept: %s", n)
				}
			}
		})
	}
}

func TestUntrustedSettings(t *testing.T) {
	stderr := "warning: ignoring untrusted flake configuration setting 'extra-substituters'\n" + // 2.8
		"warning: ignoring untrusted flake configuration setting 'extra-trusted-public-keys'.\nPass '--accept-flake-config' to trust it\n" + // 2.26
		"warning: ignoring untrusted flake configuration setting 'max-jobs', pass '--accept-flake-config' to trust it (may allow the flake to gain root, see the nix.conf manual page)\n" // Lix
	got := untrustedSettings(stderr)
	if !reflect.DeepEqual(got, map[string]bool{"extra-substituters": true, "extra-trusted-public-keys": true, "max-jobs": true}) {
		t.Errorf("got %v", got)
	}
}

func env(m map[string]string) nixEnv { return func(k string) string { return m[k] } }

func TestNixConfFiles(t *testing.T) {
	cases := []struct {
		name string
		v    Version
		env  map[string]string
		want []string
	}{
		{"defaults", nix28, map[string]string{"HOME": "/h"}, []string{"/etc/nix/nix.conf", "/etc/xdg/nix/nix.conf", "/h/.config/nix/nix.conf"}},
		{"XDG", nix218, map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/c", "XDG_CONFIG_DIRS": "/d1:/d2", "NIX_CONF_DIR": "/n"},
			[]string{"/n/nix.conf", "/d2/nix/nix.conf", "/d1/nix/nix.conf", "/c/nix/nix.conf"}},
		{"NIX_CONFIG_HOME before 2.25", nix218, map[string]string{"HOME": "/h", "NIX_CONFIG_HOME": "/nc"}, []string{"/etc/nix/nix.conf", "/etc/xdg/nix/nix.conf", "/h/.config/nix/nix.conf"}},
		{"NIX_CONFIG_HOME from 2.25", nix226, map[string]string{"HOME": "/h", "NIX_CONFIG_HOME": "/nc"}, []string{"/etc/nix/nix.conf", "/etc/xdg/nix/nix.conf", "/nc/nix.conf"}},
		{"NIX_CONFIG_HOME in Lix", lix, map[string]string{"HOME": "/h", "NIX_CONFIG_HOME": "/nc"}, []string{"/etc/nix/nix.conf", "/etc/xdg/nix/nix.conf", "/h/.config/nix/nix.conf"}},
		{"NIX_USER_CONF_FILES", nix234, map[string]string{"HOME": "/h", "NIX_USER_CONF_FILES": "/a.conf:/b.conf"}, []string{"/etc/nix/nix.conf", "/b.conf", "/a.conf"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := nixConfFiles(c.v, env(c.env))
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestTrustedListPath(t *testing.T) {
	cases := []struct {
		v    Version
		env  map[string]string
		want string
	}{
		{nix28, map[string]string{"HOME": "/h"}, "/h/.local/share/nix/trusted-settings.json"},
		{nix28, map[string]string{"HOME": "/h", "XDG_DATA_HOME": "/d", "NIX_DATA_HOME": "/n"}, "/d/nix/trusted-settings.json"},
		{nix226, map[string]string{"HOME": "/h", "XDG_DATA_HOME": "/d"}, "/d/nix/trusted-settings.json"},
		{nix226, map[string]string{"HOME": "/h", "XDG_DATA_HOME": "/d", "NIX_DATA_HOME": "/n"}, "/n/trusted-settings.json"},
		{detsys, map[string]string{"HOME": "/h", "NIX_DATA_HOME": "/n"}, "/n/trusted-settings.json"},
		{lix, map[string]string{"HOME": "/h", "NIX_DATA_HOME": "/n"}, "/h/.local/share/nix/trusted-settings.json"},
	}
	for _, c := range cases {
		if got, err := trustedListPath(c.v, env(c.env)); err != nil || got != c.want {
			t.Errorf("%s %v: got %q, %v; want %q", c.v, c.env, got, err, c.want)
		}
	}
}

// TestAcceptFlakeConfig reads accept-flake-config as nix does: system
// file, user files (the first wins), includes, NIX_CONFIG, then flags.
func TestAcceptFlakeConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		writeFile(t, filepath.Join(dir, rel), content)
	}
	write("etc/nix.conf", "# system\nexperimental-features = nix-command flakes\n!include nix.custom.conf\n!include missing.conf\n")
	write("etc/nix.custom.conf", "accept-flake-config = true  # from nix-darwin\n")
	write("user1/nix/nix.conf", "accept-flake-config = false\n")
	write("user2/nix/nix.conf", "accept-flake-config = true\n")
	base := map[string]string{"HOME": dir, "NIX_CONF_DIR": filepath.Join(dir, "etc"), "XDG_CONFIG_HOME": filepath.Join(dir, "none")}
	with := func(kv ...string) nixEnv {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return env(m)
	}
	cases := []struct {
		name string
		get  nixEnv
		args []string
		want string
	}{
		{"included by the system file", with(), nil, "true"},
		{"the first user file wins", with("XDG_CONFIG_HOME", filepath.Join(dir, "user1"), "XDG_CONFIG_DIRS", filepath.Join(dir, "user2")), nil, "false"},
		{"NIX_CONFIG over the files", with("NIX_CONFIG", "accept-flake-config = false"), nil, "false"},
		{"a flag over everything", with("NIX_CONFIG", "accept-flake-config = false"), []string{"--impure", "--accept-flake-config"}, "true"},
		{"--no-", with(), []string{"--no-accept-flake-config"}, "false"},
		{"--option", with(), []string{"--option", "accept-flake-config", "false", "--show-trace"}, "false"},
		{"unset", env(map[string]string{"HOME": dir, "NIX_CONF_DIR": filepath.Join(dir, "none")}), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := acceptFlakeConfig(nix226, c.get, c.args)
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	// What nix refuses to start with, sysinit cannot read either.
	write("bad/nix.conf", "include nowhere.conf\n")
	if _, err := acceptFlakeConfig(nix226, with("NIX_CONF_DIR", filepath.Join(dir, "bad")), nil); err == nil {
		t.Error("a missing include: no error")
	}
	write("bad2/nix.conf", "accept-flake-config true\n")
	if _, err := acceptFlakeConfig(nix226, with("NIX_CONF_DIR", filepath.Join(dir, "bad2")), nil); err == nil {
		t.Error("an illegal line: no error")
	}
	if err := os.Chmod(filepath.Join(dir, "etc/nix.custom.conf"), 0); err == nil && os.Geteuid() != 0 {
		// nix skips a file it cannot read.
		if got, err := acceptFlakeConfig(nix226, with(), nil); err != nil || got != "" {
			t.Errorf("unreadable include: got %q, %v", got, err)
		}
	}
}

func TestDrvInstallable(t *testing.T) {
	const drv = "/nix/store/n9zs48wpr7vrxdnkx23knm810mvdfydq-probe-1.0.drv"
	for v, want := range map[Version]string{
		nix28: drv, {Flavour: FlavourNix, Major: 2, Minor: 12}: drv,
		{Flavour: FlavourNix, Major: 2, Minor: 13}: drv + "^bin", nix226: drv + "^bin", nix234: drv + "^bin",
		detsys: drv + "^bin", lix: drv + "^bin",
	} {
		if got := drvInstallable(v, drv, "bin"); got != want {
			t.Errorf("%s: %q, want %q", v, got, want)
		}
	}
}

func TestEvalQueryApply(t *testing.T) {
	q := &evalQuery{name: `"lv426"`, conf: "root", pick: "c.system", fields: map[string]string{"brewfile": "c.config.homebrew.brewfile or null", "a b": "1"}}
	want := `root: let name = "lv426"; in if name == null then { name = null; } else let c = root; x = c.system; in { name = name; drv = x.drvPath; out = x.outPath; output = x.outputName or "out"; fields = { "a b" = 1; "brewfile" = c.config.homebrew.brewfile or null; }; }`
	if got := q.apply(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
