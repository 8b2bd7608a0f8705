package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sysinit/sysinit/internal/cli"
)

func TestMain(m *testing.M) {
	// The live-view test runs this binary as sysinit inside tmux.
	if os.Getenv("SYSINIT_TEST_MAIN") == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
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
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(work, "home/.cache"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(work, "home/.local/state"))
			env.Setenv("CALLS_LOG", filepath.Join(work, "calls.log"))
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("NO_COLOR", "1")
			return os.MkdirAll(filepath.Join(work, "home"), 0o755)
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "nix":
				_, err := exec.LookPath("nix")
				return err == nil, nil
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"settime": cmdSettime,
			"waitfor": cmdWaitfor,
			"count":   cmdCount,
		},
	})
}

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
