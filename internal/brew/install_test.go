package brew

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// TestInstallMissing: a run installs only what Homebrew's directories
// lack, with the calls brew bundle would make for those entries, batched
// by flags; what brew install cannot take goes to brew bundle, and the log
// says why. Each case runs twice: the second run finds everything and
// starts no brew unless something is left to brew bundle.
func TestInstallMissing(t *testing.T) {
	tests := []struct {
		name     string
		brewfile string
		linux    bool
		env      map[string]string
		setup    func(f *fixture)
		calls    []string
		note     string
		log      []string // lines the step's output holds
		again    []string // the brew calls of a second run
	}{
		{
			name: "batched by flags",
			brewfile: `tap "user/tools"
tap "user/private", "https://git.example.com/user/homebrew-private.git"
brew "wget"
brew "curl"
brew "emacs-plus", args: ["with-native-comp"]
brew "openssl@3", link: false
brew "user/tools/thing"
brew "Homebrew/homebrew/jq"
cask_args appdir: "~/Applications"
cask "firefox", greedy: true
cask "iterm2"
cask "slack", args: { no_quarantine: true, appdir: "/Applications", require_sha: false }
brew "wget"
`,
			calls: []string{
				"brew tap user/tools",
				"brew tap user/private https://git.example.com/user/homebrew-private.git",
				"brew install --formula wget curl user/tools/thing jq",
				"brew install --formula emacs-plus --with-native-comp",
				"brew install --formula openssl@3 --skip-link",
				"brew install --cask firefox iterm2 --appdir=~/Applications --adopt",
				"brew install --cask slack --appdir=/Applications --no_quarantine --adopt",
			},
			note: "installed 11: tap user/tools, tap user/private, wget, curl, thing, and 6 more",
		},
		{
			name:     "only what is missing",
			brewfile: baseBrewfile + "brew \"ripgrep\"\n",
			setup: func(f *fixture) {
				f.brew("tap", "user/tools")
				f.brew("install", "jq")
				f.brew("install", "--cask", "firefox")
			},
			calls: []string{"brew install --formula wget ripgrep"},
			note:  "installed 2: wget, ripgrep",
		},
		{
			name:     "an empty rack is not installed",
			brewfile: "brew \"wget\"\n",
			setup: func(f *fixture) {
				if err := os.MkdirAll(filepath.Join(f.prefix, "Cellar", "wget"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			calls: []string{"brew install --formula wget"},
			note:  "installed 1: wget",
		},
		{
			name:     "a tap-qualified formula without its tap line",
			brewfile: "brew \"user/tools/thing\"\n",
			calls:    []string{"brew install --formula user/tools/thing"},
			note:     "installed 1: thing",
		},
		{
			name: "left to brew bundle",
			brewfile: `brew "wget"
brew "postgresql@16", restart_service: :changed
mas "Xcode", id: 497799835
vscode "golang.go"
brew "mysql", link: true
`,
			calls: []string{
				"brew install --formula wget",
				"brew bundle check --no-upgrade --file=$DIR/Brewfile",
				"brew bundle install --no-upgrade --file=$DIR/Brewfile",
			},
			note: "installed 1: wget; brew bundle installed 3: postgresql@16, Xcode, mysql",
			log: []string{
				"sysinit: brew bundle decides: brew install cannot install:",
				`  brew "postgresql@16" (line 2): restart_service: brew bundle services`,
				`  mas "Xcode" (line 3): brew install does not install mas entries`,
				`  vscode "golang.go" (line 4): brew install does not install vscode entries`,
				`  brew "mysql" (line 5): link: brew bundle links or unlinks`,
			},
			again: []string{"brew bundle check --no-upgrade --file=$DIR/Brewfile"},
		},
		{
			name:     "casks off macOS",
			brewfile: "brew \"wget\"\ncask \"firefox\"\n",
			linux:    true,
			calls: []string{
				"brew install --formula wget",
				"brew bundle check --no-upgrade --file=$DIR/Brewfile",
				"brew bundle install --no-upgrade --file=$DIR/Brewfile",
			},
			note:  "installed 1: wget; brew bundle installed 1: firefox",
			log:   []string{`  cask "firefox" (line 2): off macOS only brew knows whether a cask supports the platform`},
			again: []string{"brew bundle check --no-upgrade --file=$DIR/Brewfile"},
		},
		{
			name:     "HOMEBREW_BUNDLE_BREW_SKIP",
			brewfile: baseBrewfile,
			env:      map[string]string{"HOMEBREW_BUNDLE_BREW_SKIP": "jq"},
			calls: []string{
				"brew tap user/tools",
				"brew install --cask firefox --adopt",
				"brew bundle check --no-upgrade --file=$DIR/Brewfile",
				"brew bundle install --no-upgrade --file=$DIR/Brewfile",
			},
			note:  "installed 2: tap user/tools, cask firefox; brew bundle installed 2: wget, jq",
			log:   []string{`  brew "wget" (line 2): HOMEBREW_BUNDLE_BREW_SKIP is set`},
			again: []string{"brew bundle check --no-upgrade --file=$DIR/Brewfile"},
		},
		{
			name: "platform conditions on a Mac",
			brewfile: `if OS.mac?
  cask "iterm2"
elsif OS.linux?
  brew "xclip"
end
brew "armtool" if Hardware::CPU.arm?
brew "inteltool" unless Hardware::CPU.arm?
`,
			calls: []string{"brew install --formula armtool", "brew install --cask iterm2 --adopt"},
			note:  "installed 2: armtool, cask iterm2",
		},
		{
			name: "platform conditions on Linux",
			brewfile: `if OS.mac?
  cask "iterm2"
elsif OS.linux?
  brew "xclip"
end
brew "armtool" if Hardware::CPU.arm?
brew "inteltool" unless Hardware::CPU.arm?
`,
			linux: true,
			calls: []string{"brew install --formula xclip inteltool"},
			note:  "installed 2: xclip, inteltool",
		},
		{
			name:     "an alias brew links in opt",
			brewfile: "brew \"python\"\n",
			env:      map[string]string{"BREW_ALIASES": "python=python@3.13"},
			calls:    []string{"brew install --formula python"},
			note:     "installed 1: python",
		},
		{
			// Installed before brew linked aliases: brew install finds it
			// installed, and brew bundle check decides.
			name:     "an alias without its opt link",
			brewfile: "brew \"python\"\n",
			env:      map[string]string{"BREW_ALIASES": "python=python@3.13"},
			setup: func(f *fixture) {
				if err := os.MkdirAll(filepath.Join(f.prefix, "Cellar", "python@3.13", "1.0"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			calls: []string{"brew install --formula python", "brew bundle check --no-upgrade --file=$DIR/Brewfile"},
			note:  "all installed; nothing to do",
			log: []string{
				"Warning: python@3.13 1.0 is already installed and up-to-date.",
				"sysinit: brew bundle decides: not found in Homebrew's directories: python (an alias or a renamed formula?)",
			},
			again: []string{"brew install --formula python", "brew bundle check --no-upgrade --file=$DIR/Brewfile"},
		},
		{
			name:     "a computed Brewfile",
			brewfile: "brew \"wget\"\nbrew \"jq\" if ENV[\"WORK\"]\n",
			calls: []string{
				"brew bundle check --no-upgrade --file=$DIR/Brewfile",
				"brew bundle install --no-upgrade --file=$DIR/Brewfile",
			},
			note:  "brew bundle installed 2: wget, jq",
			log:   []string{`sysinit: brew bundle decides: the Brewfile computes what it declares (line 2: brew "jq" if ENV["WORK"])`},
			again: []string{"brew bundle check --no-upgrade --file=$DIR/Brewfile"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.brewfile, "", func(s *config.Step) {
				for k, v := range tt.env {
					s.Env[k] = v
				}
			})
			if tt.linux {
				f.onLinux()
			}
			if tt.setup != nil {
				tt.setup(f)
			}
			n := len(f.calls())
			o := f.mustRun(false)
			wantCalls(t, f.calls()[n:], tt.calls)
			if o.Note != tt.note {
				t.Errorf("note %q\nwant %q", o.Note, tt.note)
			}
			for _, l := range tt.log {
				if !strings.Contains(f.out.String(), l+"\n") {
					t.Errorf("output lacks %q:\n%s", l, f.out.String())
				}
			}
			// Only a computed Brewfile leaves the probe undecided.
			if d := f.probe(o.Token); d != "" && !strings.HasPrefix(d, "dynamic Brewfile") {
				t.Errorf("drift %q after the run", d)
			}
			// brew, reading the Brewfile its own way, agrees.
			f.brew("bundle", "check", "--file="+filepath.Join(f.dir, "Brewfile"))
			n = len(f.calls())
			f.rebuild()
			f.mustRun(false)
			wantCalls(t, f.calls()[n:], tt.again)
		})
	}
}

// TestInstallForce: --force has brew bundle check verify what sysinit
// found installed, and brew bundle install repair what it finds missing.
func TestInstallForce(t *testing.T) {
	f := newFixture(t, "brew \"wget\"\nmas \"Xcode\", id: 497799835\n", "", nil)
	f.mustRun(false)
	// The app goes away outside Homebrew, where the probe does not look.
	if err := os.Remove(filepath.Join(f.prefix, ".mas", "497799835")); err != nil {
		t.Fatal(err)
	}
	n := len(f.calls())
	o, err := f.b.Run(context.Background(), &step.RunContext{Out: &f.out, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, f.calls()[n:], []string{
		"brew bundle check --no-upgrade --file=$DIR/Brewfile",
		"brew bundle install --no-upgrade --file=$DIR/Brewfile",
	})
	if o.Note != "brew bundle installed 1: Xcode" {
		t.Errorf("note %q", o.Note)
	}
}

// TestHas: an entry is installed as brew itself decides it from its
// directories.
func TestHas(t *testing.T) {
	for _, layout := range []string{"apple-silicon", "intel"} {
		t.Run(layout, func(t *testing.T) {
			f := newFixture(t, "", layout, nil)
			repo := f.prefix
			if layout == "intel" {
				repo = filepath.Join(f.prefix, "Homebrew")
			}
			mk := func(p string) {
				if err := os.MkdirAll(filepath.Join(f.prefix, p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			link := func(target, name string) {
				if err := os.MkdirAll(filepath.Join(f.prefix, "opt"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(f.prefix, "opt", name)); err != nil {
					t.Fatal(err)
				}
			}
			mk("Cellar/wget/1.24")
			mk("Cellar/empty")
			mk("Cellar/hidden/.tmp")
			mk("Cellar/python@3.13/3.13.1")
			link("../Cellar/python@3.13/3.13.1", "python")
			link("../Cellar/gone/1.0", "dangling")
			mk("elsewhere/x")
			link("../elsewhere/x", "outside")
			link("../Cellar/python@3.13", "rack")
			mk("Caskroom/firefox/130.0")
			if err := os.MkdirAll(filepath.Join(repo, "Library", "Taps", "user", "homebrew-tools"), 0o755); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				i    installed
				want bool
			}{
				{installed{kind: "formula", name: "wget"}, true},
				{installed{kind: "formula", name: "empty"}, false},
				{installed{kind: "formula", name: "hidden"}, false},
				{installed{kind: "formula", name: "python"}, true},
				{installed{kind: "formula", name: "python@3.13"}, true},
				{installed{kind: "formula", name: "dangling"}, false},
				{installed{kind: "formula", name: "outside"}, false},
				{installed{kind: "formula", name: "rack"}, true},
				{installed{kind: "formula", name: "jq"}, false},
				{installed{kind: "cask", name: "firefox"}, true},
				{installed{kind: "cask", name: "wget"}, false},
				{installed{kind: "tap", name: "user/tools"}, true},
				{installed{kind: "tap", name: "user/other"}, false},
			}
			for _, tt := range tests {
				if got := f.b.home.has(tt.i); got != tt.want {
					t.Errorf("has(%s) = %v", tt.i, got)
				}
			}
		})
	}
}

// TestSanitize: names as brew bundle's DSL keeps them.
func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"Homebrew/homebrew/Wget":   "wget",
		"user/homebrew-tools/Tool": "user/tools/tool",
		"user/tools/tool":          "user/tools/tool",
		"python@3.13":              "python@3.13",
	} {
		if got := sanitizeFormula(in); got != want {
			t.Errorf("sanitizeFormula(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"User/homebrew-Tools": "user/tools", "user/tools": "user/tools", "bad": "bad"} {
		if got := sanitizeTap(in); got != want {
			t.Errorf("sanitizeTap(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSharedPrefix: two brew-bundle steps that apply here and manage one
// Homebrew installation — named alike, one by default, or through a link —
// are a config error on the later one; apart by os, requires or prefix
// they are fine.
func TestSharedPrefix(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", nil)
	other := filepath.Join(t.TempDir(), "other")
	f.installStandIn(filepath.Join(other, "bin", "brew"))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(f.prefix, link); err != nil {
		t.Fatal(err)
	}
	here := f.platform.OS
	elsewhere := "windows"
	tests := []struct {
		name string
		a, b config.Step
		want string // the error on b; "" for none
	}{
		{"both by default", config.Step{}, config.Step{},
			`sysinit.toml:9: step "b": the Homebrew at ` + f.prefix + ` is also step "a"'s`},
		{"one named, one by default", config.Step{Own: &bundleKeys{Prefix: f.prefix}}, config.Step{},
			`sysinit.toml:9: step "b": the Homebrew at ` + f.prefix + ` is also step "a"'s`},
		{"through a link", config.Step{Own: &bundleKeys{Prefix: link}}, config.Step{Keys: map[string]config.Pos{"prefix": {File: "sysinit.toml", Line: 11}}, Own: &bundleKeys{Prefix: f.prefix}},
			`sysinit.toml:11: step "b": the Homebrew at ` + f.prefix + ` is also step "a"'s`},
		{"the same os", config.Step{OS: []string{here}}, config.Step{OS: []string{here, elsewhere}}, `is also step "a"'s`},
		{"other prefixes", config.Step{Own: &bundleKeys{Prefix: other}}, config.Step{}, ""},
		{"apart by os", config.Step{OS: []string{elsewhere}}, config.Step{}, ""},
		{"b elsewhere", config.Step{}, config.Step{OS: []string{elsewhere}}, ""},
		{"apart by requires", config.Step{Requires: []string{"no-such-program-here"}}, config.Step{}, ""},
		{"a without Homebrew", config.Step{Own: &bundleKeys{Prefix: t.TempDir()}}, config.Step{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.a, tt.b
			a.Name, a.Kind, a.Pos = "a", stepKind, config.Pos{File: "sysinit.toml", Line: 1}
			b.Name, b.Kind, b.Pos = "b", stepKind, config.Pos{File: "sysinit.toml", Line: 9}
			cmd := config.Step{Name: "c", Kind: "command", Pos: config.Pos{File: "sysinit.toml", Line: 5}}
			cfg := &config.Config{Dir: f.dir, Steps: []*config.Step{&a, &cmd, &b}}
			env := &step.Env{Exec: f.runner, Getenv: func(k string) string {
				if k == "HOMEBREW_PREFIX" {
					return f.prefix
				}
				return ""
			}, LookPath: exec.LookPath}
			if _, err := newBundle(cfg, &a, env); err != nil {
				t.Fatalf("the first step: %v", err)
			}
			_, err := newBundle(cfg, &b, env)
			var ce config.Errors
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (!errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(ce[0].Hint, "merge the Brewfiles")):
				t.Errorf("error %v, want a config error with %q", err, tt.want)
			}
		})
	}
}
