package command_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
)

// lifelineExec runs Sudo programs through the stand-in sudo and this test
// binary as the lifeline (TestMain).
func lifelineExec(t *testing.T) (command.Exec, string) {
	t.Helper()
	log := fakeSudo(t)
	return command.Exec{Lifeline: os.Args[0]}, log
}

// TestExecLifelineArgv: a Sudo program runs as `sudo -n -- SYSINIT
// __lifeline ARGV…`, with its env off every command line and its own
// standard input after it, byte for byte.
func TestExecLifelineArgv(t *testing.T) {
	x, log := lifelineExec(t)
	var out bytes.Buffer
	input := strings.Repeat("line of input\n", 10000) + "no newline"
	err := x.Run(context.Background(), &command.Cmd{
		Argv:   []string{"sh", "-c", `printf '%s|%s|' "$SYSINIT_TEST_K" "$SYSINIT_TEST_L"; cat`},
		Env:    []string{"SYSINIT_TEST_K=secret-k with 'quotes' and\nnewline", "SYSINIT_TEST_L="},
		Stdin:  strings.NewReader(input),
		Sudo:   true,
		Stdout: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "secret-k with 'quotes' and\nnewline||" + input; out.String() != want {
		t.Errorf("output %.80q…, want %.80q…", out.String(), want)
	}
	got := readArgs(t, log)
	want := []string{"-n", "--", os.Args[0], command.LifelineArg, "sh", "-c"}
	if !slices.Equal(got[:len(want)], want) {
		t.Errorf("sudo argv = %q, want it to start %q", got, want)
	}
	for _, a := range got {
		if strings.Contains(a, "secret-") {
			t.Errorf("sudo's argument %q holds a value", a)
		}
	}
}

// TestExecLifelineNoInput: without Stdin the program reads /dev/null, not
// the lifeline's pipe.
func TestExecLifelineNoInput(t *testing.T) {
	x, _ := lifelineExec(t)
	var out bytes.Buffer
	err := x.Run(context.Background(), &command.Cmd{Argv: []string{"sh", "-c", `wc -c | tr -d ' '`}, Sudo: true, Stdout: &out})
	if err != nil || out.String() != "0\n" {
		t.Errorf("output %q, err %v; want 0 bytes read", out.String(), err)
	}
}

// TestExecLifelineExit: the program's exit status, the signal that killed
// it, and a program not found come back as they would without it.
func TestExecLifelineExit(t *testing.T) {
	x, _ := lifelineExec(t)
	var xe *command.ExitError
	err := x.Run(context.Background(), &command.Cmd{Argv: []string{"sh", "-c", "echo oops >&2; exit 3"}, Sudo: true})
	if !errors.As(err, &xe) || xe.Code != 3 || !slices.Equal(xe.Tail, []string{"oops"}) {
		t.Errorf("err = %#v, want exit status 3 with its stderr", err)
	}
	err = x.Run(context.Background(), &command.Cmd{Argv: []string{"sh", "-c", "kill -s KILL $$"}, Sudo: true})
	if !errors.As(err, &xe) || xe.Signal != "killed" {
		t.Errorf("err = %v, want killed by SIGKILL", err)
	}
	err = x.Run(context.Background(), &command.Cmd{Argv: []string{"no-such-program-sysinit"}, Sudo: true})
	if !errors.As(err, &xe) || xe.Code != 127 || len(xe.Tail) == 0 || !strings.Contains(xe.Tail[0], "no-such-program-sysinit: not found") {
		t.Errorf("err = %#v, want exit 127 saying the program was not found", err)
	}
}

// TestExecLifelineCancel: SIGTERM reaches the program through the
// lifeline (as sudo relays it), and what it started dies with its group.
func TestExecLifelineCancel(t *testing.T) {
	x, _ := lifelineExec(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newSignalWriter("ready")
	pidFile := t.TempDir() + "/bg.pid"
	errc := make(chan error, 1)
	go func() {
		errc <- x.Run(ctx, &command.Cmd{
			Argv:   []string{"sh", "-c", `trap 'exit 3' TERM; (trap '' TERM; exec sleep 3600) & echo $! > "$1"; echo ready; while :; do sleep 0.1; done`, "sh", pidFile},
			Sudo:   true,
			Stdout: out,
		})
	}()
	select {
	case <-out.ready:
	case err := <-errc:
		t.Fatalf("ended before it was ready: %v", err)
	}
	cancel()
	err := <-errc
	var xe *command.ExitError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &xe) || xe.Code != 3 {
		t.Errorf("err = %v, want exit 3 from the TERM trap", err)
	}
	waitGone(t, readPID(t, pidFile))
}
