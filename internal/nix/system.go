package nix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/step"
)

// Kind names.
const (
	KindDarwin      = "nix-darwin"
	KindNixOS       = "nixos"
	KindHomeManager = "home-manager"
	KindProfile     = "nix-profile"
	KindFlakeUpdate = "flake-update"
)

// currentSystemEnv overrides /run/current-system for nix-darwin and nixos
// steps, so that tests (and odd set-ups) need not touch the real one.
const currentSystemEnv = "SYSINIT_CURRENT_SYSTEM"

const (
	defaultCurrentSystem = "/run/current-system"
	defaultSystemProfile = "/nix/var/nix/profiles/system"
)

// system is a step that builds a flake attribute and makes it the active
// one: nix-darwin, nixos, home-manager and nix-profile.
type system struct {
	kind    string
	s       *config.Step
	k       *systemKeys
	env     *step.Env
	cfgDir  string
	workDir string
	ref     flakeRef

	nix    string // resolved path of nix; "" when nixErr is set
	nixErr error
	nixEnv string

	profile    string // the profile nix-env sets
	profileErr error
	active     string // the link whose target is the active system
	// bootDefault is the profile when the step sets it beside the running
	// system (nix-darwin, nixos switch): the boot default, which must hold
	// the step's system too. "" when active is the profile, or the action
	// leaves it alone (test).
	bootDefault string
	sudo        bool
	store       string // the nix store directory

	// name is the configuration name from the flake fragment; "" means the
	// default, which is resolved at Run.
	name string

	hostOnce sync.Once
	host     string

	// The import graph, for a step with entry (see graph.go).
	cfg          *config.Config
	graphs       *Graphs
	graphsOnce   sync.Once
	othersOnce   sync.Once
	otherConfigs []otherConfig
	rootsOnce    sync.Once
	rootPaths    []string
	lastMu       sync.Mutex
	last         *graphResult
	buildOn      *config.Host // build-on's host; nil: build here

	// exportsHomebrew: a brew-bundle step takes its Brewfile from this
	// nix-darwin step, so its evaluation also reads config.homebrew (see
	// export.go).
	exportsHomebrew bool
}

// newSystem builds a nix-darwin, nixos, home-manager or nix-profile step.
func newSystem(cfg *config.Config, s *config.Step, env *step.Env) (step.Step, error) {
	sy := &system{kind: s.Kind, s: s, k: keysOf(s), env: env, cfgDir: cfg.Dir, workDir: cfg.Path(s.Dir), cfg: cfg}
	if sy.k.Flake == "" && s.Kind != KindProfile {
		sy.k.Flake = "."
	}
	ref, err := parseFlakeRef(sy.k.Flake, sy.workDir)
	if err != nil {
		return nil, err
	}
	sy.ref = ref
	sy.name = ref.fragment
	if s.Kind == KindProfile && sy.name == "" {
		return nil, fmt.Errorf("flake %q names no attribute; write it like %q", sy.k.Flake, sy.k.Flake+"#attr")
	}
	sy.resolveNix()
	sy.store = env.Getenv("NIX_STORE_DIR")
	if sy.store == "" {
		sy.store = "/nix/store"
	}
	switch s.Kind {
	case KindDarwin, KindNixOS:
		sy.sudo = s.Sudo == nil || *s.Sudo
	case KindHomeManager, KindProfile:
		sy.sudo = s.Sudo != nil && *s.Sudo
	default:
		return nil, fmt.Errorf("kind %q is not a nix system kind", s.Kind)
	}
	if sy.k.BuildOn != "" {
		sy.buildOn = cfg.Host(sy.k.BuildOn)
	}
	sy.exportsHomebrew = s.Kind == KindDarwin && step.Followed(cfg, s.Name)
	if s.Target != nil {
		// Acting on another machine: where it keeps its profile is its own.
		return newRemote(sy, s.Target)
	}
	// A profile that cannot be located (no $HOME) fails the probe and the
	// run, not the loading of the whole config.
	sy.profile, sy.profileErr = sy.profilePath()
	sy.active = sy.profile
	if s.Kind == KindDarwin || s.Kind == KindNixOS && sy.action() != "boot" {
		// `boot` only changes the boot default; /run/current-system stays.
		sy.active = defaultCurrentSystem
		if p := env.Getenv(currentSystemEnv); p != "" {
			sy.active = p
		}
		if sy.action() == "switch" && sy.active != sy.profile {
			// Switching sets the profile too: a profile moved since
			// (`nixos-rebuild boot` from another checkout, a rollback of
			// the profile alone) boots another system, which is drift
			// while the running one is still this step's.
			sy.bootDefault = sy.profile
		}
	}
	return sy, nil
}

// resolveNix finds nix and its nix-env. A missing nix is reported when the
// step runs, not when it is built, so that a config with nix steps still
// loads on a machine without nix.
func (sy *system) resolveNix() {
	sy.nix, sy.nixEnv, sy.nixErr = lookNix(sy.env)
}

