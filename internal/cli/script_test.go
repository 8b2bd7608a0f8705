package cli_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sysinit/sysinit/internal/cli"
	"github.com/sysinit/sysinit/internal/command"
)

func TestMain(m *testing.M) {
	// The live-view test runs this binary as sysinit inside tmux; sudo
	// runs it as the lifeline of a step's program (its env reset).
	if os.Getenv("SYSINIT_TEST_MAIN") == "1" || len(os.Args) > 1 && os.Args[1] == command.LifelineArg {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGHUP} {
		if signal.Ignored(sig) {
			// Run under nohup, or as a background job of a script: the
			// sysinit the scripts start would keep the signal ignored, as
			// it should, and kill.txtar's SIGINT or SIGHUP would do
			// nothing. Caught here, it is at its default in them.
			signal.Notify(make(chan os.Signal, 1), sig)
		}
	}
	testscript.Main(m, map[string]func(){
		"sysinit": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the behavioural spec in testdata/script. Each script
// gets its own HOME, XDG dirs and the stand-in programs of testdata/bin
// (sudo, launchctl, ...) first on PATH; they log their argv to
// $WORK/calls.log.
func TestScript(t *testing.T) {
	bin, err := filepath.Abs("testdata/bin")
	if err != nil {
		t.Fatal(err)
	}
	brewStandin, err := filepath.Abs("../brew/testdata/bin/brew")
	if err != nil {
		t.Fatal(err)
	}
	migrateFixtures, err := filepath.Abs("../migrate/testdata")
	if err != nil {
		t.Fatal(err)
	}
	nixwrap, err := filepath.Abs("testdata/nixwrap")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			// testscript's own bin dir (holding sysinit) comes first on PATH.
			env.Setenv("SYSINIT_BIN_DIR", filepath.SplitList(env.Getenv("PATH"))[0])
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(work, "home/.cache"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(work, "home/.local/state"))
			env.Setenv("CALLS_LOG", filepath.Join(work, "calls.log"))
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("NO_COLOR", "1")
			// Real Nix, offline, without touching /etc/nix (see
			// shared/reference/nix-offline.md), behind a wrapper that logs
			// every invocation to $NIX_LOG.
			registry := filepath.Join(work, ".nix-registry.json")
			if err := os.WriteFile(registry, []byte(`{"flakes":[],"version":2}`), 0o644); err != nil {
				return err
			}
			env.Setenv("NIX_CONFIG", nixConfig+"\nflake-registry = "+registry)
			env.Setenv("NIX_LOG", filepath.Join(work, "nix.log"))
			if nix, err := exec.LookPath("nix"); err == nil {
				real, err := filepath.EvalSymlinks(nix)
				if err != nil {
					return err
				}
				env.Setenv("REAL_NIX_DIR", filepath.Dir(real))
				env.Setenv("PATH", nixwrap+string(os.PathListSeparator)+env.Getenv("PATH"))
			}
			for k, v := range map[string]string{"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"} {
				env.Setenv(k, v)
			}
			// A Homebrew prefix holding the stand-in brew (it finds its
			// prefix from where it is started, as brew does).
			env.Setenv("BREW_STANDIN", brewStandin)
			env.Setenv("MIGRATE_FIXTURES", migrateFixtures)
			env.Setenv("EXAMPLES", examples)
			env.Setenv("BREW_LOG", filepath.Join(work, "brew.log"))
			env.Values[testingT{}] = env.T() // for remote require's skip
			return os.MkdirAll(filepath.Join(work, "home"), 0o755)
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "nix":
				_, err := exec.LookPath("nix")
				if err != nil && os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
					return false, fmt.Errorf("SYSINIT_REQUIRE_NIX=1 but nix is not installed (scripts/install-nix-offline.sh)")
				}
				return err == nil, nil
			case "nix-2.8":
				// What Nix 2.8 (Debian's, on the test machines) says where
				// newer ones differ.
				out, err := exec.Command("nix", "--version").Output()
				return err == nil && strings.HasPrefix(string(out), "nix (Nix) 2.8."), nil
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"settime":    cmdSettime,
			"waitfor":    cmdWaitfor,
			"waitgone":   cmdWaitgone,
			"waitlock":   cmdWaitlock,
			"count":      cmdCount,
			"waitmatch":  cmdWaitmatch,
			"agerecords": cmdAgeRecords,
			"remote":     cmdRemote,
			"blackhole":  cmdBlackhole,
		},
	})
}

