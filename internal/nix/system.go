package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
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

// CurrentSystemEnv overrides /run/current-system for nix-darwin and nixos
// steps, so that tests (and odd set-ups) need not touch the real one.
const CurrentSystemEnv = "SYSINIT_CURRENT_SYSTEM"

const (
	defaultCurrentSystem = "/run/current-system"
	defaultSystemProfile = "/nix/var/nix/profiles/system"
)

// Register adds the nix kinds to r.
func Register(r step.Registry) {
	for _, k := range []string{KindDarwin, KindNixOS, KindHomeManager, KindProfile} {
		r[k] = NewSystem
	}
	r[KindFlakeUpdate] = NewFlakeUpdate
}

// System is a step that builds a flake attribute and makes it the active
// one: nix-darwin, nixos, home-manager and nix-profile.
type System struct {
	kind    string
	s       *config.Step
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
	sudo       bool
	store      string // the nix store directory

	// name is the configuration name from the flake fragment; "" means the
	// default, which is resolved at Run.
	name string

	hostOnce sync.Once
	host     string
}

// NewSystem builds a nix-darwin, nixos, home-manager or nix-profile step.
func NewSystem(cfg *config.Config, s *config.Step, env *step.Env) (step.Step, error) {
	sy := &System{kind: s.Kind, s: s, env: env, cfgDir: cfg.Dir, workDir: filepath.Join(cfg.Dir, s.Dir)}
	ref, err := parseFlakeRef(s.Flake, sy.workDir)
	if err != nil {
		return nil, err
	}
	sy.ref = ref
	sy.name = ref.fragment
	if s.Kind == KindProfile && sy.name == "" {
		return nil, fmt.Errorf("flake %q names no attribute; write it like %q", s.Flake, s.Flake+"#attr")
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
	// A profile that cannot be located (no $HOME) fails the probe and the
	// run, not the loading of the whole config.
	sy.profile, sy.profileErr = sy.profilePath()
	sy.active = sy.profile
	if s.Kind == KindDarwin || s.Kind == KindNixOS && sy.action() != "boot" {
		// `boot` only changes the boot default; /run/current-system stays.
		sy.active = defaultCurrentSystem
		if p := env.Getenv(CurrentSystemEnv); p != "" {
			sy.active = p
		}
	}
	return sy, nil
}

// resolveNix finds nix and its nix-env. A missing nix is reported when the
// step runs, not when it is built, so that a config with nix steps still
// loads on a machine without nix.
func (sy *System) resolveNix() {
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

func (sy *System) profilePath() (string, error) {
	if sy.s.Profile != "" {
		p, err := config.ExpandHome("profile", sy.s.Profile, sy.env.Getenv)
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
func (sy *System) attrFor(name string) string {
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
func (sy *System) definitionHost() string {
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
func (sy *System) Definition() []string {
	var l step.Lines
	l.Add("kind", sy.kind)
	l.Add("flake", sy.s.Flake)
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
	l.Add("impure", strconv.FormatBool(sy.s.Impure))
	for _, a := range sy.s.ExtraArgs {
		l.Add("extra-args", a)
	}
	if sy.s.MaxJobs != nil {
		l.Add("max-jobs", strconv.Itoa(*sy.s.MaxJobs))
	}
	if sy.s.Cores != nil {
		l.Add("cores", strconv.Itoa(*sy.s.Cores))
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
	if sy.s.Activate != "" {
		l.Add("activate", sy.s.Activate)
	}
	if sy.kind == KindNixOS {
		l.Add("action", sy.action())
	}
	l.Add("sudo", strconv.FormatBool(sy.sudo))
	l.Add("dir", sy.s.Dir)
	return l.Sorted()
}

func (sy *System) action() string {
	if sy.s.Action == "" {
		return "switch"
	}
	return sy.s.Action
}

// Inputs is what nix sees of the flake: its git-tracked files and
// flake.lock, plus the step's extra globs.
func (sy *System) Inputs(context.Context) (fingerprint.Spec, error) {
	spec, err := flakeInputs(sy.cfgDir, sy.ref, sy.s.Inputs)
	if err != nil {
		return spec, err
	}
	return spec, step.AddScripts(&spec, sy.Scripts(), sy.cfgDir)
}

// Scripts is the files of the repo that a nix-profile step's `activate`
// runs.
func (sy *System) Scripts() map[string]string {
	return step.ScriptsOf(sy.cfgDir, step.Script{Key: "activate", Cmd: sy.s.Activate, Dir: sy.workDir})
}

// NeedsSudo reports whether setting the profile and activating need root.
func (sy *System) NeedsSudo() bool { return sy.sudo }

// Probe compares the active system with the out path the last success
// applied. It only follows symlinks.
func (sy *System) Probe(_ context.Context, token string) (string, error) {
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
	return "", nil
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

// Run evaluates the out path; when it is already active and is what
// sysinit last applied, it stops there. Otherwise it builds as the invoking
// user, sets the profile and activates (with sudo where the kind needs it)
// and logs the closure diff.
func (sy *System) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	if sy.nixErr != nil {
		return step.Outcome{}, sy.nixErr
	}
	if sy.profileErr != nil {
		return step.Outcome{}, sy.profileErr
	}
	r := &runner{sys: sy, rc: rc, out: &syncWriter{w: rc.Out}}
	if sy.ref.local() {
		if src, err := sourceOf(sy.ref); err == nil && !src.inGit {
			fmt.Fprintln(r.out, "note: "+src.detail)
		}
	}
	attr, err := sy.resolveAttr(ctx, r)
	if err != nil {
		return step.Outcome{}, err
	}
	inst := sy.ref.installable(attr)
	r.progress("evaluating " + attr)
	out, err := r.eval(ctx, inst+".outPath")
	if err != nil {
		return step.Outcome{}, err
	}
	before, err := activePath(sy.active, sy.store)
	if errors.Is(err, fs.ErrNotExist) {
		before = ""
	} else if err != nil {
		return step.Outcome{}, err
	}
	// The shortcut absorbs input edits only: a changed activation command,
	// env value, action, profile or flag acts after the build, so it must
	// run even when the out path is the active one.
	if !rc.Force && !rc.Redefined && alreadyApplied(out, before, rc.Token) {
		fmt.Fprintf(r.out, "%s is already the active system\n", out)
		return step.Outcome{Token: out, Note: "evaluated: identical to the active system; nothing built or switched"}, nil
	}
	r.progress("building " + attr)
	built, err := r.build(ctx, inst)
	if err != nil {
		return step.Outcome{}, err
	}
	if built != out {
		fmt.Fprintf(r.out, "note: evaluation gave %s but the build produced %s; using the build\n", out, built)
	}
	// The closure diff needs the two store paths, not the switch: it runs
	// beside setting the profile and activating, off the critical path.
	diff := func(bool) string { return "" }
	if before != "" && before != built {
		diff = r.diffClosuresBeside(ctx, before, built)
	}
	note, err := sy.switchTo(ctx, r, built)
	if err != nil {
		diff(false)
		return step.Outcome{}, err
	}
	if d := diff(true); d != "" {
		note += "; " + d
	}
	return step.Outcome{Token: built, Note: note}, nil
}

// switchTo applies the built system and checks that it is the active one,
// returning the run's note.
func (sy *System) switchTo(ctx context.Context, r *runner, built string) (string, error) {
	if err := sy.apply(ctx, r, built); err != nil {
		return "", err
	}
	now, err := activePath(sy.active, sy.store)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if now != built {
		if now == "" {
			now = "nothing (it is missing)"
		}
		return "", fmt.Errorf("activation finished, but %s points at %s, not at the new system %s; the next run would see drift (set `profile` if the active system lives elsewhere)", sy.active, now, built)
	}
	return sy.switchedNote(), nil
}

// alreadyApplied decides the semantic skip: the evaluated out path is both
// the active system and what the last success recorded. Run applies it only
// when the step is neither forced nor redefined.
//
//	evaluated  active  recorded  skip?
//	X          X       X         yes: a comment edit, a reformat
//	X          X       Y or ""   no:  the profile moved but activation may have
//	                                  failed after it (nothing was recorded), or
//	                                  sysinit never applied it: activate again
//	X          Y       X         no:  drift (rolled back by hand): re-apply
//	X          Y       Y         no:  a real change
//	X          none    any       no:  nothing active yet
func alreadyApplied(evaluated, active, recorded string) bool {
	return evaluated != "" && evaluated == active && evaluated == recorded
}

func (sy *System) switchedNote() string {
	gen := generation(sy.profile)
	switch {
	case sy.kind == KindNixOS && sy.action() == "test":
		return "activated (test: not added to the boot menu)"
	case sy.kind == KindNixOS && sy.action() == "boot":
		if gen > 0 {
			return fmt.Sprintf("generation %d is the boot default", gen)
		}
		return "set as the boot default"
	case gen > 0:
		return fmt.Sprintf("switched to generation %d", gen)
	}
	return "switched"
}

// generation reads the profile's generation number from its link
// (system -> system-42-link); 0 when it cannot.
func generation(profile string) int {
	target, err := os.Readlink(profile)
	if err != nil {
		return 0
	}
	t := strings.TrimSuffix(filepath.Base(target), "-link")
	i := strings.LastIndexByte(t, '-')
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(t[i+1:])
	if err != nil {
		return 0
	}
	return n
}

// apply sets the profile and activates out, the way each tool does.
func (sy *System) apply(ctx context.Context, r *runner, out string) error {
	// home-manager's activate script links the generation itself; setting
	// the profile first would hide the old generation from its clean-up of
	// files the new one no longer manages. `nixos-rebuild test` leaves the
	// profile alone.
	setProfile := sy.kind != KindHomeManager && !(sy.kind == KindNixOS && sy.action() == "test")
	if setProfile {
		if !sy.sudo {
			if err := os.MkdirAll(filepath.Dir(sy.profile), 0o755); err != nil {
				return fmt.Errorf("creating the profile directory: %w", err)
			}
		}
		r.progress("setting profile " + sy.profile)
		if err := r.run(ctx, "setting the profile", &command.Cmd{
			Argv: []string{sy.nixEnv, "-p", sy.profile, "--set", out},
			Sudo: sy.sudo,
		}); err != nil {
			return err
		}
	}
	var c *command.Cmd
	switch sy.kind {
	case KindDarwin, KindHomeManager:
		c = &command.Cmd{Argv: []string{filepath.Join(out, "activate")}}
	case KindNixOS:
		c = &command.Cmd{Argv: []string{filepath.Join(out, "bin/switch-to-configuration"), sy.action()}}
	case KindProfile:
		if sy.s.Activate == "" {
			return nil
		}
		sh, err := sy.env.LookPath("sh")
		if err != nil {
			return &command.NotFoundError{Name: "sh"}
		}
		c = &command.Cmd{Argv: []string{sh, "-c", sy.s.Activate}, Env: []string{"SYSINIT_OUT=" + out}}
	}
	c.Sudo = sy.sudo
	c.Dir = sy.workDir
	r.progress("activating")
	return r.run(ctx, "activating "+out, c)
}

// resolveAttr settles the default configuration name: the host for
// nix-darwin (scutil, as darwin-rebuild) and nixos, user@host or user for
// home-manager, whichever the flake defines.
func (sy *System) resolveAttr(ctx context.Context, r *runner) (string, error) {
	if sy.name != "" {
		return sy.attrFor(sy.name), nil
	}
	switch sy.kind {
	case KindDarwin:
		sy.hostOnce.Do(func() { sy.host = sy.localHostName(ctx) })
		fmt.Fprintf(r.out, "configuration: %s (this host)\n", sy.host)
		return sy.attrFor(sy.host), nil
	case KindHomeManager:
		u, err := userName(sy.env.Getenv)
		if err != nil {
			return "", err
		}
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("finding the host name: %w", err)
		}
		long := u + "@" + h
		expr := fmt.Sprintf(`c: if c ? %s then %s else if c ? %s then %s else ""`, nixString(long), nixString(long), nixString(u), nixString(u))
		name, err := r.evalApply(ctx, sy.ref.installable("homeConfigurations"), expr)
		if err != nil {
			return "", err
		}
		if name == "" {
			return "", fmt.Errorf("flake %s defines neither homeConfigurations.%s nor homeConfigurations.%s", sy.ref.base, quoteAttr(long), quoteAttr(u))
		}
		fmt.Fprintf(r.out, "configuration: %s\n", name)
		return sy.attrFor(name), nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("finding the host name: %w", err)
	}
	return sy.attrFor(h), nil
}

// localHostName asks scutil, falling back to the short host name where
// there is no scutil (or it fails).
func (sy *System) localHostName(ctx context.Context) string {
	var out bytes.Buffer
	err := sy.env.Exec.Run(ctx, &command.Cmd{Argv: []string{"scutil", "--get", "LocalHostName"}, Stdout: &out})
	if h := strings.TrimSpace(out.String()); err == nil && h != "" {
		return h
	}
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// nixString quotes s as a nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// runner runs the nix commands of one step run.
type runner struct {
	sys *System
	rc  *step.RunContext
	out io.Writer // rc.Out, locked: a child's stdout and stderr both write to it
}

// syncWriter serialises writes from the goroutines copying a child's
// stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (r *runner) progress(s string) {
	if r.rc.Progress != nil {
		r.rc.Progress(s)
	}
}

// commonArgs are the flags every nix command of the step gets.
func (r *runner) commonArgs() []string {
	var a []string
	if r.sys.s.Impure {
		a = append(a, "--impure")
	}
	return append(a, r.sys.s.ExtraArgs...)
}

// run runs c with the step's env and working directory, its output into
// the log.
func (r *runner) run(ctx context.Context, what string, c *command.Cmd) error {
	c.Env = append(step.Environ(r.sys.s.Env), c.Env...)
	if c.Dir == "" {
		c.Dir = r.sys.workDir
	}
	if c.Stdout == nil {
		c.Stdout = r.out
	}
	if c.Stderr == nil {
		c.Stderr = r.out
	}
	fmt.Fprintf(r.out, "+ %s%s\n", sudoPrefix(c.Sudo), command.Join(c.Argv))
	if err := r.sys.env.Exec.Run(ctx, c); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func sudoPrefix(sudo bool) string {
	if sudo {
		return "sudo "
	}
	return ""
}

// eval prints the store path an installable evaluates to.
func (r *runner) eval(ctx context.Context, installable string) (string, error) {
	argv := append([]string{r.sys.nix, "eval", "--raw"}, r.commonArgs()...)
	return r.evalArgv(ctx, append(argv, installable), "evaluating "+installable)
}

// evalApply evaluates fn applied to installable, as a raw string.
func (r *runner) evalApply(ctx context.Context, installable, fn string) (string, error) {
	argv := append([]string{r.sys.nix, "eval", "--raw"}, r.commonArgs()...)
	return r.evalArgv(ctx, append(argv, installable, "--apply", fn), "evaluating "+installable)
}

func (r *runner) evalArgv(ctx context.Context, argv []string, what string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := r.run(ctx, what, &command.Cmd{Argv: argv, Stdout: &stdout, Stderr: io.MultiWriter(r.out, &stderr)})
	if err != nil {
		return "", r.nixError(what, stderr.String(), err)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// build builds installable and returns its out path.
func (r *runner) build(ctx context.Context, installable string) (string, error) {
	argv := []string{r.sys.nix, "build", "--no-link", "--json", "--log-format", "internal-json", "-v"}
	argv = append(argv, r.commonArgs()...)
	if r.sys.s.MaxJobs != nil {
		argv = append(argv, "--max-jobs", strconv.Itoa(*r.sys.s.MaxJobs))
	}
	if r.sys.s.Cores != nil {
		argv = append(argv, "--cores", strconv.Itoa(*r.sys.s.Cores))
	}
	argv = append(argv, installable)
	var stdout bytes.Buffer
	mon := NewMonitor(r.out, r.progress)
	err := r.run(ctx, "building "+installable, &command.Cmd{Argv: argv, Stdout: &stdout, Stderr: mon})
	mon.Flush()
	if err != nil {
		what, errs := "building "+installable, strings.Join(mon.Errors(), "\n")
		if ue := r.sys.untracked(errs, err); ue != nil {
			return "", ue
		}
		if msg := buildFailure(mon.Errors(), mon.LogTail); msg != "" {
			return "", &Error{Op: what, Msg: msg, Err: err}
		}
		return "", r.nixError(what, errs, err)
	}
	return parseBuildJSON(stdout.Bytes())
}

// parseBuildJSON reads the out path from `nix build --json` (nix 2.8 has
// no --print-out-paths).
func parseBuildJSON(data []byte) (string, error) {
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return "", fmt.Errorf("reading nix build --json output: %w", err)
	}
	if len(res) == 0 {
		return "", errors.New("reading nix build --json output: no results")
	}
	if out, ok := res[0].Outputs["out"]; ok {
		return out, nil
	}
	for _, k := range slices.Sorted(maps.Keys(res[0].Outputs)) {
		return res[0].Outputs[k], nil
	}
	return "", errors.New("reading nix build --json output: no outputs")
}

// diffClosures logs the closure diff and returns its summary. A failure
// here does not fail the step: the switch is done.
// diffClosuresBeside starts diffClosures and returns how to end it: with
// keep, wait for it and print its lines (after those of whatever ran
// meanwhile) and return its note; without, stop it and drop them.
func (r *runner) diffClosuresBeside(ctx context.Context, old, cur string) func(keep bool) string {
	ctx, cancel := context.WithCancel(ctx)
	var buf bytes.Buffer
	beside := &runner{sys: r.sys, rc: r.rc, out: &syncWriter{w: &buf}}
	done := make(chan string, 1)
	go func() { done <- beside.diffClosures(ctx, old, cur) }()
	return func(keep bool) string {
		if !keep {
			cancel()
		}
		note := <-done
		cancel()
		if !keep {
			return ""
		}
		_, _ = r.out.Write(buf.Bytes())
		return note
	}
}

func (r *runner) diffClosures(ctx context.Context, old, cur string) string {
	var out bytes.Buffer
	argv := []string{r.sys.nix, "store", "diff-closures", old, cur}
	err := r.run(ctx, "comparing closures", &command.Cmd{Argv: argv, Stdout: io.MultiWriter(r.out, &out)})
	if err != nil {
		fmt.Fprintf(r.out, "%v\n", err)
		return "closure diff unavailable (see the log)"
	}
	return ParseClosureDiff(out.String()).String()
}

// Unavailable reports a missing nix: the step is not applicable here.
func (sy *System) Unavailable() string { return unavailable(sy.nixErr) }

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
