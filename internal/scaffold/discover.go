// Package scaffold writes a first sysinit.toml for a repository: it reads
// what the repository holds — the configurations its flake defines, its
// Brewfiles, a nix.custom.conf, the refresh task of its Taskfile or
// justfile — and renders it as commented TOML text, with this machine's
// steps active and the other hosts' steps commented out.
package scaffold

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/brew"
	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/nix"
)

// Machine is what init needs to know of the machine it runs on.
type Machine struct {
	GOOS string // runtime.GOOS
	// Host is this machine's configuration name: `scutil --get
	// LocalHostName` on macOS, else the short host name.
	Host string
	User string
	// Nix is the nix program, "" when there is none or it must not be
	// asked; Exec runs it.
	Nix  string
	Exec command.Runner
	// Linuxbrew is set when this is Linux and a Homebrew installation is
	// there: Brewfiles are then for this machine too.
	Linuxbrew bool
	// NoNixWhy says why Nix is "": "nix is not installed", "--no-eval".
	NoNixWhy string
}

// Repo is what a repository holds, as init reads it.
type Repo struct {
	Dir   string
	Flake bool // flake.nix exists
	// Configs are the flake's configurations; ConfigsFrom says how they
	// were read ("nix eval" or "a static read of flake.nix") and EvalNote
	// why nix eval was not used, when it was not.
	Configs     Configurations
	ConfigsFrom string
	EvalNote    string
	// EvalFetch is set when nix eval failed fetching the flake's inputs
	// (offline): nix retries each download for seconds before it gives up.
	EvalFetch bool
	// EvalNewerLock is set when nix eval could not read flake.lock because
	// a newer Nix wrote it: builds with this nix fail the same way.
	EvalNewerLock bool
	// EvalTook is how long nix eval ran, 0 when it did not.
	EvalTook  time.Duration
	Brewfiles []string // relative paths
	NixConfs  []string // nix.custom.conf files, relative paths
	// HomebrewModule is where a .nix file turns on nix-darwin's Homebrew
	// module ("modules/darwin/homebrew.nix:3"), "" when none does.
	HomebrewModule string
	Refresh        *Refresh
}

