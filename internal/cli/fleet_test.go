package cli_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// A second machine for the fleet scripts: a Debian root with its own /nix
// store and its own Nix (trixie's 2.26, sid's 2.34, built by
// ../shared/reference/nix-root.sh), run as an sshd on a loopback port.
// The root itself is never written: each remote is an overlay on it, in the
// script's work directory, mounted in a mount namespace of its own that
// ends with its processes. So the remote is a separate store, reached only
// through ssh, and every script starts from the root as built.
//
// Each remote logs the command of every ssh session it serves (a forced
// command in authorized_keys), so scripts can count what sysinit asked it.

// nixRootsDir holds the roots: nix-trixie, nix-sid.
func nixRootsDir() string {
	if d := os.Getenv("SYSINIT_NIX_ROOTS"); d != "" {
		return d
	}
	return "/var/tmp"
}

var (
	fleetOnce sync.Once
	fleetWhy  string // why the fleet scripts cannot run here; "" when they can
)

// fleetUsable says why the fleet scripts cannot run here, or "".
func fleetUsable() string {
	fleetOnce.Do(func() {
		switch {
		case os.Geteuid() != 0:
			fleetWhy = "the fleet scripts need root (mount namespaces, overlays, chroot)"
			return
		}
		for _, prog := range []string{"unshare", "nsenter", "ssh", "ssh-keygen", "nix"} {
			if _, err := exec.LookPath(prog); err != nil {
				fleetWhy = prog + " is not installed"
				return
			}
		}
		root := filepath.Join(nixRootsDir(), "nix-trixie")
		if _, err := os.Stat(filepath.Join(root, "usr/sbin/sshd")); err != nil {
			fleetWhy = fmt.Sprintf("no Debian root with sshd at %s (sudo bash ../shared/reference/nix-root.sh build trixie %s)", root, root)
			return
		}
		// An overlay on the root must mount here.
		d, err := os.MkdirTemp("", "fleet-probe-")
		if err != nil {
			fleetWhy = err.Error()
			return
		}
		defer os.RemoveAll(d)
		for _, s := range []string{"u", "w", "m"} {
			_ = os.Mkdir(filepath.Join(d, s), 0o755)
		}
		out, err := exec.Command("unshare", "--mount", "--propagation", "unchanged", "sh", "-c",
			privateMounts+`mount -t overlay overlay -o lowerdir="$1",upperdir="$2/u",workdir="$2/w" "$2/m" && test -x "$2/m/usr/sbin/sshd"`, "sh", root, d).CombinedOutput()
		if err != nil {
			fleetWhy = fmt.Sprintf("cannot mount an overlay on %s: %v: %s", root, err, out)
		}
	})
	return fleetWhy
}

// fleetWhyNot says why the roots of suites cannot serve as machines here,
// or "".
func fleetWhyNot(suites []string) string {
	if why := fleetUsable(); why != "" {
		return why
	}
	for _, suite := range suites {
		root := filepath.Join(nixRootsDir(), "nix-"+suite)
		if _, err := os.Stat(filepath.Join(root, "usr/sbin/sshd")); err != nil {
			return fmt.Sprintf("no Debian root with sshd at %s (sudo bash scripts/nix-root.sh build %s %s)", root, suite, root)
		}
	}
	return ""
}

// testingT keys the script's testscript.T in its values.
type testingT struct{}

// privateMounts keeps the mounts of a machine's namespace from reaching
// the one it was made from. Inside a chroot (the tests run in a Debian
// root by nix-root.sh run), / is no mount point and cannot be made
// private; that root's namespace is a private one already.
const privateMounts = "mount --make-rprivate / 2>/dev/null || true\n"

// remote is one running second machine.
type remote struct {
	name, suite string
	dir         string // $WORK/.remote/NAME: u, w, m (the overlay), hostkey
	port        int
	cmd         *exec.Cmd
	opts        remoteOpts
}

// remoteOpts are remote start's flags.
type remoteOpts struct {
	user   string // log in as this user, made in the machine; "" is root
	sudo   string // the user's sudo: "nopasswd" (sysinit's rule), "password", or "" (none)
	ipv6   string // "port": ssh = "USER@[::1]:PORT"; "noport": ssh = "USER@[::1]" and -p PORT in ssh-options
	darwin bool   // uname -s says Darwin, uname -m arm64 (a stand-in: the machine stays Linux)
}

