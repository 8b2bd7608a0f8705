// Package step defines what a step kind is — how its inputs are found, how
// the machine is probed and how it runs — and holds the two core kinds,
// command and file. plan and runner see steps only through this interface,
// so they know nothing of nix or Homebrew.
package step

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
)

// Step is one configured step.
type Step interface {
	// Definition describes what the step does apart from its input files,
	// as sorted "key=value" lines: kind, command lines, flags, env values,
	// resolved tool paths. Any change re-runs the step.
	Definition() []string

	// Inputs says which files the step depends on.
	Inputs(ctx context.Context) (fingerprint.Spec, error)

	// Probe compares the machine with token, what the last success
	// recorded. It returns "" when they agree, or what differs. It must
	// be cheap — file reads, readlink — never a package manager launch.
	Probe(ctx context.Context, token string) (drift string, err error)

	// Run does the work.
	Run(ctx context.Context, rc *RunContext) (Outcome, error)
}

// Updater is implemented by steps that fetch from the network on their
// own schedule; `refresh --update` forces them.
type Updater interface {
	Updates() bool
}

// RunContext is what a step gets while it runs.
type RunContext struct {
	// Out receives everything the step and its children print: it goes to
	// the step's log and, line by line, to the live view. It is safe for
	// concurrent writes (stdout and stderr of a child arrive together).
	Out io.Writer
	// Progress replaces the step's status line in the live view.
	Progress func(line string)
	// Token is what the last success recorded ("" if none).
	Token string
	// Update is set by `refresh --update`.
	Update bool
	// Force is set when the user forced this step (`--force`): shortcuts
	// such as "the built system is already active" must not apply.
	Force bool
	// Redefined is set when what the step does differs from its last
	// success (or it has none): a changed activation command, env value,
	// flag or profile acts after a build, so a shortcut that absorbs input
	// edits ("the result is already active") must not apply.
	Redefined bool
	// Due is set when the step's schedule calls for it: its `every` has
	// passed, or the user forced it (--force, or --update for a step that
	// fetches). A step that fetches moves pins only when it is due; run for
	// any other reason (its inputs changed, it never ran here), it does only
	// what that change needs, and says so with Outcome.Unscheduled.
	Due bool
	// Unfinished is set when the step's last run started and did not
	// record a success: what it began (an install, then an on-change that
	// failed) may be half done, even where its files look in place.
	Unfinished bool
	// Confirm, when set (`refresh --ask`), is called by a step that
	// activates with what it is about to apply — a closure diff — after
	// building and before changing anything. A non-nil error (the user
	// said no, or was interrupted) means: change nothing and fail with it.
	// Nil means don't ask.
	Confirm func(ctx context.Context, summary string) error
	// Reuse is a token an earlier success recorded for exactly the inputs
	// and definition the step has now, still usable (see Reuser): the
	// step may go back to it instead of doing the work. "" when there is
	// none; never set on a forced or redefined run.
	Reuse string
	// ReuseExport is the Export that success recorded with Reuse: a step
	// that goes back to it without doing the work exports it again.
	ReuseExport string
	// Publish hands what the run has found for its followers (see
	// Follower) before the run ends: a nix-darwin step publishes the
	// Brewfile its evaluation gave before it builds, so that the
	// brew-bundle step taking it starts beside the build. A step that
	// publishes must also return the same in Outcome.Export. Never nil.
	Publish func(export string)
}

// Outcome is what a successful run reports.
type Outcome struct {
	Token string // recorded for the next Probe
	Note  string // what happened, for the summary ("nothing to switch")
	// Unscheduled says the run did what its changed inputs needed but not
	// what its schedule asks (a flake-update that locked a new input and
	// moved no pin): its `every` keeps counting from the last run that did.
	Unscheduled bool
	// Label names the result should it be offered for reuse later
	// ("generation 12"); "" when it has no name.
	Label string
	// Export is what the run found that other steps of the config take
	// (the Brewfile a nix-darwin configuration declares): it is recorded
	// with the success and its result, so that a follower knows it while
	// this step is up to date and does not run.
	Export string
}

