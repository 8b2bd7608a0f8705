// Package command is the one place sysinit starts other programs. Every
// child runs in its own process group so that an interrupt reaches it and
// everything it started (an interactive one, such as sudo asking for a
// password, runs in sysinit's group instead, which owns the terminal). If
// sysinit dies, nothing it started lives on: on Linux a child gets SIGTERM,
// the Reaper kills what is left, and a program run as root through sudo is
// killed by its Lifeline. Every failure comes back as a typed error that
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
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Cmd describes one program to run.
type Cmd struct {
	Argv   []string
	Dir    string    // "" = the current directory
	Env    []string  // K=V added to the inherited environment
	Stdin  io.Reader // nil = no input
	Stdout io.Writer // nil = discarded
	Stderr io.Writer // nil = discarded
	// Sudo runs the program through `sudo -n`; the caller obtains the
	// ticket first. sudo resets the environment, so Env is handed to the
	// elevated side on standard input, never on a command line (through
	// the lifeline when Exec has one, else see elevatedEnv).
	Sudo bool
	// AsUser runs the program as this user through `sudo -n -u USER -H`
	// (used to drop root for programs that refuse it, such as brew). Env
	// goes as with Sudo.
	AsUser string
	// Interactive runs the program in sysinit's own process group instead
	// of a group of its own. When sysinit runs in the foreground of a
	// terminal that group is the terminal's foreground group, so the
	// program can read the terminal (sudo asking for a password: from a
	// background group it could not, and the typed password would echo)
	// and a Ctrl-C reaches it from the terminal itself. When ctx ends only
	// the program is signalled, not its group (which is sysinit's), and
	// what it leaves running is not taken down: keep it to programs such
	// as `sudo -v` that start nothing.
	Interactive bool
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
	// Reaper, when set, kills the process group of each child still
	// running should sysinit die without ending it.
	Reaper *Reaper
	// Lifeline is the path of sysinit's own binary. When set, a Sudo
	// program runs under it, as root (see Lifeline).
	Lifeline string
}

// TailLines is how many lines of stderr an ExitError keeps.
const TailLines = 20

// Run starts c and waits for it. When ctx ends, the child's whole process
// group gets SIGTERM, then SIGKILL after the grace period; Run returns only
// once the child has exited, with ctx.Err() wrapped in the error.
func (x Exec) Run(ctx context.Context, c *Cmd) error {
	argv, wrapped, life := c.argv(x.Root, x.Lifeline)
	if len(argv) == 0 {
		return errors.New("running command: empty argv")
	}
	stdin := c.Stdin
	switch {
	case life:
		// The env and stdin go through the lifeline's pipe (feedLifeline).
		if err := checkEnv(c.Env); err != nil {
			return fmt.Errorf("running %s: %w", progName(c.Argv), err)
		}
	case wrapped && len(c.Env) > 0:
		line, err := elevatedEnv(c.Env)
		if err != nil {
			return fmt.Errorf("running %s: %w", progName(c.Argv), err)
		}
		stdin = strings.NewReader(line)
		if c.Stdin != nil {
			stdin = io.MultiReader(stdin, c.Stdin)
		}
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
	cmd.Stdin = stdin
	var lifeline *os.File // sysinit's end: open until sudo has exited
	if life {
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("starting %s: %w", argv[0], err)
		}
		defer r.Close()
		defer w.Close()
		cmd.Stdin, lifeline = r, w
	}
	tail := &Tail{Max: TailLines}
	cmd.Stdout = orDiscard(c.Stdout)
	cmd.Stderr = io.MultiWriter(orDiscard(c.Stderr), tail)
	cmd.SysProcAttr = procAttr(c.Interactive)
	// A background child that outlives the program keeps its output pipe
	// open; don't wait for it longer than this once the program exited.
	cmd.WaitDelay = time.Second
	// The parent-death signal fires when the thread that started the child
	// exits, not the process (prctl(2), go.dev/issue/27505). Go ends a
	// thread only when a goroutine locked to it returns; holding this
	// thread until the child is reaped keeps any other goroutine from
	// locking it and taking it down with it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EAGAIN) {
			// fork(2) refused: the user runs as many processes as
			// RLIMIT_NPROC allows (or the system its maximum).
			return fmt.Errorf("starting %s: %w: %s", argv[0], err, processLimit())
		}
		return fmt.Errorf("starting %s: %w", argv[0], err)
	}
	if life {
		cmd.Stdin.(*os.File).Close()
		go feedLifeline(lifeline, c.Env, c.Stdin)
	}
	// Signals go to the child's process group, or to the child alone when
	// it shares sysinit's.
	target := -cmd.Process.Pid
	if c.Interactive {
		target = cmd.Process.Pid
	}
	// Should sysinit die, the reaper kills the group, or the interactive
	// program alone (sudo left asking for a password on the terminal).
	x.Reaper.add(target)

	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(target, syscall.SIGTERM)
		grace := x.Grace
		if grace == 0 {
			grace = 5 * time.Second
		}
		select {
		case <-done:
		case <-x.Kill:
			_ = syscall.Kill(target, syscall.SIGKILL)
		case <-time.After(grace):
			_ = syscall.Kill(target, syscall.SIGKILL)
		}
	}()
	err = cmd.Wait()
	close(done)
	if life {
		// sudo has exited: should the lifeline still run (sudo was
		// killed), this tells it to kill what it runs.
		lifeline.Close()
	}
	if !c.Interactive {
		// The leader is gone; take down anything it left behind in its group.
		_ = syscall.Kill(target, syscall.SIGKILL)
	}
	x.Reaper.remove(target)

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