// parseRemoteOpts takes remote start's leading -flags off args.
func parseRemoteOpts(ts *testscript.TestScript, args []string) (remoteOpts, []string) {
	var o remoteOpts
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		k, v, _ := strings.Cut(strings.TrimPrefix(args[0], "-"), "=")
		switch {
		case k == "user" && v != "":
			o.user = v
		case k == "sudo" && (v == "nopasswd" || v == "password"):
			o.sudo = v
		case k == "ipv6" && (v == "port" || v == "noport"):
			o.ipv6 = v
		case k == "darwin" && v == "":
			o.darwin = true
		default:
			ts.Fatalf("remote start: unknown flag %s (-user=NAME, -sudo=nopasswd|password, -ipv6=port|noport, -darwin)", args[0])
		}
		args = args[1:]
	}
	if o.sudo != "" && o.user == "" {
		ts.Fatalf("remote start: -sudo needs -user")
	}
	return o, args
}

// loopback is the machine's listening address.
func (o remoteOpts) loopback() string {
	if o.ipv6 != "" {
		return "::1"
	}
	return "127.0.0.1"
}

// sysinitSudoers is the rule sysinit's error asks for (nix.sudoersRule).
const sysinitSudoers = "ALL=(root) NOPASSWD: /bin/sh -s sysinit-deploy, /bin/sh -s sysinit-confirm"

// darwinUname answers like macOS's uname for -s and -m.
const darwinUname = `#!/bin/sh
case "$*" in
-s) echo Darwin ;;
-m) echo arm64 ;;
*) exec /usr/bin/uname "$@" ;;
esac
`

// remotes are a script's machines, by name.
type remotes struct {
	mu sync.Mutex
	m  map[string]*remote
}

var scriptRemotes sync.Map // *testscript.TestScript -> *remotes

func remotesOf(ts *testscript.TestScript) *remotes {
	v, loaded := scriptRemotes.LoadOrStore(ts, &remotes{m: map[string]*remote{}})
	rs := v.(*remotes)
	if !loaded {
		ts.Defer(func() {
			rs.mu.Lock()
			defer rs.mu.Unlock()
			for _, r := range rs.m {
				r.stop()
			}
			scriptRemotes.Delete(ts)
		})
	}
	return rs
}

