package nix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/command"
)

// Activating a machine over ssh, safely (deploy-rs's "magic rollback"):
//
//  1. One ssh, through the master, starts a job on the machine, detached
//     from the connection (nohup, its output to a file), that sets the
//     profile and activates. The ssh follows the job's output until the
//     activation has ended. A connection lost meanwhile does not stop it.
//  2. The job then waits for a confirmation. If activating failed, it
//     rolls back at once: the profile to its previous generation, and the
//     previous system activated again.
//  3. sysinit confirms over a new ssh connection — proof that the machine
//     still takes logins after the switch (a changed sshd, firewall or
//     network would stop it, while the master's connection may live on).
//     A confirmation is `mkdir DIR/decided`; the job's rollback takes the
//     same directory first, so exactly one of the two happens.
//  4. Without a confirmation within confirm-timeout, the job rolls back by
//     itself. sysinit keeps trying to reach the machine until it can tell
//     how that ended, and fails the step saying so.

// rollbackGrace is how long past confirm-timeout sysinit keeps trying to
// learn how a machine it could not reach ended: rolling back activates the
// previous system, which takes as long as a switch.
const rollbackGrace = 2 * time.Minute

// deployParams are what the job needs to know.
type deployParams struct {
	kind, action string
	out, prev    string
	profile      remotePath // "" when the kind does not set one
	activate     string     // nix-profile's activate command
	watch        bool       // wait for a confirmation, else roll back
	timeout      time.Duration
}

// deployScript is what `sh -s sysinit-deploy` runs on the machine.
func deployScript(p deployParams) string {
	var vars strings.Builder
	q := command.Quote
	fmt.Fprintf(&vars, "kind=%s\naction=%s\nout=%s\nprev=%s\nactivatecmd=%s\n", q(p.kind), q(p.action), q(p.out), q(p.prev), q(p.activate))
	setprofile, profile := "0", "''"
	if p.profile.expr != "" {
		setprofile, profile = "1", p.profile.expr
	}
	watch := "0"
	if p.watch {
		watch = "1"
	}
	secs := max(int((p.timeout+time.Second-1)/time.Second), 1)
	fmt.Fprintf(&vars, "setprofile=%s\nprofile=%s\nwatch=%s\ntimeout=%d\n", setprofile, profile, watch, secs)
	return `main() {
	set -u
	umask 077
	d=$(mktemp -d "${TMPDIR:-/tmp}/sysinit-deploy.XXXXXX") || exit 1
	cat >"$d/vars" <<'SYSINIT_EOF'
` + vars.String() + `SYSINIT_EOF
	cat >"$d/job" <<'SYSINIT_EOF'
` + deployJob + `SYSINIT_EOF
	. "$d/vars"
	printf 'sysinit-deploy-dir\t%s\n' "$d"
	: >"$d/log"
	nohup sh "$d/job" "$d" >>"$d/log" 2>&1 </dev/null &
	n=0
	until [ -e "$d/activated" ]; do follow; pause; done
	follow
	code=$(cat "$d/activated")
	if [ "$code" != 0 ]; then
		until [ -e "$d/finished" ]; do follow; pause; done
		follow
		printf 'sysinit-status\t%s\n' "$(cat "$d/status")"
		rm -rf "$d"
	elif [ "$watch" != 1 ]; then
		rm -rf "$d"
	fi
	exit "$code"
}
# follow prints what the job logged since it last looked.
follow() {
	size=$(($(wc -c <"$d/log")))
	if [ "$size" -gt "$n" ]; then
		tail -c +"$((n + 1))" "$d/log" | head -c "$((size - n))"
		n=$size
	fi
}
pause() { sleep 0.2 2>/dev/null || sleep 1; }
main </dev/null
`
}

