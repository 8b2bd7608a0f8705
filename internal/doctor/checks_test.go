package doctor

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/scaffold"
	"github.com/sysinit/sysinit/internal/state"
)

// fake is a machine made of fields. Its zero value is a healthy Mac with
// recent Nix and 8 CPUs (see healthy).
type fake struct {
	goos     string
	cpus     int
	euid     int
	env      map[string]string
	paths    map[string]string // program → its path; found in a PATH list holding its directory
	nixVer   nix.Version
	nixErr   error
	conf     NixConfig
	confErr  error
	sudoErr  error
	host     string
	configs  *scaffold.Configurations
	cfgErr   error
	homebrew string
	dirs     map[string]error
	nixos    bool

	asked []string // facts the checks asked for
}

func healthy() *fake {
	return &fake{
		goos: "darwin", cpus: 8, euid: 501,
		env:    map[string]string{"USER": "ripley", "PATH": "/run/current-system/sw/bin:/usr/bin:/bin"},
		paths:  map[string]string{"nix": "/nix/var/nix/profiles/default/bin/nix"},
		nixVer: nix.Version{Flavour: nix.FlavourNix, Major: 2, Minor: 26, Patch: 3},
		conf:   NixConfig{MaxJobs: 8, Cores: 0, Substituters: []string{"https://cache.nixos.org/"}, Features: []string{"nix-command", "flakes"}},
		host:   "lv426",
		configs: &scaffold.Configurations{
			Darwin: []scaffold.Configuration{{Name: "lv426"}, {Name: "sulaco"}},
			NixOS:  []scaffold.Configuration{{Name: "nostromo"}},
			Home:   []scaffold.Configuration{{Name: "ripley@nostromo"}},
		},
	}
}

func (f *fake) GOOS() string           { return f.goos }
func (f *fake) NumCPU() int            { return f.cpus }
func (f *fake) Euid() int              { return f.euid }
func (f *fake) Getenv(k string) string { return f.env[k] }
func (f *fake) Executable() string     { return "/usr/local/bin/sysinit" }
func (f *fake) LookPath(name, pathList string) (string, error) {
	if p, ok := f.paths[name]; ok && slices.Contains(filepath.SplitList(pathList), filepath.Dir(p)) {
		return p, nil
	}
	return "", &command.NotFoundError{Name: name}
}
func (f *fake) Nix() (nix.Version, error) {
	f.asked = append(f.asked, "nix")
	return f.nixVer, f.nixErr
}
func (f *fake) NixConfig() (NixConfig, error) {
	f.asked = append(f.asked, "nix-config")
	return f.conf, f.confErr
}
func (f *fake) SudoNoPassword() error {
	f.asked = append(f.asked, "sudo")
	return f.sudoErr
}
func (f *fake) HostName() string { return f.host }
func (f *fake) NixOS() bool      { return f.nixos }
func (f *fake) Configurations(string) (*scaffold.Configurations, error) {
	f.asked = append(f.asked, "configurations")
	return f.configs, f.cfgErr
}
func (f *fake) HomebrewModule(string) string { return f.homebrew }
func (f *fake) StateDirs() map[string]error  { return f.dirs }

var (
	system = Step{Name: "system", Kind: "nix-darwin", OS: []string{"darwin"}, Sudo: true, Flake: ".#lv426"}
	update = Step{Name: "flake-update", Kind: "flake-update"}
	brewS  = Step{Name: "brew", Kind: "brew-bundle", OS: []string{"darwin"}}
)