// cmdRemote drives the script's machines:
//
//	remote require SUITE...                 skip the script, saying why, unless
//	    the roots of SUITEs can serve as machines here (root, the roots,
//	    overlays, ssh, nix); under SYSINIT_REQUIRE_NIX=1, fail instead
//	remote require ipv6                     skip unless ::1 takes a listener
//	remote start [-FLAG...] NAME SUITE [KEY=VALUE...]  start a machine on the
//	    root nix-SUITE; append its [hosts.NAME] table (with the extra keys)
//	    to $WORK/hosts.toml; its client key and known_hosts are the
//	    script's. Flags: -user=NAME logs in as NAME (made with useradd in
//	    the machine), -sudo=nopasswd gives NAME sysinit's NOPASSWD rule,
//	    -sudo=password a rule that wants NAME's password; -ipv6=port
//	    listens on [::1] (ssh = "USER@[::1]:PORT"), -ipv6=noport too, with
//	    ssh = "USER@[::1]" and the port in ssh-options; -darwin puts a
//	    uname answering Darwin/arm64 first on the PATH (a stand-in)
//	remote dead NAME                        append a host nothing listens for
//	remote stop NAME                        stop a machine (it becomes unreachable)
//	remote rekey NAME                       restart it with a new host key,
//	    which known_hosts does not hold
//	remote exec NAME CMD [ARG...]           run CMD on the machine, not
//	    through ssh (its output is the command's)
//	remote log NAME                         print the commands its sshd served
func cmdRemote(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 2 && args[0] == "require" && args[1] == "ipv6" {
		if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
			ts.Value(testingT{}).(testscript.T).Skip("no IPv6 loopback here: " + err.Error())
		} else {
			l.Close()
		}
		return
	}
	if len(args) >= 1 && args[0] == "require" {
		if why := fleetWhyNot(args[1:]); why != "" {
			if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
				ts.Fatalf("SYSINIT_REQUIRE_NIX=1, but the fleet scripts cannot run: %s", why)
			}
			ts.Value(testingT{}).(testscript.T).Skip("the fleet scripts cannot run: " + why)
		}
		return
	}
	if len(args) < 2 {
		ts.Fatalf("usage: remote require|start|dead|stop|rekey|exec|log NAME ...")
	}
	var opts remoteOpts
	if args[0] == "start" {
		opts, args = parseRemoteOpts(ts, args[1:])
		args = append([]string{"start"}, args...)
	}
	rs := remotesOf(ts)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	op, name := args[0], args[1]
	r := rs.m[name]
	if op != "start" && op != "dead" && (r == nil || op == "exec" && r.cmd == nil) {
		ts.Fatalf("no remote %s running", name)
	}
	switch op {
	case "start":
		if len(args) < 3 {
			ts.Fatalf("usage: remote start NAME SUITE [KEY=VALUE...]")
		}
		r = &remote{name: name, suite: args[2], dir: ts.MkAbs(filepath.Join(".remote", name)), opts: opts}
		rs.m[name] = r
		ts.Check(r.start(ts, true))
		ts.Check(r.setUser())
		ts.Check(appendHost(ts, name, r.port, opts, args[3:]))
	case "dead":
		// A port nothing listens on: refused at once.
		ts.Check(appendHost(ts, name, freePort(ts, remoteOpts{}), remoteOpts{}, args[2:]))
	case "stop":
		r.stop()
	case "rekey":
		r.stop()
		ts.Check(os.Remove(filepath.Join(r.dir, "hostkey")))
		ts.Check(os.Remove(filepath.Join(r.dir, "hostkey.pub")))
		ts.Check(r.start(ts, false))
	case "exec":
		if len(args) < 3 {
			ts.Fatalf("usage: remote exec NAME CMD [ARG...]")
		}
		// Its mount namespace, and its sshd's root: the overlay.
		cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(r.cmd.Process.Pid), "-m", "-r"}, args[2:]...)...)
		out, err := cmd.CombinedOutput()
		ts.Logf("remote %s: %s\n%s", name, strings.Join(args[2:], " "), out)
		if (err != nil) != neg {
			ts.Fatalf("remote exec %s: %v", strings.Join(args[2:], " "), err)
		}
		_, _ = ts.Stdout().Write(out)
	case "log":
		data, err := os.ReadFile(filepath.Join(r.dir, "u/var/log/sysinit-commands.log"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			ts.Fatalf("%v", err)
		}
		_, _ = ts.Stdout().Write(data)
	default:
		ts.Fatalf("unknown remote command %q", op)
	}
}