// deployJob runs detached on the machine: it activates, then waits for
// sysinit's confirmation or rolls back. Its first argument is its
// directory, which holds its variables.
const deployJob = `d=$1
. "$d/vars"
PATH="$PATH:/run/current-system/sw/bin:/nix/var/nix/profiles/default/bin"
activate() {
	case $kind in
	nixos) "$1/bin/switch-to-configuration" "$action" ;;
	nix-darwin | home-manager) "$1/activate" ;;
	nix-profile) if [ -n "$activatecmd" ]; then SYSINIT_OUT=$1 sh -c "$activatecmd"; fi ;;
	esac
}
rollback() {
	if [ -z "$prev" ]; then
		echo "sysinit: nothing to roll back to: no system was active before"
		return 1
	fi
	echo "sysinit: rolling back to $prev"
	if [ "$changed" = 1 ]; then
		# Back to the generation that was current, which need not be the
		# one numbered just below (what --rollback picks).
		if [ -n "$prevgen" ]; then
			nix-env -p "$profile" --switch-generation "$prevgen" || return 1
		else
			nix-env -p "$profile" --rollback || return 1
		fi
	fi
	activate "$prev"
}
finish() {
	echo "$1" >"$d/status.new" && mv "$d/status.new" "$d/status"
	: >"$d/finished"
}
changed=0 ran=0 code=0 prevgen=
if [ "$setprofile" = 1 ]; then
	mkdir -p "${profile%/*}"
	prevgen=$(readlink "$profile" 2>/dev/null) || prevgen=
	prevgen=${prevgen%-link}
	prevgen=${prevgen##*-}
	case $prevgen in '' | *[!0-9]*) prevgen= ;; esac
	if nix-env -p "$profile" --set "$out"; then changed=1; else code=$?; fi
fi
if [ "$code" = 0 ]; then
	ran=1
	activate "$out" || code=$?
fi
echo "$code" >"$d/activated.new" && mv "$d/activated.new" "$d/activated"
if [ "$code" != 0 ]; then
	mkdir "$d/decided" 2>/dev/null
	if [ "$ran" = 1 ]; then
		echo "sysinit: activating failed (exit $code)"
		if rollback; then finish rolled-back; else finish rollback-failed; fi
	else
		finish unchanged
	fi
	exit 0
fi
[ "$watch" = 1 ] || exit 0
i=0
while [ "$i" -lt "$timeout" ]; do
	if [ -d "$d/decided" ]; then rm -rf "$d"; exit 0; fi
	sleep 1
	i=$((i + 1))
done
if mkdir "$d/decided" 2>/dev/null; then
	echo "sysinit: no confirmation within ${timeout}s"
	echo rolling-back >"$d/status"
	if rollback; then finish rolled-back; else finish rollback-failed; fi
else
	rm -rf "$d"
fi
`

// confirmScript is what `sh -s sysinit-confirm` runs, over a new
// connection: it confirms the activation the job in dir waits on, or says
// how the job ended, and where the machine's links lead now.
func confirmScript(dir string, links ...remotePath) string {
	var b strings.Builder
	b.WriteString(chaseFunc)
	b.WriteString("main() {\n\td=" + command.Quote(dir) + "\n")
	// printf and awk, not echo with a tab or sed's \t, which BSD sed
	// (macOS) does not read as a tab.
	b.WriteString(`	if [ ! -d "$d" ]; then printf 'state\t%s\n' gone
	elif [ ! -e "$d/activated" ]; then printf 'state\t%s\n' activating
	elif [ -e "$d/finished" ]; then printf 'state\t%s\n' "$(cat "$d/status")"; awk '{ print "log\t" $0 }' "$d/log"; rm -rf "$d"
	elif mkdir "$d/decided" 2>/dev/null; then printf 'state\t%s\n' confirmed
	else printf 'state\t%s\n' rolling-back
	fi
`)
	for i, l := range links {
		fmt.Fprintf(&b, "\tchase %d %s\n", i, l.expr)
	}
	b.WriteString("}\nmain </dev/null\n")
	return b.String()
}

