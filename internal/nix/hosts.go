package nix

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// fleet is the machines the nix steps of one session act on. Each is
// reached over one ssh connection — a master whose control socket lives in
// a private directory — opened at the first need and shared by every step
// and every ssh that nix starts for that machine (NIX_SSHOPTS points nix's
// ssh at the same socket). Closing the session ends the masters.
type fleet struct {
	exec command.Runner
	// ctx bounds the masters and the reads they serve: the session, not
	// the step or plan that first needed them.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	dir     string // the control sockets' directory, made at the first connection
	hosts   map[string]*host
	masters sync.WaitGroup
	builds  builds
	evals   once[*evaluation]
}

type fleetKey struct{}

// fleetOf returns the session's fleet.
func fleetOf(env *step.Env) *fleet {
	return env.Session.Value(fleetKey{}, func() any {
		ctx, cancel := context.WithCancel(context.Background())
		return &fleet{exec: env.Exec, ctx: ctx, cancel: cancel, hosts: map[string]*host{}}
	}).(*fleet)
}

// Close ends the masters and removes their sockets' directory.
func (f *fleet) Close() error {
	f.cancel()
	f.masters.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dir != "" {
		return os.RemoveAll(f.dir)
	}
	return nil
}

// host returns the fleet's connection to h.
func (f *fleet) host(h *config.Host) *host {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.hosts[h.Name]; ok {
		return c
	}
	c := &host{f: f, cfg: h, id: len(f.hosts)}
	f.hosts[h.Name] = c
	return c
}

// socketDir makes the private directory of the control sockets. A socket
// path must fit in sun_path (104 bytes on macOS), so it is made under the
// temporary directory only when that is short.
func (f *fleet) socketDir() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dir != "" {
		return f.dir, nil
	}
	base := os.TempDir()
	if len(base) > 48 {
		base = "/tmp"
	}
	d, err := os.MkdirTemp(base, "sysinit-ssh-")
	if err != nil {
		return "", fmt.Errorf("making a directory for ssh control sockets: %w", err)
	}
	f.dir = d
	return d, nil
}

// host is one machine of the fleet.
type host struct {
	f   *fleet
	cfg *config.Host
	id  int

	mu      sync.Mutex
	links   []remotePath // every link a step on this host reads, in order of registration
	master  *master
	reading *reading // the last read of the machine, done or in flight
}

// master is a running `ssh -M`.
type master struct {
	sock   string
	exited chan struct{} // closed when it has exited
	cancel context.CancelFunc
}

// facts is what one read of a machine finds.
type facts struct {
	goos, arch string // uname -s and -m, as Go and nix name them
	uid, user  string
	home       string
	cpus       int
	active     map[string]activeLink // by remotePath.expr
}

// activeLink is where a link on the machine leads.
type activeLink struct {
	path    string // the store path it ends at, or the path itself when that is no link
	missing bool
}

type reading struct {
	done  chan struct{}
	facts *facts
	err   error
}

// addLink registers a link the steps on h read, so that one read answers
// them all.
func (h *host) addLink(p remotePath) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.links {
		if l.expr == p.expr {
			return
		}
	}
	h.links = append(h.links, p)
}

