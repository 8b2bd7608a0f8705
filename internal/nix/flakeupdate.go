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
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/step"
)

// FlakeUpdate is the flake-update kind: it moves flake.lock to the newest
// revisions of the flake's inputs (all, or those listed in `inputs`) and
// can commit the result.
type FlakeUpdate struct {
	s       *config.Step
	env     *step.Env
	cfgDir  string
	workDir string
	ref     flakeRef
	nix     string
	nixErr  error
	git     string
	gitErr  error
}

// NewFlakeUpdate builds a flake-update step.
func NewFlakeUpdate(cfg *config.Config, s *config.Step, env *step.Env) (step.Step, error) {
	fu := &FlakeUpdate{s: s, env: env, cfgDir: cfg.Dir, workDir: filepath.Join(cfg.Dir, s.Dir)}
	flake := s.Flake
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
	if s.Commit {
		if fu.git, err = env.LookPath("git"); err != nil {
			fu.gitErr = &command.NotFoundError{Name: "git"}
		}
	}
	return fu, nil
}

// Updates reports that the step fetches: `refresh --update` forces it.
func (fu *FlakeUpdate) Updates() bool { return true }

// Definition lists what the step does apart from flake.nix.
func (fu *FlakeUpdate) Definition() []string {
	var l step.Lines
	l.Add("kind", KindFlakeUpdate)
	l.Add("flake", fu.ref.raw)
	if fu.nixErr != nil {
		l.Add("nix", "not found")
	} else {
		l.Add("nix", fu.nix)
	}
	for _, in := range fu.s.Inputs {
		l.Add("inputs", in)
	}
	l.Add("commit", strconv.FormatBool(fu.s.Commit))
	if fu.s.Commit {
		l.Add("git", fu.git)
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
func (fu *FlakeUpdate) Inputs(context.Context) (fingerprint.Spec, error) {
	return step.FileSpec(fu.cfgDir, filepath.Join(fu.ref.dir, "flake.nix"), nil)
}

// Probe has nothing on the machine to compare: the lock is in the repo.
func (fu *FlakeUpdate) Probe(context.Context, string) (string, error) { return "", nil }

// Run updates flake.lock and, with commit, commits it when it changed.
func (fu *FlakeUpdate) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	if fu.nixErr != nil {
		return step.Outcome{}, fu.nixErr
	}
	if fu.s.Commit && fu.gitErr != nil {
		return step.Outcome{}, fu.gitErr
	}
	out := &syncWriter{w: rc.Out}
	progress := func(s string) {
		if rc.Progress != nil {
			rc.Progress(s)
		}
	}
	ver, err := nixVersion(ctx, fu.env.Exec, fu.nix)
	if err != nil {
		return step.Outcome{}, err
	}
	lock := filepath.Join(fu.ref.dir, "flake.lock")
	before, err := readOptional(lock)
	if err != nil {
		return step.Outcome{}, err
	}
	argv := updateArgv(fu.nix, ver, fu.ref.base, fu.s.Inputs)
	progress("updating flake inputs")
	fmt.Fprintf(out, "+ %s\n", command.Join(argv))
	var stderr bytes.Buffer
	err = fu.env.Exec.Run(ctx, &command.Cmd{
		Argv: argv, Dir: fu.workDir, Env: step.Environ(fu.s.Env),
		Stdout: out, Stderr: io.MultiWriter(out, &stderr),
	})
	if err != nil {
		if msg := firstError(stderr.String()); msg != "" {
			return step.Outcome{}, &Error{Op: "updating flake.lock", Msg: msg, Err: err}
		}
		return step.Outcome{}, fmt.Errorf("updating flake.lock: %w", err)
	}
	after, err := readOptional(lock)
	if err != nil {
		return step.Outcome{}, err
	}
	if bytes.Equal(before, after) {
		return step.Outcome{Note: "flake.lock unchanged"}, nil
	}
	verb := "updated"
	if before == nil {
		verb = "created"
	}
	note := "flake.lock " + verb
	if changed := changedInputs(before, after); len(changed) > 0 {
		note += " (inputs: " + strings.Join(changed, ", ") + ")"
	}
	if fu.s.Commit {
		progress("committing flake.lock")
		argv := []string{fu.git, "commit", "-m", "flake.lock: update", "--", "flake.lock"}
		fmt.Fprintf(out, "+ %s\n", command.Join(argv))
		var gerr bytes.Buffer
		err := fu.env.Exec.Run(ctx, &command.Cmd{
			Argv: argv, Dir: fu.ref.dir, Env: step.Environ(fu.s.Env),
			Stdout: out, Stderr: io.MultiWriter(out, &gerr),
		})
		if err != nil {
			if last := lastLine(gerr.String()); last != "" {
				return step.Outcome{}, fmt.Errorf("committing flake.lock (it was updated): %s: %w", last, err)
			}
			return step.Outcome{}, fmt.Errorf("committing flake.lock (it was updated): %w", err)
		}
		note += ", committed"
	}
	return step.Outcome{Note: note}, nil
}

// updateArgv is the update command for nix version ver: `nix flake update
// INPUT...` exists from 2.19; before, `nix flake lock --update-input`.
func updateArgv(nix string, ver Version, flake string, inputs []string) []string {
	switch {
	case len(inputs) == 0:
		return []string{nix, "flake", "update", flake}
	case ver.AtLeast(2, 19):
		return append([]string{nix, "flake", "update", "--flake", flake}, inputs...)
	}
	argv := []string{nix, "flake", "lock", flake}
	for _, in := range inputs {
		argv = append(argv, "--update-input", in)
	}
	return argv
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

// Version is a nix version.
type Version struct {
	Major, Minor, Patch int
	Text                string // the `nix --version` line
}

// AtLeast reports whether v ≥ major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads `nix --version` output: "nix (Nix) 2.8.0",
// "nix (Determinate Nix 3.6.2) 2.29.0", "nix (Lix, like Nix) 2.91.1".
// The last version on the line is nix's own.
func ParseVersion(out string) (Version, error) {
	line := strings.TrimSpace(out)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	ms := versionRE.FindAllStringSubmatch(line, -1)
	if len(ms) == 0 {
		return Version{}, fmt.Errorf("no version in %q", line)
	}
	m := ms[len(ms)-1]
	v := Version{Text: line}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

var versions sync.Map // nix path → Version; nix does not change under a running sysinit

// nixVersion runs `nix --version` once per nix binary per process.
func nixVersion(ctx context.Context, exec command.Runner, nix string) (Version, error) {
	if v, ok := versions.Load(nix); ok {
		return v.(Version), nil
	}
	var out bytes.Buffer
	if err := exec.Run(ctx, &command.Cmd{Argv: []string{nix, "--version"}, Stdout: &out}); err != nil {
		return Version{}, fmt.Errorf("finding the nix version: %w", err)
	}
	v, err := ParseVersion(out.String())
	if err != nil {
		return Version{}, fmt.Errorf("finding the nix version: %w", err)
	}
	versions.Store(nix, v)
	return v, nil
}

// Unavailable reports a missing nix (or git, to commit): the step is not
// applicable here.
func (fu *FlakeUpdate) Unavailable() string {
	if why := unavailable(fu.nixErr); why != "" {
		return why
	}
	return unavailable(fu.gitErr)
}
