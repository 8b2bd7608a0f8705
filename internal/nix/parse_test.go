package nix

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseClosureDiff(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want string
	}{
		{"empty", "", "no package versions changed"},
		{"one version", "dep: 1.0 → 1.1\n", "1 package changed"},
		{"sizes summed", "dep: 1.0 → 1.1, +19.6 KiB\nhello: ∅ → 2.12, +1024.0 KiB\nzlib: -12.0 KiB\n", "3 packages changed, +1.0 MiB"},
		{"shrink", "big: 2.0 → ∅, -2097152.0 KiB\n", "1 package changed, -2.0 GiB"},
		{"several versions", "foo: 1.0, 1.1 → 1.2, +8.5 KiB\n", "1 package changed, +8.5 KiB"},
		{"colour codes", "\x1b[1mdep\x1b[0m: 1.0 → \x1b[32;1m1.1\x1b[0m, \x1b[31;1m+10.0 KiB\x1b[0m\n", "1 package changed, +10.0 KiB"},
		{"noise ignored", "warning: something\n\n   \n", "no package versions changed"},
		{"bad size", "x: +NaN KiB\n", "1 package changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseClosureDiff(tt.out).String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out        string
		flavour    flavour
		major, min int
		release    string
		byName     bool // nix flake update takes input names
		err        bool
	}{
		{"nix (Nix) 2.8.0\n", FlavourNix, 2, 8, "", false, false},
		{"nix (Nix) 2.18.9", FlavourNix, 2, 18, "", false, false},
		{"nix (Nix) 2.19.2", FlavourNix, 2, 19, "", true, false},
		{"nix (Nix) 2.3", FlavourNix, 2, 3, "", false, false},
		{"nix (Determinate Nix 3.6.2) 2.29.0", FlavourDeterminate, 2, 29, "3.6.2", true, false},
		// Lix numbers its releases from 2.90 but forked from Nix 2.18.
		{"nix (Lix, like Nix) 2.91.1\nSystem type: x", FlavourLix, 2, 91, "", true, false},
		{"nix (Lix, like Nix) 2.90.0-rc1", FlavourLix, 2, 90, "", true, false},
		{"nix (Nix) 3.0.0pre", FlavourNix, 3, 0, "", true, false},
		{"nix (Something Else 9.9) 2.24.1", FlavourNix, 2, 24, "", true, false},
		{"garbage", "", 0, 0, "", false, true},
		{"nix (Nix)", "", 0, 0, "", false, true},
		{"", "", 0, 0, "", false, true},
	}
	for _, tt := range tests {
		v, err := ParseVersion(tt.out)
		if (err != nil) != tt.err {
			t.Errorf("ParseVersion(%q) error = %v", tt.out, err)
			continue
		}
		if tt.err {
			continue
		}
		if v.Flavour != tt.flavour || v.Major != tt.major || v.Minor != tt.min || v.Release != tt.release || v.flakeUpdateByName() != tt.byName {
			t.Errorf("ParseVersion(%q) = %+v (update by name: %v)", tt.out, v, v.flakeUpdateByName())
		}
	}
}