// deploy activates built on the machine, watched by the job's rollback,
// and confirms it still answers. f is what the run read of the machine
// before; before is what was active there.
func (rs *remoteSystem) deploy(ctx context.Context, r *runner, f *facts, built string, before activeLink) (string, error) {
	h := rs.host
	sudo := rs.sudo && f.uid != "0"
	prev := ""
	if !before.missing && path.Dir(before.path) == remoteStore {
		prev = before.path
	}
	p := deployParams{
		kind: rs.kind, action: rs.action(), out: built, prev: prev, activate: rs.k.Activate,
		watch: !(rs.kind == KindNixOS && rs.action() == "boot"), timeout: h.cfg.Confirm(),
	}
	if rs.kind != KindHomeManager && !(rs.kind == KindNixOS && rs.action() == "test") {
		p.profile = rs.profile
	}
	r.progress("activating on " + h.cfg.Name)
	what := "activate " + built
	if p.profile.expr != "" {
		what = fmt.Sprintf("set %s to %s and activate it", p.profile.show, built)
	}
	remote := strings.Join(remoteShell("deploy", sudo), " ")
	fmt.Fprintf(r.out, "+ ssh %s %s: %s; roll back unless confirmed within %s\n", h.cfg.Destination(), remote, what, h.cfg.Confirm())
	out := newDeployOutput(r.out)
	var errb lockedBuffer
	err := h.script(ctx, "deploy", deployScript(p), sudo, viaMaster, out, io.MultiWriter(r.out, &errb))
	out.flush()
	dir, status := out.result()
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		if dir == "" {
			// The script never started: sudo may have refused it.
			if serr := rs.sudoFailureIf(sudo, f.user, errb.String(), err); serr != nil {
				return "", serr
			}
			return "", h.failure("activating on", errb.String()+strings.Join(out.lines(), "\n"), err)
		}
		switch status {
		case "rolled-back":
			return "", fmt.Errorf("activating on %s failed (%v); it rolled back to %s", h.cfg.Name, err, prev)
		case "rollback-failed":
			return "", fmt.Errorf("activating on %s failed (%v), and so did rolling back to the previous system; see the log", h.cfg.Name, err)
		case "unchanged":
			return "", fmt.Errorf("setting the profile on %s failed (%v); nothing changed there", h.cfg.Name, err)
		}
		// The connection broke while the job ran: it goes on by itself;
		// how it ends is learnt over a new connection.
		fmt.Fprintf(r.out, "the connection to %s broke while it activated (%v); asking it again over a new connection\n", h.cfg.Name, h.failure("activating on", errb.String(), err))
	}
	return rs.confirm(ctx, r, dir, sudo, f.user, built, prev)
}