func lookNix(env *step.Env) (nix, nixEnv string, err error) {
	nix, err = env.LookPath("nix")
	if err != nil {
		return "", "", &command.NotFoundError{Name: "nix"}
	}
	if nix, err = filepath.Abs(nix); err != nil {
		return "", "", fmt.Errorf("finding nix: %w", err)
	}
	// nix-env beside nix: sudo resets PATH, and its secure_path often
	// lacks the nix profile's bin.
	nixEnv = filepath.Join(filepath.Dir(nix), "nix-env")
	if _, err := os.Stat(nixEnv); err != nil {
		if nixEnv, err = env.LookPath("nix-env"); err != nil {
			return "", "", &command.NotFoundError{Name: "nix-env"}
		}
	}
	return nix, nixEnv, nil
}

func (sy *system) profilePath() (string, error) {
	if sy.k.Profile != "" {
		p, err := config.ExpandHome("profile", sy.k.Profile, sy.env.Getenv)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(sy.cfgDir, p)
		}
		return p, nil
	}
	switch sy.kind {
	case KindHomeManager:
		return homeManagerProfile(sy.env.Getenv)
	case KindProfile:
		return "", errors.New("a nix-profile step needs `profile`")
	}
	return defaultSystemProfile, nil
}

// homeManagerProfile is where home-manager keeps its generations:
// $XDG_STATE_HOME/nix/profiles/home-manager when ~/.local/state/nix/profiles
// exists (nix ≥ 2.14 puts user profiles there), else the per-user profile
// directory.
func homeManagerProfile(getenv func(string) string) (string, error) {
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("home-manager: $HOME is not set")
	}
	if _, err := os.Stat(filepath.Join(home, ".local/state/nix/profiles")); err == nil {
		state := getenv("XDG_STATE_HOME")
		if state == "" {
			state = filepath.Join(home, ".local/state")
		}
		return filepath.Join(state, "nix/profiles/home-manager"), nil
	}
	u, err := userName(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join("/nix/var/nix/profiles/per-user", u, "home-manager"), nil
}

func userName(getenv func(string) string) (string, error) {
	if u := getenv("USER"); u != "" {
		return u, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("finding the user name: %w", err)
	}
	return u.Username, nil
}

// attrFor is the attribute path that kind builds for configuration name.
func (sy *system) attrFor(name string) string {
	switch sy.kind {
	case KindDarwin:
		// darwin-rebuild splices the name in unquoted.
		return "darwinConfigurations." + name + ".system"
	case KindNixOS:
		return "nixosConfigurations." + quoteAttr(name) + ".config.system.build.toplevel"
	case KindHomeManager:
		return "homeConfigurations." + quoteAttr(name) + ".activationPackage"
	}
	return name
}

// definitionHost is the default configuration name as Definition sees it.
// Definition runs on every plan and must start no process, so it uses the
// kernel host name (short, on macOS, where LocalHostName usually equals
// it); Run asks `scutil --get LocalHostName` like darwin-rebuild does.
func (sy *system) definitionHost() string {
	h, err := os.Hostname()
	if err != nil {
		return "(unknown host: " + err.Error() + ")"
	}
	if sy.kind == KindDarwin {
		h, _, _ = strings.Cut(h, ".")
	}
	return h
}

// Definition lists what the step does apart from its input files.
func (sy *system) Definition() []string {
	var l step.Lines
	l.Add("kind", sy.kind)
	l.Add("flake", sy.k.Flake)
	switch {
	case sy.name != "":
		l.Add("attr", sy.attrFor(sy.name))
	case sy.kind == KindHomeManager:
		u, _ := userName(sy.env.Getenv)
		h := sy.definitionHost()
		l.Add("attr", sy.attrFor(u+"@"+h)+" or "+sy.attrFor(u))
	default:
		l.Add("attr", sy.attrFor(sy.definitionHost()))
	}
	if sy.nixErr != nil {
		l.Add("nix", "not found")
	} else {
		l.Add("nix", step.ToolID(sy.nix))
		l.Add("nix-env", step.ToolID(sy.nixEnv))
	}
	l.Add("impure", strconv.FormatBool(sy.k.Impure))
	for _, a := range sy.k.ExtraArgs {
		l.Add("extra-args", a)
	}
	if sy.k.MaxJobs != nil {
		l.Add("max-jobs", strconv.Itoa(*sy.k.MaxJobs))
	}
	if sy.k.Cores != nil {
		l.Add("cores", strconv.Itoa(*sy.k.Cores))
	}
	for _, kv := range step.Environ(sy.s.Env) {
		l.Add("env", kv)
	}
	if sy.profileErr != nil {
		l.Add("profile", "error: "+sy.profileErr.Error())
	} else {
		l.Add("profile", sy.profile)
	}
	l.Add("active", sy.active)
	if sy.k.Activate != "" {
		l.Add("activate", sy.k.Activate)
	}
	if sy.kind == KindNixOS {
		l.Add("action", sy.action())
	}
	l.Add("sudo", strconv.FormatBool(sy.sudo))
	l.Add("dir", sy.s.Dir)
	if sy.k.BuildOn != "" {
		l.Add("build-on", sy.k.BuildOn)
	}
	if sy.k.PushTo != "" {
		l.Add("push-to", sy.k.PushTo)
	}
	if sy.exportsHomebrew {
		// Its successes then record the Brewfile: one recorded before
		// holds none.
		l.Add("export", "homebrew")
	}
	return l.Sorted()
}

