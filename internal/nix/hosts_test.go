package nix

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
)

// TestProbeScriptAgreesWithActivePath runs the probe a remote machine gets
// with this machine's sh, on link chains made here, and checks that where
// it says each link leads is where activePath, the local probe, says: a
// remote step and a local one must not disagree on what is active.
func TestProbeScriptAgreesWithActivePath(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	home := t.TempDir()
	store := remoteStore + "/0000000000000000000000000000000a-system-1.0" // need not exist
	mk := func(target, link string) {
		t.Helper()
		p := filepath.Join(home, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	// A profile as nix-env leaves it: relative to a generation link.
	mk(store, "profiles/system-3-link")
	mk("system-3-link", "profiles/system")
	// Up and over through "..", then into the store.
	mk("../profiles/system", "run/current-system")
	// Relative, straight into the store.
	rel, err := filepath.Rel(filepath.Join(home, "deep/er"), store)
	if err != nil {
		t.Fatal(err)
	}
	mk(rel, "deep/er/system")
	// A generation link that is gone.
	mk("system-9-link", "profiles/dangling")
	// No link at all: a directory.
	if err := os.MkdirAll(filepath.Join(home, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := []string{"profiles/system", "run/current-system", "deep/er/system", "profiles/dangling", "plain", "missing"}
	var paths []remotePath
	for _, l := range links {
		p, err := remotePathOf("~/" + l)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, remotePath{expr: command.Quote(filepath.Join(home, "profiles/system")), show: "absolute"})
	cmd := exec.Command(sh, "-s", "sysinit-probe")
	cmd.Stdin = strings.NewReader(probeScript(paths))
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe script: %v\n%s", err, out)
	}
	f, err := parseFacts(string(out), paths)
	if err != nil {
		t.Fatal(err)
	}
	if f.goos == "" || f.uid == "" || f.home != home || f.cpus < 1 {
		t.Errorf("facts = %+v", f)
	}
	for i, l := range append(links, "profiles/system") {
		got := f.active[paths[i].expr]
		want, err := activePath(filepath.Join(home, l), remoteStore)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if !got.missing {
				t.Errorf("%s: remote says %+v, local says missing", l, got)
			}
		case err != nil:
			t.Errorf("%s: local: %v", l, err)
		case got.missing || got.path != want:
			t.Errorf("%s: remote says %+v, local says %s", l, got, want)
		}
	}
	if got := f.active[paths[0].expr].path; got != store {
		t.Errorf("profile leads to %q, want %q", got, store)
	}
}

// TestHostFailure: what ssh printed says what went wrong, in words that
// name the host and what to do.
func TestHostFailure(t *testing.T) {
	h := &host{cfg: &config.Host{Name: "box", SSH: "root@10.0.0.5:2222", User: "root", Address: "10.0.0.5", Port: "2222",
		SSHOptions: []string{"-i", "/k"}}}
	ssh255 := &command.ExitError{Argv: []string{"ssh"}, Code: 255}
	tests := []struct {
		name, stderr string
		err          error
		want         []string
	}{
		{"changed host key", `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Offending ED25519 key in /home/me/.ssh/known_hosts:7
Host key verification failed.`, ssh255,
			[]string{"refusing to connect to box (root@10.0.0.5:2222)", "Offending ED25519 key in /home/me/.ssh/known_hosts:7", "ssh-keygen -R '[10.0.0.5]:2222'"}},
		{"unknown host key", "No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict checking.\nHost key verification failed.", ssh255,
			[]string{"cannot verify box", "not in known_hosts", "ssh -i /k -p 2222 root@10.0.0.5"}},
		{"refused", "ssh: connect to host 10.0.0.5 port 2222: Connection refused", ssh255,
			[]string{"cannot reach box (root@10.0.0.5:2222): ssh: connect to host 10.0.0.5 port 2222: Connection refused"}},
		{"login refused", "root@10.0.0.5: Permission denied (publickey).", ssh255,
			[]string{"box (root@10.0.0.5:2222) refused the login: root@10.0.0.5: Permission denied (publickey)", "never prompts"}},
		{"remote command failed", "sh: 1: nix-env: not found", &command.ExitError{Argv: []string{"ssh"}, Code: 127},
			[]string{"reading box (root@10.0.0.5:2222): exit status 127: sh: 1: nix-env: not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.failure("reading", tt.stderr, tt.err)
			var he *hostError
			if !errors.As(err, &he) || !errors.Is(err, tt.err) {
				t.Fatalf("err = %#v, want a *hostError wrapping %v", err, tt.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
	if err := h.failure("reading", "", context.Canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled read: %v", err)
	}
}

// TestHostOptions: sysinit's own ssh options come first (ssh keeps the
// first value of an option), then the user's, then the defaults they may
// override; nix gets the same, through the master.
func TestHostOptions(t *testing.T) {
	h := &host{cfg: &config.Host{Name: "box", Address: "b", Port: "2222", SSHOptions: []string{"-o", "ConnectTimeout=3"}},
		master: &master{sock: "/tmp/s/0"}}
	via := h.options(viaMaster)
	if !slices.Equal(via[:6], []string{"-o", "ControlMaster=no", "-o", "ControlPath=/tmp/s/0", "-o", "BatchMode=yes"}) {
		t.Errorf("through the master: %q", via)
	}
	user := slices.Index(via, "ConnectTimeout=3")
	if def := slices.Index(via, "ConnectTimeout=15"); user < 0 || def < user {
		t.Errorf("the user's option must come before the default: %q", via)
	}
	if !slices.Contains(via, "2222") {
		t.Errorf("no port: %q", via)
	}
	if fr := h.options(fresh); !slices.Contains(fr, "ControlPath=none") {
		t.Errorf("a new connection must not use the master: %q", fr)
	}
	if m := h.options(asMaster); slices.ContainsFunc(m, func(o string) bool { return strings.HasPrefix(o, "Control") }) {
		t.Errorf("the master's control options come from -M -S: %q", m)
	}
	if env := h.nixEnv(); len(env) != 1 || env[0] != "NIX_SSHOPTS="+strings.Join(via, " ") {
		t.Errorf("nix env = %q", env)
	}
	if h.storeURI() != "ssh-ng://b" {
		t.Errorf("store = %s", h.storeURI())
	}
}

// TestHostIPv6: ssh takes an IPv6 address bare (root@::1, the port in -p),
// nix's store URL in brackets, known_hosts as [::1]:PORT off port 22.
func TestHostIPv6(t *testing.T) {
	for _, c := range []struct {
		cfg             config.Host
		dest, store, kh string
		hand            string
	}{
		{config.Host{Name: "v6", SSH: "root@[::1]:2222", User: "root", Address: "::1", Port: "2222"},
			"root@::1", "ssh-ng://root@[::1]", "[::1]:2222", "ssh -p 2222 root@::1"},
		{config.Host{Name: "v6", SSH: "[fd00::2]", Address: "fd00::2"},
			"fd00::2", "ssh-ng://[fd00::2]", "fd00::2", "ssh fd00::2"},
		{config.Host{Name: "v4", SSH: "me@10.0.0.5", User: "me", Address: "10.0.0.5"},
			"me@10.0.0.5", "ssh-ng://me@10.0.0.5", "10.0.0.5", "ssh me@10.0.0.5"},
	} {
		h := &host{cfg: &c.cfg}
		argv := h.options(fresh)
		if c.cfg.Port != "" && !slices.Contains(argv, c.cfg.Port) {
			t.Errorf("%s: no -p %s in %q", c.cfg.SSH, c.cfg.Port, argv)
		}
		if got := c.cfg.Destination(); got != c.dest {
			t.Errorf("%s: destination %q, want %q", c.cfg.SSH, got, c.dest)
		}
		if got := h.storeURI(); got != c.store {
			t.Errorf("%s: store %q, want %q", c.cfg.SSH, got, c.store)
		}
		if got := knownHostsName(&c.cfg); got != c.kh {
			t.Errorf("%s: known_hosts name %q, want %q", c.cfg.SSH, got, c.kh)
		}
		if got := strings.Join(h.handArgv(), " "); got != c.hand {
			t.Errorf("%s: by hand %q, want %q", c.cfg.SSH, got, c.hand)
		}
	}
}

func TestRemotePathOf(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/var/nix/profiles/system": "/nix/var/nix/profiles/system",
		"~/.local/state/x y":           `"$HOME"/'.local/state/x y'`,
		"/a/../b/":                     "/b",
	} {
		got, err := remotePathOf(in)
		if err != nil || got.expr != want || got.show != in {
			t.Errorf("remotePathOf(%q) = %+v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := remotePathOf("relative/profile"); err == nil {
		t.Error("a relative profile must be refused for another machine")
	}
}

// TestBuildsOnce: however many steps ask at once, the work runs once and
// each learns which step did it; work whose step was stopped is done again
// by the next step that asks.
func TestBuildsOnce(t *testing.T) {
	var b builds
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	outs := make([]string, 5)
	bys := make([]string, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], bys[i], _ = b.do(context.Background(), "k", "s"+string(rune('0'+i)), func() (string, error) {
				calls.Add(1)
				<-release
				return "/nix/store/x", nil
			})
		}()
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("the work ran %d times", calls.Load())
	}
	for i := range 5 {
		if outs[i] != "/nix/store/x" || bys[i] != bys[0] {
			t.Errorf("step %d got %q by %q", i, outs[i], bys[i])
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := b.do(ctx, "stopped", "a", func() (string, error) { return "", ctx.Err() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped work: %v", err)
	}
	out, by, err := b.do(context.Background(), "stopped", "b", func() (string, error) { return "/nix/store/y", nil })
	if err != nil || out != "/nix/store/y" || by != "b" {
		t.Errorf("after a stopped step: %q by %q, %v", out, by, err)
	}
}

// TestParseConfirm reads what the confirmation printed: the job's state,
// the log of a rollback, and the generation of the profile.
func TestParseConfirm(t *testing.T) {
	links := []remotePath{{expr: "'/run/current-system'"}, {expr: "'/nix/var/nix/profiles/system'"}}
	out := "state\trolled-back\r\nlog\tsysinit: rolling back to /nix/store/a-1\n" +
		"start\t0\t/run/current-system\nhop\t0\t/nix/store/a-1\nend\t0\texists\n" +
		"start\t1\t/nix/var/nix/profiles/system\nhop\t1\tsystem-4-link\nhop\t1\t/nix/store/a-1\nend\t1\texists\n"
	state, active, gen, log, err := parseConfirm(out, links)
	if err != nil || state != "rolled-back" || active.path != "/nix/store/a-1" || gen != 4 || !slices.Equal(log, []string{"sysinit: rolling back to /nix/store/a-1"}) {
		t.Errorf("parseConfirm = %q %+v %d %q %v", state, active, gen, log, err)
	}
	if _, _, _, _, err := parseConfirm("Last login: yesterday\n", links); err == nil {
		t.Error("an answer without a state must be an error")
	}
}