// Follower is implemented by steps that work from what another step of
// the config exports — a brew-bundle step whose Brewfile a nix-darwin
// step evaluates. The kind lists that step in the follower's `after`;
// the runner starts the follower once the leader has published (or has
// ended), not once it has finished, and the plan gives the follower the
// leader's export before each decision: the one published in this run,
// else the one its last success recorded.
type Follower interface {
	// Leader names the step whose export this one works from.
	Leader() string
	// Follow sets the export the step decides and runs with; known is
	// false when none is known (the leader never recorded one).
	Follow(export string, known bool)
}

// Reuser is implemented by steps that can go back to a result they
// recorded before instead of doing the work again: when the inputs are
// again ones a success had, with the same definition, the plan offers that
// success's token in RunContext.Reuse (undoing an edit, checking out a
// branch built before). The runner keeps each success's token by its
// inputs for such steps.
type Reuser interface {
	// Reusable reports whether token, recorded by an earlier success, can
	// still be used as it is (a store path still present). The plan asks
	// it only when the step's inputs changed, never on the no-change path.
	Reusable(ctx context.Context, token string) (bool, error)
}

// Env is what kinds get when they are built: the machine, seen through
// seams the tests can point elsewhere.
type Env struct {
	Exec     command.Runner
	Getenv   func(string) string
	LookPath func(string) (string, error)
	// Self returns the path of the running sysinit, for the steps that run
	// its privileged helper (see InstallCommand); nil when there is none.
	Self func() (string, error)
	// Session is what the steps of this command share (nil: nothing).
	Session *Session
	// Analyses keeps what the steps' command lines run across runs (nil:
	// each plan reads their scripts afresh).
	Analyses *Analyses
}

// analyses is e's Analyses; nil for a nil Env.
func (e *Env) analyses() *Analyses {
	if e == nil {
		return nil
	}
	return e.Analyses
}

// Factory builds a step of one kind.
type Factory func(cfg *config.Config, s *config.Step, env *Env) (Step, error)

// Kind is a step kind: its declaration to the loader (name, keys, docs)
// and how its steps are built. A kind is added by writing one of these in
// the package that holds its code and adding it to the Registry.
type Kind struct {
	config.Kind
	New Factory
}

// Registry is the kinds a build knows.
type Registry struct {
	kinds []*Kind
	decls *config.Kinds
}

// NewRegistry returns a registry of kinds, in the order they are listed to
// users.
func NewRegistry(kinds ...*Kind) *Registry {
	r := &Registry{}
	r.Add(kinds...)
	return r
}

// Add adds kinds to r.
func (r *Registry) Add(kinds ...*Kind) {
	r.kinds = append(r.kinds, kinds...)
	r.decls = nil
}

// Kinds returns the declarations the loader reads configs with.
func (r *Registry) Kinds() *config.Kinds {
	if r.decls == nil {
		decls := make([]*config.Kind, len(r.kinds))
		for i, k := range r.kinds {
			decls[i] = &k.Kind
		}
		r.decls = config.NewKinds(decls...)
	}
	return r.decls
}

// Core returns a registry holding the kinds of this package.
func Core() *Registry { return NewRegistry(CommandKind, FileKind) }

// New builds the step s with the factory for its kind.
func (r *Registry) New(cfg *config.Config, s *config.Step, env *Env) (Step, error) {
	var f Factory
	for _, k := range r.kinds {
		if k.Name == s.Kind {
			f = k.New
		}
	}
	if f == nil {
		return nil, fmt.Errorf("%s: step %q: kind %q is not available in this build", s.Pos, s.Name, s.Kind)
	}
	st, err := f(cfg, s, env)
	if err != nil {
		return nil, fmt.Errorf("%s: step %q: %w", s.Pos, s.Name, err)
	}
	return st, nil
}

// Environ returns env as sorted K=V pairs.
func Environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Lines builds a sorted definition from key, value pairs; multi-valued
// keys appear once per value, in the order given.
type Lines []string

// Add appends key=value.
func (l *Lines) Add(key, value string) { *l = append(*l, key+"="+value) }

// Sorted returns the lines sorted, as Definition wants them.
func (l Lines) Sorted() []string {
	out := append([]string(nil), l...)
	sort.Stable(byKey(out))
	return out
}

