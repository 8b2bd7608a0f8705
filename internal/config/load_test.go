package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// root holds the files valid test configs point at (Brewfile,
// nix.custom.conf, scripts/, fonts/, adir/).
var root = filepath.Join("testdata", "root")

func parseIn(t *testing.T, src string) (*config.Config, error) {
	t.Helper()
	return config.Parse(filepath.Join(root, config.FileName), []byte(src), kinds.Decls())
}

// want is a step as the table below expects it decoded: its name, its
// kind and the values of its keys, defaults included (see Step.Values).
type want struct {
	name, kind string
	values     map[string]any
}

func TestParseValid(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	tests := []struct {
		name string
		src  string
		want want
	}{
		{"command", `
[steps.fonts]
kind     = "command"
run      = "./scripts/install-fonts.sh"
inputs   = ["fonts/**", "!fonts/**/*.tmp", "{a,b}/*.ttf"]
check    = "test -d ~/Library/Fonts/MyFont"
env      = { LANG = "C", EMPTY = "" }
every    = "7d"
timeout  = "1h30m"
dir      = "scripts"
sudo     = false
os       = ["darwin", "linux"]
requires = ["fc-cache"]
`, want{"fonts", "command", map[string]any{"run": "./scripts/install-fonts.sh", "inputs": []string{"fonts/**", "!fonts/**/*.tmp", "{a,b}/*.ttf"}, "check": "test -d ~/Library/Fonts/MyFont", "env": map[string]string{"LANG": "C", "EMPTY": ""}, "every": 7 * 24 * time.Hour, "timeout": 90 * time.Minute, "dir": "scripts", "sudo": false, "os": []string{"darwin", "linux"}, "requires": []string{"fc-cache"}}}},
		{"file", `
[steps.nix-conf]
kind      = "file"
source    = "nix.custom.conf"
dest      = "/etc/nix/nix.custom.conf"
mode      = "0644"
sudo      = true
on-change = "launchctl kickstart -k system/org.nixos.nix-daemon"
`, want{"nix-conf", "file", map[string]any{"source": "nix.custom.conf", "dest": "/etc/nix/nix.custom.conf", "mode": "0644", "sudo": true, "on-change": "launchctl kickstart -k system/org.nixos.nix-daemon"}}},
		{"file dest under home", `
[steps.gitconfig]
kind   = "file"
source = "nix.custom.conf"
dest   = "~/.config/git/config"
mode   = "600"
`, want{"gitconfig", "file", map[string]any{"source": "nix.custom.conf", "dest": "/home/me/.config/git/config", "mode": "600"}}},
		{"file dest relative to the config dir", `
[steps.local]
kind   = "file"
source = "nix.custom.conf"
dest   = "out/nix.conf"
`, want{"local", "file", map[string]any{"source": "nix.custom.conf", "dest": absRoot(t, "out/nix.conf")}}},
		{"nix-darwin defaults", `
[steps.system]
kind = "nix-darwin"
`, want{"system", "nix-darwin", map[string]any{"flake": ".", "os": []string{"darwin"}}}},
		{"nix-darwin all keys", `
[steps.system]
kind       = "nix-darwin"
flake      = ".#lv426"
impure     = true
extra-args = ["--show-trace", ""]
max-jobs   = 8
cores      = 2
profile    = "/nix/var/nix/profiles/system"
`, want{"system", "nix-darwin", map[string]any{"flake": ".#lv426", "os": []string{"darwin"}, "impure": true, "extra-args": []string{"--show-trace", ""}, "max-jobs": 8, "cores": 2, "profile": "/nix/var/nix/profiles/system"}}},
		{"nixos defaults", `
[steps.system]
kind = "nixos"
`, want{"system", "nixos", map[string]any{"flake": ".", "action": "switch", "os": []string{"linux"}}}},
		{"nixos boot", `
[steps.system]
kind   = "nixos"
flake  = ".#box"
action = "boot"
`, want{"system", "nixos", map[string]any{"flake": ".#box", "action": "boot", "os": []string{"linux"}}}},
		{"home-manager defaults", `
[steps.home]
kind = "home-manager"
`, want{"home", "home-manager", map[string]any{"flake": "."}}},
		{"nix-profile", `
[steps.tools]
kind     = "nix-profile"
flake    = ".#tools"
profile  = "~/.local/state/nix/profiles/tools"
activate = "$SYSINIT_OUT/bin/setup"
`, want{"tools", "nix-profile", map[string]any{"flake": ".#tools", "profile": "~/.local/state/nix/profiles/tools", "activate": "$SYSINIT_OUT/bin/setup"}}},
		{"flake-update defaults", `
[steps.update]
kind = "flake-update"
`, want{"update", "flake-update", map[string]any{"flake": "."}}},
		{"flake-update inputs", `
[steps.update]
kind   = "flake-update"
flake  = "./nix"
inputs = ["nixpkgs", "home-manager"]
commit = true
every  = "1.5d"
`, want{"update", "flake-update", map[string]any{"flake": "./nix", "inputs": []string{"nixpkgs", "home-manager"}, "commit": true, "every": 36 * time.Hour}}},
		{"brew-bundle defaults", `
[steps.brew]
kind = "brew-bundle"
`, want{"brew", "brew-bundle", map[string]any{"brewfile": "Brewfile", "cleanup": "none"}}},
		{"brew-bundle all keys", `
[steps.brew]
kind         = "brew-bundle"
brewfile     = "Brewfile"
cleanup      = "zap"
update-every = "24h"
upgrade      = true
prefix       = "/opt/homebrew"
`, want{"brew", "brew-bundle", map[string]any{"brewfile": "Brewfile", "cleanup": "zap", "update-every": 24 * time.Hour, "upgrade": true, "prefix": "/opt/homebrew"}}},
		{"inline tables and dotted keys", `
steps.a.kind = "command"
steps.a.run = "true"
steps.a.env.X = "1"
`, want{"a", "command", map[string]any{"run": "true", "env": map[string]string{"X": "1"}}}},
		{"inputs outside the repository", `
[steps.nvim]
kind   = "command"
run    = "nvim --headless +Lazy! +qa"
inputs = ["~/.config/nvim/**", "!~/.config/nvim/lazy-lock.json", "/etc/nix/*.conf"]
`, want{"nvim", "command", map[string]any{"run": "nvim --headless +Lazy! +qa", "inputs": []string{"/home/me/.config/nvim/**", "!/home/me/.config/nvim/lazy-lock.json", "/etc/nix/*.conf"}}}},
		{"~ in inputs is the step's HOME", `
[steps.nvim]
kind   = "command"
run    = "true"
env    = { HOME = "/home/other/" }
inputs = ["~/.config/**"]
`, want{"nvim", "command", map[string]any{"run": "true", "env": map[string]string{"HOME": "/home/other/"}, "inputs": []string{"/home/other/.config/**"}}}},
		// HOME is a path: its "[x]" names that directory, not a class.
		{"~ in inputs with glob characters in HOME", `
[steps.nvim]
kind   = "command"
run    = "true"
env    = { HOME = "/home/[x]{y}" }
inputs = ["~/.config/**"]
`, want{"nvim", "command", map[string]any{"run": "true", "env": map[string]string{"HOME": "/home/[x]{y}"}, "inputs": []string{`/home/\[x\]\{y\}/.config/**`}}}},
		{"file source outside the repo, written absolute on purpose", `
[steps.abs]
kind   = "file"
source = "` + absRoot(t, "") + `/adir/../nix.custom.conf"
dest   = "/x"
`, want{"abs", "file", map[string]any{"source": absRoot(t, "") + "/adir/../nix.custom.conf", "dest": "/x"}}},
		{"UTF-8 byte order mark", "\xef\xbb\xbf[steps.bom]\nkind = \"command\"\nrun = \"true\"\n",
			want{"bom", "command", map[string]any{"run": "true"}}},
		{"odd but valid step name", `
[steps."v1.2_final-B"]
kind = "command"
run  = "true"
`, want{"v1.2_final-B", "command", map[string]any{"run": "true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseIn(t, tt.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(cfg.Steps) != 1 {
				t.Fatalf("got %d steps, want 1", len(cfg.Steps))
			}
			s := cfg.Steps[0]
			if s.Name != tt.want.name || s.Kind != tt.want.kind {
				t.Errorf("step %s, kind %s; want %s, %s", s.Name, s.Kind, tt.want.name, tt.want.kind)
			}
			if got := s.Values(); !reflect.DeepEqual(got, tt.want.values) {
				t.Errorf("values:\n got %#v\nwant %#v", got, tt.want.values)
			}
		})
	}
}

