package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/lazyregexp"
	"github.com/sysinit/sysinit/internal/step"
)

// flakeUpdate is the flake-update kind: it moves flake.lock to the newest
// revisions of the flake's inputs (all, or those listed in `inputs`) and
// can commit the result.
type flakeUpdate struct {
	s       *config.Step
	k       *flakeUpdateKeys
	env     *step.Env
	cfgDir  string
	workDir string
	ref     flakeRef
	nix     string
	nixErr  error
	git     string
	gitErr  error
}

// newFlakeUpdate builds a flake-update step.
func newFlakeUpdate(cfg *config.Config, s *config.Step, env *step.Env) (step.Step, error) {
	fu := &flakeUpdate{s: s, k: config.KeysOf[flakeUpdateKeys](s), env: env, cfgDir: cfg.Dir, workDir: cfg.Path(s.Dir)}
	flake := fu.k.Flake
	if flake == "" {
		flake = "."
	}
	ref, err := parseFlakeRef(flake, fu.workDir)
	if err != nil {
		return nil, err
	}
	if !ref.local() {
		return nil, fmt.Errorf("flake %q is not on this machine; flake-update rewrites a local flake.lock", flake)
	}
	fu.ref = ref
	fu.nix, _, fu.nixErr = lookNix(env)
	if fu.k.Commit {
		if fu.git, err = env.LookPath("git"); err != nil {
			fu.gitErr = &command.NotFoundError{Name: "git"}
		}
	}
	return fu, nil
}

// Updates reports that the step fetches: `refresh --update` forces it.
func (fu *flakeUpdate) Updates() bool { return true }

// Definition lists what the step does apart from flake.nix.
func (fu *flakeUpdate) Definition() []string {
	var l step.Lines
	l.Add("kind", KindFlakeUpdate)
	l.Add("flake", fu.ref.raw)
	if fu.nixErr != nil {
		l.Add("nix", "not found")
	} else {
		l.Add("nix", step.ToolID(fu.nix))
	}
	for _, in := range fu.k.Inputs {
		l.Add("inputs", in)
	}
	l.Add("commit", strconv.FormatBool(fu.k.Commit))
	if fu.k.Commit {
		l.Add("git", step.ToolID(fu.git))
	}
	for _, kv := range step.Environ(fu.s.Env) {
		l.Add("env", kv)
	}
	l.Add("dir", fu.s.Dir)
	return l.Sorted()
}

// Inputs is flake.nix alone: a new or changed input must be locked now,
// while module edits must not trigger an update, and flake.lock is what
// the step writes.
func (fu *flakeUpdate) Inputs(context.Context) (fingerprint.Spec, error) {
	return step.FileSpec(fu.cfgDir, filepath.Join(fu.ref.dir, "flake.nix"), nil)
}

// Intent says which of its two runs a refresh will do: move the pins, or
// lock only what flake.lock lacks.
func (fu *flakeUpdate) Intent(due bool) string {
	if due {
		if len(fu.k.Inputs) > 0 {
			return "moves the pins of " + strings.Join(fu.k.Inputs, ", ")
		}
		return "moves every pin (nix flake update)"
	}
	return "locks only what flake.lock lacks, moving no pin (not due: `every` or --update moves them)"
}

// Probe has nothing on the machine to compare: the lock is in the repo.
func (fu *flakeUpdate) Probe(context.Context, string) (string, error) { return "", nil }

