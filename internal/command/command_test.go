package command_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
)

func TestExecRunsProgram(t *testing.T) {
	var out, errOut bytes.Buffer
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", `printf 'to stdout\n'; printf 'to stderr\n' >&2`},
		Stdout: &out,
		Stderr: &errOut,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out.String() != "to stdout\n" || errOut.String() != "to stderr\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

func TestExecDirAndStdin(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", `pwd; cat`},
		Dir:    dir,
		Stdin:  strings.NewReader("from stdin"),
		Stdout: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := real + "\nfrom stdin"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestExecNilOutputsAreDiscarded(t *testing.T) {
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv: []string{"sh", "-c", `echo out; echo err >&2`},
	})
	if err != nil {
		t.Fatalf("Run with nil Stdout/Stderr: %v", err)
	}
}

func TestExecExitError(t *testing.T) {
	var errOut bytes.Buffer
	script := `for i in $(seq 1 30); do echo "line $i" >&2; done; exit 7`
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", script},
		Stderr: &errOut,
	})
	var xe *command.ExitError
	if !errors.As(err, &xe) {
		t.Fatalf("err = %T %v, want *ExitError", err, err)
	}
	if xe.Code != 7 || xe.Signal != "" {
		t.Errorf("Code %d Signal %q, want 7 and no signal", xe.Code, xe.Signal)
	}
	var want []string
	for i := 11; i <= 30; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if !slices.Equal(xe.Tail, want) {
		t.Errorf("Tail = %q, want the last %d lines %q", xe.Tail, command.TailLines, want)
	}
	if !slices.Equal(xe.Argv, []string{"sh", "-c", script}) {
		t.Errorf("Argv = %q", xe.Argv)
	}
	if got := xe.Error(); got != "sh: exit status 7" {
		t.Errorf("Error() = %q", got)
	}
	// The tail is a copy: the caller's Stderr still sees everything.
	if n := strings.Count(errOut.String(), "\n"); n != 30 {
		t.Errorf("Stderr got %d lines, want 30", n)
	}
}

func TestExecNotFound(t *testing.T) {
	err := command.Exec{}.Run(context.Background(), &command.Cmd{Argv: []string{"sysinit-test-no-such-program"}})
	var nf *command.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %T %v, want *NotFoundError", err, err)
	}
	if nf.Name != "sysinit-test-no-such-program" {
		t.Errorf("Name = %q", nf.Name)
	}
	if !strings.Contains(err.Error(), "not found on PATH") {
		t.Errorf("Error() = %q", err)
	}
}

func TestExecEmptyArgv(t *testing.T) {
	if err := (command.Exec{}).Run(context.Background(), &command.Cmd{}); err == nil {
		t.Fatal("Run with no argv succeeded")
	}
}

func TestExecEnvAddsToInherited(t *testing.T) {
	t.Setenv("SYSINIT_TEST_INHERITED", "kept")
	t.Setenv("SYSINIT_TEST_OVERRIDDEN", "old")
	var out bytes.Buffer
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", `printf '%s/%s/%s' "$SYSINIT_TEST_INHERITED" "$SYSINIT_TEST_ADDED" "$SYSINIT_TEST_OVERRIDDEN"`},
		Env:    []string{"SYSINIT_TEST_ADDED=new", "SYSINIT_TEST_OVERRIDDEN=new too"},
		Stdout: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "kept/new/new too"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// fakeSudo puts a stand-in `sudo` first on PATH that logs its argv, one
// argument a line, then runs what follows "--" as the current user, as
// sudo would as root; it returns where it logs.
func fakeSudo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "sudo.log")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + command.Quote(log) + "\n" +
		"while [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// readArgs reads fakeSudo's log.
