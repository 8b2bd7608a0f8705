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
	Hosts []*Host // [hosts.NAME], in file order
	// Steps are in the order they appear in the file; a step with `hosts`
	// is there as one step per host, STEP@HOST (see expandHosts).
	Steps []*Step

	groups map[string][]string // a step with `hosts` -> its pairs' names

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
	dir, name := StateDirOf(file)
	if name == "" {
		return dir
	}
	return filepath.Join(dir, name)
}

// StateDirOf splits the config file into the directory whose records it
// has (resolved through symlinks) and, for a file not named sysinit.toml,
// its name ("" for sysinit.toml): what state.IdentifyConfig identifies.
func StateDirOf(file string) (dir, name string) {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	dir = filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if filepath.Base(abs) == FileName {
		return dir, ""
	}
	return dir, filepath.Base(abs)
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

// Step is one [steps.NAME] table: the keys every kind shares, decoded
// here, and the kind's own keys, decoded into the struct its declaration
// names (see Kind) and held in Own. Keys that a kind does not take are
// rejected at load time, so every set field means something to its kind.
//
// The shared keys are declared by the tags below, as a kind's own are.
type Step struct {
	Name string
	Kind string
	Pos  Pos            // the [steps.NAME] header
	Keys map[string]Pos // every key set in the table, for errors raised later

	Inputs   []string          `key:"inputs" items:"glob patterns" example:"inputs = [\"fonts/**\", \"!fonts/**/*.tmp\"]" doc:"files the step depends on besides those its kind reads: [doublestar](https://github.com/bmatcuk/doublestar) patterns relative to the config directory, in order, the last match winning (a leading ! excludes); a bare directory means everything under it; ~/… and absolute paths name files outside the repository; symlinks to directories are followed; see docs/decisions.md"`
	Env      map[string]string `key:"env" example:"env = { NIXPKGS_ALLOW_UNFREE = \"1\" }" doc:"environment variables for the step's programs; their values are part of the definition, so changing one re-runs the step"`
	After    []string          `key:"after" items:"step names" example:"after = [\"flake-update\"]" doc:"run only after these succeeded (or were skipped); if one fails, this step is blocked. A step after one that ran in the same refresh is decided again at its turn"`
	Check    string            `key:"check" example:"check = \"test -d ~/Library/Fonts/MyFont\"" doc:"a probe of the machine (sh -c), run when nothing else makes the step run: exit 0 means what it did is still in place, anything else re-runs it"`
	Every    time.Duration     `key:"every" example:"every = \"24h\"" zero:"leave \x60every\x60 out to run only when something changed" doc:"time-to-live: run again once this long has passed since the last success started"`
	Dir      string            `key:"dir" path:"dir" example:"dir = \"scripts\"" doc:"working directory of the step's commands and check, relative to the config directory (it must exist)"`
	Timeout  time.Duration     `key:"timeout" example:"timeout = \"30m\"" zero:"leave \x60timeout\x60 out for no time limit" doc:"stop the step (SIGTERM to its process group, SIGKILL 5 s later) and fail it after this long"`
	Sudo     *bool             `key:"sudo" example:"sudo = true" doc:"run the step's commands as root through sudo, which asks for the password once, before anything starts; env reaches the root side through a pipe, never a command line. Only kinds that run something as root take it"`
	OS       []string          `key:"os" items:"OS names" example:"os = [\"darwin\"]" doc:"run only on these systems (darwin, linux, … as Go's GOOS); elsewhere the step is not applicable. A step meant for this machine whose tool is missing fails, with the fix"`
	Requires []string          `key:"requires" items:"program names" example:"requires = [\"git\"]" doc:"programs that must be on PATH; when one is missing the step is not applicable, with the reason"`
	Hosts    []string          `key:"hosts" items:"host names" example:"hosts = [\"local\", \"box\"]" doc:"the machines the step acts on: [hosts.NAME] tables, and \"local\" for this one; default this machine alone. Each (step, host) pair is a step of its own, STEP@HOST, planned, run and recorded apart; its os is the host's. Only kinds that can act on another machine take it"`

	// Target is the host a step expanded from `hosts` acts on; nil for
	// this machine. HostName is the name it was listed under ("local" for
	// this machine) and Base the step's name as configured; both are ""
	// for a step without `hosts`.
	Target   *Host
	HostName string
	Base     string

	// Own is the kind's own keys: a pointer to its declared struct (see
	// KeysOf).
	Own any

	decoded bool // every key decoded and checked: kinds' CheckAll may look at it
}

// Decoded reports whether every key of s decoded and passed its checks:
// a check spanning kinds looks only at steps whose keys it can trust.
func (s *Step) Decoded() bool { return s.decoded }

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
