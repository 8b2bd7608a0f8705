// Package brew is Homebrew for sysinit: the Brewfile parser and the
// brew-bundle step kind, which costs nothing when neither the Brewfile nor
// Homebrew's installed set changed.
//
// The kind decides from files alone: the Brewfile is an input, and the
// probe lists Cellar, Caskroom and Library/Taps under the prefix. No brew
// process starts unless one of them changed, the Brewfile computes
// something on this platform (then `brew bundle check` decides), or `brew
// update` is due by the age of FETCH_HEAD. When it runs, it installs only
// what those directories lack, with batched brew tap and brew install
// calls, and leaves to brew bundle what brew install cannot do. Only
// formulae, casks and taps are probed: a vscode, mas, go, cargo, npm, uv,
// flatpak or whalebrew entry removed by hand outside Homebrew is not seen
// until something else changes.
package brew

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/step"
)

// stepKind is the name of the step kind.
const stepKind = "brew-bundle"

// Register adds the brew-bundle kind to r.
func Register(r *step.Registry) { r.Add(bundleKind) }

var bundleKind = &step.Kind{
	Kind: config.Kind{
		Name:    stepKind,
		Summary: "install a Brewfile's packages, only what is missing",
		Doc: `Inputs: the Brewfile. Probe: Homebrew's installed set, read from its
Cellar, Caskroom and Taps — no brew process on a no-change refresh. Only
what is missing is installed, in batched ` + "`brew install`" + ` calls; what only
` + "`brew bundle`" + ` can do goes to it. Never as root: under sudo, brew runs as
` + "`$SUDO_USER`" + `. One brew-bundle step per Homebrew installation. With
` + "`nix-darwin`" + `, the Brewfile is the one a nix-darwin step's configuration
declares (homebrew.brewfile and homebrew.onActivation), read in that step's
evaluation: the step starts as soon as it has evaluated, beside the build
and activation, and runs only when that Brewfile or the installed set
changed. See docs/brew.md.`,
		Keys:     &bundleKeys{},
		CheckAll: checkAll,
		NoSudo:   "remove it; Homebrew refuses to run as root, and under sudo brew runs as you",
	},
	New: newBundle,
}

type bundleKeys struct {
	Brewfile    string        `key:"brewfile" default:"Brewfile" unless:"nix-darwin" path:"file" example:"brewfile = \"Brewfile\"" doc:"the Brewfile, relative to the config directory"`
	Cleanup     string        `key:"cleanup" default:"none" enum:"none,check,uninstall,zap" example:"cleanup = \"check\"" doc:"what to do with what the Brewfile does not list: none, check (report what brew bundle cleanup would remove), uninstall, zap"`
	UpdateEvery time.Duration `key:"update-every" example:"update-every = \"24h\"" doc:"run brew update at most this often (judged from Homebrew's own FETCH_HEAD); --update forces it"`
	Upgrade     bool          `key:"upgrade" example:"upgrade = true" doc:"upgrade what is outdated (brew bundle install --upgrade); the install is then left to brew bundle"`
	Prefix      string        `key:"prefix" example:"prefix = \"/opt/homebrew\"" doc:"the Homebrew prefix; default $HOMEBREW_PREFIX or the standard places"`
	NixDarwin   string        `key:"nix-darwin" example:"nix-darwin = \"system\"" doc:"take the Brewfile from this nix-darwin step's configuration instead of a file: homebrew.brewfile, with homebrew.onActivation's cleanup, upgrade, autoUpdate (update-every = 5m unless set) and extraFlags, read in that step's one evaluation; the step starts once it has evaluated, beside its build and activation. Set homebrew.enable = false there, or activation runs brew bundle too"`
}

// LeaderStep names the nix-darwin step the Brewfile comes from (see
// step.LeaderKeys).
func (k *bundleKeys) LeaderStep() string { return k.NixDarwin }

