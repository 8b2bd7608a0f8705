package nix

import (
	"errors"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
)

// TestSudoersRule: the rule names the commands exactly as remoteShell runs
// them under sudo, so that sudo's match on the command and its arguments
// takes it.
func TestSudoersRule(t *testing.T) {
	got := sudoersRule("alice")
	want := "alice ALL=(root) NOPASSWD: /bin/sh -s sysinit-deploy, /bin/sh -s sysinit-confirm"
	if got != want {
		t.Fatalf("sudoersRule = %q, want %q", got, want)
	}
	for _, l := range sudoLabels {
		run := strings.Join(remoteShell(l, true), " ")
		if !strings.HasPrefix(run, "sudo -n ") || !strings.Contains(got, strings.Join(remoteShell(l, true)[4:], " ")) {
			t.Errorf("%s runs as %q, which the rule %q does not name", l, run, got)
		}
	}
	if !strings.Contains(sudoCheckScript(), "sudo -n -l /bin/sh -s sysinit-deploy") {
		t.Errorf("the check does not ask about the deploy command:\n%s", sudoCheckScript())
	}
}

// TestSudoFailure: sudo's refusals of a script, in its own words, become
// the explanation and the fix; the script's own failures, ssh's, and those
// of a script not run through sudo are left alone.
func TestSudoFailure(t *testing.T) {
	rs := &remoteSystem{host: &host{cfg: &config.Host{Name: "box", SSH: "alice@10.0.0.5:2222", User: "alice", Address: "10.0.0.5", Port: "2222"}}}
	exit := func(code int) error { return &command.ExitError{Code: code} }
	noise := "sudo: unable to resolve host vm: Name or service not known\n"
	for _, tc := range []struct {
		name   string
		sudo   bool
		stderr string
		err    error
		want   []string // "" when not sudo's refusal
	}{
		{"password", true, noise + "sudo: a password is required\n", exit(1),
			[]string{"sudo on box (alice@10.0.0.5:2222) wants alice's password", "never types one",
				`"alice ALL=(root) NOPASSWD: /bin/sh -s sysinit-deploy, /bin/sh -s sysinit-confirm"`, `ssh = "root@10.0.0.5:2222"`}},
		{"not allowed", true, "Sorry, user alice is not allowed to execute '/bin/sh -s sysinit-deploy' as root on box.\n", exit(1),
			[]string{"refuses alice the activation as root (Sorry, user alice is not allowed", "NOPASSWD"}},
		{"not in sudoers", true, "alice is not in the sudoers file.\n", exit(1),
			[]string{"refuses alice the activation as root", "NOPASSWD"}},
		{"requiretty", true, "sudo: sorry, you must have a tty to run sudo\n", exit(1),
			[]string{"requires a terminal", `Defaults:alice !requiretty`}},
		{"the script's own failure", true, noise + "a unit failed\n", exit(3), nil},
		{"ssh's failure", true, "sudo: x\n", exit(255), nil},
		{"no sudo", false, "sudo: a password is required\n", exit(1), nil},
		{"not an exit", true, "sudo: a password is required\n", errors.New("killed"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := rs.sudoFailureIf(tc.sudo, "alice", tc.stderr, tc.err)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}