func TestFlakeArgv(t *testing.T) {
	nix28, nix226 := Version{Flavour: FlavourNix, Major: 2, Minor: 8}, Version{Flavour: FlavourNix, Major: 2, Minor: 26}
	det := Version{Flavour: FlavourDeterminate, Major: 2, Minor: 29, Release: "3.6.2"}
	lix := Version{Flavour: FlavourLix, Major: 2, Minor: 90}
	tests := []struct {
		name   string
		ver    Version
		inputs []string
		due    bool
		want   []string
	}{
		{"all, 2.8", nix28, nil, true, []string{"nix", "flake", "update", "/f"}},
		{"all, 2.26", nix226, nil, true, []string{"nix", "flake", "update", "--flake", "/f"}},
		{"all, Determinate", det, nil, true, []string{"nix", "flake", "update", "--flake", "/f"}},
		{"all, Lix", lix, nil, true, []string{"nix", "flake", "update", "--flake", "/f"}},
		{"some, 2.8", nix28, []string{"a", "b"}, true, []string{"nix", "flake", "lock", "/f", "--update-input", "a", "--update-input", "b"}},
		{"some, 2.26", nix226, []string{"a", "b"}, true, []string{"nix", "flake", "update", "--flake", "/f", "a", "b"}},
		{"some, Lix", lix, []string{"a"}, true, []string{"nix", "flake", "update", "--flake", "/f", "a"}},
		{"not due, 2.8", nix28, []string{"a"}, false, []string{"nix", "flake", "lock", "/f"}},
		{"not due, 2.26", nix226, nil, false, []string{"nix", "flake", "lock", "/f"}},
		{"not due, Lix", lix, []string{"a"}, false, []string{"nix", "flake", "lock", "/f"}},
	}
	for _, tt := range tests {
		if got := flakeArgv("nix", tt.ver, "/f", tt.inputs, tt.due); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestUnmatchedInputs: what each version prints for an input name that
// matches nothing (captured from 2.8, 2.26 and 2.34; Lix's text is read
// from its source, lix/libexpr/flake/flake.cc).
func TestUnmatchedInputs(t *testing.T) {
	tests := []struct {
		stderr string
		want   []string
	}{
		{"warning: the flag '--update-input lbi' does not match any input\n", []string{"lbi"}},
		{"warning: '--update-input' is a deprecated alias for 'flake update' and will be removed in a future version.\nwarning: 'lbi' does not match any input of this flake\n", []string{"lbi"}},
		{"\x1b[35;1mwarning:\x1b[0m 'a' does not match any input of this flake\nwarning: 'b/c' does not match any input of this flake\n", []string{"a", "b/c"}},
		{"warning: Invalid flake input '/tmp/x/001/repo'. To update a specific flake, use 'nix flake update --flake /tmp/x/001/repo' instead.\nerror: invalid flake input path element '001'\n", []string{"/tmp/x/001/repo"}},
		{"warning: 'tmp/x/repo' does not match any input of this flake\n", []string{"tmp/x/repo"}},
		{"warning: updating lock file '/f/flake.lock':\n• Updated input 'lib':\n", nil},
		{"warning: the flag '--override-input a b' does not match any input\n", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := unmatchedInputs(tt.stderr); !slices.Equal(got, tt.want) {
			t.Errorf("unmatchedInputs(%q) = %q, want %q", tt.stderr, got, tt.want)
		}
	}
}

func TestParseFlakeRef(t *testing.T) {
	tests := []struct {
		in                         string
		base, frag, dir            string
		git, path, subs, pin, fail bool
	}{
		{in: ".", base: "/cfg", dir: "/cfg", git: true},
		{in: ".#", base: "/cfg", dir: "/cfg", git: true},
		{in: ".#lv426", base: "/cfg", frag: "lv426", dir: "/cfg", git: true},
		{in: "./nix#h", base: "/cfg/nix", frag: "h", dir: "/cfg/nix", git: true},
		{in: "../other#h", base: "/other", frag: "h", dir: "/other", git: true},
		{in: "/abs/f#a.b", base: "/abs/f", frag: "a.b", dir: "/abs/f", git: true},
		{in: ".?submodules=1#h", base: "/cfg?submodules=1", frag: "h", dir: "/cfg", git: true, subs: true},
		{in: "path:/p#x", base: "path:/p", frag: "x", dir: "/p", path: true},
		{in: "path:sub#x", base: "path:sub", frag: "x", dir: "/cfg/sub", path: true},
		{in: "git+file:///r?dir=sub&submodules=1#x", base: "git+file:///r?dir=sub&submodules=1", frag: "x", dir: "/r/sub", git: true, subs: true},
		{in: "git+file:///r?ref=main#x", base: "git+file:///r?ref=main", frag: "x", dir: "/r", git: true, pin: true},
		{in: "github:me/cfg#h", base: "github:me/cfg", frag: "h"},
		{in: "nixpkgs#hello", base: "nixpkgs", frag: "hello"},
		{in: "#h", fail: true},
		{in: "git+file:#h", fail: true},
		{in: ".?a=%zz#h", fail: true},
	}
	for _, tt := range tests {
		r, err := parseFlakeRef(tt.in, "/cfg")
		if (err != nil) != tt.fail {
			t.Errorf("parseFlakeRef(%q) error = %v", tt.in, err)
			continue
		}
		if tt.fail {
			continue
		}
		if r.base != tt.base || r.fragment != tt.frag || r.dir != tt.dir || r.gitFiltered != tt.git ||
			r.pathScheme != tt.path || r.submodules != tt.subs || r.pinned != tt.pin {
			t.Errorf("parseFlakeRef(%q) = %+v", tt.in, r)
		}
	}
}

func TestUntrackedPath(t *testing.T) {
	tests := []struct {
		name, stderr, want string
		ok                 bool
	}{
		{"nix 2.8", "error: getting status of '/nix/store/06jl350jx25am2jxiqsmjdjn28yl0dyw-source/modules/c.nix': No such file or directory\n", "modules/c.nix", true},
		{"nix 2.18", "error: path '/nix/store/06jl350jx25am2jxiqsmjdjn28yl0dyw-source/modules/c.nix' does not exist", "modules/c.nix", true},
		{"nix 2.24", "error: Path 'modules/c.nix' in the repository \"/repo\" is not tracked by Git.", "modules/c.nix", true},
		{"nix 2.24 subdir", "error: Path 'c.nix' in the repository \"/repo/modules\" is not tracked by Git.", "modules/c.nix", true},
		{"nix 2.20", "error: access to absolute path '/repo/x/y.nix' is forbidden because it is not under Git control; maybe you should 'git add' it", "x/y.nix", true},
		{"coloured", "\x1b[31;1merror:\x1b[0m getting status of '\x1b[35;1m/nix/store/06jl350jx25am2jxiqsmjdjn28yl0dyw-source/a.nix\x1b[0m': No such file or directory", "a.nix", true},
		{"other error", "error: attribute 'x' missing", "", false},
		{"not a source path", "error: getting status of '/etc/x': No such file or directory", "", false},
	}
	for _, tt := range tests {
		got, ok := untrackedPath(tt.stderr, "/repo")
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFirstError(t *testing.T) {
	tests := map[string]string{
		"warning: dirty\nerror: attribute 'x' missing\n\n       at /f:1:2\nerror: second": "attribute 'x' missing",
		"\x1b[31;1merror:\x1b[0m builder failed":                                          "builder failed",
		"no errors here":                                                                  "",
		"error:\nerror: real":                                                             "real",
	}
	for in, want := range tests {
		if got := firstError(in); got != want {
			t.Errorf("firstError(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActivePath(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	out := filepath.Join(store, "abc-system-1.0")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(out, 0o755))
	must(os.Symlink(out, filepath.Join(dir, "system-3-link")))
	must(os.Symlink("system-3-link", filepath.Join(dir, "system"))) // relative, like nix-env
	must(os.Symlink(filepath.Join(dir, "system"), filepath.Join(dir, "current")))
	must(os.Symlink("loop2", filepath.Join(dir, "loop1")))
	must(os.Symlink("loop1", filepath.Join(dir, "loop2")))
	must(os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644))

	tests := []struct {
		link, want string
		notExist   bool
		err        bool
	}{
		{link: "current", want: out},
		{link: "system", want: out},
		{link: "missing", notExist: true},
		{link: "loop1", err: true},
		{link: "plain", want: filepath.Join(dir, "plain")},
	}
	for _, tt := range tests {
		got, err := activePath(filepath.Join(dir, tt.link), store)
		switch {
		case tt.notExist:
			if !os.IsNotExist(err) {
				t.Errorf("%s: err = %v, want not-exist", tt.link, err)
			}
		case tt.err:
			if err == nil {
				t.Errorf("%s: no error", tt.link)
			}
		case err != nil || got != tt.want:
			t.Errorf("%s: %q, %v; want %q", tt.link, got, err, tt.want)
		}
	}
	if g := generation(filepath.Join(dir, "system")); g != 3 {
		t.Errorf("generation = %d, want 3", g)
	}
	if g := generation(filepath.Join(dir, "plain")); g != 0 {
		t.Errorf("generation of a plain file = %d, want 0", g)
	}
}

func TestChangedInputs(t *testing.T) {
	before := []byte(`{"nodes":{"lib":{"locked":{"rev":"a"}},"old":{"locked":{"rev":"o"}},"same":{"locked":{"rev":"s"}},"root":{"inputs":{}}},"root":"root","version":7}`)
	after := []byte(`{"nodes":{"lib":{"locked":{"rev":"b"}},"new":{"locked":{"rev":"n"}},"same":{"locked": {"rev": "s"}},"root":{"inputs":{}}},"root":"root","version":7}`)
	want := []string{"lib", "new", "old (removed)"}
	if got := changedInputs(before, after); !slices.Equal(got, want) {
		t.Errorf("changedInputs = %q, want %q", got, want)
	}
	if got := changedInputs(nil, after); !slices.Equal(got, []string{"lib", "new", "same"}) {
		t.Errorf("changedInputs from nothing = %q", got)
	}
	if got := changedInputs(before, []byte("{")); got != nil {
		t.Errorf("changedInputs of a broken lock = %q, want nil", got)
	}
}