func readArgs(t *testing.T, log string) []string {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("stand-in sudo did not run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// printEnv is a program that prints two variables, or "unset".
var printEnv = []string{"sh", "-c", `printf '%s|%s' "${SYSINIT_TEST_K-unset}" "${SYSINIT_TEST_L-unset}"`}

func TestExecSudoArgv(t *testing.T) {
	const script = "SCRIPT" // the env reader, whatever its text
	tests := []struct {
		name string
		root bool // sysinit already runs as root
		cmd  command.Cmd
		want []string // sudo's argv; nil = sudo must not run
		out  string   // what printEnv printed
	}{
		{
			name: "sudo passes env on stdin",
			cmd:  command.Cmd{Argv: printEnv, Env: []string{"SYSINIT_TEST_K=v w"}, Sudo: true},
			want: append([]string{"-n", "--", "/bin/sh", "-c", script, "sh"}, printEnv...),
			out:  "v w|unset",
		},
		{
			name: "sudo without env runs the program directly",
			cmd:  command.Cmd{Argv: printEnv, Sudo: true},
			want: append([]string{"-n", "--"}, printEnv...),
			out:  "unset|unset",
		},
		{
			name: "as user",
			cmd:  command.Cmd{Argv: printEnv, Env: []string{"SYSINIT_TEST_K=1", "SYSINIT_TEST_L=2"}, AsUser: "alice"},
			want: append([]string{"-n", "-H", "-u", "alice", "--", "/bin/sh", "-c", script, "sh"}, printEnv...),
			out:  "1|2",
		},
		{
			name: "as user wins over sudo",
			cmd:  command.Cmd{Argv: printEnv, AsUser: "alice", Sudo: true},
			want: append([]string{"-n", "-H", "-u", "alice", "--"}, printEnv...),
			out:  "unset|unset",
		},
		{
			name: "sudo when already root runs directly",
			root: true,
			cmd:  command.Cmd{Argv: printEnv, Env: []string{"SYSINIT_TEST_K=v"}, Sudo: true},
			out:  "v|unset",
		},
		{
			name: "as user when root still goes through sudo",
			root: true,
			cmd:  command.Cmd{Argv: printEnv, Env: []string{"SYSINIT_TEST_L=x"}, AsUser: "alice"},
			want: append([]string{"-n", "-H", "-u", "alice", "--", "/bin/sh", "-c", script, "sh"}, printEnv...),
			out:  "unset|x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := fakeSudo(t)
			var out bytes.Buffer
			tt.cmd.Stdout = &out
			if err := (command.Exec{Root: tt.root}).Run(context.Background(), &tt.cmd); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if out.String() != tt.out {
				t.Errorf("the program printed %q, want %q", out.String(), tt.out)
			}
			if tt.want == nil {
				if _, err := os.Stat(log); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("sudo ran: %v", err)
				}
				return
			}
			got := readArgs(t, log)
			if i := slices.Index(got, "-c"); i > 0 && got[i-1] == "/bin/sh" {
				got[i+1] = script
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sudo argv = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestExecElevatedEnvStaysOffArgv: whatever a value holds, it reaches the
// program exactly, and no argument of sudo's holds it.
func TestExecElevatedEnvStaysOffArgv(t *testing.T) {
	values := []string{
		"plain", "", "two words", "it's", `"double"`, "$HOME", "$(touch pwned)", "`touch pwned`",
		`back\slash`, "new\nline", "trailing\n", "\n", "'\"$n\"'", "a=b", "tab\there", "é", "; exit 1",
		"'", "''", `\`, "\r\n",
	}
	var env []string
	for i, v := range values {
		env = append(env, fmt.Sprintf("SYSINIT_TEST_V%d=secret-%d:%s", i, i, v))
	}
	log := fakeSudo(t)
	dir := t.TempDir()
	var out bytes.Buffer
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", `for i in $(seq 0 $1); do eval "printf '%s\\0' \"\$SYSINIT_TEST_V$i\""; done`, "sh", strconv.Itoa(len(values) - 1)},
		Dir:    dir,
		Env:    env,
		Sudo:   true,
		Stdout: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00")
	for i, v := range values {
		want := fmt.Sprintf("secret-%d:%s", i, v)
		if i >= len(got) || got[i] != want {
			t.Errorf("value %d reached the program as %q, want %q", i, got[min(i, len(got)-1)], want)
		}
	}
	for _, a := range readArgs(t, log) {
		if strings.Contains(a, "secret-") {
			t.Errorf("sudo's argument %q holds a value", a)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a value was run as a command")
	}
}

// TestExecElevatedEnvAndStdin: the program gets its own standard input
// after the variables.
func TestExecElevatedEnvAndStdin(t *testing.T) {
	fakeSudo(t)
	var out bytes.Buffer
	err := command.Exec{}.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", `printf '%s\n' "$SYSINIT_TEST_K"; cat`},
		Env:    []string{"SYSINIT_TEST_K=from env"},
		Stdin:  strings.NewReader("first line\nsecond line\n"),
		Sudo:   true,
		Stdout: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "from env\nfirst line\nsecond line\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestExecElevatedEnvRefused(t *testing.T) {
	for _, env := range [][]string{{"1X=v"}, {"A-B=v"}, {"NOEQUALS"}, {"=v"}, {"K=a\x00b"}} {
		log := fakeSudo(t)
		err := command.Exec{}.Run(context.Background(), &command.Cmd{Argv: []string{"true"}, Env: env, Sudo: true})
		if err == nil {
			t.Errorf("env %q: Run succeeded", env)
		}
		if _, serr := os.Stat(log); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("env %q: sudo ran", env)
		}
		if strings.Contains(fmt.Sprint(err), "a\x00b") {
			t.Errorf("the error shows the value: %v", err)
		}
	}
}

// signalWriter closes ready the first time it sees word.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	word  string
	ready chan struct{}
	once  sync.Once
}

func newSignalWriter(word string) *signalWriter {
	return &signalWriter{word: word, ready: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.word) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

// startAndCancel runs script with x, cancels the context once the script
// has printed "ready" on stdout, and returns Run's error.
func startAndCancel(t *testing.T, x command.Exec, script string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newSignalWriter("ready")
	errc := make(chan error, 1)
	go func() {
		errc <- x.Run(ctx, &command.Cmd{Argv: append([]string{"sh", "-c", script, "sh"}, args...), Stdout: out})
	}()
	select {
	case <-out.ready:
	case err := <-errc:
		t.Fatalf("script ended before it was ready: %v", err)
	}
	cancel()
	return <-errc
}

// gone reports whether pid no longer runs. A zombie counts as gone: in a
// container, PID 1 may never reap the orphans it inherits.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && (data[i+2] == 'Z' || data[i+2] == 'X')
}

// waitGone waits for pid to die: the signal is sent before Run returns, but
// it is delivered and acted on asynchronously. The bound only turns a
// survivor into a failure instead of a hung test.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	return pid
}

func TestExecCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	err := startAndCancel(t, command.Exec{}, `sleep 30 & echo $! > "$1"; echo ready; wait`, pidFile)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	var xe *command.ExitError
	if !errors.As(err, &xe) || xe.Signal != "terminated" {
		t.Errorf("err = %v, want an *ExitError for SIGTERM", err)
	}
	waitGone(t, readPID(t, pidFile))
}

func TestExecGraceThenKill(t *testing.T) {
	// The shell and its sleep both ignore SIGTERM; only SIGKILL after the
	// grace period ends them.
	err := startAndCancel(t, command.Exec{Grace: 50 * time.Millisecond}, `trap '' TERM; echo ready; sleep 30`)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	var xe *command.ExitError
	if !errors.As(err, &xe) || xe.Signal != "killed" || xe.Code != -1 {
		t.Errorf("err = %#v, want an *ExitError for SIGKILL with Code -1", err)
	}
}

func TestExecGraceLetsChildCleanUp(t *testing.T) {
	// A child that handles SIGTERM within the grace period exits by itself;
	// were it killed instead, Signal would say so.
	err := startAndCancel(t, command.Exec{Grace: 20 * time.Second},
		`trap 'echo cleaning up >&2; exit 3' TERM; sleep 30 & echo ready; wait`)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	var xe *command.ExitError
	if !errors.As(err, &xe) || xe.Code != 3 || xe.Signal != "" {
		t.Fatalf("err = %v, want exit status 3 from the TERM handler", err)
	}
	if !slices.Equal(xe.Tail, []string{"cleaning up"}) {
		t.Errorf("Tail = %q", xe.Tail)
	}
}

// TestExecRootSudoKeepsEnv: a Sudo command run directly as root still
// gets its Env.
func TestExecRootSudoKeepsEnv(t *testing.T) {
	fakeSudo(t)
	var out bytes.Buffer
	err := command.Exec{Root: true}.Run(context.Background(), &command.Cmd{
		Argv: []string{"sh", "-c", `printf %s "$SYSINIT_TEST_K"`}, Env: []string{"SYSINIT_TEST_K=v"}, Sudo: true, Stdout: &out,
	})
	if err != nil || out.String() != "v" {
		t.Errorf("output %q, err %v; want v", out.String(), err)
	}
}

// TestExecKillSkipsGrace: closing Kill after the context ended kills a
// child that ignores SIGTERM without waiting out the grace period.
func TestExecKillSkipsGrace(t *testing.T) {
	kill := make(chan struct{})
	pidFile := filepath.Join(t.TempDir(), "leader.pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newSignalWriter("ready")
	errc := make(chan error, 1)
	go func() {
		errc <- command.Exec{Grace: time.Hour, Kill: kill}.Run(ctx, &command.Cmd{
			Argv:   []string{"sh", "-c", `trap '' TERM; echo $$ > "$1"; echo ready; sleep 30`, "sh", pidFile},
			Stdout: out,
		})
	}()
	select {
	case <-out.ready:
	case err := <-errc:
		t.Fatalf("script ended before it was ready: %v", err)
	}
	cancel()
	close(kill)
	// The bound only turns a child left to its hour of grace into a
	// failure instead of a hung test.
	select {
	case err := <-errc:
		var xe *command.ExitError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &xe) || xe.Signal != "killed" {
			t.Errorf("err = %v, want SIGKILL after cancel", err)
		}
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-readPID(t, pidFile), syscall.SIGKILL)
		<-errc
		t.Fatal("closing Kill did not kill the child")
	}
}

// TestExecCancelledChildExitingZeroFails: a child that answers SIGTERM with
// exit 0 did not finish its work. Run must still report the interrupt, or a
// step cut short would be recorded as a success (a wrong skip next time).
func TestExecCancelledChildExitingZeroFails(t *testing.T) {
	err := startAndCancel(t, command.Exec{}, `trap 'exit 0' TERM; sleep 30 & echo ready; wait`)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
}

// TestExecReturnsWhenLeaderExits: a background child left behind by the
// program (holding its stderr) is taken down with the group once the
// program exits; Run does not wait for it.
func TestExecReturnsWhenLeaderExits(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "leftover.pid")
	errc := make(chan error, 1)
	go func() {
		errc <- command.Exec{}.Run(context.Background(), &command.Cmd{
			Argv: []string{"sh", "-c", `sleep 30 & echo $! > "$1"`, "sh", pidFile},
		})
	}()
	// The bound only turns a hang into a failure: the leftover sleeps 30 s.
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		waitGone(t, readPID(t, pidFile))
	case <-time.After(10 * time.Second):
		pid := readPID(t, pidFile)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-errc
		t.Fatalf("Run still waiting 10s after the program exited: its background child %d holds stderr open", pid)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   []string
	}{
		{"empty", 3, nil, nil},
		{"fewer than max", 3, []string{"a\nb\n"}, []string{"a", "b"}},
		{"keeps the last", 3, []string{"1\n2\n3\n4\n5\n"}, []string{"3", "4", "5"}},
		{"unterminated last line", 3, []string{"1\n2\n3\n4\n5"}, []string{"3", "4", "5"}},
		{"only an unterminated line", 3, []string{"partial"}, []string{"partial"}},
		{"line split across writes", 3, []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"crlf", 3, []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"empty lines", 3, []string{"\n\nx\n"}, []string{"", "", "x"}},
		{"one byte at a time", 2, strings.Split("ab\ncd\nef", ""), []string{"cd", "ef"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := &command.Tail{Max: tt.max}
			for _, w := range tt.writes {
				if n, err := tail.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := tail.Lines(); !slices.Equal(got, tt.want) {
				t.Errorf("Lines() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTailConcurrentWrites(t *testing.T) {
	tail := &command.Tail{Max: 1000}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(tail, "g%d-%d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if got := len(tail.Lines()); got != 400 {
		t.Errorf("kept %d lines, want 400", got)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"-n", "-n"},
		{"a/b.c_d:e,f+g@h%i^j=k", "a/b.c_d:e,f+g@h%i^j=k"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"*", "'*'"},
		{"~", "'~'"},
	}
	for _, tt := range tests {
		if got := command.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestJoinRoundTrip: what Join prints, a POSIX shell reads back as the same
// arguments.
func TestJoinRoundTrip(t *testing.T) {
	args := []string{
		"plain", "", "two words", "it's", `"double"`, "$HOME", "$(false)", "`false`",
		`back\slash`, "*", "?", "[a]", "~", "#comment", "a;b", "a&b", "a|b", "<in", ">out",
		"new\nline", "tab\there", "trailing ", "!bang", "%s", "é", "{a,b}", "a=b", "--",
	}
	script := `printf '%s\0' ` + command.Join(args)
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", script, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, args) {
		t.Errorf("round trip through sh:\n got %q\nwant %q", got, args)
	}
	c := &command.Cmd{Argv: args}
	if c.String() != command.Join(args) {
		t.Errorf("Cmd.String() = %q, want Join's %q", c.String(), command.Join(args))
	}
}

// TestExecInteractiveSharesProcessGroup: an interactive program runs in
// this process's group (the terminal's foreground group, when this process
// is in the foreground), any other in a group of its own.
func TestExecInteractiveSharesProcessGroup(t *testing.T) {
	for _, interactive := range []bool{false, true} {
		// The program says its pid and waits for its stdin to close, so its
		// process group can be read while it runs.
		stdin, release := io.Pipe()
		out := newSignalWriter("ready")
		errc := make(chan error, 1)
		go func() {
			errc <- command.Exec{}.Run(context.Background(), &command.Cmd{
				Argv:        []string{"sh", "-c", `echo $$ ready; read x; exit 0`},
				Interactive: interactive,
				Stdin:       stdin,
				Stdout:      out,
			})
		}()
		select {
		case <-out.ready:
		case err := <-errc:
			t.Fatalf("the program ended before it was ready: %v", err)
		}
		out.mu.Lock()
		pid, err := strconv.Atoi(strings.Fields(out.buf.String())[0])
		out.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		pgid, err := syscall.Getpgid(pid)
		release.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := pid // a group of its own
		if interactive {
			want = syscall.Getpgrp()
		}
		if pgid != want {
			t.Errorf("Interactive=%v: process group %d, want %d", interactive, pgid, want)
		}
	}
}

// TestExecInteractiveCancel: ending the context signals an interactive
// program itself (its group is this process's, which must not be hit).
func TestExecInteractiveCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newSignalWriter("ready")
	errc := make(chan error, 1)
	go func() {
		errc <- command.Exec{}.Run(ctx, &command.Cmd{
			Argv:        []string{"sh", "-c", `trap 'exit 3' TERM; echo ready; while :; do sleep 1; done`},
			Interactive: true,
			Stdout:      out,
		})
	}()
	select {
	case <-out.ready:
	case err := <-errc:
		t.Fatalf("script ended before it was ready: %v", err)
	}
	cancel()
	err := <-errc
	var xe *command.ExitError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &xe) || xe.Code != 3 {
		t.Errorf("err = %v, want exit status 3 from the TERM trap, after cancel", err)
	}
}

// helperRunEnv names a pid file: the test binary, re-run with it, runs a
// program through Exec that writes its pid there and waits, and is killed.
const helperRunEnv = "SYSINIT_COMMAND_TEST_RUN"

// TestHelperProcess is not a test: TestExecChildDiesWithParent re-runs the
// test binary with it to be the sysinit that dies.
func TestHelperProcess(t *testing.T) {
	pidFile := os.Getenv(helperRunEnv)
	if pidFile == "" {
		t.Skip("helper process; runs only when a test re-executes the test binary")
	}
	// Run from a goroutine, as the runner does.
	errc := make(chan error, 1)
	go func() {
		errc <- command.Exec{}.Run(context.Background(), &command.Cmd{
			Argv: []string{"sh", "-c", `echo $$ > "$1.tmp" && mv "$1.tmp" "$1" && exec sleep 3600`, "sh", pidFile},
		})
	}()
	t.Fatalf("the program ended: %v", <-errc)
}

// TestExecChildDiesWithParent: a program started through Exec gets SIGTERM
// when the process that started it is killed with SIGKILL.
func TestExecChildDiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux has a parent-death signal")
	}
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	parent := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	parent.Env = append(os.Environ(), helperRunEnv+"="+pidFile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	// The bound only turns a helper that never started its program into a
	// failure instead of a hung test.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			parent.Process.Kill()
			parent.Wait()
			t.Fatal("the helper did not start its program")
		}
		time.Sleep(10 * time.Millisecond)
	}
	child := readPID(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	waitGone(t, child)
}

// helperReapEnv names a pid file: the test binary, re-run with it, runs
// through Exec with a Reaper a program that starts a grandchild deaf to
// SIGTERM, writes the grandchild's pid there and waits, and is killed.
const helperReapEnv = "SYSINIT_COMMAND_TEST_REAP"

// TestHelperReaped is not a test: TestReaperKillsTheGroup re-runs the test
// binary with it to be the sysinit that dies.
func TestHelperReaped(t *testing.T) {
	pidFile := os.Getenv(helperReapEnv)
	if pidFile == "" {
		t.Skip("helper process; runs only when a test re-executes the test binary")
	}
	x := command.Exec{Reaper: &command.Reaper{}}
	err := x.Run(context.Background(), &command.Cmd{
		Argv: []string{"sh", "-c", `(trap '' TERM; exec sleep 3600) & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; wait`, "sh", pidFile},
	})
	t.Fatalf("the program ended: %v", err)
}

// TestReaperKillsTheGroup: when the process that ran a program through an
// Exec with a Reaper is killed with SIGKILL, what that program started —
// which no parent-death signal reaches, on any system — dies too.
func TestReaperKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	parent := exec.Command(os.Args[0], "-test.run=^TestHelperReaped$")
	parent.Env = append(os.Environ(), helperReapEnv+"="+pidFile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			parent.Process.Kill()
			parent.Wait()
			t.Fatal("the helper did not start its program")
		}
		time.Sleep(10 * time.Millisecond)
	}
	grandchild := readPID(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	waitGone(t, grandchild)
}

// TestReaperCleanRun: after programs that ended, Close ends the reaper
// without killing anything: a group taken off its list is left alone even
// when a process of that group id lives on (here, one that left it).
func TestReaperCleanRun(t *testing.T) {
	dir := t.TempDir()
	r := &command.Reaper{}
	x := command.Exec{Reaper: r}
	for range 3 {
		if err := x.Run(context.Background(), &command.Cmd{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	// A daemon a step detached (setsid) is not the reaper's to kill.
	pidFile := filepath.Join(dir, "daemon.pid")
	if err := x.Run(context.Background(), &command.Cmd{Argv: []string{"sh", "-c", `setsid sh -c 'echo $$ > "$1"; exec sleep 3600' sh "$1" & while [ ! -s "$1" ]; do sleep 0.01; done`, "sh", pidFile}}); err != nil {
		t.Fatal(err)
	}
	daemon := readPID(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(daemon, syscall.SIGKILL) })
	if err := r.Close(); err != nil || r.Err() != nil {
		t.Fatalf("Close: %v, %v", err, r.Err())
	}
	if gone(daemon) {
		t.Error("the reaper killed a process that left the step's group")
	}
}
