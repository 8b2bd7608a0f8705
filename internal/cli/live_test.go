package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tmuxSession is `sysinit -C repo refresh` running on a real terminal
// emulator (tmux).
type tmuxSession struct {
	t     *testing.T
	tm    func(args ...string) string
	repo  string
	done  string
	width int
}

// tmuxSessions numbers the tmux servers a test process starts.
var tmuxSessions atomic.Int32

// tmuxStart starts `sysinit -C repo refresh` on a tmux terminal of
// cols×rows with the locale given, repo holding config.
func tmuxStart(t *testing.T, cols, rows int, locale, config string) *tmuxSession {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the live-view test: apt-get install tmux")
		}
		t.Skip("tmux not installed: the live view is checked on a real terminal emulator; apt-get install tmux")
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	write(t, filepath.Join(repo, "sysinit.toml"), config)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("sysinit-test-%d-%d", os.Getpid(), tmuxSessions.Add(1))
	done := filepath.Join(dir, "done")
	// A prompt line first, as in a shell: with the block on the top row, a
	// clear-below clears the whole screen, which tmux (scroll-on-clear)
	// copies into the history that the captures include.
	script := fmt.Sprintf("echo '$ sysinit refresh'; env -u LC_ALL -u LC_CTYPE -u LANG %[5]s SYSINIT_TEST_MAIN=1 HOME=%[1]s XDG_CACHE_HOME=%[1]s/cache XDG_STATE_HOME=%[1]s/state TERM=xterm-256color %[2]s -C %[3]s refresh; echo EXIT=$? > %[4]s; sleep 60",
		dir, self, repo, done, locale)
	s := &tmuxSession{t: t, repo: repo, done: done, width: cols}
	s.tm = func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// -u: the emulator itself speaks UTF-8 whatever the test's locale; the
	// locale sysinit sees is the one given.
	s.tm("-u", "new-session", "-d", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), "-s", "live", script)
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", socket, "kill-server").Run() })
	return s
}

// capture returns the screen with what scrolled off it, wrapped lines
// joined as written (-J).
func (s *tmuxSession) capture() string {
	return s.tm("capture-pane", "-p", "-J", "-S", "-", "-t", "live")
}