func TestLoadExamples(t *testing.T) {
	tests := []struct {
		path  string
		steps []string // names in file order
		kinds []string
	}{
		{filepath.Join("testdata", "example", config.FileName),
			[]string{"flake-update", "nix-conf", "system", "brew", "fonts"},
			[]string{"flake-update", "file", "nix-darwin", "brew-bundle", "command"}},
		{filepath.Join(root, config.FileName),
			[]string{"flake-update", "darwin", "nixos", "home", "tools", "nix-conf", "brew", "fonts"},
			[]string{"flake-update", "nix-darwin", "nixos", "home-manager", "nix-profile", "file", "brew-bundle", "command"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			cfg, err := config.Load(tt.path, kinds.Decls())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var names, kinds []string
			for _, s := range cfg.Steps {
				names = append(names, s.Name)
				kinds = append(kinds, s.Kind)
			}
			if !reflect.DeepEqual(names, tt.steps) || !reflect.DeepEqual(kinds, tt.kinds) {
				t.Errorf("steps %v kinds %v, want %v %v", names, kinds, tt.steps, tt.kinds)
			}
			wantFile, _ := filepath.Abs(tt.path)
			if cfg.File != wantFile || cfg.Dir != filepath.Dir(wantFile) {
				t.Errorf("File, Dir = %s, %s; want %s and its directory", cfg.File, cfg.Dir, wantFile)
			}
			if s := cfg.Step(tt.steps[1]); s == nil || s.Name != tt.steps[1] {
				t.Errorf("Step(%q) = %v", tt.steps[1], s)
			}
			if s := cfg.Step("no-such-step"); s != nil {
				t.Errorf("Step(no-such-step) = %v, want nil", s)
			}
		})
	}
}