// Run moves pins when the step is due (its `every` passed, or --update or
// --force): all inputs, or those in `inputs`. Run for any other reason —
// flake.nix was edited, the definition changed — it only locks what
// flake.lock lacks (`nix flake lock`), so that an edit never bumps pins.
// With commit, it commits flake.lock when it changed.
func (fu *flakeUpdate) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	if fu.nixErr != nil {
		return step.Outcome{}, fu.nixErr
	}
	if fu.k.Commit && fu.gitErr != nil {
		return step.Outcome{}, fu.gitErr
	}
	out := &syncWriter{w: rc.Out}
	progress := func(s string) {
		if rc.Progress != nil {
			rc.Progress(s)
		}
	}
	// Only an update's argv differs between versions.
	var ver Version
	if rc.Due {
		v, err := nixVersion(ctx, fu.env.Exec, fu.nix)
		if err != nil {
			return step.Outcome{}, err
		}
		ver = v
	}
	lock := filepath.Join(fu.ref.dir, "flake.lock")
	before, err := readOptional(lock)
	if err != nil {
		return step.Outcome{}, err
	}
	argv := flakeArgv(fu.nix, ver, fu.ref.base, fu.k.Inputs, rc.Due)
	op := "updating flake.lock"
	if rc.Due {
		progress("updating flake inputs")
	} else {
		op = "locking flake inputs"
		progress("locking inputs missing from flake.lock")
		fmt.Fprintln(out, "not due: locking the inputs flake.lock lacks, moving no pin (`every` or --update moves them)")
	}
	fmt.Fprintf(out, "+ %s\n", command.Join(argv))
	var stderr bytes.Buffer
	err = fu.env.Exec.Run(ctx, &command.Cmd{
		Argv: argv, Dir: fu.workDir, Env: step.Environ(fu.s.Env),
		Stdout: out, Stderr: io.MultiWriter(out, &stderr),
	})
	after, rerr := readOptional(lock)
	if names := unmatchedInputs(stderr.String()); len(names) > 0 {
		// Nix warns and exits 0: the pins the user asked for did not move.
		e := fu.unknownInputs(names, after)
		e.Rewritten, e.Err = rerr == nil && !bytes.Equal(before, after), err
		return step.Outcome{}, e
	}
	if err != nil {
		if le := newerLock(op, stderr.String(), "", err); le != nil {
			le.Nix = fu.nix
			if v, verr := nixVersion(ctx, fu.env.Exec, fu.nix); verr == nil {
				le.Nix = v.String() + ", " + fu.nix
			}
			return step.Outcome{}, le
		}
		if msg := firstError(stderr.String()); msg != "" {
			return step.Outcome{}, &nixError{Op: op, Msg: msg, Err: err}
		}
		return step.Outcome{}, fmt.Errorf("%s: %w", op, err)
	}
	if rerr != nil {
		return step.Outcome{}, rerr
	}
	if !rc.Due {
		// `nix flake lock` takes no names, so nix cannot say that one
		// matches nothing: flake.lock, which now holds every input, can.
		if names := unlockedNames(after, fu.k.Inputs); len(names) > 0 {
			e := fu.unknownInputs(names, after)
			e.Rewritten = !bytes.Equal(before, after)
			return step.Outcome{}, e
		}
	}
	if bytes.Equal(before, after) {
		note := "flake.lock unchanged"
		if !rc.Due {
			note += " (not due: nothing new to lock, no pin moved)"
		}
		// The last run moved the lock and then failed to commit it (a
		// hook refused, sysinit was killed): the commit is still owed.
		if fu.k.Commit && rc.Unfinished {
			owed, err := fu.lockModified(ctx)
			if err != nil {
				return step.Outcome{}, err
			}
			if owed {
				if err := fu.commit(ctx, out, "flake.lock: update", progress); err != nil {
					return step.Outcome{}, err
				}
				note = "flake.lock committed (its last run updated it and did not commit it)"
			}
		}
		return step.Outcome{Note: note, Unscheduled: !rc.Due}, nil
	}
	verb, label, subject := "updated", "inputs", "flake.lock: update"
	switch {
	case before == nil:
		verb = "created"
	case !rc.Due:
		label, subject = "locked", "flake.lock: lock new inputs"
	}
	note := "flake.lock " + verb
	if changed := changedInputs(before, after); len(changed) > 0 {
		note += " (" + label + ": " + strings.Join(changed, ", ") + ")"
	}
	if fu.k.Commit {
		if err := fu.commit(ctx, out, subject, progress); err != nil {
			return step.Outcome{}, err
		}
		note += ", committed"
	}
	return step.Outcome{Note: note, Unscheduled: !rc.Due}, nil
}

// commit commits flake.lock alone.
func (fu *flakeUpdate) commit(ctx context.Context, out io.Writer, subject string, progress func(string)) error {
	progress("committing flake.lock")
	argv := []string{fu.git, "commit", "-m", subject, "--", "flake.lock"}
	fmt.Fprintf(out, "+ %s\n", command.Join(argv))
	var gerr bytes.Buffer
	err := fu.env.Exec.Run(ctx, &command.Cmd{
		Argv: argv, Dir: fu.ref.dir, Env: step.Environ(fu.s.Env),
		Stdout: out, Stderr: io.MultiWriter(out, &gerr),
	})
	if err != nil {
		if last := lastLine(gerr.String()); last != "" {
			return fmt.Errorf("committing flake.lock (it was updated): %s: %w", last, err)
		}
		return fmt.Errorf("committing flake.lock (it was updated): %w", err)
	}
	return nil
}

