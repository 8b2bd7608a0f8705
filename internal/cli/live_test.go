package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLiveViewInTmux runs a real refresh on a real terminal emulator
// (tmux): three parallel steps, one failing. The final screen must show
// one row per step with its mark, the failure's tail and log above the
// block, and the summary — and no row twice (what a garbled redraw leaves).
func TestLiveViewInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the live-view test: apt-get install tmux")
		}
		t.Skip("tmux not installed: the live view is checked on a real terminal emulator; apt-get install tmux")
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	write(t, filepath.Join(repo, "sysinit.toml"), `
[steps.alpha]
kind = "command"
run  = "for i in 1 2 3 4 5; do echo alpha working $i; sleep 0.2; done"

[steps.bravo]
kind = "command"
run  = "sleep 0.6; echo bravo fine"

[steps.charlie]
kind = "command"
run  = "echo preparing; sleep 0.4; echo 'boom: the disk is on fire' >&2; exit 4"
`)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("sysinit-test-%d", os.Getpid())
	done := filepath.Join(dir, "done")
	script := fmt.Sprintf("env SYSINIT_TEST_MAIN=1 HOME=%[1]s XDG_CACHE_HOME=%[1]s/cache XDG_STATE_HOME=%[1]s/state TERM=xterm-256color %[2]s -C %[3]s refresh; echo EXIT=$? > %[4]s; sleep 60",
		dir, self, repo, done)
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-x", "72", "-y", "24", "-s", "live", script)
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", socket, "kill-server").Run() })

	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(done); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh did not finish; screen:\n%s", tm("capture-pane", "-p", "-t", "live"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	exit, _ := os.ReadFile(done)
	screen := tm("capture-pane", "-p", "-t", "live")
	t.Logf("final screen:\n%s", screen)
	if got := strings.TrimSpace(string(exit)); got != "EXIT=1" {
		t.Errorf("exit: %s, want EXIT=1", got)
	}
	rows := map[string]*regexp.Regexp{
		"alpha":   regexp.MustCompile(`(?m)^\s*✓ alpha\s+done\s+\S+`),
		"bravo":   regexp.MustCompile(`(?m)^\s*✓ bravo\s+done\s+\S+`),
		"charlie": regexp.MustCompile(`(?m)^\s*✗ charlie\s+failed\s+[0-9]`),
	}
	for name, re := range rows {
		if n := len(re.FindAllString(screen, -1)); n != 1 {
			t.Errorf("row %s appears %d times, want once", name, n)
		}
	}
	for _, want := range []string{"boom: the disk is on fire", "charlie.log", "ran 2 · skipped 0 · failed 1"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if i, j := strings.Index(screen, "boom: the disk is on fire"), strings.Index(screen, "✓ alpha"); i < 0 || j < 0 || i > j {
		t.Errorf("the failure's tail should be above the block")
	}
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, "alpha working") && strings.Contains(line, "✓") {
			t.Errorf("garbled line (a stale detail line merged into a row): %q", line)
		}
	}
}