// confirm tells the job in dir that the machine still takes new ssh
// connections, or learns how it rolled back when sysinit cannot reach it.
func (rs *remoteSystem) confirm(ctx context.Context, r *runner, dir string, sudo bool, user, built, prev string) (string, error) {
	h := rs.host
	timeout := h.cfg.Confirm()
	r.progress("confirming " + h.cfg.Name + " still answers")
	links := []remotePath{rs.active}
	if rs.profile.expr != "" {
		links = append(links, rs.profile)
	}
	script := confirmScript(dir, links...)
	deadline := time.Now().Add(timeout + rollbackGrace)
	var unreached error
	for {
		var out bytes.Buffer
		var errb lockedBuffer
		err := h.script(ctx, "confirm", script, sudo, fresh, &out, &errb)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		state, active, gen, log, perr := parseConfirm(out.String(), links)
		for _, l := range log {
			fmt.Fprintf(r.out, "%s: %s\n", h.cfg.Name, l)
		}
		switch {
		case err != nil && state == "":
			if serr := rs.sudoFailureIf(sudo, user, errb.String(), err); serr != nil {
				// Asking again would meet the same refusal: without a
				// confirmation, the machine rolls back by itself.
				return "", fmt.Errorf("cannot confirm the activation on %s, which rolls back to %s by itself after %s: %w", h.cfg.Name, orNothing(prev), timeout, serr)
			}
			fallthrough
		case err != nil:
			err = h.failure("confirming", errb.String(), err)
			if unreached == nil {
				fmt.Fprintf(r.out, "cannot reach %s over a new connection after activating: %v\n%s rolls back to %s by itself unless sysinit reaches it within %s\n",
					h.cfg.Name, err, h.cfg.Name, orNothing(prev), timeout)
			}
			unreached = err
		case perr != nil:
			return "", perr
		case state == "confirmed" || state == "gone":
			if unreached != nil {
				fmt.Fprintf(r.out, "%s answers again\n", h.cfg.Name)
			}
			if active.path != built {
				now := active.path
				if active.missing {
					now = "nothing (it is missing)"
				}
				return "", fmt.Errorf("activation on %s finished, but %s points at %s there, not at the new system %s", h.cfg.Name, rs.active.show, now, built)
			}
			fmt.Fprintf(r.out, "%s confirmed: it takes new ssh connections after activating\n", h.cfg.Name)
			return rs.remoteNote(gen), nil
		case state == "rolled-back" || state == "rollback-failed":
			why := "sysinit could not confirm the activation in time"
			if unreached != nil {
				why = "sysinit could not reach it over a new ssh connection after activating (" + unreached.Error() + ")"
			}
			if state == "rollback-failed" {
				return "", fmt.Errorf("%s: %s, and rolling back to %s failed; see the log", h.cfg.Name, why, orNothing(prev))
			}
			return "", fmt.Errorf("%s rolled back to %s by itself: %s", h.cfg.Name, orNothing(prev), why)
		case state == "unchanged":
			return "", fmt.Errorf("setting the profile on %s failed; nothing changed there", h.cfg.Name)
		case state == "activating":
			// The connection broke during a long activation: wait for it.
			deadline = time.Now().Add(timeout + rollbackGrace)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s has not answered a new ssh connection since activating (%v); it should have rolled back to %s by itself after %s",
				h.cfg.Name, unreached, orNothing(prev), timeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func orNothing(prev string) string {
	if prev == "" {
		return "nothing (no system was active before)"
	}
	return prev
}

// remoteNote is the run's note: the generation the profile is at there.
func (rs *remoteSystem) remoteNote(gen int) string {
	name := rs.host.cfg.Name
	switch {
	case rs.kind == KindNixOS && rs.action() == "test":
		return "activated on " + name + " (test: not added to the boot menu)"
	case rs.kind == KindNixOS && rs.action() == "boot":
		if gen > 0 {
			return fmt.Sprintf("generation %d is the boot default on %s", gen, name)
		}
		return "set as the boot default on " + name
	case gen > 0:
		return fmt.Sprintf("switched %s to generation %d", name, gen)
	}
	return "switched " + name
}

// parseConfirm reads what confirmScript printed: the job's state, where
// the first link leads, and the generation the second (the profile) is at.
func parseConfirm(out string, links []remotePath) (state string, active activeLink, gen int, log []string, err error) {
	chains := make([][]string, len(links))
	ended := make([]string, len(links))
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if l, ok := strings.CutPrefix(line, "log\t"); ok {
			log = append(log, l)
			continue
		}
		fields := strings.Split(line, "\t")
		switch {
		case len(fields) == 2 && fields[0] == "state":
			state = fields[1]
		case len(fields) == 3:
			i, aerr := strconv.Atoi(fields[1])
			if aerr != nil || i < 0 || i >= len(links) {
				continue
			}
			switch fields[0] {
			case "start", "hop":
				chains[i] = append(chains[i], fields[2])
			case "end":
				ended[i] = fields[2]
			}
		}
	}
	if state == "" || len(chains[0]) == 0 {
		return "", activeLink{}, 0, log, fmt.Errorf("confirming the activation: the machine's answer is not one sysinit understands: %q", firstLines(out, 3))
	}
	active = walkChain(chains[0], ended[0] == "missing")
	if len(links) > 1 && len(chains[1]) > 1 {
		gen = generationOf(chains[1][1])
	}
	return state, active, gen, log, nil
}

// generationOf reads the generation number from a profile's link target
// (system-42-link); 0 when it cannot.
func generationOf(target string) int {
	t := strings.TrimSuffix(path.Base(target), "-link")
	i := strings.LastIndexByte(t, '-')
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(t[i+1:])
	if err != nil {
		return 0
	}
	return n
}

// deployOutput passes the deploy script's output on to the log, keeping
// back the lines sysinit reads: the job's directory and how it ended.
type deployOutput struct {
	lw     command.LineWriter
	w      io.Writer
	mu     sync.Mutex
	dir    string
	status string
	seen   []string
}

func newDeployOutput(w io.Writer) *deployOutput {
	d := &deployOutput{w: w}
	d.lw.Emit = d.line
	return d
}

func (d *deployOutput) Write(p []byte) (int, error) { return d.lw.Write(p) }

func (d *deployOutput) line(l string) {
	l = strings.TrimRight(l, "\r") // Flush passes the last line as it is
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case strings.HasPrefix(l, "sysinit-deploy-dir\t"):
		d.dir = strings.TrimPrefix(l, "sysinit-deploy-dir\t")
	case strings.HasPrefix(l, "sysinit-status\t"):
		d.status = strings.TrimPrefix(l, "sysinit-status\t")
	default:
		d.seen = append(d.seen, l)
		if len(d.seen) > 20 {
			d.seen = d.seen[1:]
		}
		_, _ = io.WriteString(d.w, l+"\n")
	}
}

func (d *deployOutput) flush() { d.lw.Flush() }

func (d *deployOutput) result() (dir, status string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dir, d.status
}

func (d *deployOutput) lines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}