// lockModified reports whether flake.lock differs from what git has
// committed.
func (fu *flakeUpdate) lockModified(ctx context.Context) (bool, error) {
	var st bytes.Buffer
	err := fu.env.Exec.Run(ctx, &command.Cmd{
		Argv: []string{fu.git, "status", "--porcelain", "--", "flake.lock"}, Dir: fu.ref.dir, Stdout: &st,
	})
	if err != nil {
		return false, fmt.Errorf("asking git whether flake.lock is committed: %w", err)
	}
	return strings.TrimSpace(st.String()) != "", nil
}

// flakeArgv is the command for nix version ver. Not due, it is `nix flake
// lock`, which adds inputs missing from flake.lock (or whose flake.nix
// entry changed) and moves no other, on every version. Due, it updates all
// inputs or the named ones: `nix flake update --flake FLAKE [INPUT…]` where
// update takes input names (flakeUpdateByName), else `nix flake update
// FLAKE` and `nix flake lock FLAKE --update-input INPUT…`. Given a path,
// a newer nix takes it for an input name and only warns.
func flakeArgv(nix string, ver Version, flake string, inputs []string, due bool) []string {
	switch {
	case !due:
		return []string{nix, "flake", "lock", flake}
	case ver.flakeUpdateByName():
		return append([]string{nix, "flake", "update", "--flake", flake}, inputs...)
	case len(inputs) == 0:
		return []string{nix, "flake", "update", flake}
	}
	argv := []string{nix, "flake", "lock", flake}
	for _, in := range inputs {
		argv = append(argv, "--update-input", in)
	}
	return argv
}

// unknownInputError is an input name nix found no input for. Nix only
// warns and exits 0, so without this the step would report "unchanged"
// while the pin the user asked for stayed where it was.
type unknownInputError struct {
	Names     []string // as nix printed them
	Flake     string   // the step's flake
	Known     []string // the inputs flake.lock locks, for the message
	Follows   []string // the inputs that follow another, for the message
	Rewritten bool     // nix rewrote flake.lock all the same (other inputs moved)
	Err       error    // nix's failure, if it also failed
}

func (e *unknownInputError) Error() string {
	var b strings.Builder
	b.WriteString("updating flake.lock: ")
	quoted := make([]string, len(e.Names))
	for i, n := range e.Names {
		quoted[i] = strconv.Quote(n)
	}
	if len(e.Names) == 1 {
		fmt.Fprintf(&b, "flake %s has no input %s", e.Flake, quoted[0])
	} else {
		fmt.Fprintf(&b, "flake %s has no inputs %s", e.Flake, strings.Join(quoted, ", "))
	}
	if len(e.Known) > 0 {
		b.WriteString(" (its inputs: " + strings.Join(e.Known, ", ") + ")")
	}
	for _, n := range e.Names {
		if slices.Contains(e.Follows, n) {
			fmt.Fprintf(&b, "; %q follows another input: name that one", n)
			break
		}
	}
	for _, n := range e.Names {
		if nixRefuses(n) {
			fmt.Fprintf(&b, "; nix names an input for an update by letters, digits, - and _ only, so %q names none", n)
			break
		}
	}
	b.WriteString("; check `inputs`")
	if e.Rewritten {
		b.WriteString("; flake.lock was rewritten for the other inputs and not committed")
	}
	return b.String()
}

func (e *unknownInputError) Unwrap() error { return e.Err }

// What each version prints for an input name that matches nothing (a
// warning; the exit status is 0):
//
//	≤ 2.18:     warning: the flag '--update-input X' does not match any input
//	≥ 2.19, Lix: warning: 'X' does not match any input of this flake
//	≥ 2.20:     warning: Invalid flake input 'X'. To update a specific flake, use 'nix flake update --flake X' instead.
//	            (then an error: X does not parse as an input path)
var unmatchedRE = lazyregexp.New(`(?m)^warning: (?:the flag '--update-input (.+)' does not match any input$|'(.+)' does not match any input of this flake$|Invalid flake input '([^']*)'\.)`)

