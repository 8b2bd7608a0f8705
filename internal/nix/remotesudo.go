package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
)

// Activating a system on a machine sysinit logs in to as a user other than
// root takes root there: the deploy and confirm scripts run under
// `sudo -n` (remoteShell). sysinit never prompts — there is no terminal
// over its batch ssh — so a sudo that wants a password must fail at once,
// and say what to change: a NOPASSWD rule for exactly those two commands,
// or a login as root.

// sudoLabels are the scripts that run as root through sudo.
var sudoLabels = []string{"deploy", "confirm"}

// sudoersRule is the sudoers line that lets user run sysinit's activation
// without a password: its two scripts, named as remoteShell runs them.
func sudoersRule(user string) string {
	cmds := make([]string, len(sudoLabels))
	for i, l := range sudoLabels {
		cmds[i] = strings.Join(remoteShell(l, true)[4:], " ")
	}
	return user + " ALL=(root) NOPASSWD: " + strings.Join(cmds, ", ")
}

// sudoCheckScript asks the machine's sudo, without running anything as
// root, whether the login may run each of the scripts as root without a
// password: `sudo -n -l CMD` exits 0 when the policy allows CMD, and
// fails at once when it would need a password.
func sudoCheckScript() string {
	var b strings.Builder
	b.WriteString(`main() {
	if ! command -v sudo >/dev/null 2>&1; then printf 'sudo\tmissing\n'; return; fi
`)
	for _, l := range sudoLabels {
		cmd := command.Join(remoteShell(l, true)[4:])
		fmt.Fprintf(&b, "\tif ! out=$(sudo -n -l %s 2>&1); then printf 'sudo\\trefused\\t%%s\\n' %s; printf '%%s\\n' \"$out\"; return; fi\n", cmd, command.Quote(l))
	}
	b.WriteString("\tprintf 'sudo\\tok\\n'\n}\nmain </dev/null\n")
	return b.String()
}

// sudoError is a machine's sudo refusing to run sysinit's scripts as root.
type sudoError struct{ msg string }

func (e *sudoError) Error() string { return e.msg }

// checkSudo makes sure the login may become root without a password for
// the scripts that activate, before anything is built or copied for the
// machine. f is what the run read of the machine.
func (rs *remoteSystem) checkSudo(ctx context.Context, r *runner, f *facts) error {
	h := rs.host
	if !rs.sudo || f.uid == "0" {
		return nil
	}
	r.progress("asking sudo on " + h.cfg.Name)
	var out bytes.Buffer
	var errb lockedBuffer
	if err := h.script(ctx, "sudo", sudoCheckScript(), false, viaMaster, &out, &errb); err != nil {
		return h.failure("asking sudo on", errb.String(), err)
	}
	lines := nonEmptyLines(out.String())
	if len(lines) == 0 {
		return fmt.Errorf("asking sudo on %s: no answer", h.spec())
	}
	fields := strings.Split(lines[0], "\t")
	switch {
	case len(fields) >= 2 && fields[0] == "sudo" && fields[1] == "ok":
		fmt.Fprintf(r.out, "sudo -n -l on %s: %s may run the activation as root without a password\n", h.cfg.Name, f.user)
		return nil
	case len(fields) >= 2 && fields[0] == "sudo" && fields[1] == "missing":
		return &sudoError{fmt.Sprintf("%s logs in as %s, not root, and has no sudo to set the system profile and activate as root: log in as root there (ssh = %q), or install sudo and let %s use it without a password (%s)",
			h.spec(), f.user, rootSSH(h), f.user, sudoersRule(f.user))}
	case len(fields) >= 3 && fields[0] == "sudo" && fields[1] == "refused":
		return rs.sudoRefused(f.user, strings.Join(lines[1:], "\n"))
	}
	return fmt.Errorf("asking sudo on %s: unexpected answer %q", h.spec(), firstLines(out.String(), 3))
}

// sudoRefused explains sudo's refusal, from its own words, with the fix.
func (rs *remoteSystem) sudoRefused(user, said string) error {
	h := rs.host
	last := lastNonEmpty(nonEmptyLines(said))
	fix := fmt.Sprintf("let %s run sysinit's activation as root without a password — on %s, in /etc/sudoers.d/sysinit (visudo -f /etc/sudoers.d/sysinit): %q — or log in as root there (ssh = %q)",
		user, h.cfg.Name, sudoersRule(user), rootSSH(h))
	var why string
	switch {
	case strings.Contains(said, "password is required") || strings.Contains(said, "terminal is required"):
		why = fmt.Sprintf("sudo on %s wants %s's password to run the activation as root, and sysinit never types one (there is no terminal over its ssh)", h.spec(), user)
	case strings.Contains(said, "must have a tty"):
		why = fmt.Sprintf("sudo on %s requires a terminal (Defaults requiretty), which sysinit's ssh has not", h.spec())
		fix = fmt.Sprintf("add \"Defaults:%s !requiretty\" beside the rule %q there, or log in as root (ssh = %q)", user, sudoersRule(user), rootSSH(h))
	case last == "":
		why = fmt.Sprintf("sudo on %s does not let %s run the activation as root", h.spec(), user)
	default:
		why = fmt.Sprintf("sudo on %s refuses %s the activation as root (%s)", h.spec(), user, last)
	}
	return &sudoError{why + ": " + fix}
}

// sudoFailureIf recognises, in what a script run under sudo printed, sudo
// refusing to start it; nil when the failure is the script's own, ssh's,
// or the script ran without sudo.
func (rs *remoteSystem) sudoFailureIf(sudo bool, user, stderr string, err error) error {
	var xe *command.ExitError
	if !sudo || !errors.As(err, &xe) || xe.Code == 255 {
		return nil
	}
	for _, l := range nonEmptyLines(stderr) {
		if strings.HasPrefix(l, "sudo:") && !strings.Contains(l, "unable to resolve host") ||
			strings.Contains(l, "is not in the sudoers file") || strings.Contains(l, "is not allowed to execute") || strings.Contains(l, "may not run sudo") {
			return rs.sudoRefused(user, stderr)
		}
	}
	return nil
}

// rootSSH is h's ssh with root as the user.
func rootSSH(h *host) string {
	rest := h.cfg.SSH
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return "root@" + rest
}