// processLimit says which limit a fork that failed with EAGAIN hit.
func processLimit() string {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return "the system's limit on processes is reached; run fewer steps at once"
	}
	return fmt.Sprintf("the limit on processes (ulimit -u %d) is reached; run fewer steps at once, or raise it", lim.Cur)
}

// argv is what actually runs: c.Argv, or c.Argv behind sudo (wrapped),
// and behind the lifeline when one is given for a Sudo program (life).
// With Env, a program wrapped without the lifeline is started by
// envScript, which reads the variables from standard input.
func (c *Cmd) argv(root bool, lifeline string) (argv []string, wrapped, life bool) {
	var sudo []string
	switch {
	case c.AsUser != "":
		sudo = []string{"sudo", "-n", "-H", "-u", c.AsUser, "--"}
	case c.Sudo && !root && lifeline != "":
		return append([]string{"sudo", "-n", "--", lifeline, LifelineArg}, c.Argv...), true, true
	case c.Sudo && !root:
		sudo = []string{"sudo", "-n", "--"}
	default:
		return c.Argv, false, false
	}
	if len(c.Env) > 0 {
		sudo = append(sudo, "/bin/sh", "-c", envScript, "sh")
	}
	return append(sudo, c.Argv...), true, false
}

// envScript sets the variables of its first line of standard input, then
// runs its arguments. Values never go on a command line: every user can
// read those (ps, /proc/PID/cmdline) and sudo logs them; sudo's own ways
// to pass variables (VAR=value, --preserve-env) are refused by sudoers
// unless the command is ALL or tagged SETENV. A pipe is private, and sudo
// passes standard input through (it closes every other descriptor). The
// read builtin takes a pipe one byte at a time and stops at the newline,
// so the program gets the rest of standard input untouched.
const envScript = `IFS= read -r e || exit 126; n=$(printf '\n.'); n=${n%.}; eval "$e" || exit 126; exec "$@"`

// elevatedEnv is env as the line envScript reads: one export per
// variable, each value single-quoted with its newlines spelled "$n" so the
// whole line stays one line.
func elevatedEnv(env []string) (string, error) {
	quote := strings.NewReplacer(`'`, `'\''`, "\n", `'"$n"'`)
	var b strings.Builder
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !isName(k) {
			return "", fmt.Errorf("passing the environment to sudo: %q is not a variable name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("passing the environment to sudo: the value of %s holds a NUL byte", k)
		}
		b.WriteString("export " + k + "='" + quote.Replace(v) + "'; ")
	}
	b.WriteByte('\n')
	return b.String(), nil
}

// isName reports whether s is a shell variable name.
func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
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
