package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/sudotest"
)

// TestSudoPromptInTmux runs a refresh whose step needs root on a real
// terminal (tmux), as a user whose sudo asks for a password and who has no
// ticket, with Debian's sudo. The prompt must show, the password typed
// must not, and the three ways it ends must end cleanly: the right
// password runs the steps (the root one as root, with its env); three wrong
// ones fail the run with sudo's reason and run nothing; Ctrl-C at the
// prompt exits 130 and runs nothing. The terminal echoes again afterwards.
func TestSudoPromptInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv(sudotest.RequireEnv) == "1" {
			t.Fatal("tmux is required for the sudo prompt test: apt-get install tmux")
		}
		t.Skip("tmux not installed: the sudo prompt is checked on a real terminal emulator; apt-get install tmux")
	}
	u := sudotest.New(t, sudotest.Options{Password: true})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := u.Copy(t, self, 0o755)
	prompt := fmt.Sprintf("sysinit: password for %s (some steps run as root): ", u.Name)

	tests := []struct {
		name   string
		answer func(p *pane) // what the user types at the prompt
		exit   string
		ran    bool
		screen []string // on the final screen
		unseen []string // never on it
	}{
		{
			name: "right password",
			answer: func(p *pane) {
				p.waitFor(prompt, 1)
				p.typeLine(u.Password)
			},
			exit:   "EXIT=0",
			ran:    true,
			screen: []string{strings.TrimSpace(prompt), "+ as-root", "+ plain"}, // ASCII marks: the test shell has no UTF-8 locale
			unseen: []string{u.Password},
		},
		{
			name: "three wrong passwords",
			answer: func(p *pane) {
				for i := 1; i <= 3; i++ {
					p.waitFor(prompt, i)
					p.typeLine(fmt.Sprintf("wrong-%d-%s", i, u.Password))
				}
			},
			exit:   "EXIT=1",
			screen: []string{"could not get root: sudo -v failed: 3 incorrect password attempts"},
			unseen: []string{"wrong-1", "wrong-2", "wrong-3", "+ as-root", "+ plain"},
		},
		{
			name: "ctrl-c at the prompt",
			answer: func(p *pane) {
				p.waitFor(prompt, 1)
				p.tm("send-keys", "-t", "t", "-l", "half-typed")
				p.tm("send-keys", "-t", "t", "C-c")
			},
			exit:   "EXIT=130",
			screen: []string{"sysinit: interrupted"},
			unseen: []string{"half-typed", "+ as-root", "x as-root", "+ plain", "x plain"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := u.Mkdir(t, strings.ReplaceAll(tt.name, " ", "-"))
			repo := u.Mkdir(t, filepath.Join(filepath.Base(work), "repo"))
			write(t, filepath.Join(repo, "sysinit.toml"), `
[steps.as-root]
kind = "command"
sudo = true
env  = { SYSINIT_SECRET = "s3cret-value" }
run  = "id -u > ran-as; printf %s \"$SYSINIT_SECRET\" > secret-seen"

[steps.plain]
kind = "command"
run  = "touch plain-ran"
`)
			u.Own(t, filepath.Join(repo, "sysinit.toml"))
			// Each run starts without a ticket: sudo must ask.
			os.RemoveAll(filepath.Join("/run/sudo/ts", u.Name))
			done := filepath.Join(work, "done")
			stty := filepath.Join(work, "stty")
			p := &pane{t: t, tmux: tmux, u: u, socket: filepath.Join(work, "tmux")}
			// The terminal is the user's (tmux runs as them), with their
			// interactive shell: it gives sysinit a process group of its
			// own, the terminal's foreground group, and survives a Ctrl-C.
			p.tm("new-session", "-d", "-x", "100", "-y", "30", "-s", "t", "/bin/sh -i")
			t.Cleanup(func() { _ = u.Command(nil, tmux, "-S", p.socket, "kill-server").Run() })
			p.typeLine(fmt.Sprintf("env SYSINIT_TEST_MAIN=1 XDG_CACHE_HOME=%[1]s/cache XDG_STATE_HOME=%[1]s/state TERM=xterm-256color %[2]s -C %[3]s refresh; echo EXIT=$? > %[4]s; stty -a > %[5]s",
				work, bin, repo, done, stty))

			tt.answer(p)
			screen := p.waitDone(done)
			t.Logf("final screen:\n%s", screen)
			if got := strings.TrimSpace(readOrEmpty(done)); got != tt.exit {
				t.Errorf("exit: %s, want %s", got, tt.exit)
			}
			for _, s := range tt.screen {
				if !strings.Contains(screen, s) {
					t.Errorf("screen lacks %q", s)
				}
			}
			for _, s := range tt.unseen {
				if strings.Contains(screen, s) {
					t.Errorf("screen shows %q", s)
				}
			}
			// sudo turned echo off for the password; it must be on again.
			if s := readOrEmpty(stty); !regexp.MustCompile(`(^|\s)echo(\s|$)`).MatchString(s) {
				t.Errorf("the terminal no longer echoes: stty -a says\n%s", s)
			}
			ranAs, plainRan := readOrEmpty(filepath.Join(repo, "ran-as")), readOrEmpty(filepath.Join(repo, "plain-ran"))
			if !tt.ran {
				if ranAs != "" || fileExists(filepath.Join(repo, "plain-ran")) {
					t.Errorf("steps ran: ran-as %q, plain-ran exists %v", ranAs, fileExists(filepath.Join(repo, "plain-ran")))
				}
				return
			}
			if ranAs != "0\n" || !fileExists(filepath.Join(repo, "plain-ran")) {
				t.Errorf("as-root ran as %q (want 0), plain ran %v %q", ranAs, fileExists(filepath.Join(repo, "plain-ran")), plainRan)
			}
			if got := readOrEmpty(filepath.Join(repo, "secret-seen")); got != "s3cret-value" {
				t.Errorf("the root step saw SYSINIT_SECRET=%q", got)
			}
		})
	}
}