// nixConfig makes Debian's nix-bin work offline, single-user, with no
// daemon and no binary cache.
const nixConfig = `experimental-features = nix-command flakes
sandbox = false
build-users-group =
substituters =
warn-dirty = false`

// settime FILE SECONDS_AGO: set a file's mtime, as `touch -d` would.
func cmdSettime(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: settime FILE SECONDS_AGO")
	}
	ago, err := strconv.Atoi(args[1])
	ts.Check(err)
	t := time.Now().Add(-time.Duration(ago) * time.Second)
	ts.Check(os.Chtimes(ts.MkAbs(args[0]), t, t))
}

// blackhole: listen on a free port of 127.0.0.1, accept every connection
// and answer nothing, until the script ends; $BLACKHOLE_PORT is the port.
// A download from it stalls, as one from a host that stopped answering.
func cmdBlackhole(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 || neg {
		ts.Fatalf("usage: blackhole")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	ts.Defer(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	ts.Setenv("BLACKHOLE_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// waitfor FILE: wait up to 10s for a file to exist (a background child
// reached a point in its script).
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfor FILE")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within 10s", args[0])
}

// waitmatch FILE REGEXP: wait up to 10s for a line of FILE to match
// REGEXP (a background child printed something).
func cmdWaitmatch(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: waitmatch FILE REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(ts.MkAbs(args[0])); err == nil && re.Match(data) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	data, _ := os.ReadFile(ts.MkAbs(args[0]))
	ts.Fatalf("%s never had a line matching %q in 10s; it holds:\n%s", args[0], args[1], data)
}

// waitgone PIDFILE: wait up to 10s for the process whose pid FILE holds to
// be gone (a zombie counts as gone: in a container, PID 1 may never reap
// the orphans it inherits). With !, the process must still run.
func cmdWaitgone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitgone PIDFILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	ts.Check(err)
	if neg {
		if processGone(pid) {
			ts.Fatalf("process %d is gone", pid)
		}
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			ts.Fatalf("process %d (%s) still runs after 10s", pid, args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitlock GLOB: wait up to 10s for a process to be blocked waiting for
// the flock on the file GLOB names (a refresh waiting for the run lock).
// Linux only: it reads the blocked requests in /proc/locks.
func cmdWaitlock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: waitlock GLOB")
	}
	files, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(files) != 1 {
		ts.Fatalf("%s names %d files, want 1", args[0], len(files))
	}
	var st syscall.Stat_t
	ts.Check(syscall.Stat(files[0], &st))
	// A line of /proc/locks: "2: -> FLOCK  ADVISORY  WRITE 123 08:01:4567 0 EOF",
	// "->" marking a blocked request, 4567 the inode.
	inode := fmt.Sprintf(":%d ", st.Ino)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile("/proc/locks")
		ts.Check(err)
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "-> FLOCK") && strings.Contains(l, inode) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("nothing waits for the lock on %s after 10s", files[0])
}

func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	if runtime.GOOS != "linux" {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && (data[i+2] == 'Z' || data[i+2] == 'X')
}

// count N FILE REGEXP: FILE has exactly N lines matching REGEXP.
func cmdCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: count N FILE REGEXP")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	data, err := os.ReadFile(ts.MkAbs(args[1]))
	if err != nil && !os.IsNotExist(err) {
		ts.Fatalf("%v", err)
	}
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	got := 0
	for _, l := range strings.Split(string(data), "\n") {
		if re.MatchString(l) {
			got++
		}
	}
	if (got == want) == neg {
		ts.Fatalf("%s: %d lines contain %q, want %d", args[1], got, args[2], want)
	}
}