// NixDarwinOf returns the nix-darwin step a brew-bundle step takes its
// Brewfile from (its nix-darwin key), for commands that read Brewfiles
// (migrate); "" for a step of another kind or one with a Brewfile file.
func NixDarwinOf(s *config.Step) string {
	if s.Kind != stepKind {
		return ""
	}
	return config.KeysOf[bundleKeys](s).NixDarwin
}

// BrewfileOf returns the Brewfile a brew-bundle step installs from, for
// commands that read it (migrate); ok is false for a step of another kind,
// or one that takes its Brewfile from nix-darwin (NixDarwinOf).
func BrewfileOf(cfg *config.Config, s *config.Step) (path string, ok bool) {
	if s.Kind != stepKind || config.KeysOf[bundleKeys](s).NixDarwin != "" {
		return "", false
	}
	name := config.KeysOf[bundleKeys](s).Brewfile
	if name == "" {
		name = "Brewfile"
	}
	return cfg.Path(name), true
}

// geteuid is a seam: tests run as root here, and must still check both
// sides of the never-as-root rule.
var geteuid = os.Geteuid

// hostPlatform is a seam: tests read Brewfiles as another platform would.
var hostPlatform = runningPlatform

// errRoot is returned when sysinit runs as root without sudo: brew refuses
// root, and there is no user to run it as.
var errRoot = errors.New("brew refuses to run as root; run sysinit as your user")

// bundle is a brew-bundle step.
type bundle struct {
	s        *config.Step
	k        *bundleKeys
	env      *step.Env
	cfgDir   string
	dir      string // where brew runs
	brewfile string // absolute
	home     *install
	findErr  error
	geteuid  func() int
	now      func() time.Time
	platform platform // what the Brewfile's OS.mac? and the like answer

	// nixDarwinSteps names the config's nix-darwin steps, for advice.
	nixDarwinSteps string

	mu     sync.Mutex
	parsed struct { // the last parse, by content
		src []byte
		bf  *Brewfile
		err error
	}
	// nix is what the nix-darwin step it follows exported (see Follow).
	nix struct {
		export string
		known  bool
		h      *fromNix
		err    error
	}
}

// newBundle builds a brew-bundle step. A missing Homebrew is not an error here —
// the step may be for another OS — but Probe and Run report it.
func newBundle(cfg *config.Config, s *config.Step, env *step.Env) (step.Step, error) {
	k := config.KeysOf[bundleKeys](s)
	switch k.Cleanup {
	case "", "none", "check", "uninstall", "zap":
	default:
		return nil, fmt.Errorf("cleanup = %q: want none, check, uninstall or zap", k.Cleanup)
	}
	name := k.Brewfile
	if name == "" {
		name = "Brewfile"
	}
	b := &bundle{
		s:        s,
		k:        k,
		env:      env,
		cfgDir:   cfg.Dir,
		dir:      cfg.Path(s.Dir),
		brewfile: cfg.Path(name),
		geteuid:  geteuid,
		now:      time.Now,
		platform: hostPlatform(),

		nixDarwinSteps: nixDarwinSteps(cfg),
	}
	if env.Getenv("HOMEBREW_TEST_GENERIC_OS") != "" || s.Env["HOMEBREW_TEST_GENERIC_OS"] != "" {
		// Then brew answers no to OS.mac? and OS.linux? alike (os.rb).
		b.platform.OS = ""
	}
	home, findErr, err := find(cfg, s, env)
	if err != nil {
		return nil, err
	}
	b.home, b.findErr = home, findErr
	if err := sharedPrefix(cfg, s, env, home); err != nil {
		return nil, err
	}
	return b, nil
}

// find locates the Homebrew installation a step manages. findErr is that
// it is not installed; err, that the step's prefix cannot be read.
func find(cfg *config.Config, s *config.Step, env *step.Env) (in *install, findErr, err error) {
	prefix := config.KeysOf[bundleKeys](s).Prefix
	if prefix != "" && !filepath.IsAbs(prefix) {
		p, err := config.ExpandHome("prefix", prefix, env.Getenv)
		if err != nil {
			return nil, nil, err
		}
		prefix = cfg.Path(p)
	}
	in, findErr = locate(prefix, env.Getenv, env.LookPath, standardPrefixes)
	return in, findErr, nil
}