// byKey sorts by the key part only, keeping the order of repeated keys.
type byKey []string

func (b byKey) Len() int           { return len(b) }
func (b byKey) Swap(i, j int)      { b[i], b[j] = b[j], b[i] }
func (b byKey) Less(i, j int) bool { return key(b[i]) < key(b[j]) }

func key(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '=' {
			return line[:i]
		}
	}
	return line
}

// Elevated is implemented by steps that need root for part of their work;
// the runner obtains a sudo ticket once, before anything starts.
type Elevated interface {
	NeedsSudo() bool
}

// FileSpec is the input set of a step built around one file (a file step's
// source, a Brewfile) plus the step's own patterns. A file outside the
// config directory is fingerprinted where it is, beside the patterns.
//
// The file is read through symlinks when it is used (cp, brew bundle), so
// it is fingerprinted where its links lead: an edit of the target, or a
// link pointed elsewhere, is a change.
func FileSpec(cfgDir, file string, patterns []string) (fingerprint.Spec, error) {
	if resolved, err := filepath.EvalSymlinks(file); err == nil {
		file = resolved
		// The config dir may itself be reached through a link.
		if d, err := filepath.EvalSymlinks(cfgDir); err == nil {
			cfgDir = d
		}
	}
	rel, err := filepath.Rel(cfgDir, file)
	if err != nil {
		return fingerprint.Spec{}, fmt.Errorf("locating %s: %w", file, err)
	}
	rel = filepath.ToSlash(rel)
	if rel != ".." && !strings.HasPrefix(rel, "../") {
		return fingerprint.Spec{Files: []string{rel}, Patterns: keepFile(patterns, rel)}, nil
	}
	if len(patterns) > 0 {
		// The scanner walks absolute paths from / beside the relative
		// patterns.
		return fingerprint.Spec{Files: []string{file}, Patterns: keepFile(patterns, filepath.ToSlash(file))}, nil
	}
	// Alone, it is fingerprinted from its own directory, as it always
	// was: the records of such steps stay valid across upgrades.
	return fingerprint.Spec{Root: filepath.Dir(file), Files: []string{filepath.Base(file)}}, nil
}

// keepFile returns patterns with file (a path as the patterns name it)
// included last. A listed file is left out when the last pattern matching it
// excludes it, which suits a flake's tracked files; but this file is what
// the step installs or reads, and `inputs = ["**", "!**/*.conf"]` must not
// make an edit of it "up to date".
func keepFile(patterns []string, file string) []string {
	if len(patterns) == 0 {
		return patterns
	}
	return append(slices.Clip(patterns), fingerprint.EscapeGlob(file))
}

// Advisor is implemented by steps with advice about the setup that is too
// costly to compute on every refresh: `plan` and `why` show it. token is
// what the step's last success recorded ("" if none), where a step may
// keep what it found then, so as not to look again when nothing changed.
type Advisor interface {
	Advice(token string) []string
}

// Intender is implemented by steps whose run does different work when it
// is due (its `every` passed, or --update/--force) than when it runs for
// another reason, so that `plan` and `why` can say which a refresh will do
// (a flake-update step run for a never-seen flake.nix locks, it does not
// update).
type Intender interface {
	Intent(due bool) string
}

// Availability is implemented by kinds that need a tool to be installed
// (nix, Homebrew). A step meant for this machine whose tool is missing
// fails, with the fix, before anything runs: a PATH without nix (cron,
// launchd) must not read as "nothing to do". Only `os` and `requires`,
// which the user writes, make a step not applicable.
type Availability interface {
	// Unavailable says what is missing and how to get it; "" if nothing is.
	Unavailable() string
}

// LeaderKeys is implemented by the keys of a kind whose steps follow
// another step (see Follower): the leader's kind asks, when its step is
// built, whether a step follows it and what it must export.
type LeaderKeys interface {
	// LeaderStep names the step followed; "" for none.
	LeaderStep() string
}

// Followed reports whether a step of cfg follows the step named name.
func Followed(cfg *config.Config, name string) bool {
	for _, s := range cfg.Steps {
		if k, ok := s.Own.(LeaderKeys); ok && k.LeaderStep() == name {
			return true
		}
	}
	return false
}