// Read reads the repository at dir.
func Read(ctx context.Context, dir string, m Machine) (*Repo, error) {
	r := &Repo{Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err == nil {
		r.Flake = true
		if err := r.readConfigs(ctx, m); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := r.findFiles(); err != nil {
		return nil, err
	}
	if file, line, ok := brew.ManagedByNixDarwin(dir); ok {
		r.HomebrewModule = fmt.Sprintf("%s:%d", filepath.ToSlash(file), line)
	}
	ref, err := ReadRefresh(dir, m.GOOS)
	if err != nil {
		return nil, err
	}
	r.Refresh = ref
	return r, nil
}

// readConfigs asks nix for the flake's configurations when nix is there,
// and reads flake.nix when it is not or cannot evaluate it (inputs not
// fetched, offline, flakes not enabled). The static read also gives each
// configuration its entry files, which evaluation does not.
func (r *Repo) readConfigs(ctx context.Context, m Machine) error {
	start := time.Now()
	c, from, note, evalErr, err := readConfigurations(ctx, r.Dir, m)
	if err != nil {
		return err
	}
	if m.Nix != "" {
		r.EvalTook = time.Since(start)
	}
	r.Configs, r.ConfigsFrom, r.EvalNote = *c, from, note
	var ee *EvalError
	if errors.As(evalErr, &ee) {
		r.EvalFetch, r.EvalNewerLock = ee.Fetch, ee.NewerLock != ""
	}
	return nil
}

// ReadConfigurations reads the configurations of the flake in dir: from
// nix eval when m.Nix is set and nix can evaluate it, else from flake.nix
// itself. from says which; note says why nix eval was not used.
func ReadConfigurations(ctx context.Context, dir string, m Machine) (c *Configurations, from, note string, err error) {
	c, from, note, _, err = readConfigurations(ctx, dir, m)
	return c, from, note, err
}

// readConfigurations is ReadConfigurations, and nix eval's error when it
// failed.
func readConfigurations(ctx context.Context, dir string, m Machine) (c *Configurations, from, note string, evalErr, err error) {
	static, err := ReadFlake(dir)
	if err != nil {
		return nil, "", "", nil, fmt.Errorf("reading flake.nix: %w", err)
	}
	if m.Nix == "" {
		return static, "a static read of flake.nix", m.NoNixWhy, nil, nil
	}
	evaluated, err := evalConfigs(ctx, m, dir)
	if err != nil {
		return static, "a static read of flake.nix", err.Error(), err, nil
	}
	// Names from nix; entries from the static read where it found them.
	for _, out := range configOutputs {
		for i, c := range *evaluated.of(out) {
			for _, s := range *static.of(out) {
				if s.Name == c.Name {
					(*evaluated.of(out))[i].Entry, (*evaluated.of(out))[i].Where = s.Entry, s.Where
				}
			}
		}
	}
	return evaluated, "nix eval", "", nil, nil
}

// evalConfigs runs `nix eval --json .#OUTPUT --apply builtins.attrNames`
// for each kind of configuration. An output the flake does not have is no
// error; any other failure is.
func evalConfigs(ctx context.Context, m Machine, dir string) (*Configurations, error) {
	var out Configurations
	for _, o := range configOutputs {
		var stdout, stderr bytes.Buffer
		err := m.Exec.Run(ctx, &command.Cmd{
			// Init reads the repository and changes nothing in it: no
			// flake.lock written for a flake that has none.
			Argv:   []string{m.Nix, "eval", "--json", "--no-write-lock-file", ".#" + o, "--apply", "builtins.attrNames"},
			Dir:    dir,
			Stdout: &stdout, Stderr: &stderr,
		})
		if err != nil {
			if strings.Contains(stderr.String(), "does not provide attribute") {
				continue
			}
			return nil, &EvalError{Output: o, Msg: lastError(stderr.String(), err), Fetch: fetchFailed(stderr.String()), NewerLock: nix.NewerLock(stderr.String())}
		}
		var names []string
		if err := json.Unmarshal(stdout.Bytes(), &names); err != nil {
			return nil, fmt.Errorf("nix eval .#%s: reading its output: %w", o, err)
		}
		for _, n := range names {
			out.add(o, Configuration{Name: n})
		}
	}
	return &out, nil
}

// EvalError is a nix eval of a flake's configurations that failed.
type EvalError struct {
	Output string // darwinConfigurations
	Msg    string // nix's error
	// Fetch is set when nix failed fetching an input (offline, a host
	// that does not answer), not evaluating the flake.
	Fetch bool
	// NewerLock is what in flake.lock this nix cannot read, when a newer
	// Nix wrote it: nix's own words ("unsupported tarball input attribute
	// 'lastModified'") say neither that nor that a build will fail too.
	NewerLock string
}

func (e *EvalError) Error() string {
	if e.NewerLock != "" {
		// Short: the header keeps 160 characters of it, and nix's words
		// name what it could not read.
		return "nix eval .#" + e.Output + ": flake.lock was written by a newer Nix than this one (nix said: " + e.Msg + ")"
	}
	return "nix eval .#" + e.Output + ": " + e.Msg
}

// fetchMarkers are what nix (its curl downloads, and git's fetches) says
// when an input could not be fetched.
var fetchMarkers = []string{
	"unable to download", "resolve host", "Couldn't connect", "Could not connect", "Failed to connect",
	"Connection refused", "Network is unreachable", "Timeout was reached", "unable to access",
}

func fetchFailed(stderr string) bool {
	return slices.ContainsFunc(fetchMarkers, func(m string) bool { return strings.Contains(stderr, m) })
}

// lastError is the last line of nix's stderr that says error, or err.
func lastError(stderr string, err error) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "error:") {
			if l == "error:" && i+1 < len(lines) {
				return strings.TrimSpace(lines[i+1])
			}
			return strings.TrimPrefix(l, "error: ")
		}
	}
	return err.Error()
}

// skipDirs are never searched for Brewfiles and nix.custom.conf.
var skipDirs = []string{".git", "node_modules", ".direnv", "result", ".cache"}

// findFiles looks for Brewfiles and nix.custom.conf files, at most three
// directories deep.
func (r *Repo) findFiles() error {
	root := r.Dir
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && (slices.Contains(skipDirs, d.Name()) || strings.Count(rel, "/") >= 3) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		switch name := d.Name(); {
		case name == "Brewfile" || strings.HasSuffix(name, ".Brewfile") || name == ".Brewfile":
			r.Brewfiles = append(r.Brewfiles, rel)
		case name == "nix.custom.conf":
			r.NixConfs = append(r.NixConfs, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", root, err)
	}
	// The ones at the top first.
	byDepth := func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") }
	slices.SortStableFunc(r.Brewfiles, byDepth)
	slices.SortStableFunc(r.NixConfs, byDepth)
	return nil
}