// read returns what the machine is — its platform, user and the targets of
// every registered link — reading it over its connection the first time
// (after forget, again). Concurrent callers share one read.
func (h *host) read(ctx context.Context) (*facts, error) {
	h.mu.Lock()
	r := h.reading
	if r == nil {
		r = &reading{done: make(chan struct{})}
		h.reading = r
		go func() {
			defer close(r.done)
			r.facts, r.err = h.readNow(h.f.ctx)
		}()
	}
	h.mu.Unlock()
	select {
	case <-r.done:
		return r.facts, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// failedRead is the error of a finished read that failed, or nil.
func (h *host) failedRead() error {
	h.mu.Lock()
	r := h.reading
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// forget drops what the last read found: a step on the machine changed
// it, or a run wants it fresh.
func (h *host) forget() {
	h.mu.Lock()
	h.reading = nil
	h.mu.Unlock()
}

func (h *host) readNow(ctx context.Context) (*facts, error) {
	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	h.mu.Lock()
	links := append([]remotePath(nil), h.links...)
	h.mu.Unlock()
	var out, errb bytes.Buffer
	if err := h.script(ctx, "probe", probeScript(links), false, viaMaster, &out, &errb); err != nil {
		return nil, h.failure("reading", errb.String(), err)
	}
	return parseFacts(out.String(), links)
}

// connect starts the master connection unless one runs.
func (h *host) connect(ctx context.Context) error {
	h.mu.Lock()
	m := h.master
	h.mu.Unlock()
	if m != nil {
		select {
		case <-m.exited:
		default:
			return nil
		}
	}
	dir, err := h.f.socketDir()
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, strconv.Itoa(h.id))
	mctx, cancel := context.WithCancel(h.f.ctx)
	m = &master{sock: sock, exited: make(chan struct{}), cancel: cancel}
	readyCh := make(chan struct{})
	var once sync.Once
	ready := &command.LineWriter{Emit: func(line string) {
		if strings.TrimSpace(line) == readyLine {
			once.Do(func() { close(readyCh) })
		}
	}}
	stderr := &lockedBuffer{}
	argv := append([]string{"ssh", "-M", "-N", "-S", sock, "-o", "ControlPersist=no",
		"-o", "PermitLocalCommand=yes", "-o", "LocalCommand=echo " + readyLine}, h.options(asMaster)...)
	argv = append(argv, h.cfg.Destination())
	var runErr error
	h.f.masters.Add(1)
	go func() {
		defer h.f.masters.Done()
		// LocalCommand runs under $SHELL: make it one that has echo.
		runErr = h.f.exec.Run(mctx, &command.Cmd{Argv: argv, Stdout: ready, Stderr: stderr, Env: []string{"SHELL=/bin/sh"}})
		close(m.exited)
	}()
	select {
	case <-readyCh:
		h.mu.Lock()
		h.master = m
		h.mu.Unlock()
		return nil
	case <-m.exited:
		cancel()
		return h.failure("connecting to", stderr.String(), runErr)
	case <-ctx.Done():
		cancel()
		<-m.exited
		return ctx.Err()
	}
}

// readyLine is what the master's LocalCommand prints: ssh runs it once the
// connection is up and the control socket listens.
const readyLine = "sysinit-ssh-ready"

// conn is how an ssh reaches a machine.
type conn int

const (
	asMaster  conn = iota // the master itself (-M -S set its control options)
	viaMaster             // through the master's socket
	fresh                 // a new connection of its own
)

// options are the ssh options of every connection to h, nix's included.
// sysinit's own come first, since ssh keeps the first value it meets for
// an option; the user's come before the defaults they may override.
func (h *host) options(c conn) []string {
	var a []string
	switch c {
	case viaMaster:
		a = append(a, "-o", "ControlMaster=no", "-o", "ControlPath="+h.sock())
	case fresh:
		a = append(a, "-o", "ControlMaster=no", "-o", "ControlPath=none")
	}
	a = append(a, "-o", "BatchMode=yes")
	a = append(a, h.cfg.SSHOptions...)
	if h.cfg.Port != "" {
		a = append(a, "-p", h.cfg.Port)
	}
	return append(a, "-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4")
}

func (h *host) sock() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.master != nil {
		return h.master.sock
	}
	return "none"
}

// nixEnv is the environment of a nix command that reaches h over ssh.
func (h *host) nixEnv() []string {
	return []string{"NIX_SSHOPTS=" + strings.Join(h.options(viaMaster), " ")}
}

// storeURI is h's store as nix reaches it: the daemon protocol over ssh.
// An IPv6 address is bracketed, as a URL's authority has it: Nix 2.8,
// 2.26 and 2.34 all take ssh-ng://root@[::1] (and hand ssh the address
// without the brackets, which ssh needs); newer ones print it so.
func (h *host) storeURI() string {
	dest := h.cfg.Address
	if strings.Contains(dest, ":") {
		dest = "[" + dest + "]"
	}
	if h.cfg.User != "" {
		dest = h.cfg.User + "@" + dest
	}
	return "ssh-ng://" + dest
}

// script runs a shell script on h: `sh -s sysinit-LABEL` reads it from its
// standard input, so the user's login shell (fish, say) never parses it;
// LABEL says what it is in the remote's process list and logs.
func (h *host) script(ctx context.Context, label, script string, sudo bool, c conn, stdout, stderr io.Writer) error {
	argv := append([]string{"ssh"}, h.options(c)...)
	argv = append(argv, h.cfg.Destination())
	argv = append(argv, remoteShell(label, sudo)...)
	return h.f.exec.Run(ctx, &command.Cmd{Argv: argv, Stdin: strings.NewReader(script), Stdout: stdout, Stderr: stderr})
}

// remoteShell is the command ssh runs for a script: `sh -s sysinit-LABEL`,
// or as root through `sudo -n -H -- /bin/sh -s sysinit-LABEL`. Under sudo
// the shell is named by its absolute path, so that the sudoers rule
// sysinit asks for (sudoersRule) matches it whatever sudo's PATH; -n
// makes sudo fail at once, never wait for a password nobody can type;
// -H gives root its own HOME (macOS's sudo keeps the user's).
func remoteShell(label string, sudo bool) []string {
	if sudo {
		return []string{"sudo", "-n", "-H", "--", "/bin/sh", "-s", "sysinit-" + label}
	}
	return []string{"sh", "-s", "sysinit-" + label}
}

// spec names h in messages: box (root@10.0.0.5:2222).
func (h *host) spec() string { return fmt.Sprintf("%s (%s)", h.cfg.Name, h.cfg.SSH) }

// hostError is a failure to reach or use a machine, said as ssh's own
// words make clear what happened.
type hostError struct {
	Host string
	Msg  string
	Err  error
}

func (e *hostError) Error() string { return e.Msg }
func (e *hostError) Unwrap() error { return e.Err }

// failure explains err, an ssh to h that failed while doing what, from
// what ssh printed. ssh exits 255 on its own errors; any other code is the
// remote command's.
func (h *host) failure(what, stderr string, err error) error {
	if err == nil {
		err = errors.New("ssh exited")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	lines := nonEmptyLines(stderr)
	last := lastNonEmpty(lines)
	has := func(s string) bool { return strings.Contains(stderr, s) }
	e := &hostError{Host: h.cfg.Name, Err: err}
	switch {
	case has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("Host key for") && has("has changed"):
		where := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "Offending ") {
				where = " (" + strings.TrimSpace(l) + ")"
			}
		}
		e.Msg = fmt.Sprintf("refusing to connect to %s: its host key is not the one known_hosts holds for it%s; someone may be impersonating it, or it was reinstalled. If the change is expected, remove the old key (ssh-keygen -R %s) and connect once by hand to check the new one",
			h.spec(), where, command.Quote(knownHostsName(h.cfg)))
	case has("Host key verification failed") || has("No ED25519 host key is known") || has("host key is known for"):
		e.Msg = fmt.Sprintf("cannot verify %s: its host key is not in known_hosts; connect once by hand (%s) to check and accept it", h.spec(), command.Join(h.handArgv()))
	case has("Connection refused") || has("Connection timed out") || has("No route to host") || has("Could not resolve hostname") ||
		has("Network is unreachable") || has("Connection closed by") || has("Connection reset") || has("Operation timed out"):
		e.Msg = fmt.Sprintf("cannot reach %s: %s", h.spec(), last)
	case has("Permission denied"):
		e.Msg = fmt.Sprintf("%s refused the login: %s (sysinit never prompts: use a key the ssh agent or your ssh config offers)", h.spec(), last)
	default:
		var xe *command.ExitError
		if errors.As(err, &xe) && xe.Code != 255 {
			// The remote command's own failure.
			e.Msg = fmt.Sprintf("%s %s: exit status %d", what, h.spec(), xe.Code)
			if last != "" {
				e.Msg += ": " + last
			}
			return e
		}
		e.Msg = fmt.Sprintf("%s %s: %v", what, h.spec(), err)
		if last != "" {
			e.Msg = fmt.Sprintf("%s %s: %s", what, h.spec(), last)
		}
	}
	return e
}