func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		check string
		steps []Step
		noCfg bool
		flake bool
		edit  func(*fake)
		// want: "" for no finding, else text every finding's problem (and,
		// after " | ", its fix) must hold, one entry per finding.
		want []string
	}{
		{name: "config: none", check: "config", noCfg: true, want: []string{"no sysinit.toml | sysinit init"}},
		{name: "config: there", check: "config", steps: []Step{update}},

		{name: "nix: recent", check: "nix-version", steps: []Step{system}},
		{name: "nix: missing", check: "nix-version", steps: []Step{system},
			edit: func(f *fake) { f.nixErr = &command.NotFoundError{Name: "nix"} }, want: []string{"nix is not installed | install Nix"}},
		{name: "nix: 2.8 is old", check: "nix-version", steps: []Step{update},
			edit: func(f *fake) { f.nixVer = nix.Version{Flavour: nix.FlavourNix, Major: 2, Minor: 8} },
			want: []string{"Nix 2.8.0 is older than Nix 2.18 | upgrade Nix"}},
		{name: "nix: 2.17 is old", check: "nix-version", steps: []Step{update},
			edit: func(f *fake) { f.nixVer = nix.Version{Flavour: nix.FlavourNix, Major: 2, Minor: 17, Patch: 1} },
			want: []string{"2.17.1 is older"}},
		{name: "nix: 2.18 is not", check: "nix-version", steps: []Step{update},
			edit: func(f *fake) { f.nixVer = nix.Version{Flavour: nix.FlavourNix, Major: 2, Minor: 18} }},
		{name: "nix: any Lix", check: "nix-version", steps: []Step{update},
			edit: func(f *fake) { f.nixVer = nix.Version{Flavour: nix.FlavourLix, Major: 2, Minor: 91, Patch: 1} }},
		{name: "nix: not needed without nix steps", check: "nix-version", steps: []Step{brewS},
			edit: func(f *fake) { f.nixErr = &command.NotFoundError{Name: "nix"} }},
		{name: "nix: nix-darwin steps do not need it on Linux", check: "nix-version", steps: []Step{system},
			edit: func(f *fake) { f.goos = "linux"; f.nixErr = &command.NotFoundError{Name: "nix"} }},
		{name: "nix: no config but a flake", check: "nix-version", noCfg: true, flake: true,
			edit: func(f *fake) { f.nixErr = &command.NotFoundError{Name: "nix"} }, want: []string{"not installed"}},

		{name: "flakes: on", check: "flakes", steps: []Step{system}},
		{name: "flakes: off", check: "flakes", steps: []Step{system},
			edit: func(f *fake) { f.conf.Features = []string{"nix-command"} },
			want: []string{"lack flakes: every nix step fails | experimental-features = nix-command flakes"}},
		{name: "flakes: neither", check: "flakes", steps: []Step{system},
			edit: func(f *fake) { f.conf.Features = nil }, want: []string{"lack nix-command and flakes"}},
		{name: "flakes: stable in Determinate Nix", check: "flakes", steps: []Step{system},
			edit: func(f *fake) { f.conf.Features = nil; f.nixVer.Flavour = nix.FlavourDeterminate }},
		{name: "flakes: settings unreadable", check: "flakes", steps: []Step{system},
			edit: func(f *fake) { f.confErr = errors.New("boom") }, want: []string{"could not read nix's settings: boom | nix config show"}},
		{name: "flakes: nix missing is said once, by nix-version", check: "flakes", steps: []Step{system},
			edit: func(f *fake) { f.nixErr = &command.NotFoundError{Name: "nix"} }},

		{name: "cache: set", check: "binary-cache", steps: []Step{system}},
		{name: "cache: empty", check: "binary-cache", steps: []Step{system},
			edit: func(f *fake) { f.conf.Substituters = nil }, want: []string{"no binary cache | substituters = https://cache.nixos.org"}},

		{name: "parallel: auto and all cores", check: "parallelism", steps: []Step{system}},
		{name: "parallel: 2 jobs of 2 cores on 8 CPUs, from the step", check: "parallelism",
			steps: []Step{{Name: "system", Kind: "nix-darwin", OS: []string{"darwin"}, MaxJobs: 2, Cores: 2}},
			want:  []string{"at most 4 of this machine's 8 CPUs: 2 jobs at a time (the step's max-jobs) with 2 cores each (the step's cores) | remove max-jobs and cores from step system"}},
		{name: "parallel: from extra-args", check: "parallelism",
			steps: []Step{{Name: "system", Kind: "nix-darwin", OS: []string{"darwin"}, ExtraArgs: []string{"--max-jobs", "2", "--cores=2"}}},
			want:  []string{"at most 4 of this machine's 8 CPUs | remove --max-jobs and --cores from step system's extra-args"}},
		{name: "parallel: -j auto fills the machine", check: "parallelism",
			steps: []Step{{Name: "system", Kind: "nix-darwin", OS: []string{"darwin"}, ExtraArgs: []string{"-j", "auto"}}}},
		{name: "parallel: nix's default max-jobs 1", check: "parallelism", steps: []Step{system},
			edit: func(f *fake) { f.conf.MaxJobs = 1 },
			want: []string{"one derivation at a time (nix's max-jobs is 1) on a 8-CPU machine | max-jobs = auto"}},
		{name: "parallel: max-jobs 1 on 2 CPUs is fine", check: "parallelism", steps: []Step{system},
			edit: func(f *fake) { f.conf.MaxJobs = 1; f.conf.Cores = 2; f.cpus = 2 }},
		{name: "parallel: the step's max-jobs, nix's cores", check: "parallelism",
			steps: []Step{{Name: "system", Kind: "nix-darwin", OS: []string{"darwin"}, MaxJobs: 2}},
			edit:  func(f *fake) { f.conf.Cores = 1 },
			want:  []string{"2 jobs at a time (the step's max-jobs) with 1 cores each (nix's cores) | remove max-jobs and cores from step system (nix's own settings then apply); set `max-jobs = auto`"}},
		{name: "parallel: no step builds, nix's own", check: "parallelism", noCfg: true, flake: true,
			edit: func(f *fake) { f.conf.MaxJobs = 2; f.conf.Cores = 2 }, want: []string{"at most 4 of this machine's 8 CPUs"}},
		{name: "parallel: flake-update builds nothing", check: "parallelism", steps: []Step{update},
			edit: func(f *fake) { f.conf.MaxJobs = 1; f.conf.Cores = 1 }, want: []string{"at most 1 of"}},

		{name: "impure: no", check: "impure", steps: []Step{system}},
		{name: "impure: key", check: "impure", steps: []Step{{Name: "system", Kind: "nix-darwin", Impure: true}},
			want: []string{"turns off nix's evaluation cache | remove `impure = true` from step system"}},
		{name: "impure: in extra-args", check: "impure", steps: []Step{{Name: "home", Kind: "home-manager", ExtraArgs: []string{"--impure"}}},
			want: []string{"evaluation cache"}},

		{name: "darwin root: default sudo", check: "darwin-root", steps: []Step{system}},
		{name: "darwin root: sudo = false", check: "darwin-root", steps: []Step{{Name: "system", Kind: "nix-darwin", SudoSet: true}},
			want: []string{"must run as root | remove `sudo = false` from step system"}},
		{name: "darwin root: command without sudo", check: "darwin-root", steps: []Step{{Name: "rebuild", Kind: "command", Run: "darwin-rebuild switch --flake .#lv426"}},
			want: []string{"without root | make it a nix-darwin step"}},
		{name: "darwin root: command with sudo in it", check: "darwin-root", steps: []Step{{Name: "rebuild", Kind: "command", Run: "sudo darwin-rebuild switch --flake ."}}},
		{name: "darwin root: command step with sudo", check: "darwin-root", steps: []Step{{Name: "rebuild", Kind: "command", Sudo: true, Run: "darwin-rebuild switch"}}},
		{name: "darwin root: build needs no root", check: "darwin-root", steps: []Step{{Name: "b", Kind: "command", Run: "darwin-rebuild build --flake ."}}},

		{name: "homebrew twice: module and step", check: "homebrew-twice", steps: []Step{system, brewS},
			edit: func(f *fake) { f.homebrew = "modules/darwin/homebrew.nix:3" },
			want: []string{"modules/darwin/homebrew.nix:3 turns on nix-darwin's Homebrew module while step brew | homebrew.enable = false in modules/darwin/homebrew.nix and let brew-bundle step brew take the Brewfile from nix-darwin (nix-darwin = \"system\" instead of brewfile)"}},
		{name: "homebrew twice: module and a step that takes its Brewfile", check: "homebrew-twice", steps: []Step{system, {Name: "brew", Kind: "brew-bundle", OS: []string{"darwin"}, NixDarwin: "system"}},
			edit: func(f *fake) { f.homebrew = "modules/darwin/homebrew.nix:3" },
			want: []string{"turns on nix-darwin's Homebrew module while step brew | homebrew.enable = false in modules/darwin/homebrew.nix and keep your declarations there"}},
		{name: "homebrew twice: module only", check: "homebrew-twice", steps: []Step{system},
			edit: func(f *fake) { f.homebrew = "modules/darwin/homebrew.nix:3" }},
		{name: "homebrew twice: a Linux-only step", check: "homebrew-twice", steps: []Step{{Name: "brew", Kind: "brew-bundle", OS: []string{"linux"}}},
			edit: func(f *fake) { f.homebrew = "x.nix:1" }},

		{name: "brew root: as a user", check: "brew-root", steps: []Step{brewS}},
		{name: "brew root: root without SUDO_USER", check: "brew-root", steps: []Step{brewS},
			edit: func(f *fake) { f.euid = 0 }, want: []string{"Homebrew refuses root | run sysinit as your own user"}},
		{name: "brew root: under sudo", check: "brew-root", steps: []Step{brewS},
			edit: func(f *fake) { f.euid = 0; f.env["SUDO_USER"] = "ripley" }},
		{name: "brew root: no brew step here", check: "brew-root", steps: []Step{brewS},
			edit: func(f *fake) { f.euid = 0; f.goos = "linux" }},

		{name: "sudo: no password needed", check: "sudo", steps: []Step{system}},
		{name: "sudo: password needed", check: "sudo", steps: []Step{system, {Name: "conf", Kind: "file", Sudo: true}, brewS},
			edit: func(f *fake) { f.sudoErr = errors.New("sudo: a password is required") },
			want: []string{"steps system, conf need root, and sudo asks for a password | ripley ALL=(root) NOPASSWD"}},
		{name: "sudo: no step needs it", check: "sudo", steps: []Step{brewS, update},
			edit: func(f *fake) { f.sudoErr = errors.New("no") }},
		{name: "sudo: root needs none", check: "sudo", steps: []Step{system},
			edit: func(f *fake) { f.euid = 0; f.sudoErr = errors.New("no") }},

		{name: "host: named configuration exists", check: "host-name", steps: []Step{system}},
		{name: "host: named configuration missing", check: "host-name", steps: []Step{{Name: "system", Kind: "nix-darwin", Flake: ".#lv427"}},
			want: []string{"builds darwinConfigurations.lv427, which the flake does not define (it defines lv426, sulaco) | flake = \".#NAME\""}},
		{name: "host: default by host name", check: "host-name", steps: []Step{{Name: "system", Kind: "nix-darwin", Flake: "."}}},
		{name: "host: default, no match", check: "host-name", steps: []Step{{Name: "system", Kind: "nix-darwin", Flake: "."}},
			edit: func(f *fake) { f.host = "Ripleys-MacBook-Pro" },
			want: []string{`picks darwinConfigurations by the host name "Ripleys-MacBook-Pro", which names none of them (it defines lv426, sulaco) | sudo scutil --set LocalHostName NAME`}},
		{name: "host: home-manager user@host", check: "host-name", steps: []Step{{Name: "home", Kind: "home-manager", Flake: "."}},
			edit: func(f *fake) { f.host = "nostromo" }},
		{name: "host: home-manager, no match", check: "host-name", steps: []Step{{Name: "home", Kind: "home-manager", Flake: "."}},
			want: []string{`"ripley@lv426" or "ripley"`}},
		{name: "host: names read in part", check: "host-name", steps: []Step{{Name: "system", Kind: "nix-darwin", Flake: ".#m1"}},
			edit: func(f *fake) {
				f.configs.Dynamic = []scaffold.Computed{{Output: "darwinConfigurations", Where: "flake.nix:3"}}
			}},
		{name: "host: a remote flake is not read", check: "host-name", steps: []Step{{Name: "system", Kind: "nix-darwin", Flake: "github:me/dots#m1"}}},
		{name: "host: unreadable", check: "host-name", steps: []Step{system},
			edit: func(f *fake) { f.cfgErr = errors.New("reading flake.nix: no such file") }, want: []string{"could not read the flake's configurations"}},
		{name: "host: a step for another system", check: "host-name", steps: []Step{{Name: "n", Kind: "nixos", OS: []string{"linux"}, Flake: ".#gone"}}},

		{name: "host: no step builds this host's configuration", check: "host-name", flake: true,
			steps: []Step{system, update},
			edit:  func(f *fake) { f.goos, f.nixos, f.host, f.env["USER"] = "linux", true, "nostromo", "sam" },
			want:  []string{"the flake defines nixosConfigurations.nostromo, named for this host, and no step builds it: a refresh leaves this machine's system as it is | kind = \"nixos\", flake = \".#nostromo\""}},
		{name: "host: no step, and the host names no configuration", check: "host-name", flake: true,
			steps: []Step{update},
			edit:  func(f *fake) { f.host = "Ripleys-MacBook-Pro" },
			want:  []string{`the host name "Ripleys-MacBook-Pro" names none of the flake's darwinConfigurations (it defines lv426, sulaco), and no step builds one | sysinit init --host NAME`}},
		{name: "host: no step, named configuration exists", check: "host-name", flake: true,
			steps: []Step{update},
			want:  []string{"the flake defines darwinConfigurations.lv426, named for this host, and no step builds it | flake = \".#lv426\""}},
		{name: "host: home-manager alone on a Mac the flake does not name", check: "host-name", flake: true,
			steps: []Step{{Name: "home", Kind: "home-manager", Flake: ".#ripley@nostromo"}, update},
			edit:  func(f *fake) { f.host = "Ripleys-MacBook-Pro" }},
		{name: "host: a step names another configuration", check: "host-name", flake: true,
			steps: []Step{system, update}, edit: func(f *fake) { f.host = "Ripleys-MacBook-Pro" }},
		{name: "host: Linux that is not NixOS", check: "host-name", flake: true,
			steps: []Step{update}, edit: func(f *fake) { f.goos, f.host = "linux", "box" }},
		{name: "host: no step, some names computed", check: "host-name", flake: true,
			steps: []Step{update},
			edit: func(f *fake) {
				f.host = "Ripleys-MacBook-Pro"
				f.configs.Dynamic = []scaffold.Computed{{Output: "darwinConfigurations", Where: "flake.nix:3"}}
			}},
		{name: "host: home-manager for this user and host, no step", check: "host-name", flake: true,
			steps: []Step{{Name: "system", Kind: "nixos", Flake: ".#nostromo"}, update},
			edit:  func(f *fake) { f.goos, f.nixos, f.host = "linux", true, "nostromo" },
			want:  []string{"the flake defines homeConfigurations.ripley@nostromo, named for this user and host, and no step builds it | kind = \"home-manager\", flake = \".#ripley@nostromo\""}},
		{name: "host: no nix step, no claim", check: "host-name", flake: true, steps: []Step{brewS}},
		{name: "host: a step for another machine picks by its name", check: "host-name", flake: true,
			steps: []Step{system, {Name: "box@box", Kind: "nixos", Flake: ".", Remote: true}, update}},

		{name: "path: nix under /usr/bin", check: "scheduled-path", steps: []Step{system},
			edit: func(f *fake) { f.paths["nix"] = "/usr/bin/nix" }},
		{name: "path: nix in a profile", check: "scheduled-path", steps: []Step{system},
			edit: func(f *fake) { f.env["PATH"] = "/nix/var/nix/profiles/default/bin:/usr/bin" },
			want: []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin (cron's is shorter still), where nix is not (it is /nix/var/nix/profiles/default/bin/nix) | PATH=/nix/var/nix/profiles/default/bin:/usr/bin:/bin:/usr/sbin:/sbin"}},
		{name: "path: nix missing is another check's", check: "scheduled-path", steps: []Step{system}},

		{name: "state dirs: fine", check: "state-dirs", edit: func(f *fake) { f.dirs = map[string]error{"/home/r/.cache/sysinit": nil} }},
		{name: "state dirs: writable by others", check: "state-dirs",
			edit: func(f *fake) {
				f.dirs = map[string]error{"/home/r/.cache/sysinit": &state.UnsafeDirError{Dir: "/home/r/.cache/sysinit", Problem: "it is writable by every user", Fix: "chmod 700 /home/r/.cache/sysinit"}}
			},
			want: []string{"refuses its directory /home/r/.cache/sysinit: it is writable by every user | chmod 700 /home/r/.cache/sysinit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy()
			if tt.edit != nil {
				tt.edit(f)
			}
			in := &Input{Config: "/repo/sysinit.toml", Dir: "/repo", Steps: tt.steps, M: f, Flake: tt.flake}
			if tt.noCfg {
				in.Config = ""
			}
			var got []Finding
			found := false
			for _, c := range Checks {
				if c.Name == tt.check {
					got, found = c.Run(in), true
				}
			}
			if !found {
				t.Fatalf("no check %q", tt.check)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d findings %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				problem, fix, _ := strings.Cut(w, " | ")
				if !strings.Contains(got[i].Problem, problem) || !strings.Contains(got[i].Fix, fix) {
					t.Errorf("finding %d:\n problem %q\n     fix %q\nwant them to hold %q and %q", i, got[i].Problem, got[i].Fix, problem, fix)
				}
				if got[i].Fix == "" {
					t.Errorf("finding %d has no fix", i)
				}
			}
		})
	}
}

// TestRunAsksLittle: with no nix steps, doctor neither runs nix nor sudo
// nor evaluates the flake.
func TestRunAsksLittle(t *testing.T) {
	f := healthy()
	findings := Run(&Input{Config: "/repo/sysinit.toml", Dir: "/repo", Steps: []Step{{Name: "fonts", Kind: "command", Run: "true"}}, M: f})
	if len(findings) != 0 || len(f.asked) != 0 {
		t.Errorf("findings %+v, asked %q; want none of either", findings, f.asked)
	}
	f = healthy()
	f.conf.Substituters = nil
	findings = Run(&Input{Config: "/repo/sysinit.toml", Dir: "/repo", Steps: []Step{system, update}, M: f})
	if len(findings) != 1 || findings[0].Check != "binary-cache" {
		t.Errorf("findings %+v, want one binary-cache", findings)
	}
}
