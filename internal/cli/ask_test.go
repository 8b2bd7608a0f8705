package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// askFlake is a nix-profile step's flake whose dependency's version and
// size come from modules/ver.nix, so that a change shows in the closure
// diff.
const askFlake = `{
  outputs = { self }: let
    ver = import ./modules/ver.nix;
    dep = derivation {
      name = "dep-${ver.v}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      PATH = "/usr/bin:/bin";
      args = [ "-c" "mkdir -p $out && head -c ${toString ver.size} /dev/zero > $out/blob" ];
    };
  in {
    sys = derivation {
      name = "system-1.0";
      inherit dep;
      system = "x86_64-linux";
      builder = "/bin/sh";
      PATH = "/usr/bin:/bin";
      args = [ "-c" "mkdir -p $out && ln -s $dep $out/dep" ];
    };
  };
}
`

// TestAskInTmux runs `refresh --ask` on a real terminal (tmux) with real
// Nix: the live block gives way to the closure diff and the question,
// and comes back after the answer. y switches; n, a bare Enter and Ctrl-C
// leave the profile as it was, n and Enter failing the step with the
// reason, Ctrl-C ending the run with 130. With stdin not the terminal it
// refuses before anything runs. (With no terminal at all, and with
// --yes: testdata/script/nix_daily.txtar.)
func TestAskInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required in CI for the --ask test: apt-get install tmux")
		}
		t.Skip("tmux not installed: --ask is checked on a real terminal emulator; apt-get install tmux")
	}
	if _, err := exec.LookPath("nix"); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skip("nix not installed: " + err.Error())
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		redirect string // appended to the command line
		answer   func(p *askPane)
		exit     string
		applied  bool
		screen   []string
	}{
		{"yes", "", func(p *askPane) { p.typeLine("y") }, "EXIT=0", true,
			[]string{"✓ sys    done", "switched to generation 2; 1 package changed, +39.1 KiB", "ran 1"}},
		{"no", "", func(p *askPane) { p.typeLine("n") }, "EXIT=1", false,
			[]string{"✗ sys", "was built but not applied: declined at the prompt"}},
		{"enter", "", func(p *askPane) { p.typeLine("") }, "EXIT=1", false,
			[]string{"declined at the prompt"}},
		{"ctrl-c", "", func(p *askPane) { p.tm("send-keys", "-t", "t", "C-c") }, "EXIT=130", false,
			[]string{"interrupted"}},
		// On the terminal, but with nothing to read the answer from: refused
		// before anything runs.
		{"stdin not a terminal", " </dev/null", nil, "EXIT=2", false,
			[]string{"sysinit: --ask needs a terminal to ask on, and stdin is not a terminal", "add --yes"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			repo := filepath.Join(dir, "repo")
			write(t, filepath.Join(repo, "sysinit.toml"), `
[steps.sys]
kind     = "nix-profile"
flake    = ".#sys"
profile  = "../profiles/sys"

[steps.other]
kind = "command"
run  = "echo other"
`)
			write(t, filepath.Join(repo, "flake.nix"), askFlake)
			write(t, filepath.Join(repo, "modules/ver.nix"), `{ v = "1.0"; size = 20000; }`)
			write(t, filepath.Join(dir, "profiles/.keep"), "")
			registry := filepath.Join(dir, "registry.json")
			write(t, registry, `{"flakes":[],"version":2}`)
			env := []string{
				"SYSINIT_TEST_MAIN=1", "HOME=" + dir, "XDG_CACHE_HOME=" + dir + "/cache", "XDG_STATE_HOME=" + dir + "/state",
				"NIX_CONFIG=" + nixConfig + "\nflake-registry = " + registry,
				"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			}
			run := func(argv ...string) string {
				t.Helper()
				c := exec.Command(argv[0], argv[1:]...)
				c.Dir, c.Env = repo, append(os.Environ(), env...)
				out, err := c.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
				}
				return string(out)
			}
			run("git", "init", "-q")
			run("git", "add", "-A")
			run(self, "refresh")
			profile := filepath.Join(dir, "profiles/sys")
			gen1, err := filepath.EvalSymlinks(profile)
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(repo, "modules/ver.nix"), `{ v = "1.1"; size = 60000; }`)
			run("git", "add", "-A")

			p := &askPane{t: t, tmux: tmux, socket: fmt.Sprintf("sysinit-ask-%d-%d", os.Getpid(), i)}
			p.tm("-u", "new-session", "-d", "-x", "110", "-y", "40", "-s", "t", "/bin/sh -i")
			t.Cleanup(func() { _ = exec.Command(tmux, "-L", p.socket, "kill-server").Run() })
			done := filepath.Join(dir, "done")
			quoted := make([]string, len(env))
			for i, kv := range env {
				quoted[i] = "'" + strings.ReplaceAll(kv, "'", `'\''`) + "'"
			}
			p.typeLine(fmt.Sprintf("env LANG=C.UTF-8 TERM=xterm-256color %s %s -C %s refresh --ask%s; echo EXIT=$? > %s",
				strings.Join(quoted, " "), self, repo, tt.redirect, done))
			question := "sysinit: apply sys? [y/N]"
			if tt.answer != nil {
				p.waitFor(question)
				screen := p.screen()
				for _, want := range []string{"sysinit: sys is ready to apply:", "switch from " + gen1, "dep: 1.0 → 1.1, ", "1 package changed, +39.1 KiB"} {
					if !strings.Contains(screen, want) {
						t.Errorf("the question's screen lacks %q:\n%s", want, screen)
					}
				}
				if strings.Index(screen, "dep: 1.0 → 1.1") > strings.Index(screen, question) {
					t.Errorf("the diff is not above the question:\n%s", screen)
				}
				tt.answer(p)
			}
			deadline := time.Now().Add(60 * time.Second)
			for !fileExists(done) {
				if time.Now().After(deadline) {
					t.Fatalf("sysinit did not finish; screen:\n%s", p.screen())
				}
				time.Sleep(50 * time.Millisecond)
			}
			screen := p.screen()
			t.Logf("final screen:\n%s", screen)
			if got := strings.TrimSpace(readOrEmpty(done)); got != tt.exit {
				t.Errorf("exit: %s, want %s", got, tt.exit)
			}
			for _, want := range tt.screen {
				if !strings.Contains(screen, want) {
					t.Errorf("final screen lacks %q", want)
				}
			}
			// The block came back below the question, drawn once.
			if i, j := strings.Index(screen, question), strings.LastIndex(screen, "sys "); tt.answer != nil && tt.exit != "EXIT=130" && (j < i) {
				t.Errorf("the block is not below the question")
			}
			now, err := filepath.EvalSymlinks(profile)
			if err != nil {
				t.Fatal(err)
			}
			if applied := now != gen1; applied != tt.applied {
				t.Errorf("profile -> %s (was %s): applied %v, want %v", now, gen1, applied, tt.applied)
			}
			_, err = os.Lstat(filepath.Join(dir, "profiles/sys-2-link"))
			if (err == nil) != tt.applied {
				t.Errorf("generation 2 exists: %v, want %v", err == nil, tt.applied)
			}
		})
	}
}

// askPane is a tmux session with an interactive shell, whose job control
// gives sysinit the terminal's foreground.
type askPane struct {
	t      *testing.T
	tmux   string
	socket string
}

func (p *askPane) tm(args ...string) string {
	p.t.Helper()
	out, err := exec.Command(p.tmux, append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *askPane) screen() string { return p.tm("capture-pane", "-p", "-J", "-S", "-", "-t", "t") }

func (p *askPane) typeLine(s string) {
	p.t.Helper()
	if s != "" {
		p.tm("send-keys", "-t", "t", "-l", s)
	}
	p.tm("send-keys", "-t", "t", "Enter")
}

// waitFor waits until s shows on the screen; the bound only turns a
// question that never comes into a failure.
func (p *askPane) waitFor(s string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.screen(), s) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%q never showed; screen:\n%s", s, p.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