// sharedPrefix refuses a second brew-bundle step on the Homebrew
// installation of one declared before it, where both apply: the listing
// each records would take the other's installs for drift, so each refresh
// would run both, and the cleanup of either would remove what the other
// installed. Only the two Brewfiles together say what that Homebrew should
// hold; brew bundle takes one.
func sharedPrefix(cfg *config.Config, s *config.Step, env *step.Env, home *install) error {
	if home == nil || !applies(s, env) {
		return nil
	}
	mine := realPath(home.prefix)
	for _, o := range cfg.Steps {
		if o == s {
			return nil
		}
		if o.Kind != stepKind || !applies(o, env) {
			continue
		}
		other, _, err := find(cfg, o, env)
		if err != nil || other == nil || realPath(other.prefix) != mine {
			continue
		}
		at, ok := s.Keys["prefix"]
		if !ok {
			at = s.Pos
		}
		return config.Errors{{Pos: at,
			Msg:  fmt.Sprintf("step %q: the Homebrew at %s is also step %q's", s.Name, home.prefix, o.Name),
			Hint: "keep one brew-bundle step per Homebrew installation: merge the Brewfiles, or keep the steps apart with `os` or `requires`; each would take the other's installs for drift, and its cleanup would remove them",
		}}
	}
	return nil
}

