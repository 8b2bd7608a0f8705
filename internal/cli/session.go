package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/kinds"
	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
	"github.com/sysinit/sysinit/internal/step"
)

var errNoConfig = errors.New("no sysinit.toml found")

// session is a loaded config with its state store, ready to plan.
type session struct {
	cfg       *config.Config
	steps     map[string]step.Step
	storePath string
	store     *state.Store
	records   map[string]state.Record
	cache     *fingerprint.Cache
	graphs    *nix.Graphs // nil when no nix step names an entry
	exec      command.Runner
	planner   *plan.Planner
	shared    *step.Session // what the steps share: ssh connections to hosts
	// analysesPath holds what the steps' command lines run (see
	// step.Analyses), beside the store.
	analysesPath string
}

// registry lists the step kinds this build knows.
func registry() *step.Registry { return kinds.Registry() }

// configPath resolves -C and --config, or walks up to sysinit.toml.
func (a *app) configPath() (string, error) {
	dir := a.dir
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "", usageError{fmt.Errorf("-C %s: no such directory", dir)}
		}
	}
	if a.configFile != "" && filepath.IsAbs(a.configFile) {
		// No working directory needed: it may be gone (a deleted
		// directory a shell or launchd left sysinit in).
		return a.configFile, nil
	}
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("finding the working directory (use -C DIR or an absolute --config): %w", err)
		}
		dir = wd
	}
	if a.configFile != "" {
		p := a.configFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p, nil
	}
	p, err := config.Find(dir)
	if err != nil {
		return "", fmt.Errorf("%w in %s or any parent directory", errNoConfig, dir)
	}
	return p, nil
}

// stateDir holds sysinit's logs: $XDG_STATE_HOME/sysinit (see
// state.BaseDir).
func (a *app) stateDir() (string, error) {
	d, err := state.BaseDir(a.getenv, "XDG_STATE_HOME", ".local/state")
	return filepath.Join(d, "sysinit"), err
}

// loadConfig finds and loads the config. A config file that cannot be
// read is a usage error, like an invalid one.
func (a *app) loadConfig() (*config.Config, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, err
	}
	a.givenConfig = path
	cfg, err := config.Load(path, kinds.Decls())
	var ce config.Errors
	if err != nil && !errors.As(err, &ce) {
		return nil, usageError{err}
	}
	if err == nil && len(cfg.Steps) == 0 {
		a.warn(cfg.File + " declares no steps: add [steps.NAME] tables (`sysinit help config` lists every key)")
	}
	return cfg, err
}

// open loads the config, builds its steps and opens the state store.
// Read-only sessions never write a byte.
func (a *app) open(readOnly bool) (*session, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return a.openConfig(cfg, readOnly, command.Exec{Root: os.Geteuid() == 0})
}

// lookPathOnce is exec.LookPath remembering its answers: every command
// step, `requires` and the planner ask for sh and friends, and each
// look-up stats the PATH entries — work the no-change path does once.
func lookPathOnce() func(string) (string, error) {
	type found struct {
		path string
		err  error
	}
	seen := map[string]found{}
	var mu sync.Mutex
	return func(name string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		f, ok := seen[name]
		if !ok {
			f.path, f.err = exec.LookPath(name)
			seen[name] = f
		}
		return f.path, f.err
	}
}

// openConfig builds the steps of cfg, running programs through x, and
// opens the state store.
func (a *app) openConfig(cfg *config.Config, readOnly bool, x command.Exec) (*session, error) {
	var err error
	s := &session{cfg: cfg, exec: x, steps: map[string]step.Step{}}
	look := lookPathOnce()
	s.shared = step.NewSession()
	env := &step.Env{Exec: s.exec, Getenv: a.getenv, LookPath: look, Self: os.Executable, Session: s.shared}
	reg := registry()
	for _, cs := range cfg.Steps {
		st, err := reg.New(cfg, cs, env)
		if err != nil {
			return nil, err
		}
		s.steps[cs.Name] = st
	}
	// The nix steps with entry wait for the stored graph cache: they get
	// it below, or nothing if the session fails first.
	s.graphs = nix.AttachGraphs(s.steps)
	defer func() { _ = s.graphs.Load(nil, nil) }()
	var id state.ConfigID
	if s.storePath, id, err = a.storePath(a.givenConfig, !readOnly); err != nil {
		return nil, err
	}
	stateDir, err := a.stateDir()
	if err != nil {
		return nil, err
	}
	// What the steps' command lines run, as a refresh last read it: the
	// steps and the planner use it from Prefetch on.
	s.analysesPath = analysesPath(s.storePath)
	env.Analyses = loadAnalyses(s.analysesPath)
	s.planner = &plan.Planner{
		Analyses: env.Analyses,
		Config:   cfg,
		Steps:    s.steps,
		Scanner: &fingerprint.Scanner{
			Root:   cfg.Dir,
			Ignore: []string{filepath.Dir(s.storePath), stateDir},
		},
		Exec:     s.exec,
		Now:      time.Now,
		GOOS:     runtime.GOOS,
		LookPath: look,
	}
	// Reading the steps' inputs (a git index of 20,000 files takes a few
	// milliseconds) overlaps loading the state.
	s.planner.Prefetch(context.Background())
	s.store, err = state.Open(s.storePath, a.storeOptions(readOnly, id))
	if err != nil {
		return nil, err
	}
	if s.records, err = s.store.Records(); err != nil {
		s.store.Close()
		return nil, err
	}
	unfinished, err := s.store.Unfinished()
	if err != nil {
		s.store.Close()
		return nil, err
	}
	data, graphData, err := s.store.Caches()
	if err != nil {
		s.store.Close()
		return nil, err
	}
	if s.cache, err = fingerprint.LoadCache(data); err != nil {
		// A bad stat cache only costs re-hashing; start empty.
		s.cache, _ = fingerprint.LoadCache(nil)
	}
	// Likewise a bad graph cache only costs parsing the Nix files again.
	_ = s.graphs.Load(graphData, s.cache.Sums())
	shell, err := look("sh")
	if err != nil {
		s.store.Close()
		return nil, fmt.Errorf("finding sh: %w", err)
	}
	s.planner.Records, s.planner.OldManifest, s.planner.Shell = s.records, s.store.Manifest, shell
	s.planner.Unfinished = unfinished
	s.planner.Results = s.store.Results
	s.planner.Scanner.Cache = s.cache
	return s, nil
}

func (s *session) close() error {
	return errors.Join(s.shared.Close(), s.store.Close())
}

// plan decides the selected steps.
func (s *session) plan(ctx context.Context) (*plan.Plan, error) {
	return s.planner.Plan(ctx)
}