// knownHostsName is how known_hosts names h: [addr]:port off port 22.
func knownHostsName(h *config.Host) string {
	if h.Port != "" && h.Port != "22" {
		return "[" + h.Address + "]:" + h.Port
	}
	return h.Address
}

// handArgv is the ssh a user types to reach h as sysinit does.
func (h *host) handArgv() []string {
	a := append([]string{"ssh"}, h.cfg.SSHOptions...)
	if h.cfg.Port != "" {
		a = append(a, "-p", h.cfg.Port)
	}
	return append(a, h.cfg.Destination())
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "@@@") {
			out = append(out, l)
		}
	}
	return out
}

// remotePath is a path on a remote machine, as a shell word its shell
// expands: absolute, under the home of the user sysinit logs in as (or
// sudo becomes), or home-manager's profile, which depends on what that
// home holds.
type remotePath struct {
	expr string // a shell word
	show string // as the user wrote it, for messages and definitions
}

// homeManagerRemote is home-manager's profile on the remote, found there
// as homeManagerProfile finds it here.
var homeManagerRemote = remotePath{
	expr: `"$(if [ -d "$HOME/.local/state/nix/profiles" ]; then printf %s "${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles/home-manager"; else printf %s "/nix/var/nix/profiles/per-user/$(id -un)/home-manager"; fi)"`,
	show: "home-manager's profile",
}