// applies reports whether a step is for this machine, as plan decides
// from its os and requires.
func applies(s *config.Step, env *step.Env) bool {
	if len(s.OS) > 0 && !slices.Contains(s.OS, hostPlatform().OS) {
		return false
	}
	for _, prog := range s.Requires {
		if env.LookPath == nil {
			return false
		}
		if _, err := env.LookPath(prog); err != nil {
			return false
		}
	}
	return true
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

func (b *bundle) relBrewfile() string {
	if b.k.NixDarwin != "" {
		return "homebrew.brewfile of step " + b.k.NixDarwin
	}
	rel, err := filepath.Rel(b.cfgDir, b.brewfile)
	if err != nil {
		return b.brewfile
	}
	return filepath.ToSlash(rel)
}

// parse reads the Brewfile. Definition and Probe both need it in one
// plan; the second parse is skipped when the bytes are the same.
func (b *bundle) parse() (*Brewfile, error) {
	src, err := b.brewfileText()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.parsed.bf != nil || b.parsed.err != nil {
		if bytes.Equal(b.parsed.src, src) {
			return b.parsed.bf, b.parsed.err
		}
	}
	bf, err := Parse(b.relBrewfile(), bytes.NewReader(src))
	b.parsed.src, b.parsed.bf, b.parsed.err = src, bf, err
	return bf, err
}

// Definition is everything but the Brewfile's content that decides what
// the step does.
func (b *bundle) Definition() []string {
	var l step.Lines
	l.Add("kind", stepKind)
	if b.k.NixDarwin != "" {
		b.nixDefinition(l.Add)
	} else {
		l.Add("brewfile", b.relBrewfile())
	}
	brew := ""
	if b.home != nil {
		brew = b.home.brew
	}
	l.Add("brew", step.ToolID(brew))
	l.Add("dir", b.s.Dir)
	l.Add("cleanup", b.cleanup())
	l.Add("upgrade", strconv.FormatBool(b.upgrade()))
	l.Add("update-every", b.updateEvery().String())
	for _, kv := range step.Environ(b.s.Env) {
		l.Add("env", kv)
	}
	// A parse error is not reported here: Probe reports it, and the step
	// runs.
	if bf, err := b.parse(); err == nil {
		if len(bf.DynamicOn(b.platform)) > 0 {
			l.Add("dynamic", "true")
		}
		if bf.PlatformDependent() {
			// What the file declares changes with the platform it is
			// read on (an arm64 or an amd64 build of sysinit).
			l.Add("platform", b.platform.String())
		}
	}
	return l.Sorted()
}

// Inputs are the Brewfile and any extra globs.
func (b *bundle) Inputs(context.Context) (fingerprint.Spec, error) {
	if b.k.NixDarwin != "" {
		// The Brewfile is in the definition.
		return fingerprint.Spec{Patterns: b.s.Inputs}, nil
	}
	return step.FileSpec(b.cfgDir, b.brewfile, b.s.Inputs)
}

// Updates is true: `refresh --update` runs `brew update` now.
func (b *bundle) Updates() bool { return true }

// Probe compares Homebrew's installed set with the one the last success
// recorded, and says when the Brewfile is dynamic or `brew update` is due.
// It reads files only.
func (b *bundle) Probe(_ context.Context, token string) (string, error) {
	if b.findErr != nil {
		return "", b.findErr
	}
	bf, err := b.parse()
	if err != nil {
		return "", err
	}
	cur, err := b.home.listing()
	if err != nil {
		return "", err
	}
	var drift []string
	if token = withoutNixCheck(token); cur != token {
		drift = append(drift, describeChange(token, cur))
	}
	if dyn := bf.DynamicOn(b.platform); len(dyn) > 0 {
		d := dyn[0]
		drift = append(drift, fmt.Sprintf("dynamic Brewfile (line %d: %s): brew bundle check decides", d.Line, d.Text))
	}
	due, why, err := b.home.updateDue(b.updateEvery(), b.now())
	if err != nil {
		return "", err
	}
	if due {
		drift = append(drift, why)
	}
	return strings.Join(drift, "; "), nil
}

// runAs says whom brew runs as: "" for the current user, SUDO_USER under
// sudo. Plain root is refused, and so is a SUDO_USER that is root under
// another name ("#0", an alias of uid 0): it is the uid that counts.
func (b *bundle) runAs() (string, error) {
	if b.geteuid() != 0 {
		return "", nil
	}
	name := b.env.Getenv("SUDO_USER")
	if name == "" {
		return "", errRoot
	}
	uid, err := lookupUID(name)
	if err != nil {
		return "", fmt.Errorf("finding SUDO_USER %q to run brew as: %w", name, err)
	}
	if uid == 0 {
		return "", fmt.Errorf("SUDO_USER %q is uid 0: %w", name, errRoot)
	}
	return name, nil
}

// lookupUID resolves a user as sudo -u does: "#UID", or a name.
func lookupUID(name string) (uint64, error) {
	if id, ok := strings.CutPrefix(name, "#"); ok {
		return strconv.ParseUint(id, 10, 32)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(u.Uid, 10, 32)
}

// Run brings Homebrew in line with the Brewfile:
//
//	brew update                                       when due, or --update
//	brew tap USER/REPO [URL]                          each missing tap
//	brew install --formula NAME... [FLAG...]          the missing formulae
//	brew install --cask NAME... [FLAG...] --adopt     the missing casks
//	brew bundle check --no-upgrade --file=BREWFILE    when brew must decide
//	brew bundle install --no-upgrade --file=BREWFILE  only then, if it is unsatisfied
//	brew bundle cleanup --file=BREWFILE               cleanup = "check" (exit 1 is a report)
//	brew bundle cleanup --force --file=BREWFILE       cleanup = "uninstall"
//	brew bundle cleanup --force --zap --file=BREWFILE cleanup = "zap"
//
// What is missing comes from Homebrew's directories (see install.go);
// brew install gets one call per set of flags. brew bundle check decides
// — and brew bundle install follows when it is unsatisfied — when the
// Brewfile computes what it declares, when upgrade = true (only brew knows
// what is outdated; check then drops --no-upgrade and install gets
// --upgrade), for the entries brew install cannot take, when something
// installed is still not found in those directories (an alias brew did
// not link), and on --force. Every brew runs with
// HOMEBREW_NO_AUTO_UPDATE=1, and as SUDO_USER when sysinit runs under
// sudo. The token is the installed set as listed after all of it, and
// what the nix-darwin check found (see Advice).
func (b *bundle) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	if b.findErr != nil {
		return step.Outcome{}, b.findErr
	}
	user, err := b.runAs()
	if err != nil {
		return step.Outcome{}, err
	}
	due, _, err := b.home.updateDue(b.updateEvery(), b.now())
	if err != nil {
		return step.Outcome{}, err
	}
	brewfile := b.brewfile
	if b.k.NixDarwin != "" {
		path, remove, err := b.writeBrewfile()
		if err != nil {
			return step.Outcome{}, err
		}
		defer remove()
		brewfile = path
	}
	progress := rc.Progress
	if progress == nil {
		progress = func(string) {}
	}
	r := &brewRun{b: b, ctx: ctx, out: rc.Out, user: user, progress: progress, file: "--file=" + brewfile}
	var notes []string

	if due || rc.Update {
		progress("brew update")
		if err := r.run(nil, "update"); err != nil {
			return step.Outcome{}, fmt.Errorf("brew update: %w", err)
		}
		notes = append(notes, "brew updated")
	}

	note, err := r.install(rc.Force)
	if err != nil {
		return step.Outcome{}, err
	}
	notes = append(notes, note...)

	file := r.file
	switch b.cleanup() {
	case "check":
		progress("brew bundle cleanup")
		var got bundleOutput
		err := r.run(&got, "bundle", "cleanup", file)
		switch {
		case err == nil:
		case reported(err, got.wouldRemove()) && ctx.Err() == nil:
			// Exit 1 means "something would be removed": a report, not a
			// failure.
			notes = append(notes, got.wouldNote())
		default:
			return step.Outcome{}, fmt.Errorf("brew bundle cleanup: %w", err)
		}
	case "uninstall", "zap":
		progress("brew bundle cleanup")
		args := []string{"bundle", "cleanup", "--force", file}
		if b.cleanup() == "zap" {
			args = []string{"bundle", "cleanup", "--force", "--zap", file}
		}
		var got bundleOutput
		if err := r.run(&got, args...); err != nil {
			return step.Outcome{}, fmt.Errorf("brew bundle cleanup: %w", err)
		}
		if n := got.removedNote(); n != "" {
			notes = append(notes, n)
		}
	}

	tok, err := b.home.listing()
	if err != nil {
		return step.Outcome{}, err
	}
	if b.k.NixDarwin == "" {
		// What plan and why will say about nix-darwin's Homebrew module,
		// so that they need not read the .nix files again while none
		// changes.
		tok += checkNixDarwin(nixFiles(b.cfgDir), b.now()).String()
	}
	return step.Outcome{Token: tok, Note: strings.Join(notes, "; ")}, nil
}

// install installs what the Brewfile declares and Homebrew lacks, and
// says what it did.
func (r *brewRun) install(force bool) ([]string, error) {
	b := r.b
	bf, err := b.parse()
	var entries []entry
	var dyn []dynamic
	if err == nil {
		entries, dyn = bf.On(b.platform)
	}
	switch {
	case err != nil:
		// brew reads it with Ruby, and says what is wrong if it cannot.
		return r.bundle(fmt.Sprintf("sysinit cannot read the Brewfile (%v)", err))
	case len(dyn) > 0:
		return r.bundle(fmt.Sprintf("the Brewfile computes what it declares (line %d: %s)", dyn[0].Line, dyn[0].Text))
	case b.upgrade():
		return r.bundle("upgrade = true, and only brew knows what is outdated")
	case len(b.extraFlags()) > 0:
		return r.bundle("homebrew.onActivation.extraFlags are flags of brew bundle install")
	}

	m := findMissing(entries, b.home, b.platform, skipLists(b.env.Getenv, b.s.Env))
	var notes, did []string
	for _, c := range m.calls {
		r.progress("brew " + strings.Join(c.args, " "))
		// As with --no-upgrade: an entry brew finds installed under
		// another name (an alias, a renamed formula) is not upgraded.
		if err := r.runEnv(nil, []string{"HOMEBREW_NO_INSTALL_UPGRADE=1"}, c.args...); err != nil {
			return nil, fmt.Errorf("brew %s: %w", shortArgv(c.args), err)
		}
		for _, w := range c.what {
			if b.home.has(w) {
				did = append(did, w.String())
			}
		}
	}
	if len(did) > 0 {
		notes = append(notes, listNote("installed", did))
	}
	why := ""
	switch absent := b.home.absent(m.present); {
	case len(m.bundle) > 0:
		why = "brew install cannot install:\n  " + strings.Join(m.bundle, "\n  ")
	case len(absent) > 0:
		// A wrong mapping must never record success with something
		// missing: what is still not found, brew decides about.
		var names []string
		for _, a := range absent {
			names = append(names, a.String())
		}
		why = "not found in Homebrew's directories: " + strings.Join(names, ", ") + " (an alias or a renamed formula?)"
	case force:
		why = "a forced run checks everything"
	}
	if why != "" {
		more, err := r.bundle(why)
		if len(did) > 0 && len(more) == 1 && more[0] == allInstalled {
			more = nil
		}
		return append(notes, more...), err
	}
	if len(did) == 0 {
		notes = append(notes, allInstalled)
	}
	return notes, nil
}

const allInstalled = "all installed; nothing to do"

// shortArgv is a brew call's argv for an error message, with at most three
// names.
func shortArgv(args []string) string {
	var out []string
	names := 0
	for _, a := range args {
		if strings.HasPrefix(a, "-") || len(out) < 1 {
			out = append(out, a)
			continue
		}
		names++
		if names <= 3 {
			out = append(out, a)
		}
	}
	if names > 3 {
		out = append(out, fmt.Sprintf("(and %d more)", names-3))
	}
	return strings.Join(out, " ")
}

// bundle leaves the Brewfile to brew bundle, saying why in the log: check,
// and install if it is unsatisfied.
func (r *brewRun) bundle(why string) ([]string, error) {
	b := r.b
	if r.out != nil {
		fmt.Fprintf(r.out, "sysinit: brew bundle decides: %s\n", why)
	}
	file := r.file
	checkArgs := []string{"bundle", "check", "--no-upgrade", file}
	installArgs := []string{"bundle", "install", "--no-upgrade", file}
	if b.upgrade() {
		// check then also reports outdated dependencies, so that install
		// upgrades them.
		checkArgs = []string{"bundle", "check", file}
		installArgs = []string{"bundle", "install", "--upgrade", file}
	}
	r.progress("brew bundle check")
	var checked bundleOutput
	err := r.run(&checked, checkArgs...)
	switch {
	case err == nil:
		return []string{allInstalled}, nil
	case reported(err, checked.isUnsatisfied()) && r.ctx.Err() == nil:
		r.progress("brew bundle install")
		installArgs = append(installArgs, b.extraFlags()...)
		var got bundleOutput
		if err := r.run(&got, installArgs...); err != nil {
			return nil, fmt.Errorf("brew bundle install: %w", err)
		}
		return []string{got.installNote()}, nil
	}
	return nil, fmt.Errorf("brew bundle check: %w", err)
}

// reported tells the exit 1 by which check and cleanup report ("something
// is missing", "something would be removed") from brew failing, which also
// exits 1 but says "Error: …" (as when it refuses root). said is whether
// the output held the report itself.
func reported(err error, said bool) bool {
	var xe *command.ExitError
	if !errors.As(err, &xe) || xe.Code != 1 {
		return false
	}
	if said {
		return true
	}
	for _, l := range xe.Tail {
		if strings.HasPrefix(command.StripANSI(l), "Error:") {
			return false
		}
	}
	return true
}

// brewRun starts brew processes for one Run.
type brewRun struct {
	b        *bundle
	ctx      context.Context
	out      io.Writer
	user     string
	progress func(string)
	file     string // --file=BREWFILE
}

func (r *brewRun) run(collect *bundleOutput, args ...string) error {
	return r.runEnv(collect, nil, args...)
}

// runEnv runs brew with extra environment variables.
func (r *brewRun) runEnv(collect *bundleOutput, extra []string, args ...string) error {
	env := append(append(step.Environ(r.b.s.Env), "HOMEBREW_NO_AUTO_UPDATE=1"), extra...)
	out := r.out
	if out == nil {
		out = io.Discard
	}
	if collect != nil {
		out = io.MultiWriter(out, collect)
	}
	// Both streams go to the log and to the collector, which like rc.Out
	// takes writes from two goroutines.
	return r.b.env.Exec.Run(r.ctx, &command.Cmd{
		Argv:   append([]string{r.b.home.brew}, args...),
		Dir:    r.b.dir,
		Env:    env,
		Stdout: out,
		Stderr: out,
		AsUser: r.user,
	})
}

// bundleOutput keeps what brew bundle said it did, line by line.
type bundleOutput struct {
	mu        sync.Mutex
	lines     command.LineWriter
	installed []string // Installing/Upgrading/Tapping NAME
	would     []string // cleanup: "formula x", "cask y", "tap z"
	section   string
	removed   []string // cleanup --force: "Uninstalled 2 formulae"
	// unsatisfied: check said it cannot satisfy the Brewfile.
	unsatisfied bool
}

func (o *bundleOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	if o.lines.Emit == nil {
		o.lines.Emit = func(l string) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.line(l)
		}
	}
	o.mu.Unlock()
	return o.lines.Write(p)
}