// TestPositions checks the line of every step header and key, however the
// TOML spells them.
func TestPositions(t *testing.T) {
	src := `# line 1
[steps.a]
kind = "command"
run = "true"

[steps.b]   # line 6
kind = "command"
  run = """
multi-line
"""
after = ["a"] # line 11

[steps]
c = { kind = "command", run = "x" }   # line 14
d.kind = "command"                    # line 15
d.run = "y"                           # line 16
`
	cfg, err := parseIn(t, src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]struct {
		header int
		keys   map[string]int
	}{
		"a": {2, map[string]int{"kind": 3, "run": 4}},
		"b": {6, map[string]int{"kind": 7, "run": 8, "after": 11}},
		"c": {14, map[string]int{"kind": 14, "run": 14}},
		"d": {15, map[string]int{"kind": 15, "run": 16}},
	}
	if len(cfg.Steps) != len(want) {
		t.Fatalf("got %d steps, want %d", len(cfg.Steps), len(want))
	}
	for _, s := range cfg.Steps {
		w := want[s.Name]
		if s.Pos != (config.Pos{File: filepath.Join(root, config.FileName), Line: w.header}) {
			t.Errorf("step %s: config.Pos = %v, want line %d", s.Name, s.Pos, w.header)
		}
		got := map[string]int{}
		for k, p := range s.Keys {
			got[k] = p.Line
		}
		if !reflect.DeepEqual(got, w.keys) {
			t.Errorf("step %s: key lines %v, want %v", s.Name, got, w.keys)
		}
	}
	if names := []string{cfg.Steps[0].Name, cfg.Steps[1].Name, cfg.Steps[2].Name, cfg.Steps[3].Name}; !reflect.DeepEqual(names, []string{"a", "b", "c", "d"}) {
		t.Errorf("steps out of file order: %v", names)
	}
}

// TestPosFile: errors carry the path exactly as given to config.Load.
func TestPosFile(t *testing.T) {
	rel := filepath.Join(root, "broken.toml")
	abs, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{rel, abs} {
		_, err := config.Load(path, kinds.Decls())
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Load(%s) = %v, want Errors", path, err)
		}
		for _, e := range errs {
			if e.Pos.File != path {
				t.Errorf("Load(%s): error %q has File %q", path, e, e.Pos.File)
			}
			if !strings.HasPrefix(e.Error(), path+":") {
				t.Errorf("Load(%s): %q does not start with the path", path, e)
			}
		}
	}
}

func TestLoadUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.FileName)
	_, err := config.Load(path, kinds.Decls())
	var errs config.Errors
	if err == nil || errors.As(err, &errs) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want a wrapped not-exist error that is not Errors", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "[steps]\n"} {
		cfg, err := parseIn(t, src)
		if err != nil || len(cfg.Steps) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want no steps and no error", src, cfg, err)
		}
	}
}

func TestConfigPath(t *testing.T) {
	c := &config.Config{Dir: "/repo"}
	for in, want := range map[string]string{"Brewfile": "/repo/Brewfile", "a/../b": "/repo/b", "/etc/x": "/etc/x"} {
		if got := c.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoadRefuses: config.Load reads only a regular file of at most config.MaxSize
// bytes. A FIFO would block the read forever and /dev/zero never ends;
// each is refused before a byte is read, naming what it is.
func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, config.MaxSize+1); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{fifo, fifo + " is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "/dev/zero is a character device, not a regular file"},
		{"/dev/null", "/dev/null is a character device, not a regular file"},
		{dir, dir + " is a directory, not a regular file"},
		{big, big + " is larger than 4 MiB, the most sysinit reads as a config"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			cfg, err := config.Load(tt.path, kinds.Decls())
			var errs config.Errors
			if err == nil || errors.As(err, &errs) {
				t.Fatalf("Load = %v, %v; want a read error that is not Errors", cfg, err)
			}
			if want := "reading config: " + tt.want; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestLoadAtMaxSize: a file of exactly config.MaxSize bytes is read whole.
func TestLoadAtMaxSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), config.FileName)
	head := "[steps.a]\nkind = \"command\"\nrun = \"true\"\n"
	pad := strings.Repeat("#", config.MaxSize-len(head)-1) + "\n"
	if err := os.WriteFile(path, []byte(head+pad), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, kinds.Decls())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Steps) != 1 {
		t.Errorf("got %d steps, want 1", len(cfg.Steps))
	}
}
