package command_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysinit/sysinit/internal/command"
)

// helperScenarioEnv names what TestHelperScenario does; helperDirEnv is
// the directory it writes pid files to.
const (
	helperScenarioEnv = "SYSINIT_COMMAND_TEST_SCENARIO"
	helperDirEnv      = "SYSINIT_COMMAND_TEST_DIR"
	helperLifelineEnv = "SYSINIT_COMMAND_TEST_LIFELINE"
)

// deafProgram starts a grandchild that ignores SIGTERM (only SIGKILL ends
// it), writes its pid to $1/name.pid, and waits.
func deafProgram(dir, name string) []string {
	return []string{"/bin/sh", "-c", `(trap '' TERM; exec /bin/sleep 3600) & echo $! > "$1/$2.tmp" && /bin/mv "$1/$2.tmp" "$1/$2.pid"; wait`, "sh", dir, name}
}

// TestHelperScenario is not a test: the tests below re-run the test binary
// with it to be the sysinit that is killed with SIGKILL.
func TestHelperScenario(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	switch os.Getenv(helperScenarioEnv) {
	case "":
		t.Skip("helper process; runs only when a test re-executes the test binary")
	case "helper-missing":
		// PATH holds no program at all (no sed, no ps): the reaper must
		// keep its list with what the shell has built in.
		x := command.Exec{Reaper: &command.Reaper{Shell: "/bin/sh"}}
		errc := make(chan error, 1)
		go func() { errc <- x.Run(context.Background(), &command.Cmd{Argv: deafProgram(dir, "first")}) }()
		waitFile(t, filepath.Join(dir, "first.pid"), errc)
		// A program that ends takes its group off the list.
		if err := x.Run(context.Background(), &command.Cmd{Argv: []string{"/bin/sh", "-c", "exit 0"}}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Fatalf("the program ended: %v", <-errc)
	case "interactive":
		// An interactive program shares this process's group, so no
		// group can be killed for it; it ignores the parent-death signal.
		x := command.Exec{Reaper: &command.Reaper{}}
		err := x.Run(context.Background(), &command.Cmd{
			Argv:        []string{"/bin/sh", "-c", `trap '' TERM; echo $$ > "$1/int.tmp" && mv "$1/int.tmp" "$1/int.pid"; exec sleep 3600`, "sh", dir},
			Interactive: true,
		})
		t.Fatalf("the program ended: %v", err)
	case "sudo-sleep":
		// A sudo step (with a secret in its env) whose program ignores
		// SIGTERM and SIGHUP, run with a reaper and the lifeline, as a
		// refresh runs it.
		x := command.Exec{Reaper: &command.Reaper{}, Lifeline: os.Getenv(helperLifelineEnv)}
		err := x.Run(context.Background(), &command.Cmd{
			Argv:   []string{"/bin/sh", "-c", `trap '' TERM HUP; echo $$ > "$1/root.tmp" && mv "$1/root.tmp" "$1/root.pid"; exec sleep 3600`, "sh", dir},
			Env:    []string{"SYSINIT_TEST_SECRET=s"},
			Sudo:   true,
			Stderr: os.Stderr,
		})
		t.Fatalf("the program ended: %v", err)
	case "nproc":
		// The user may run no more tasks than this process has threads:
		// starting a program fails with EAGAIN. The error is printed for
		// TestExecProcessLimit.
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		lim := &unix.Rlimit{Cur: uint64(len(tasks)), Max: uint64(len(tasks))}
		if err := unix.Setrlimit(unix.RLIMIT_NPROC, lim); err != nil {
			t.Fatal(err)
		}
		err = command.Exec{}.Run(context.Background(), &command.Cmd{Argv: []string{"/bin/true"}})
		fmt.Printf("error: %v\n", err)
	default:
		t.Fatalf("unknown scenario %q", os.Getenv(helperScenarioEnv))
	}
}

// waitFile waits for path to exist; errc ending first is a failure. The
// bound only turns a program that never started into a failure.
func waitFile(t *testing.T, path string, errc <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-errc:
			t.Fatalf("ended before %s appeared: %v", filepath.Base(path), err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killHelper starts the test binary as TestHelperScenario in scenario
// with dir, waits for file in dir, and kills it with SIGKILL.
func killHelper(t *testing.T, scenario, dir, file string, env ...string) {
	t.Helper()
	parent := exec.Command(os.Args[0], "-test.run=^TestHelperScenario$")
	parent.Env = append(append(os.Environ(), helperScenarioEnv+"="+scenario, helperDirEnv+"="+dir), env...)
	out := &signalWriter{ready: make(chan struct{})}
	parent.Stdout, parent.Stderr = out, out
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- parent.Wait() }()
	defer func() {
		if t.Failed() {
			out.mu.Lock()
			t.Logf("helper output:\n%s", out.buf.String())
			out.mu.Unlock()
		}
	}()
	waitFile(t, filepath.Join(dir, file), errc)
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-errc
}

// TestReaperKeepsItsListWhenAHelperCannotRun: the reaper's bookkeeping
// runs no program (here none could: PATH is empty), so a group listed
// before another one was taken off is still killed when sysinit dies.
func TestReaperKeepsItsListWhenAHelperCannotRun(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir()
	killHelper(t, "helper-missing", dir, "ready", "PATH="+empty)
	pid := readPID(t, filepath.Join(dir, "first.pid"))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	waitGone(t, pid)
}

// TestReaperKillsInteractiveProgram: a program run in sysinit's own group
// (sudo asking for a password) dies with sysinit too: the reaper kills
// that process by its pid.
func TestReaperKillsInteractiveProgram(t *testing.T) {
	dir := t.TempDir()
	killHelper(t, "interactive", dir, "int.pid")
	pid := readPID(t, filepath.Join(dir, "int.pid"))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	waitGone(t, pid)
}

// TestReaperSaysItDidNotRun: a reaper that could not start (here its shell
// is missing; a process limit does the same) does not stop the programs,
// and Close says they were not covered.
func TestReaperSaysItDidNotRun(t *testing.T) {
	r := &command.Reaper{Shell: filepath.Join(t.TempDir(), "no-sh")}
	if err := (command.Exec{Reaper: r}).Run(context.Background(), &command.Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	err := r.Close()
	if err == nil || !strings.Contains(err.Error(), "not be ended") {
		t.Errorf("Close = %v, want it to say the programs would not be ended", err)
	}
}
