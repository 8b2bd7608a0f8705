// Package doctor checks a machine and its sysinit config for what makes
// refreshes slow or makes them fail, and says how to fix each finding.
//
// Each check reads facts through Machine, a small interface: Real reads
// this machine (running nix and sudo once each, at most), and the tests
// give each check fakes.
package doctor

import (
	"slices"

	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/scaffold"
)

// Finding is one problem and how to fix it.
type Finding struct {
	Check   string `json:"check"` // the check that found it: "nix-version"
	Step    string `json:"step,omitempty"`
	Problem string `json:"problem"` // what is wrong and what it costs
	Fix     string `json:"fix"`     // what to do
}

// Step is what the checks need of one step of the config.
type Step struct {
	Name      string
	Kind      string
	OS        []string // empty = every system
	Sudo      bool     // runs (part of) its work through sudo, with the kind's default applied
	SudoSet   bool     // `sudo` was written in the config
	Flake     string   // nix kinds: the flake reference
	Impure    bool
	ExtraArgs []string
	MaxJobs   int // 0 = not set
	Cores     int // 0 = not set (nix's own setting applies)
	Run       string
	NixDarwin string // brew-bundle: the nix-darwin step its Brewfile comes from
	// Remote is set for a step that acts on another machine (a pair of
	// `hosts`): the host name that picks its configuration is that one's.
	Remote bool
}

// Applies reports whether the step runs on goos.
func (s Step) Applies(goos string) bool {
	return len(s.OS) == 0 || slices.Contains(s.OS, goos)
}

// isNix reports whether the step runs nix.
func (s Step) isNix() bool {
	switch s.Kind {
	case "nix-darwin", "nixos", "home-manager", "nix-profile", "flake-update":
		return true
	}
	return false
}

// builds reports whether the step builds a configuration.
func (s Step) builds() bool {
	return s.isNix() && s.Kind != "flake-update"
}

// Input is what the checks look at: the config's steps (nil when there is
// no config) and the machine.
type Input struct {
	// Config is the config file's path, "" when there is none; Steps are
	// its steps.
	Config string
	Dir    string // the repository: the config's directory, or the working one
	Flake  bool   // Dir holds a flake.nix
	Steps  []Step
	M      Machine
}

// Machine is what the checks read of the machine. Errors are reported as
// findings: a check that cannot tell says so.
type Machine interface {
	GOOS() string
	NumCPU() int
	Euid() int
	Getenv(key string) string
	// LookPath finds a program in a PATH list (as exec.LookPath does in
	// $PATH).
	LookPath(name, pathList string) (string, error)
	// Executable is sysinit's own path.
	Executable() string
	// Nix is nix's version; a *command.NotFoundError when it is missing.
	Nix() (nix.Version, error)
	// NixConfig is nix's settings (`nix config show --json`).
	NixConfig() (NixConfig, error)
	// SudoNoPassword runs `sudo -n true`: nil when sudo needs no password.
	SudoNoPassword() error
	// HostName is the name nix-darwin and nixos-rebuild pick a
	// configuration by.
	HostName() string
	// NixOS reports whether this machine runs NixOS (/etc/os-release).
	NixOS() bool
	// Configurations are those the flake in dir defines.
	Configurations(dir string) (*scaffold.Configurations, error)
	// HomebrewModule is where a .nix file under dir turns on nix-darwin's
	// Homebrew module ("modules/darwin/homebrew.nix:3"), "" when none does.
	HomebrewModule(dir string) string
	// StateDirs lists sysinit's own directories that exist, and an error
	// per directory that is unsafe (state.CheckDir).
	StateDirs() map[string]error
}

// Check is one check.
type Check struct {
	Name string
	Doc  string // what it checks, for --help
	Run  func(in *Input) []Finding
}

// Checks are every check, in the order findings are reported.
var Checks = []Check{
	{"config", "a sysinit.toml is there", checkConfig},
	{"nix-version", "nix is installed and at least 2.18 (nixpkgs' minimum)", checkNixVersion},
	{"flakes", "the nix-command and flakes features are enabled", checkFlakes},
	{"binary-cache", "nix has a binary cache (substituters)", checkBinaryCache},
	{"parallelism", "max-jobs and cores let builds use every CPU", checkParallelism},
	{"impure", "no nix step passes --impure, which turns off the evaluation cache", checkImpure},
	{"darwin-root", "nix-darwin activation runs as root", checkDarwinRoot},
	{"homebrew-twice", "nix-darwin's Homebrew module and a brew-bundle step do not both run brew bundle", checkHomebrewTwice},
	{"brew-root", "brew will not be run as root", checkBrewRoot},
	{"sudo", "steps that need root can get it without a password prompt", checkSudo},
	{"host-name", "the host name names a configuration of the flake, and a step builds it", checkHostName},
	{"scheduled-path", "nix is on the PATH cron and launchd give sysinit", checkScheduledPath},
	{"state-dirs", "sysinit's own directories are safe", checkStateDirs},
}

// Run runs every check.
func Run(in *Input) []Finding {
	var out []Finding
	for _, c := range Checks {
		for _, f := range c.Run(in) {
			if f.Check == "" {
				f.Check = c.Name
			}
			out = append(out, f)
		}
	}
	return out
}