// pane is a tmux session run as a test user.
type pane struct {
	t      *testing.T
	tmux   string
	u      *sudotest.User
	socket string
}

func (p *pane) tm(args ...string) string {
	p.t.Helper()
	out, err := p.u.Command(nil, append([]string{p.tmux, "-S", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *pane) screen() string { return p.tm("capture-pane", "-p", "-t", "t") }

// typeLine types s and Enter, as a person would.
func (p *pane) typeLine(s string) {
	p.t.Helper()
	p.tm("send-keys", "-t", "t", "-l", s)
	p.tm("send-keys", "-t", "t", "Enter")
}

// waitFor waits until s shows n times on the screen. The bound only turns
// a prompt that never comes into a failure instead of a hung test.
func (p *pane) waitFor(s string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := p.screen()
		if strings.Count(screen, strings.TrimSpace(s)) >= n {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%q did not show %d times; screen:\n%s", s, n, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDone waits for the pane's script to write done, and returns the
// screen then.
func (p *pane) waitDone(done string) string {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !fileExists(done) {
		if time.Now().After(deadline) {
			p.t.Fatalf("sysinit did not finish; screen:\n%s", p.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p.screen()
}

func readOrEmpty(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestSudoStepDiesWithKilledRefresh: a refresh, run by a user with no
// terminal, has a sudo step whose program (root's, deaf to SIGTERM and
// SIGHUP) is still running when the refresh is killed with SIGKILL. The
// program dies too: the user's reaper cannot kill root's processes, the
// lifeline sudo runs around it can.
func TestSudoStepDiesWithKilledRefresh(t *testing.T) {
	u := sudotest.New(t, sudotest.Options{})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := u.Copy(t, self, 0o755)
	work := u.Mkdir(t, "killed")
	repo := u.Mkdir(t, "killed/repo")
	pidFile := filepath.Join(work, "root.pid")
	write(t, filepath.Join(repo, "sysinit.toml"), fmt.Sprintf(`
[steps.as-root]
kind = "command"
sudo = true
run  = "trap '' TERM HUP; id -u > %[1]s.uid; echo $$ > %[1]s.tmp && mv %[1]s.tmp %[1]s; exec sleep 3600"
`, pidFile))
	u.Own(t, filepath.Join(repo, "sysinit.toml"))
	cmd := u.Command([]string{"SYSINIT_TEST_MAIN=1", "XDG_CACHE_HOME=" + work + "/cache", "XDG_STATE_HOME=" + work + "/state"},
		bin, "-C", repo, "refresh", "--progress=never")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	// The bound only turns a step that never started into a failure.
	deadline := time.Now().Add(30 * time.Second)
	for readOrEmpty(pidFile) == "" {
		select {
		case err := <-errc:
			t.Fatalf("the refresh ended before its step ran: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the step did not start\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readOrEmpty(pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if uid := strings.TrimSpace(readOrEmpty(pidFile + ".uid")); uid != "0" {
		t.Fatalf("the step ran as uid %q, want root", uid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-errc
	deadline = time.Now().Add(10 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("root's program %d still runs after the refresh was killed\n%s", pid, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSudoNoTicketHint: with `timestamp_timeout=0` sudo keeps no ticket
// after the password, so every later `sudo -n` — each step's — would fail
// "a password is required". Right after the password is taken, sysinit
// finds that out and says what to change; as when the password is wrong,
// nothing runs.
func TestSudoNoTicketHint(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv(sudotest.RequireEnv) == "1" {
			t.Fatal("tmux is required for the sudo prompt test: apt-get install tmux")
		}
		t.Skip("tmux not installed; apt-get install tmux")
	}
	u := sudotest.New(t, sudotest.Options{Password: true, Defaults: []string{"timestamp_timeout=0"}})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := u.Copy(t, self, 0o755)
	work := u.Mkdir(t, "noticket")
	repo := u.Mkdir(t, "noticket/repo")
	write(t, filepath.Join(repo, "sysinit.toml"), `
[steps.as-root]
kind = "command"
sudo = true
run  = "id -u > ran-as"

[steps.plain]
kind = "command"
run  = "touch plain-ran"
`)
	u.Own(t, filepath.Join(repo, "sysinit.toml"))
	done := filepath.Join(work, "done")
	p := &pane{t: t, tmux: tmux, u: u, socket: filepath.Join(work, "tmux")}
	p.tm("new-session", "-d", "-x", "200", "-y", "40", "-s", "t", "/bin/sh -i")
	t.Cleanup(func() { _ = u.Command(nil, tmux, "-S", p.socket, "kill-server").Run() })
	p.typeLine(fmt.Sprintf("env SYSINIT_TEST_MAIN=1 XDG_CACHE_HOME=%[1]s/cache XDG_STATE_HOME=%[1]s/state TERM=dumb %[2]s -C %[3]s refresh --progress=never; echo EXIT=$? > %[4]s",
		work, bin, repo, done))
	p.waitFor(fmt.Sprintf("sysinit: password for %s", u.Name), 1)
	p.typeLine(u.Password)
	screen := p.waitDone(done)
	t.Logf("final screen:\n%s", screen)
	if got := strings.TrimSpace(readOrEmpty(done)); got != "EXIT=1" {
		t.Errorf("exit: %s, want EXIT=1", got)
	}
	if want := "timestamp_timeout"; !strings.Contains(strings.Join(strings.Fields(screen), " "), want) {
		t.Errorf("screen does not name %q", want)
	}
	if fileExists(filepath.Join(repo, "ran-as")) {
		t.Error("the root step ran")
	}
	if fileExists(filepath.Join(repo, "plain-ran")) {
		t.Error("the plain step ran")
	}
}
