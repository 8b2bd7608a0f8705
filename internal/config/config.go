// Package config loads and validates sysinit.toml: the steps a repository
// declares, with every error pointing at the file and line to fix.
package config

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// FileName is the name sysinit looks for when walking up from a directory.
const FileName = "sysinit.toml"

// Config is a loaded, validated sysinit.toml. It is plain data: step kinds
// read the fields that concern them.
type Config struct {
	File  string  // absolute path of the config file
	Dir   string  // absolute directory holding it; relative paths resolve here
	Steps []*Step // in the order they appear in the file

	// byName indexes Steps, built at the first Step call: planning looks
	// up every step and its `after` names, which must not cost a scan each.
	indexOnce sync.Once
	byName    map[string]*Step
}

// StateKey names whose records a state store holds: the config directory
// for the usual sysinit.toml, so that records survive edits and moves of
// nothing but the file, or the file itself for another name, so that two
// configs in one directory (`--config work.toml`) never share records.
func (c *Config) StateKey() string { return StateKeyOf(c.File) }

// StateKeyOf is Config.StateKey for a config file not loaded (history
// works while the config is broken): its directory is resolved through
// symlinks as Load resolves it.
func StateKeyOf(file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	dir := filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if filepath.Base(abs) == FileName {
		return dir
	}
	return filepath.Join(dir, filepath.Base(abs))
}

// Step returns the step named name, or nil.
// Step returns the step named name, or nil. Steps must not change once
// Step has been called.
func (c *Config) Step(name string) *Step {
	c.indexOnce.Do(func() {
		c.byName = make(map[string]*Step, len(c.Steps))
		for _, s := range c.Steps {
			if _, dup := c.byName[s.Name]; !dup {
				c.byName[s.Name] = s
			}
		}
	})
	return c.byName[name]
}

// Pos is a place in the config file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Step is one [steps.NAME] table. Keys that a kind does not use are rejected
// at load time, so every set field here means something to its kind.
type Step struct {
	Name string
	Kind string
	Pos  Pos            // the [steps.NAME] header
	Keys map[string]Pos // every key set in the table, for errors raised later

	// Common to every kind.
	Run      string
	Inputs   []string // command, file: doublestar globs, "!" excludes; flake-update: flake inputs to update; nix kinds: extra globs
	Env      map[string]string
	After    []string
	Check    string
	Every    time.Duration // 0 = no time-to-live
	Dir      string        // working directory, relative to Config.Dir
	Timeout  time.Duration // 0 = none
	Sudo     *bool         // nil = the kind's default
	OS       []string      // runtime.GOOS values; empty = all
	Requires []string      // programs that must be on PATH

	// file
	Source   string
	Dest     string // absolute; a leading "~/" is expanded to $HOME at load
	Mode     string // octal, e.g. "0644"; empty = keep the source's permission bits
	OnChange string

	// nix-darwin, nixos, home-manager, nix-profile, flake-update
	Flake     string // ".#host", "path#attr"; "." when left out (except nix-profile, which requires it)
	Impure    bool
	ExtraArgs []string
	MaxJobs   *int
	Cores     *int
	Profile   string // nix-profile: profile path; others: override the default
	Activate  string // nix-profile: command run after the profile is set ($SYSINIT_OUT)
	Action    string // nixos: switch (the default) | boot | test
	Commit    bool   // flake-update: commit flake.lock when it changed

	// brew-bundle
	Brewfile    string // relative to Config.Dir unless absolute; "Brewfile" when left out
	Cleanup     string // none (the default) | check | uninstall | zap
	UpdateEvery time.Duration
	Upgrade     bool
	Prefix      string // Homebrew prefix; empty = HOMEBREW_PREFIX or the standard places
}

// Kinds lists every step kind and the keys it accepts beyond the common ones.
var Kinds = map[string][]string{
	"command":      {"run"},
	"file":         {"source", "dest", "mode", "on-change"},
	"nix-darwin":   {"flake", "impure", "extra-args", "max-jobs", "cores", "profile"},
	"nixos":        {"flake", "impure", "extra-args", "max-jobs", "cores", "profile", "action"},
	"home-manager": {"flake", "impure", "extra-args", "max-jobs", "cores", "profile"},
	"nix-profile":  {"flake", "impure", "extra-args", "max-jobs", "cores", "profile", "activate"},
	"flake-update": {"flake", "commit"},
	"brew-bundle":  {"brewfile", "cleanup", "update-every", "upgrade", "prefix"},
}

// CommonKeys are accepted by every kind.
var CommonKeys = []string{"kind", "inputs", "env", "after", "check", "every", "dir", "timeout", "sudo", "os", "requires"}

// Error is a problem in the config file, with where it is and how to fix it.
type Error struct {
	Pos  Pos
	Msg  string // what is wrong, lowercase
	Hint string // what to do; may be empty
}

func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Errors is every problem found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}