var wouldSections = map[string]string{
	"Would uninstall casks:":             "cask",
	"Would uninstall formulae:":          "formula",
	"Would untap:":                       "tap",
	"Would uninstall VSCode extensions:": "vscode",
}

func (o *bundleOutput) line(l string) {
	l = command.StripANSI(l)
	if strings.HasPrefix(l, "brew bundle can't satisfy your Brewfile's dependencies") {
		o.unsatisfied = true
		return
	}
	for _, verb := range []struct{ prefix, format string }{{"Installing ", "%s"}, {"Upgrading ", "%s (upgraded)"}, {"Tapping ", "tap %s"}} {
		if name, ok := strings.CutPrefix(l, verb.prefix); ok && name != "" && !strings.Contains(name, " ") {
			o.installed = append(o.installed, fmt.Sprintf(verb.format, name))
			return
		}
	}
	if kind, ok := wouldSections[l]; ok {
		o.section = kind
		return
	}
	if strings.HasPrefix(l, "Would ") || strings.HasPrefix(l, "Run `brew bundle cleanup") {
		o.section = ""
		return
	}
	if strings.HasPrefix(l, "Uninstalled ") || strings.HasPrefix(l, "Untapping ") {
		o.removed = append(o.removed, strings.TrimSuffix(l, "..."))
		return
	}
	if o.section != "" {
		for _, name := range strings.Fields(l) {
			o.would = append(o.would, o.section+" "+name)
		}
	}
}