// waitScreen waits until the screen matches re.
func (s *tmuxSession) waitScreen(re *regexp.Regexp) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !re.MatchString(s.capture()) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never matched %s:\n%s", re, s.capture())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for sysinit to exit and returns the final screen and the exit
// line.
func (s *tmuxSession) wait() (screen, exit string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(s.done); err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("refresh did not finish; screen:\n%s", s.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
	e, _ := os.ReadFile(s.done)
	screen = s.capture()
	s.t.Logf("final screen (%d columns, wrapped lines joined):\n%s", s.width, screen)
	s.t.Logf("as shown:\n%s", s.tm("capture-pane", "-p", "-S", "-", "-t", "live"))
	return screen, strings.TrimSpace(string(e))
}

// tmuxRun runs a refresh on tmux to its end (see tmuxStart).
func tmuxRun(t *testing.T, cols, rows int, locale, config string) (screen, exit string) {
	t.Helper()
	return tmuxStart(t, cols, rows, locale, config).wait()
}

// TestLiveViewInTmuxWaitingFor: while a step runs, the steps after it say
// what they wait for.
func TestLiveViewInTmuxWaitingFor(t *testing.T) {
	s := tmuxStart(t, 80, 24, "LANG=C.UTF-8", `
[steps.nix-conf]
kind = "command"
run  = "true"

[steps.flake-update]
kind = "command"
run  = "i=0; until [ -e go ] || [ $i -ge 600 ]; do sleep 0.05; i=$((i+1)); done"

[steps.system]
kind  = "command"
run   = "true"
after = ["flake-update", "nix-conf"]

[steps.fonts]
kind  = "command"
run   = "true"
after = ["system"]
`)
	s.waitScreen(regexp.MustCompile(`(?m)^○ system +waiting for flake-update *$`))
	s.waitScreen(regexp.MustCompile(`(?m)^○ fonts +waiting for system *$`))
	write(t, filepath.Join(s.repo, "go"), "")
	screen, exit := s.wait()
	if exit != "EXIT=0" {
		t.Errorf("exit: %s, want EXIT=0", exit)
	}
	for _, name := range []string{"nix-conf", "flake-update", "system", "fonts"} {
		if re := regexp.MustCompile(`(?m)^✓ ` + name + ` +done`); len(re.FindAllString(screen, -1)) != 1 {
			t.Errorf("%s is not done once on the final screen", name)
		}
	}
}

// TestLiveViewInTmux runs a real refresh on a real terminal emulator
// (tmux): three parallel steps, one failing. The final screen must show
// one row per step with its mark, the failure's tail and log above the
// block, and the summary — and no row twice (what a garbled redraw leaves).
func TestLiveViewInTmux(t *testing.T) {
	screen, exit := tmuxRun(t, 72, 24, "LANG=C.UTF-8", `
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
	if exit != "EXIT=1" {
		t.Errorf("exit: %s, want EXIT=1", exit)
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

// TestLiveViewInTmuxNarrow: on a 40- and a 20-column terminal the final
// frame is never cut: every row, note, error and path is on the screen
// whole (the terminal wraps what is wider), once, and nothing of the live
// frames is left behind. Without a UTF-8 locale the marks are ASCII.
func TestLiveViewInTmuxNarrow(t *testing.T) {
	const config = `
[steps.flake-update]
kind = "command"
run  = "echo fetching; sleep 0.3"

[steps.a-step-with-a-rather-long-descriptive-name]
kind  = "command"
run   = "for i in 1 2 3; do echo working on part $i of the job; sleep 0.1; done"
after = ["flake-update"]

[steps.fonts]
kind = "command"
run  = "sleep 0.2; echo 'fc-cache: 字体 ☕ cannot lock /var/folders/xy/T/fontconfig/cache-9.lock' >&2; exit 4"
`
	for _, tt := range []struct {
		cols   int
		locale string
		done   string // the mark of a done step
		failed string
		sep    string
	}{
		{40, "LANG=C.UTF-8", "✓", "✗", " · "},
		{20, "LANG=C.UTF-8", "✓", "✗", " · "},
		{40, "LANG=C", "+", "x", ", "},
		{20, "LC_ALL=POSIX LANG=C.UTF-8", "+", "x", ", "},
	} {
		t.Run(fmt.Sprintf("%d-%s", tt.cols, strings.ReplaceAll(tt.locale, " ", "-")), func(t *testing.T) {
			screen, exit := tmuxRun(t, tt.cols, 24, tt.locale, config)
			if exit != "EXIT=1" {
				t.Errorf("exit: %s, want EXIT=1", exit)
			}
			m := regexp.QuoteMeta
			for _, want := range []string{
				`(?m)^` + m(tt.done) + ` flake-update +done +[0-9.]+m?s$`,
				`(?m)^` + m(tt.done) + ` a-step-with-a-rather-long-descriptive-name +done +[0-9.]+m?s$`,
				`(?m)^` + m(tt.failed) + ` fonts +failed +[0-9.]+m?s +sh: exit status 4$`,
				`(?m)^` + m(tt.failed) + ` fonts failed after [0-9.]+m?s: sh: exit status 4$`,
				`(?m)^    fc-cache: 字体 ☕ cannot lock /var/folders/xy/T/fontconfig/cache-9\.lock$`,
				`(?m)^  log: .*/logs/[^/]+/fonts\.log$`,
				`(?m)^ran 2` + m(tt.sep) + `skipped 0` + m(tt.sep) + `failed 1` + m(tt.sep) + `[0-9.]+m?s$`,
				`(?m)^logs: .*/logs/[^/]+$`,
			} {
				if n := len(regexp.MustCompile(want).FindAllString(screen, -1)); n != 1 {
					t.Errorf("%d lines match %s, want 1", n, want)
				}
			}
			for _, stale := range []string{"working on part", "fetching", "waiting", "running", "…", "..."} {
				if strings.Contains(screen, stale) {
					t.Errorf("the final screen still shows %q", stale)
				}
			}
			if tt.done == "+" && strings.ContainsAny(screen, "✓✗·○⊘–…⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
				t.Errorf("Unicode marks without a UTF-8 locale:\n%s", screen)
			}
		})
	}
}
