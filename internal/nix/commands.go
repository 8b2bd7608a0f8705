package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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
	if r.sys.k.MaxJobs != nil {
		argv = append(argv, "--max-jobs", strconv.Itoa(*r.sys.k.MaxJobs))
	}
	if r.sys.k.Cores != nil {
		argv = append(argv, "--cores", strconv.Itoa(*r.sys.k.Cores))
	}
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
	return parseClosureDiff(out.String()).String()
}