func listNote(prefix string, items []string) string {
	const show = 5
	s := strings.Join(items[:min(show, len(items))], ", ")
	if len(items) > show {
		s += fmt.Sprintf(", and %d more", len(items)-show)
	}
	return fmt.Sprintf("%s %d: %s", prefix, len(items), s)
}

func (o *bundleOutput) isUnsatisfied() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.unsatisfied
}

func (o *bundleOutput) wouldRemove() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.would) > 0
}

func (o *bundleOutput) installNote() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.installed) == 0 {
		return "brew bundle install ran"
	}
	return listNote("brew bundle installed", o.installed)
}

func (o *bundleOutput) wouldNote() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.would) == 0 {
		return "cleanup would remove something (see the log)"
	}
	return listNote("cleanup would remove", o.would)
}

func (o *bundleOutput) removedNote() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.removed, ", ")
}

// Unavailable reports that no Homebrew is installed: the step fails
// before anything runs. A `prefix` set in the config that holds no brew
// is reported when the step runs.
func (b *bundle) Unavailable() string {
	if b.findErr != nil && errors.Is(b.findErr, errNotFound) && b.k.Prefix == "" {
		return "Homebrew is not installed (install it from https://brew.sh; if it is, set `prefix` in the step or HOMEBREW_PREFIX)"
	}
	return ""
}
