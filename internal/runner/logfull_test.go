package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/step"
)

// TestRunLogWriteFails: when writing a step's log fails (here the log is
// /dev/full: every write is "no space left on device"), the step's program
// keeps running with its output drained — it is not killed by SIGPIPE nor
// blocked — and succeeds; the failure is reported once, and the step's end
// says its log is incomplete.
func TestRunLogWriteFails(t *testing.T) {
	h := newHarness(t)
	// The first step makes the second one's log a /dev/full (its run
	// directory exists only once a step starts).
	first := runs(func(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
		err := unix.Mknod(filepath.Join(h.opts.LogDir, "second.log"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 7)))
		if err != nil {
			t.Skipf("cannot make a /dev/full device node: %v", err)
		}
		return step.Outcome{}, nil
	})
	second := runs(func(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
		// Far more than a pipe holds (300 KB), in long lines.
		return step.Outcome{}, command.Exec{}.Run(ctx, &command.Cmd{
			Argv:   []string{"sh", "-c", `i=0; while [ $i -lt 300 ]; do printf '%01000d\n' $i; i=$((i+1)); done`},
			Stdout: rc.Out, Stderr: rc.Out,
		})
	})
	res := h.run(context.Background(), decision("first", first), decision("second", second, "first"))
	want(t, res, map[string]Status{"first": StatusDone, "second": StatusDone}, nil)
	var notices []string
	last := ""
	for _, e := range h.obs.list() {
		switch {
		case e.Type == EventNotice:
			notices = append(notices, e.Line)
		case e.Type == EventStepOutput && e.Step == "second":
			last = e.Line
		case e.Type == EventStepEnd && e.Step == "second" && !strings.Contains(e.Note, "log incomplete"):
			t.Errorf("second's end note %q does not say its log is incomplete", e.Note)
		}
	}
	if want := fmt.Sprintf("%01000d", 299); last != want {
		t.Errorf("the last line of output seen is %.20q…, want %.20q…: output was lost", last, want)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "second: log write failed: ") || !strings.Contains(notices[0], "no space left on device") {
		t.Errorf("notices = %q, want one saying second's log write failed", notices)
	}
	if _, err := os.Stat(filepath.Join(h.opts.LogDir, "first.log")); err != nil {
		t.Error(err)
	}
}
