package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/step"
)

// runner runs the nix commands of one step run.
type runner struct {
	sys *system
	rc  *step.RunContext
	out io.Writer // rc.Out, locked: a child's stdout and stderr both write to it
	// Where the build happens when not here (see buildPlace): more
	// arguments for nix build, more environment for every command.
	buildArgs []string
	env       []string
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
	if r.sys.k.Impure {
		a = append(a, "--impure")
	}
	return append(a, r.sys.k.ExtraArgs...)
}

// run runs c with the step's env and working directory, its output into
// the log.
func (r *runner) run(ctx context.Context, what string, c *command.Cmd) error {
	c.Env = append(append(step.Environ(r.sys.s.Env), r.env...), c.Env...)
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

// evalQuery is the one evaluation of a run: `nix eval --json
// FLAKE#CONFIG --apply FN`, where FN picks the derivation in the
// configuration and returns a small record of it (evalRecord). More
// attributes of the same configuration can be read in the same evaluation
// by adding them to fields.
type evalQuery struct {
	flake  flakeRef
	config string // the configuration's attribute path in the flake
	// name is a nix expression of root (the value at config) that gives
	// the configuration's name, or null when none fits; conf is the
	// configuration, of root and name; pick the derivation, of c (the
	// configuration).
	name, conf, pick string
	// attr is the derivation's attribute path (for messages and a build
	// by attribute); "" when the evaluation picks the name.
	attr string
	none string // the error when name is null
	// fields are more attributes of the configuration, read in the same
	// evaluation: a key of evalRecord.Fields → a nix expression of c, such
	// as "c.config.homebrew.brewfile". An expression that can fail fails
	// the evaluation: write `c.config.x or null` for optional ones. Keep
	// `outPath` out of a field's value: nix 2.8 prints an attribute set
	// with an outPath as that string in JSON.
	fields map[string]string
}

// what names the evaluation for the progress line.
func (q *evalQuery) what() string {
	if q.attr != "" {
		return q.attr
	}
	return q.config
}

// apply is the function given to --apply. Its keys avoid outPath and
// drvPath: nix 2.8's JSON turns a set with an outPath into that string.
func (q *evalQuery) apply() string {
	var b strings.Builder
	fmt.Fprintf(&b, "root: let name = %s; in if name == null then { name = null; } else let c = %s; x = %s; in { ", q.name, q.conf, q.pick)
	b.WriteString(`name = name; drv = x.drvPath; out = x.outPath; output = x.outputName or "out"; fields = { `)
	for _, k := range slices.Sorted(maps.Keys(q.fields)) {
		fmt.Fprintf(&b, "%s = %s; ", nixString(k), q.fields[k])
	}
	b.WriteString("}; }")
	return b.String()
}

// evalRecord is what the evaluation returns.
type evalRecord struct {
	Name   string                     `json:"name"`
	Drv    string                     `json:"drv"`    // the derivation's store path
	Out    string                     `json:"out"`    // its out path: outputs.${Output}
	Output string                     `json:"output"` // its output name, "out" for a system
	Fields map[string]json.RawMessage `json:"fields"` // evalQuery.fields, evaluated
	// stderr is what nix said while evaluating: the flake settings it
	// refused are read from it.
	stderr string
}

// evaluate runs the evaluation. The derivation it returns is in the store
// (evaluating drvPath writes it, as nix does without --read-only), so a
// build needs no second evaluation. stderr keeps what nix said, for
// flake settings it refused.
func (r *runner) evaluate(ctx context.Context, q *evalQuery) (*evalRecord, error) {
	argv := append([]string{r.sys.nix, "eval", "--json"}, r.commonArgs()...)
	inst := q.flake.installable(q.config)
	argv = append(argv, inst, "--apply", q.apply())
	var stdout, stderr bytes.Buffer
	what := "evaluating " + inst
	if err := r.run(ctx, what, &command.Cmd{Argv: argv, Stdout: &stdout, Stderr: io.MultiWriter(r.out, &stderr)}); err != nil {
		return nil, r.nixError(what, stderr.String(), err)
	}
	var rec struct {
		evalRecord
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rec); err != nil {
		return nil, fmt.Errorf("%s: reading nix eval --json output: %w", what, err)
	}
	if rec.Name == nil {
		return nil, errors.New(q.none)
	}
	rec.evalRecord.Name = *rec.Name
	rec.evalRecord.stderr = stderr.String()
	if !strings.HasSuffix(rec.Drv, ".drv") || rec.Out == "" || rec.Output == "" {
		return nil, fmt.Errorf("%s: nix eval gave no derivation: %s", what, strings.TrimSpace(stdout.String()))
	}
	return &rec.evalRecord, nil
}

// buildEvaluated builds the derivation ev names, which the evaluation put
// in the store, with the flake's nixConfig as nix applied it to the
// evaluation. When sysinit cannot tell what nix applied, it builds the
// attribute instead, letting nix evaluate again and apply it itself.
func (sy *system) buildEvaluated(ctx context.Context, r *runner, ev *evaluation) (string, error) {
	r.progress("building " + ev.attr)
	inst := sy.ref.installable(ev.attr)
	v := ev.v
	fc := sy.flakeConfig(v, ev.stderr, r.commonArgs(), "nix build "+inst)
	if fc.Fallback != "" {
		fmt.Fprintf(r.out, "note: building %s, which evaluates it again, so that nix applies flake.nix's nixConfig itself: %s\n", inst, fc.Fallback)
		return r.build(ctx, inst, "out")
	}
	for _, n := range fc.Notes {
		fmt.Fprintln(r.out, "warning: "+n)
	}
	return r.build(ctx, drvInstallable(v, ev.Drv, ev.Output), ev.Output, fc.Options...)
}

// drvInstallable names output of the derivation drv for `nix build`:
// DRV^OUTPUT from Nix 2.13 (and in every Lix and Determinate Nix); before,
// a bare DRV, which builds all its outputs. From Nix 2.15 a bare DRV is
// the .drv file itself, built by nothing.
func drvInstallable(v Version, drv, output string) string {
	if v.Flavour == FlavourNix && !v.AtLeast(2, 13) {
		return drv
	}
	return drv + "^" + output
}

// flakeConfig works out how the build gets the flake's nixConfig: the
// settings in flake.nix, judged as nix v does, beside what nix said while
// evaluating (stderr).
func (sy *system) flakeConfig(v Version, stderr string, args []string, retry string) flakeConfigPlan {
	fallback := func(format string, a ...any) flakeConfigPlan {
		return flakeConfigPlan{Fallback: fmt.Sprintf(format, a...)}
	}
	if !sy.ref.local() || sy.ref.pinned {
		return fallback("sysinit reads flake.nix only from a local working tree")
	}
	src, err := os.ReadFile(filepath.Join(sy.ref.dir, "flake.nix"))
	if err != nil {
		return fallback("%v", err)
	}
	settings, err := readNixConfig(src)
	if err != nil {
		return fallback("%v", err)
	}
	ignored := untrustedSettings(stderr)
	if len(settings) == 0 {
		return planFlakeConfig(nil, ignored, retry)
	}
	get := nixEnv(func(k string) string {
		if v, ok := sy.s.Env[k]; ok {
			return v
		}
		return sy.env.Getenv(k)
	})
	accept, err := acceptFlakeConfig(v, get, args)
	if err != nil {
		return fallback("reading nix's configuration: %v", err)
	}
	path, err := trustedListPath(v, get)
	if err != nil {
		return fallback("%v", err)
	}
	list, err := readTrustedList(path)
	if err != nil {
		return fallback("%v", err)
	}
	return planFlakeConfig(judgeFlakeSettings(settings, v, accept, list, path), ignored, retry)
}

// build builds installable and returns the path of its output; options
// come after the step's own flags, as a flake's settings do.
func (r *runner) build(ctx context.Context, installable, output string, options ...string) (string, error) {
	argv := []string{r.sys.nix, "build", "--no-link", "--json", "--log-format", "internal-json", "-v"}
	argv = append(argv, r.commonArgs()...)
	if r.sys.k.MaxJobs != nil {
		argv = append(argv, "--max-jobs", strconv.Itoa(*r.sys.k.MaxJobs))
	}
	if r.sys.k.Cores != nil {
		argv = append(argv, "--cores", strconv.Itoa(*r.sys.k.Cores))
	}
	argv = append(argv, r.buildArgs...)
	argv = append(argv, options...)
	argv = append(argv, installable)
	var stdout bytes.Buffer
	mon := newMonitor(r.out, r.progress)
	err := r.run(ctx, "building "+installable, &command.Cmd{Argv: argv, Stdout: &stdout, Stderr: mon})
	mon.Flush()
	if err != nil {
		what, errs := "building "+installable, strings.Join(mon.Errors(), "\n")
		if ue := r.sys.untracked(errs, err); ue != nil {
			return "", ue
		}
		if msg := buildFailure(mon.Errors(), mon.LogTail); msg != "" {
			return "", &nixError{Op: what, Msg: msg, Err: err}
		}
		return "", r.nixError(what, errs, err)
	}
	return parseBuildJSON(stdout.Bytes(), output)
}

// parseBuildJSON reads the path of output from `nix build --json` (nix
// 2.8 has no --print-out-paths); without that output, "out", else the
// first by name.
func parseBuildJSON(data []byte, output string) (string, error) {
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return "", fmt.Errorf("reading nix build --json output: %w", err)
	}
	if len(res) == 0 {
		return "", errors.New("reading nix build --json output: no results")
	}
	if out, ok := res[0].Outputs[output]; ok {
		return out, nil
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
	return parseClosureDiff(out.String()).String()
}
