// Package command is the one place sysinit starts other programs. Every
// child runs in its own process group so that an interrupt reaches it and
// everything it started, and every failure comes back as a typed error that
// carries the argv, the exit code and the last lines the child printed.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd describes one program to run.
type Cmd struct {
	Argv   []string
	Dir    string    // "" = the current directory
	Env    []string  // K=V added to the inherited environment
	Stdin  io.Reader // nil = no input
	Stdout io.Writer // nil = discarded
	Stderr io.Writer // nil = discarded
	// Sudo runs the program through `sudo -n`, passing Env along with env(1)
	// because sudo resets the environment. The caller obtains the ticket first.
	Sudo bool
	// AsUser runs the program as this user through `sudo -n -u USER -H`
	// (used to drop root for programs that refuse it, such as brew).
	AsUser string
}

// String is the command line as a user would type it, for messages.
func (c *Cmd) String() string { return Join(c.Argv) }

// Runner runs programs. Exec is the real one; tests of the core use it too,
// with stand-in programs on PATH.
type Runner interface {
	Run(ctx context.Context, c *Cmd) error
}

// ExitError is a program that ran and exited non-zero (or was killed).
type ExitError struct {
	Argv   []string
	Code   int      // -1 when killed by a signal
	Signal string   // the signal that killed it, if any
	Tail   []string // its last lines of stderr
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return fmt.Sprintf("%s: killed by %s", progName(e.Argv), e.Signal)
	}
	return fmt.Sprintf("%s: exit status %d", progName(e.Argv), e.Code)
}

// NotFoundError is a program that is not on PATH.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return e.Name + ": not found on PATH" }

func progName(argv []string) string {
	if len(argv) == 0 {
		return "command"
	}
	return filepath.Base(argv[0])
}

// Exec runs programs for real.
type Exec struct {
	// Grace is how long a child has between SIGTERM and SIGKILL after its
	// context ends. Zero means 5 seconds.
	Grace time.Duration
	// Kill, when closed, kills every child still running at once (a
	// second Ctrl-C), without waiting for the grace period.
	Kill <-chan struct{}
	// Root says sysinit already runs as root: Sudo commands run directly.
	Root bool
}

// TailLines is how many lines of stderr an ExitError keeps.
const TailLines = 20

// Run starts c and waits for it. When ctx ends, the child's whole process
// group gets SIGTERM, then SIGKILL after the grace period; Run returns only
// once the child has exited, with ctx.Err() wrapped in the error.
func (x Exec) Run(ctx context.Context, c *Cmd) error {
	argv, wrapped := c.argv(x.Root)
	if len(argv) == 0 {
		return errors.New("running command: empty argv")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return &NotFoundError{Name: argv[0]}
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = c.Dir
	if len(c.Env) > 0 && !wrapped {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	tail := &Tail{Max: TailLines}
	cmd.Stdout = orDiscard(c.Stdout)
	cmd.Stderr = io.MultiWriter(orDiscard(c.Stderr), tail)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background child that outlives the program keeps its output pipe
	// open; don't wait for it longer than this once the program exited.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", argv[0], err)
	}
	pgid := cmd.Process.Pid

	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := x.Grace
		if grace == 0 {
			grace = 5 * time.Second
		}
		select {
		case <-done:
		case <-x.Kill:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	err = cmd.Wait()
	close(done)
	// The leader is gone; take down anything it left behind in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)

	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		if ctx.Err() != nil {
			// Stopped, even if it exited 0 on SIGTERM: it did not finish.
			return fmt.Errorf("%w: %s was stopped", ctx.Err(), progName(argv))
		}
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("running %s: %w", argv[0], err)
	}
	xe := &ExitError{Argv: argv, Code: ee.ExitCode(), Tail: tail.Lines()}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		xe.Signal = ws.Signal().String()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), xe)
	}
	return xe
}

// argv is what actually runs: c.Argv, or c.Argv behind sudo (wrapped),
// with Env passed through env(1) because sudo resets the environment.
func (c *Cmd) argv(root bool) (argv []string, wrapped bool) {
	switch {
	case c.AsUser != "":
		return append(append([]string{"sudo", "-n", "-H", "-u", c.AsUser, "--", "env"}, c.Env...), c.Argv...), true
	case c.Sudo && !root:
		return append(append([]string{"sudo", "-n", "--", "env"}, c.Env...), c.Argv...), true
	}
	return c.Argv, false
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Tail keeps the last Max lines written to it. It is safe for concurrent use.
type Tail struct {
	Max   int
	mu    sync.Mutex
	lines []string
	split LineWriter
}

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.split.Emit == nil {
		t.split.Emit = t.push
	}
	return t.split.Write(p)
}

func (t *Tail) push(line string) {
	t.lines = append(t.lines, line)
	if over := len(t.lines) - t.Max; over > 0 {
		t.lines = append(t.lines[:0], t.lines[over:]...)
	}
}

// Lines returns the kept lines, including an unterminated last one.
func (t *Tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if part := t.split.Pending(); part != "" {
		out = append(out, part)
		if len(out) > t.Max {
			out = out[1:]
		}
	}
	return out
}

// Join quotes argv for display the way a POSIX shell would read it back.
func Join(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(a))
	}
	return b.String()
}

// Quote returns s quoted for a POSIX shell when it needs quoting.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
