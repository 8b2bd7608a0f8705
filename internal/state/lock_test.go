package state

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	helperEnv = "SYSINIT_STATE_TEST_HOLD_LOCK"
	// shareEnv names a file: the helper shares its lock with a child it
	// starts, and writes the child's pid there.
	shareEnv = "SYSINIT_STATE_TEST_SHARE_PID"
)

// TestHelperProcess is not a test: the lock tests re-run the test binary
// with it to hold a run lock in another process until killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for the lock tests; runs only when they re-execute the test binary")
	}
	l, err := Acquire(path, false, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		t.Fatal(err)
	}
	if pidFile := os.Getenv(shareEnv); pidFile != "" {
		if err := l.ShareWithChildren(); err != nil {
			t.Fatal(err)
		}
		child := exec.Command("sleep", "3600")
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
}

// holdInChild starts a process holding the lock of storePath and returns it
// once it holds the lock.
func holdInChild(t *testing.T, storePath string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+storePath), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper process said %q, %v; want locked", line, err)
	}
	return cmd
}

func lockedPID(t *testing.T, err error) int {
	t.Helper()
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("error = %v, want a *LockedError", err)
	}
	return le.PID
}

func TestLockedErrorMessage(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	recent := time.Now().Add(-time.Minute)
	tests := []struct {
		h    Holder
		want string
	}{
		{Holder{PID: 1234}, "locked by another sysinit (pid 1234)"},
		{Holder{}, "locked by another sysinit"},
		{Holder{PID: 7, Since: since, Command: "sysinit refresh"}, "locked by another sysinit (pid 7, since 2026-01-02 03:04: sysinit refresh)"},
		{Holder{PID: 7, Since: recent, Command: "sysinit -C x"}, "locked by another sysinit (pid 7, since " + recent.Format("15:04:05") + ": sysinit -C x)"},
	}
	for _, tt := range tests {
		if got := (&LockedError{Holder: tt.h}).Error(); got != tt.want {
			t.Errorf("LockedError{%+v}.Error() = %q, want %q", tt.h, got, tt.want)
		}
	}
}

func TestLockNoWait(t *testing.T) {
	store := filepath.Join(t.TempDir(), "sysinit", "dots.db")
	l, err := Acquire(store, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(LockPath(store))
	lines := strings.Split(string(b), "\n")
	if err != nil || len(lines) != 4 || lines[0] != strconv.Itoa(os.Getpid()) || lines[2] != filepath.Base(os.Args[0])+" "+strings.Join(os.Args[1:], " ") {
		t.Errorf("lock file holds %q, %v; want this pid %d, the time and this command line", b, err, os.Getpid())
	}

	// flock conflicts between two opens in one process too.
	_, err = Acquire(store, false, func(Holder) { t.Error("onWait called without wait") })
	if pid := lockedPID(t, err); pid != os.Getpid() {
		t.Errorf("LockedError.PID = %d, want the holder %d", pid, os.Getpid())
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if _, err := os.Stat(LockPath(store)); err != nil {
		t.Errorf("lock file gone after Release: %v", err)
	}
	l2, err := Acquire(store, false, nil)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestLockWait(t *testing.T) {
	store := filepath.Join(t.TempDir(), "dots.db")
	first, err := Acquire(store, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	waiting := make(chan Holder, 1)
	type result struct {
		l   *Lock
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := Acquire(store, true, func(h Holder) { waiting <- h })
		done <- result{l, err}
	}()
	if h := <-waiting; h.PID != os.Getpid() || time.Since(h.Since) > time.Hour || h.Since.After(time.Now()) || !strings.HasPrefix(h.Command, filepath.Base(os.Args[0])) {
		t.Errorf("onWait got %+v, want the holder %d, since it locked, with its command", h, os.Getpid())
	}
	released.Store(true)
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("waiting Acquire: %v", r.err)
	}
	if !released.Load() {
		t.Error("waiting Acquire returned before the holder released")
	}
	r.l.Release()
}

func TestLockAcrossProcesses(t *testing.T) {
	store := filepath.Join(t.TempDir(), "sysinit", "dots.db")
	child := holdInChild(t, store)

	_, err := Acquire(store, false, nil)
	if pid := lockedPID(t, err); pid != child.Process.Pid {
		t.Errorf("LockedError.PID = %d, want the child %d", pid, child.Process.Pid)
	}

	// kill -9: no chance to release; the flock dies with the process.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	l, err := Acquire(store, false, nil)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	defer l.Release()
	b, _ := os.ReadFile(LockPath(store))
	if first, _, _ := strings.Cut(string(b), "\n"); first != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q after taking over, want %d first", b, os.Getpid())
	}
}

func TestLockWaitAcrossProcesses(t *testing.T) {
	store := filepath.Join(t.TempDir(), "dots.db")
	child := holdInChild(t, store)
	var killed atomic.Bool
	l, err := Acquire(store, true, func(h Holder) {
		if h.PID != child.Process.Pid {
			t.Errorf("onWait got pid %d, want the child %d", h.PID, child.Process.Pid)
		}
		killed.Store(true)
		if err := child.Process.Kill(); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("waiting Acquire: %v", err)
	}
	defer l.Release()
	if !killed.Load() {
		t.Error("Acquire returned without waiting for the holder")
	}
}

// TestLockHeldByOrphans: a holder killed with SIGKILL cannot release; when it
// shared the lock, the lock stays held by the program it started until that
// exits, so no refresh starts beside a step still running.
func TestLockHeldByOrphans(t *testing.T) {
	store := filepath.Join(t.TempDir(), "dots.db")
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	holder := holdInChild(t, store, shareEnv+"="+pidFile)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(orphan, syscall.SIGKILL) })

	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	_, err = Acquire(store, false, nil)
	if pid := lockedPID(t, err); pid != holder.Process.Pid {
		t.Errorf("LockedError.PID = %d, want the killed holder %d", pid, holder.Process.Pid)
	}

	// The orphan's exit frees the lock: a waiting Acquire gets it.
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(store, true, nil)
	if err != nil {
		t.Fatalf("Acquire after the orphan exited: %v", err)
	}
	l.Release()
}

// TestLockReleaseWithChildrenLeft: Release frees the lock even while a
// program that inherited it (a daemon a step started) still runs.
func TestLockReleaseWithChildrenLeft(t *testing.T) {
	store := filepath.Join(t.TempDir(), "dots.db")
	l, err := Acquire(store, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.ShareWithChildren(); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("sleep", "3600")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
	})
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(store, false, nil)
	if err != nil {
		t.Fatalf("Acquire after Release, with the child still running: %v", err)
	}
	l2.Release()
}