// unmatchedInputs returns the input names nix said match nothing.
func unmatchedInputs(stderr string) []string {
	var names []string
	for _, m := range unmatchedRE().FindAllStringSubmatch(command.StripANSI(stderr), -1) {
		for _, n := range m[1:] {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// unknownInputs is the error for names that match no input of the
// flake.lock the run left.
func (fu *flakeUpdate) unknownInputs(names []string, lock []byte) *unknownInputError {
	return &unknownInputError{Names: names, Flake: fu.ref.raw, Known: lockedInputs(lock), Follows: followingInputs(lock)}
}

// flakeLock is what sysinit reads of a flake.lock: its nodes' inputs, each
// a node's name or, for one that follows another, an input path.
type flakeLock struct {
	Root  string `json:"root"`
	Nodes map[string]struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	} `json:"nodes"`
}

// parseLock reads lock; false when it is no flake.lock with a root node.
func parseLock(lock []byte) (*flakeLock, bool) {
	var l flakeLock
	if json.Unmarshal(lock, &l) != nil {
		return nil, false
	}
	_, ok := l.Nodes[l.Root]
	return &l, ok
}

// lockedInputs names the root inputs flake.lock locks; nil when it cannot.
func lockedInputs(lock []byte) []string { return rootInputs(lock, false) }

// followingInputs names the root inputs that follow another.
func followingInputs(lock []byte) []string { return rootInputs(lock, true) }

// rootInputs names the root inputs flake.lock locks itself, or, with
// follows, those that follow another input.
func rootInputs(lock []byte, follows bool) []string {
	l, ok := parseLock(lock)
	if !ok {
		return nil
	}
	var names []string
	for name, to := range l.Nodes[l.Root].Inputs {
		// One that follows another (["nixpkgs"]) is no input nix updates.
		var node string
		if (json.Unmarshal(to, &node) == nil) != follows {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// inputNameRE is what nix takes for an element of an input path (its
// flakeIdRegex): `nix flake update dot.ted` refuses the name ("invalid
// flake input path element" in 2.8, "Invalid flake input" since 2.20).
var inputNameRE = lazyregexp.New(`^[a-zA-Z][a-zA-Z0-9_-]*$`)

// nixRefuses reports whether nix takes name for no input path.
func nixRefuses(name string) bool {
	for part := range strings.SplitSeq(name, "/") {
		if !inputNameRE().MatchString(part) {
			return true
		}
	}
	return false
}

// unlockedNames returns the names (input paths, as `nix flake update`
// takes them: nixpkgs, home-manager/nixpkgs) that name no input flake.lock
// locks itself: each part must lead to a node, not to a follows, as nix
// updates only those. Nil when the lock cannot be read.
func unlockedNames(lock []byte, names []string) []string {
	l, ok := parseLock(lock)
	if len(names) == 0 || !ok {
		return nil
	}
	var bad []string
	for _, name := range names {
		if nixRefuses(name) {
			if !slices.Contains(bad, name) {
				bad = append(bad, name)
			}
			continue
		}
		node := l.Root
		for part := range strings.SplitSeq(name, "/") {
			var next string
			if json.Unmarshal(l.Nodes[node].Inputs[part], &next) != nil {
				node = ""
				break
			}
			node = next
		}
		if _, ok := l.Nodes[node]; (!ok || node == "") && !slices.Contains(bad, name) {
			bad = append(bad, name)
		}
	}
	return bad
}

func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(command.StripANSI(s)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// changedInputs names the lock nodes whose locked revision differs.
func changedInputs(before, after []byte) []string {
	type lockFile struct {
		Nodes map[string]struct {
			Locked json.RawMessage `json:"locked"`
		} `json:"nodes"`
	}
	var b, a lockFile
	if len(before) > 0 && json.Unmarshal(before, &b) != nil {
		return nil
	}
	if json.Unmarshal(after, &a) != nil {
		return nil
	}
	canon := func(m json.RawMessage) string {
		var buf bytes.Buffer
		if json.Compact(&buf, m) != nil {
			return string(m)
		}
		return buf.String()
	}
	seen := map[string]bool{}
	var out []string
	for name, n := range a.Nodes {
		seen[name] = true
		if o, ok := b.Nodes[name]; !ok || canon(o.Locked) != canon(n.Locked) {
			if len(n.Locked) > 0 {
				out = append(out, name)
			}
		}
	}
	for name, n := range b.Nodes {
		if !seen[name] && len(n.Locked) > 0 {
			out = append(out, name+" (removed)")
		}
	}
	sort.Strings(out)
	return out
}

// Unavailable reports a missing nix (or git, to commit): the step is not
// applicable here.
func (fu *flakeUpdate) Unavailable() string {
	if why := unavailable(fu.nixErr); why != "" {
		return why
	}
	return unavailable(fu.gitErr)
}
