package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// machine is the pretend computer one repo is refreshed on: a HOME with
// the XDG dirs, a fake nix store, the active-system link, a Homebrew
// prefix, and a bin dir of stand-ins first on PATH. Nothing outside the
// bench's work dir is touched.
type machine struct {
	root    string // the machine's directory
	repo    string // the config repo
	bin     string // stand-in wrappers
	home    string
	store   string
	current string // the active system link (/run/current-system)
	profile string
	prefix  string // Homebrew
	dest    string // where nix.custom.conf is installed
	log     string // stand-in call log
	cfg     *standinConfig
	env     []string // the environment of every process bench starts here
}

// newMachine lays out a machine under root for repo and writes its
// stand-ins. self is the sysinit binary; baseEnv the caller's environment.
func newMachine(root, repo, self string, lat Latencies, baseEnv []string) (*machine, error) {
	m := &machine{
		root:    root,
		repo:    repo,
		bin:     filepath.Join(root, "bin"),
		home:    filepath.Join(root, "home"),
		store:   filepath.Join(root, "nix", "store"),
		current: filepath.Join(root, "run", "current-system"),
		log:     filepath.Join(root, "calls.log"),
	}
	m.profile = filepath.Join(m.home, "nix/var/nix/profiles/system")
	m.prefix = filepath.Join(m.home, "homebrew")
	m.dest = filepath.Join(m.home, "etc/nix/nix.custom.conf")
	for _, d := range []string{m.bin, m.store, filepath.Dir(m.current), filepath.Dir(m.profile),
		filepath.Join(m.prefix, "bin"), filepath.Join(m.prefix, "Cellar"), filepath.Join(m.prefix, "Caskroom"),
		filepath.Join(m.prefix, "Library", "Taps"), filepath.Join(m.prefix, ".git"),
		filepath.Join(m.home, ".cache"), filepath.Join(m.home, ".local", "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating the bench machine: %w", err)
		}
	}
	m.cfg = &standinConfig{
		Log: m.log, Self: self, Path: filepath.Join(root, "standin.json"),
		Store: m.store, CurrentSystem: m.current, Profile: m.profile, BrewPrefix: m.prefix,
		Latency: lat,
	}
	if err := m.cfg.write(); err != nil {
		return nil, err
	}
	for _, name := range append([]string{"noop"}, StandinNames...) {
		if err := writeWrapper(filepath.Join(m.bin, name), self, m.cfg.Path, name); err != nil {
			return nil, err
		}
	}
	// brew is found through the prefix, as Homebrew is.
	if err := writeWrapper(filepath.Join(m.prefix, "bin", "brew"), self, m.cfg.Path, "brew"); err != nil {
		return nil, err
	}
	if err := touch(filepath.Join(m.prefix, ".git", "FETCH_HEAD")); err != nil {
		return nil, err
	}
	m.env = machineEnv(baseEnv, map[string]string{
		"HOME":                   m.home,
		"XDG_CACHE_HOME":         filepath.Join(m.home, ".cache"),
		"XDG_STATE_HOME":         filepath.Join(m.home, ".local", "state"),
		"XDG_CONFIG_HOME":        filepath.Join(m.home, ".config"),
		"PATH":                   m.bin + string(os.PathListSeparator) + lookupEnv(baseEnv, "PATH"),
		"NIX_STORE_DIR":          m.store,
		"SYSINIT_CURRENT_SYSTEM": m.current,
		"HOMEBREW_PREFIX":        m.prefix,
		"NO_COLOR":               "1",
		"TASK_TEMP_DIR":          "",
	})
	if os.Geteuid() == 0 {
		// brew refuses root; sysinit then runs it as SUDO_USER through
		// (the stand-in) sudo, as under `sudo sysinit`. sysinit checks
		// that SUDO_USER is a real user other than root: nobody is one on
		// every system.
		m.env = append(m.env, "SUDO_USER=nobody")
	}
	return m, nil
}

// writeWrapper writes a shell script that runs the stand-in name.
func writeWrapper(path, self, cfg, name string) error {
	script := fmt.Sprintf("#!/bin/sh\nexec %s bench __standin %s %s \"$@\"\n", shQuote(self), shQuote(cfg), name)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return fmt.Errorf("writing stand-in %s: %w", name, err)
	}
	return nil
}

// machineEnv is base with set applied (an empty value removes the
// variable) and the variables that would leak the user's own setup
// (NIX_CONFIG, a real sudo's SUDO_USER) dropped.
func machineEnv(base []string, set map[string]string) []string {
	drop := map[string]bool{"NIX_CONFIG": true, "SUDO_USER": true, "NIX_PATH": true, "HOMEBREW_REPOSITORY": true, "HOMEBREW_CELLAR": true, "TERM": true}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok || drop[k] {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return append(out, "TERM=dumb")
}

func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// calls returns how many stand-in calls are logged so far.
func (m *machine) calls() ([]Call, error) { return ReadCalls(m.log) }

// coldReset returns the machine to before anything was installed: an
// empty store, no profile or active system, no nix.custom.conf, nothing
// in Homebrew's Cellar, Caskroom or taps. FETCH_HEAD stays: when brew
// last fetched is not something a cold sysinit state changes.
func (m *machine) coldReset() error {
	var errs []error
	clear := func(dir string) {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	clear(m.store)
	clear(filepath.Dir(m.profile))
	clear(filepath.Join(m.prefix, "Cellar"))
	clear(filepath.Join(m.prefix, "Caskroom"))
	clear(filepath.Join(m.prefix, "Library", "Taps"))
	for _, p := range []string{m.current, m.dest} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("resetting the bench machine: %w", err)
	}
	return nil
}

// sysinitState is where sysinit keeps its state and logs on this machine.
func (m *machine) sysinitState() []string {
	return []string{filepath.Join(m.home, ".cache", "sysinit"), filepath.Join(m.home, ".local", "state", "sysinit")}
}

// proc is one process run and timed by bench.
type proc struct {
	argv   []string
	dir    string
	env    []string
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// timed runs argv in dir and returns its wall time. A failure carries the
// end of what it printed.
func timed(ctx context.Context, dir string, env []string, argv ...string) (time.Duration, *proc, error) {
	p := &proc{argv: argv, dir: dir, env: env}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return wall, p, fmt.Errorf("running %s in %s: %w\n%s", strings.Join(argv, " "), dir, err, tail(p.stderr.String()+p.stdout.String(), 15))
	}
	return wall, p, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