// remotePathOf reads a path for a remote machine: absolute, or ~/….
func remotePathOf(p string) (remotePath, error) {
	switch {
	case strings.HasPrefix(p, "~/"):
		rest := path.Clean(p[2:])
		return remotePath{expr: `"$HOME"/` + command.Quote(rest), show: p}, nil
	case path.IsAbs(p):
		return remotePath{expr: command.Quote(path.Clean(p)), show: p}, nil
	}
	return remotePath{}, fmt.Errorf("profile %q: on another machine a profile is an absolute path or ~/…", p)
}

// probeScript reads a machine in one go: its platform, who sysinit is
// there, and the chain of links from each of links to where it ends. Each
// link's hops are printed, and parseFacts walks them as activePath walks
// a local chain, so that the two agree on where a link leads.
func probeScript(links []remotePath) string {
	var b strings.Builder
	b.WriteString(chaseFunc)
	b.WriteString("main() {\n")
	b.WriteString(`printf 'os\t%s\n' "$(uname -s)"
printf 'arch\t%s\n' "$(uname -m)"
printf 'uid\t%s\n' "$(id -u)"
printf 'user\t%s\n' "$(id -un)"
printf 'home\t%s\n' "$HOME"
printf 'cpus\t%s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
`)
	for i, l := range links {
		fmt.Fprintf(&b, "chase %d %s\n", i, l.expr)
	}
	b.WriteString("}\nmain </dev/null\n")
	return b.String()
}

// chaseFunc prints where a link leads: its start, each readlink, and
// whether what it ends at exists.
const chaseFunc = `chase() {
	i=$1 p=$2 n=0
	printf 'start\t%s\t%s\n' "$i" "$p"
	while [ "$n" -lt 40 ] && t=$(readlink "$p"); do
		printf 'hop\t%s\t%s\n' "$i" "$t"
		case $t in /*) p=$t ;; *) p=${p%/*}/$t ;; esac
		n=$((n + 1))
	done
	if [ -e "$p" ] || [ -L "$p" ]; then printf 'end\t%s\texists\n' "$i"; else printf 'end\t%s\tmissing\n' "$i"; fi
}
`

// remoteStore is the store directory of the machines sysinit reaches.
const remoteStore = "/nix/store"

// parseFacts reads what probeScript printed.
func parseFacts(out string, links []remotePath) (*facts, error) {
	f := &facts{active: map[string]activeLink{}}
	chains := make([][]string, len(links))
	ended := make([]string, len(links))
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch {
		case len(fields) == 2 && fields[0] == "os":
			f.goos = strings.ToLower(fields[1])
		case len(fields) == 2 && fields[0] == "arch":
			f.arch = fields[1]
		case len(fields) == 2 && fields[0] == "uid":
			f.uid = fields[1]
		case len(fields) == 2 && fields[0] == "user":
			f.user = fields[1]
		case len(fields) == 2 && fields[0] == "home":
			f.home = fields[1]
		case len(fields) == 2 && fields[0] == "cpus":
			f.cpus, _ = strconv.Atoi(fields[1])
		case len(fields) == 3 && (fields[0] == "start" || fields[0] == "hop" || fields[0] == "end"):
			i, err := strconv.Atoi(fields[1])
			if err != nil || i < 0 || i >= len(links) {
				return nil, fmt.Errorf("reading the machine's links: unexpected line %q", sc.Text())
			}
			if fields[0] == "end" {
				ended[i] = fields[2]
			} else {
				chains[i] = append(chains[i], fields[2])
			}
		}
	}
	if f.goos == "" || f.uid == "" {
		return nil, fmt.Errorf("reading the machine: its shell printed no uname and id (got %q)", firstLines(out, 3))
	}
	for i, l := range links {
		if ended[i] == "" || len(chains[i]) == 0 {
			return nil, fmt.Errorf("reading %s on the machine: no answer", l.show)
		}
		f.active[l.expr] = walkChain(chains[i], ended[i] == "missing")
	}
	return f, nil
}

// walkChain is activePath over a chain read remotely: the first path in
// the store wins; otherwise the chain ends at something that is no link
// (itself) or at nothing.
func walkChain(chain []string, missing bool) activeLink {
	p := path.Clean(chain[0])
	for i := 0; ; i++ {
		if path.Dir(p) == remoteStore {
			return activeLink{path: p}
		}
		if i+1 >= len(chain) {
			break
		}
		t := chain[i+1]
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	if missing {
		return activeLink{missing: true}
	}
	return activeLink{path: p}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// nixSystem is the nix system of a machine from its uname: x86_64-linux,
// aarch64-darwin.
func (f *facts) nixSystem() string {
	arch := f.arch
	switch arch {
	case "amd64":
		arch = "x86_64"
	case "arm64":
		arch = "aarch64"
	}
	return arch + "-" + f.goos
}

// lockedBuffer is a bytes.Buffer safe for a child's writes and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
