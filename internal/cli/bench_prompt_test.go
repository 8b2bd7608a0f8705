package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchAgainstAsksOnATerminal: on a terminal, `bench --against` runs
// the old command only when the user answers yes; any other answer
// measures nothing.
func TestBenchAgainstAsksOnATerminal(t *testing.T) {
	for _, tc := range []struct {
		answer   string
		exit     string
		againsts int // lines the old command appends
		screen   string
	}{
		{"y", "EXIT=0", 1, `(?m)^old command +[0-9.]+(µs|ms|s) `},
		{"n", "EXIT=1", 0, `sysinit: not confirmed: nothing measured`},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			s := tmuxBench(t, `
[steps.build]
kind   = "command"
run    = "echo build >> ran.log"
inputs = ["src/**"]
`, "--runs 1 --warmup 0 --refresh-first --against 'echo old >> against.log'")
			s.waitScreen(regexp.MustCompile(`(?s)bench will run 'echo old >> against.log' with sh -c in .* once: .*run it\? \[y/N\]`))
			s.tm("send-keys", "-t", "live", tc.answer, "Enter")
			screen, exit := s.wait()
			if exit != tc.exit {
				t.Errorf("%s, want %s", exit, tc.exit)
			}
			if !regexp.MustCompile(tc.screen).MatchString(screen) {
				t.Errorf("the screen does not match %s", tc.screen)
			}
			data, err := os.ReadFile(filepath.Join(s.repo, "against.log"))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if got := strings.Count(string(data), "old\n"); got != tc.againsts {
				t.Errorf("the old command ran %d times, want %d", got, tc.againsts)
			}
		})
	}
}

// tmuxBench starts `sysinit -C repo bench ARGS` on a tmux terminal, repo
// holding config and a src dir.
func tmuxBench(t *testing.T, config, args string) *tmuxSession {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the terminal tests: apt-get install tmux")
		}
		t.Skip("tmux not installed: bench's question is checked on a real terminal; apt-get install tmux")
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	write(t, filepath.Join(repo, "sysinit.toml"), config)
	write(t, filepath.Join(repo, "src", "a.c"), "int a;\n")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("sysinit-test-%d-%d", os.Getpid(), tmuxSessions.Add(1))
	done := filepath.Join(dir, "done")
	script := fmt.Sprintf("env SYSINIT_TEST_MAIN=1 HOME=%[1]s XDG_CACHE_HOME=%[1]s/cache XDG_STATE_HOME=%[1]s/state TERM=xterm-256color %[2]s -C %[3]s bench %[5]s; echo EXIT=$? > %[4]s; sleep 60",
		dir, self, repo, done, args)
	s := &tmuxSession{t: t, repo: repo, done: done, width: 100}
	s.tm = func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	s.tm("-u", "new-session", "-d", "-x", "100", "-y", "40", "-s", "live", script)
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", socket, "kill-server").Run() })
	return s
}