// clientKey is the script's ssh key pair, made once.
func clientKey(ts *testscript.TestScript) string {
	key := ts.MkAbs(".remote/key")
	if _, err := os.Stat(key); err == nil {
		return key
	}
	ts.Check(os.MkdirAll(filepath.Dir(key), 0o700))
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sysinit-test", "-f", key).CombinedOutput()
	if err != nil {
		ts.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return key
}

func knownHosts(ts *testscript.TestScript) string { return ts.MkAbs(".remote/known_hosts") }

// appendHost writes the [hosts.NAME] table of a machine on port.
func appendHost(ts *testscript.TestScript, name string, port int, o remoteOpts, extra []string) error {
	key := clientKey(ts)
	f, err := os.OpenFile(ts.MkAbs("hosts.toml"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	user := o.user
	if user == "" {
		user = "root"
	}
	dest, portOpt := fmt.Sprintf("%s@127.0.0.1:%d", user, port), ""
	switch o.ipv6 {
	case "port":
		dest = fmt.Sprintf("%s@[::1]:%d", user, port)
	case "noport":
		dest, portOpt = user+"@[::1]", fmt.Sprintf("\"-p\", \"%d\", ", port)
	}
	fmt.Fprintf(f, "[hosts.%s]\nssh = %q\nssh-options = [%s\"-i\", %q, \"-o\", \"UserKnownHostsFile=%s\", \"-o\", \"IdentitiesOnly=yes\"]\n",
		name, dest, portOpt, key, knownHosts(ts))
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("remote: %q is not KEY=VALUE", kv)
		}
		fmt.Fprintf(f, "%s = %q\n", k, v)
	}
	_, err = fmt.Fprintln(f)
	return err
}

// freePort is a loopback port nothing listens on, for now.
func freePort(ts *testscript.TestScript, o remoteOpts) int {
	l, err := net.Listen("tcp", net.JoinHostPort(o.loopback(), "0"))
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	ts.Check(l.Close())
	return port
}

// forcedCommand logs each session's command, then runs it as sshd would.
const forcedCommand = `#!/bin/sh
printf '%s\n' "${SSH_ORIGINAL_COMMAND:-(login shell)}" >> /var/log/sysinit-commands.log
if [ -n "${SSH_ORIGINAL_COMMAND:-}" ]; then exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi
exec /bin/sh -l
`

// start mounts the overlay and starts sshd in it, with a new host key
// when there is none; first, it also sets up the overlay's files and adds
// the host key to known_hosts.
func (r *remote) start(ts *testscript.TestScript, first bool) error {
	lower := filepath.Join(nixRootsDir(), "nix-"+r.suite)
	if _, err := os.Stat(filepath.Join(lower, "usr/sbin/sshd")); err != nil {
		return fmt.Errorf("remote %s: no root at %s: %v", r.name, lower, err)
	}
	for _, d := range []string{"u", "w", "m"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			return err
		}
	}
	hostKey := filepath.Join(r.dir, "hostkey")
	if _, err := os.Stat(hostKey); err != nil {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", hostKey).CombinedOutput(); err != nil {
			return fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	key := clientKey(ts)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return err
	}
	if first {
		r.port = freePort(ts, r.opts)
		hostPub, err := os.ReadFile(hostKey + ".pub")
		if err != nil {
			return err
		}
		f, err := os.OpenFile(knownHosts(ts), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "[%s]:%d %s", r.opts.loopback(), r.port, hostPub)
		f.Close()
		// What the overlay adds to the root: the client's key behind the
		// logging forced command.
		files := map[string]string{
			"u/usr/local/sbin/sysinit-logcmd": forcedCommand,
			"u/root/.ssh/authorized_keys":     `command="/usr/local/sbin/sysinit-logcmd" ` + string(pub),
			"u/etc/ssh/sysinit_host_key":      "",
		}
		if r.opts.darwin {
			files["u/usr/local/bin/uname"] = darwinUname
		}
		// An upper directory's mode is the merged one's: /usr and /etc
		// stay 0755, or a login other than root could not use them.
		for p, content := range files {
			full := filepath.Join(r.dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
				return err
			}
		}
		for _, p := range []string{"u/root", "u/root/.ssh"} {
			if err := os.Chmod(filepath.Join(r.dir, p), 0o700); err != nil {
				return err
			}
		}
		if err := os.Chmod(filepath.Join(r.dir, "u/root/.ssh/authorized_keys"), 0o600); err != nil {
			return err
		}
	}
	// The host key is copied in at every start: rekey replaces it.
	hk, err := os.ReadFile(hostKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "u/etc/ssh/sysinit_host_key"), hk, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(r.dir, "u/etc/ssh/sysinit_host_key"), 0o600); err != nil {
		return err
	}
	script := privateMounts + `set -e; l=$1 d=$2 p=$3
mount -t overlay overlay -o lowerdir="$l",upperdir="$d/u",workdir="$d/w" "$d/m"
mount -t proc proc "$d/m/proc"; mount --rbind /dev "$d/m/dev"; mkdir -p "$d/m/run/sshd"
exec chroot "$d/m" /usr/sbin/sshd -D -e -p "$p" -o ListenAddress="$4" -o HostKey=/etc/ssh/sysinit_host_key \
	-o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o MaxStartups=100 -o MaxSessions=100`
	cmd := exec.Command("unshare", "--mount", "--propagation", "unchanged", "sh", "-c", script, "sh", lower, r.dir, strconv.Itoa(r.port), r.opts.loopback())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd = cmd
	// sshd says when it listens: no waiting on a clock, only on it.
	listening := make(chan error, 1)
	logf, err := os.Create(filepath.Join(r.dir, "sshd.log"))
	if err != nil {
		return err
	}
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !said && strings.Contains(sc.Text(), "Server listening") {
				said = true
				listening <- nil
			}
		}
		if !said {
			listening <- fmt.Errorf("sshd of remote %s exited before it listened (see %s)", r.name, logf.Name())
		}
	}()
	select {
	case err := <-listening:
		return err
	case <-time.After(30 * time.Second):
		r.stop()
		return fmt.Errorf("sshd of remote %s did not listen within 30s", r.name)
	}
}