func (sy *system) action() string {
	if sy.k.Action == "" {
		return "switch"
	}
	return sy.k.Action
}

// Inputs is what nix sees of the flake: its git-tracked files and
// flake.lock — with entry, those the configuration can read — plus the
// step's extra globs.
func (sy *system) Inputs(ctx context.Context) (fingerprint.Spec, error) {
	var spec fingerprint.Spec
	var v *flakeView
	var err error
	if len(sy.k.Entry) > 0 {
		spec, err = sy.narrowedInputs(ctx)
		if err == nil {
			sy.lastMu.Lock()
			v = sy.last.view
			sy.lastMu.Unlock()
		}
	} else {
		v, err = viewFlake(sy.cfgDir, sy.ref, sy.s.Inputs)
		spec = v.spec
		if err == nil && !v.whole {
			spec, err = v.specOf(v.tracked, true)
		}
	}
	if err == nil {
		// What nix reads of this machine beyond the flake's source:
		// local overrides, inputs flake.lock holds no hash of.
		err = sy.addLocalInputs(&spec, v)
	}
	if err != nil {
		return spec, err
	}
	step.AddScripts(&spec, sy.Scripts(), sy.cfgDir)
	return spec, nil
}

// Scripts is the files of the repo that a nix-profile step's `activate`
// runs.
func (sy *system) Scripts() map[string]string {
	return sy.env.Analyses.ScriptsOf(sy.cfgDir, step.Script{Key: "activate", Cmd: sy.k.Activate, Dir: sy.workDir})
}

// NeedsSudo reports whether setting the profile and activating need root.
func (sy *system) NeedsSudo() bool { return sy.sudo }

// Probe compares the active system with the out path the last success
// applied. It only follows symlinks.
func (sy *system) Probe(_ context.Context, token string) (string, error) {
	if sy.active == "" {
		return "", sy.profileErr
	}
	active, err := activePath(sy.active, sy.store)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("changed outside sysinit: %s is missing, last applied %s", sy.active, token), nil
	}
	if err != nil {
		return "", err
	}
	if active != token {
		return fmt.Sprintf("changed outside sysinit: active %s, last applied %s", active, token), nil
	}
	if sy.bootDefault != "" {
		def, err := activePath(sy.bootDefault, sy.store)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Sprintf("changed outside sysinit: the boot default %s is missing, last applied %s", sy.bootDefault, token), nil
		}
		if err != nil {
			return "", err
		}
		if def != token {
			return fmt.Sprintf("changed outside sysinit: the boot default %s points at %s, last applied %s", sy.bootDefault, def, token), nil
		}
	}
	return "", nil
}

// applied is what the shortcuts compare a result with: the active system
// when the boot default (for a step that sets it beside the running
// system) holds it too, else "" — switching again then sets the profile.
func (sy *system) applied(active string) string {
	if sy.bootDefault == "" || active == "" {
		return active
	}
	if def, err := activePath(sy.bootDefault, sy.store); err != nil || def != active {
		return ""
	}
	return active
}

// activePath follows the symlink chain from link (a profile, or
// /run/current-system) to the store path it ends at.
func activePath(link, store string) (string, error) {
	p := link
	for hops := 0; ; hops++ {
		if filepath.Dir(p) == store {
			return p, nil
		}
		if hops == 40 {
			return "", fmt.Errorf("reading %s: too many levels of symbolic links", link)
		}
		target, err := os.Readlink(p)
		if err != nil {
			if errors.Is(err, syscall.EINVAL) {
				return p, nil // not a link: whatever it is, it is not a store path
			}
			if errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			return "", fmt.Errorf("reading %s: %w", link, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
}

// Unavailable reports a missing nix: the step fails with the fix.
func (sy *system) Unavailable() string { return unavailable(sy.nixErr) }

// unavailable says what is missing and how to fix it: a missing nix is
// most often a PATH without it (cron and launchd start programs with
// /usr/bin:/bin), not a machine without it.
func unavailable(err error) string {
	var nf *command.NotFoundError
	if errors.As(err, &nf) {
		return fmt.Sprintf("%s is not on PATH (%s): install Nix, or start sysinit with the PATH of your shell (cron and launchd give a minimal one)", nf.Name, os.Getenv("PATH"))
	}
	return ""
}