// setUser makes the user of -user in the machine, with the script's key
// behind the logging forced command, and its sudo rule: run in the
// machine's mount namespace and root, as its own tools (useradd,
// chpasswd, visudo) would be by an administrator.
func (r *remote) setUser() error {
	u := r.opts.user
	if u == "" {
		return nil
	}
	rule := ""
	switch r.opts.sudo {
	case "nopasswd":
		rule = u + " " + sysinitSudoers
	case "password":
		rule = u + " ALL=(ALL:ALL) ALL"
	}
	script := `set -e; u=$1 rule=$2
useradd -m -s /bin/sh "$u"
echo "$u:not-typed-by-sysinit" | chpasswd
mkdir -p "/home/$u/.ssh"
cp /root/.ssh/authorized_keys "/home/$u/.ssh/authorized_keys"
chown -R "$u:" "/home/$u/.ssh"; chmod 700 "/home/$u/.ssh"
# The forced command logs every session, whoever logs in.
touch /var/log/sysinit-commands.log; chmod 666 /var/log/sysinit-commands.log
if [ -n "$rule" ]; then
	printf '%s\n' "$rule" >/etc/sudoers.d/10-sysinit-test
	chmod 440 /etc/sudoers.d/10-sysinit-test
	visudo -c -q -f /etc/sudoers.d/10-sysinit-test
fi
# A multi-user Nix, as a machine a user other than root deploys to has:
# the store is root's, the user's nix-daemon --stdio (nix copy over
# ssh-ng) passes on to the daemon, which takes unsigned paths from a
# trusted user only.
# The daemon moves to a mount namespace of its own (nix does, to remount
# the store), where stop's sweep of the machine's namespace misses it: its
# process group is killed by its pid, which setsid makes the group's.
echo "trusted-users = root $u" >>/etc/nix/nix.conf
setsid nix-daemon >/var/log/nix-daemon.log 2>&1 </dev/null &
echo $! >/run/sysinit-nix-daemon.pid
i=0
until [ -S /nix/var/nix/daemon-socket/socket ]; do
	i=$((i + 1)); [ "$i" -lt 100 ] || { echo "nix-daemon did not start:"; cat /var/log/nix-daemon.log; exit 1; }
	sleep 0.1
done
`
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(r.cmd.Process.Pid), "-m", "-r", "sh", "-c", script, "sh", u, rule).CombinedOutput()
	if err != nil {
		return fmt.Errorf("remote %s: making user %s: %v: %s", r.name, u, err, out)
	}
	return nil
}

// machineDaemon reports whether pid is a nix-daemon in a mount namespace
// other than this process's: a remote machine's, not a pid reused since.
func machineDaemon(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "nix-daemon" {
		return false
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	mine, err2 := os.Readlink("/proc/self/ns/mnt")
	return err == nil && err2 == nil && ns != mine
}

// stop kills every process of the machine — its sshd and whatever its
// sessions left running (a rollback job) — which ends its mount namespace.
func (r *remote) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	if data, err := os.ReadFile(filepath.Join(r.dir, "u/run/sysinit-nix-daemon.pid")); err == nil {
		// The daemon is no child of ours: once it is gone, its pid may
		// be another process's (pids wrap at 32,768 here), even a process
		// group leader of a test running beside this one. Only a
		// nix-daemon outside our mount namespace is the machine's.
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 && machineDaemon(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", r.cmd.Process.Pid))
	if err == nil {
		if mine, _ := os.Readlink("/proc/self/ns/mnt"); ns != mine {
			entries, _ := os.ReadDir("/proc")
			for _, e := range entries {
				pid, err := strconv.Atoi(e.Name())
				if err != nil {
					continue
				}
				if other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && other == ns {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}
