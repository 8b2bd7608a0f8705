//go:build reliability

package reliability_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/state"
)

// nobody is the other user of the trials where root works in a user's
// HOME.
const nobody = 65534

// userWorld is a world whose HOME and repo belong to nobody, with no XDG
// variables: root running sysinit there is `sudo -E sysinit` in that
// user's checkout.
func userWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.cache, w.state = "", ""
	writeFile(t, filepath.Join(w.repo, "sysinit.toml"), config([]stepSpec{{name: "a"}}, w.fx), 0o644)
	w.setInputs([]stepSpec{{name: "a"}}, func(s string) string { return s })
	chownTree(t, w.home, nobody)
	chownTree(t, w.repo, nobody)
	chownTree(t, w.fx, nobody)
	return w
}

func chownTree(t *testing.T, root string, uid int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func symlinkAs(t *testing.T, target, link string, uid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every file under root: path, type, mode, owner and
// a hash of the contents.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d", p, fi.Mode(), st.Uid)
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(&b, " %x", sum[:8])
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// victim is what a user aims root at: a directory of root's with a file
// and a log directory full of old runs.
func victim(t *testing.T, w *world) string {
	t.Helper()
	v := filepath.Join(w.root, "victim")
	writeFile(t, filepath.Join(v, "precious"), "root's file\n", 0o600)
	for i := range state.MaxRuns + 10 {
		if err := os.MkdirAll(filepath.Join(v, "logs", fmt.Sprintf("20000101T000000-%06d", i)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

const (
	aimedWrite  = "root wrote, truncated or pruned through a planted symlink"
	aimedOpen   = "a world-writable store directory was used"
	aimedBroken = "root's run left the user's own runs broken"
)

// TestRootAiming: root runs sysinit in a user's HOME (sudo -E), where the
// user, who has used sysinit there before, replaced sysinit's store
// directory, lock file, store file, log directory or state directory with
// a symlink to a victim of root's. Nothing of the victim may change, and
// the user's own runs must work after root's. A user's own sysinit must
// refuse a world-writable store directory.
func TestRootAiming(t *testing.T) {
	requireRoot(t)
	c := newTally(aimedWrite, aimedOpen, aimedBroken)
	asUser := &syscall.Credential{Uid: nobody, Gid: nobody}
	// used returns a world where the user ran sysinit once, and the paths
	// of its store and lock, found rather than computed: their names are
	// sysinit's business.
	used := func() (w *world, db, lock string) {
		w = userWorld(t)
		w.credential = asUser
		if o := w.run("refresh", "--progress=never"); o.code != 0 {
			t.Fatalf("the user's own first run: %v", o)
		}
		w.credential = nil
		dbs, _ := filepath.Glob(filepath.Join(w.home, ".cache", "sysinit", "*.db"))
		locks, _ := filepath.Glob(filepath.Join(w.home, ".cache", "sysinit", "*.lock"))
		if len(dbs) != 1 || len(locks) != 1 {
			t.Fatalf("the user's run left stores %v and locks %v", dbs, locks)
		}
		return w, dbs[0], locks[0]
	}
	replace := func(link, target string) {
		if err := os.RemoveAll(link); err != nil {
			t.Fatal(err)
		}
		symlinkAs(t, target, link, nobody)
	}
	plants := []struct {
		name  string
		plant func(w *world, db, lock, v string)
	}{
		{"store directory", func(w *world, db, lock, v string) { replace(filepath.Dir(db), v) }},
		{"lock file", func(w *world, db, lock, v string) { replace(lock, filepath.Join(v, "precious")) }},
		{"store file", func(w *world, db, lock, v string) { replace(db, filepath.Join(v, "precious")) }},
		{"log directory", func(w *world, db, lock, v string) {
			replace(filepath.Join(w.home, ".local", "state", "sysinit", "logs"), filepath.Join(v, "logs"))
		}},
		{"state directory", func(w *world, db, lock, v string) {
			replace(filepath.Join(w.home, ".local", "state", "sysinit"), v)
		}},
	}
	for _, p := range plants {
		w, db, lock := used()
		v := victim(t, w)
		before := snapshot(t, v)
		p.plant(w, db, lock, v)
		c.add("trials", 1)
		// Forced: a step runs, so there are logs, records and history to write.
		o := w.run("refresh", "--force", "--progress=never")
		if after := snapshot(t, v); after != before {
			c.fail(aimedWrite, fmt.Sprintf("symlinked %s: the victim changed (%s)", p.name, o))
		}
	}

	// Root's run must leave nothing the user cannot use.
	w := userWorld(t)
	c.add("trials", 1)
	root := w.run("refresh", "--progress=never")
	w.credential = asUser
	if o := w.run("refresh", "--progress=never"); o.code != 0 {
		c.fail(aimedBroken, fmt.Sprintf("root's run (%s), then the user's: %s", root, o))
	}

	// A world-writable store directory: anyone could plant anything in it.
	w, db, _ := used()
	if err := os.Chmod(filepath.Dir(db), 0o777); err != nil {
		t.Fatal(err)
	}
	w.credential = asUser
	c.add("trials", 1)
	if o := w.run("refresh", "--force", "--progress=never"); o.code == 0 {
		c.fail(aimedOpen, fmt.Sprintf("%s (mode 0777) was used: %s", filepath.Dir(db), tail(o.stdout, 2)))
	}
	c.report(t, "root aiming trials")
}

const prunedRunning = "logs of a running refresh pruned"

// TestPruneSparesRunningLogs: a refresh is running (its step holds) when
// another refresh sharing the log directory ends and prunes old runs,
// with MaxRuns newer run directories there. The running refresh's log must
// survive.
func TestPruneSparesRunningLogs(t *testing.T) {
	c := newTally(prunedRunning)
	w := newWorld(t)
	writeFile(t, filepath.Join(w.repo, "sysinit.toml"), fmt.Sprintf("[steps.hold]\nkind = \"command\"\nrun = %q\n",
		shellQuote(bin.standin)+" standin-hold "+shellQuote(w.fx)+" hold"), 0o644)
	release := filepath.Join(w.fx, "release")
	if err := syscall.Mkfifo(release, 0o666); err != nil {
		t.Fatal(err)
	}
	notes := listen(t, w.fx)
	cmd, stdout, stderr := w.command("refresh", "--progress=never")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notes:
	case <-time.After(time.Minute):
		t.Fatalf("the step never started: %s %s", stdout, stderr)
	}
	logs := filepath.Join(w.state, "sysinit", "logs")
	ents, err := os.ReadDir(logs)
	if err != nil || len(ents) != 1 {
		t.Fatalf("want the running refresh's log directory alone in %s: %v %v", logs, ents, err)
	}
	running := ents[0].Name()
	for i := range state.MaxRuns {
		if err := os.Mkdir(filepath.Join(logs, fmt.Sprintf("%s-%03d", running, i)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	other := *w
	other.repo = filepath.Join(w.root, "other")
	writeFile(t, filepath.Join(other.repo, "sysinit.toml"), "[steps.x]\nkind = \"command\"\nrun = \"true\"\n", 0o644)
	if o := other.run("refresh", "--progress=never"); o.code != 0 {
		t.Fatalf("the other refresh: %v", o)
	}
	f, err := os.OpenFile(release, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	o := waitFor(cmd, stdout, stderr, 2*time.Minute)
	c.add("trials", 1)
	logFile := filepath.Join(logs, running, "hold.log")
	data, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(data), "# done") {
		c.fail(prunedRunning, fmt.Sprintf("%s: %v (refresh: %s)", logFile, err, o))
	}
	c.report(t, "log pruning trial")
}

const brewAsRoot = "brew ran as root"

// TestBrewNeverRoot: root runs sysinit with SUDO_USER='#0', which sudo
// reads as uid 0. A brew-bundle step must not run brew as root (brew
// refuses to, for good reason); sysinit must compare uids, not names. It
// runs the real sudo, and a stand-in brew that logs its uid.
func TestBrewNeverRoot(t *testing.T) {
	requireRoot(t)
	sudo, err := lookPathIn("sudo", "/usr/bin:/bin:/usr/sbin:/sbin")
	if err != nil {
		t.Skip("sudo is not installed")
	}
	c := newTally(brewAsRoot)
	w := newWorld(t)
	prefix := filepath.Join(w.root, "homebrew")
	for _, d := range []string{"bin", "Cellar", "Caskroom", ".git"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(filepath.Join("..", "brew", "testdata", "bin", "brew"), filepath.Join(prefix, "bin", "brew.real"), 0o755); err != nil {
		t.Fatal(err)
	}
	uids := filepath.Join(w.fx, "brew-uids")
	writeFile(t, filepath.Join(prefix, "bin", "brew"), fmt.Sprintf("#!/bin/sh\necho \"$(id -u) $*\" >> %s\nexec \"$(dirname \"$0\")/brew.real\" \"$@\"\n", shellQuote(uids)), 0o755)
	writeFile(t, filepath.Join(w.repo, "Brewfile"), "brew \"jq\"\n", 0o644)
	writeFile(t, filepath.Join(w.repo, "sysinit.toml"), "[steps.brew]\nkind = \"brew-bundle\"\n", 0o644)
	w.extraEnv = []string{"HOMEBREW_PREFIX=" + prefix, "SUDO_USER=#0", "SUDO_UID=0", "BREW_ALLOW_ROOT=1"}
	c.add("trials", 1)
	o := w.run("refresh", "--progress=never")
	data, _ := os.ReadFile(uids)
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(l, "0 ") {
			c.fail(brewAsRoot, fmt.Sprintf("%s ran as uid 0 through %s (sysinit: %s)", l[2:], sudo, o))
		}
	}
	c.report(t, "brew as root trial")
}

func lookPathIn(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

const (
	secretInArgv   = "secret on a command line (ps)"
	secretInLog    = "secret in sudo's log"
	secretNotThere = "secret did not reach the step"
)

// TestSecretsOffCommandLines: a `sudo = true` step with a secret in its
// `env` runs as a user (nobody, when the suite is root) through the
// stand-in sudo of the cli tests, which logs its argv as sudo's log does,
// kept alive while the step runs as the real sudo is.
// While the step holds, every process's command line is read, as ps
// would: the secret must be on none, nor in sudo's log, and the step must
// still get it.
func TestSecretsOffCommandLines(t *testing.T) {
	requireLinux(t)
	c := newTally(secretInArgv, secretInLog, secretNotThere)
	w := newWorld(t)
	sbin := filepath.Join(w.root, "sbin")
	if err := os.Mkdir(sbin, 0o755); err != nil {
		t.Fatal(err)
	}
	// The real sudo stays the parent of what it runs, its argv in ps the
	// whole time; the stand-in execs. A wrapper that waits for it gives
	// the stand-in sudo's lifetime.
	if err := copyFile(filepath.Join("..", "cli", "testdata", "bin", "sudo"), filepath.Join(sbin, "sudo.standin"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sbin, "sudo"), "#!/bin/sh\n"+shellQuote(filepath.Join(sbin, "sudo.standin"))+" \"$@\"\n", 0o755)
	w.path = sbin + ":" + w.path
	calls := filepath.Join(w.fx, "calls.log")
	w.extraEnv = []string{"CALLS_LOG=" + calls}
	secret := fmt.Sprintf("trial-secret-%d", time.Now().UnixNano())
	writeFile(t, filepath.Join(w.repo, "sysinit.toml"), fmt.Sprintf("[steps.s]\nkind = \"command\"\nsudo = true\nrun = %q\nenv = { SYSINIT_TRIAL_SECRET = %q }\n",
		shellQuote(bin.standin)+" standin-hold "+shellQuote(w.fx)+" s", secret), 0o644)
	release := filepath.Join(w.fx, "release")
	if err := syscall.Mkfifo(release, 0o666); err != nil {
		t.Fatal(err)
	}
	notes := listen(t, w.fx)
	if os.Geteuid() == 0 {
		chownTree(t, w.root, nobody)
		w.credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	cmd, stdout, stderr := w.command("refresh", "--progress=never")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		select {
		case <-notes:
		case <-exited:
		}
		// The step holds (or never came): read every command line.
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.Contains(string(data), secret) {
				c.fail(secretInArgv, strings.ReplaceAll(string(data), "\x00", " "))
			}
		}
		if f, err := os.OpenFile(release, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.WriteString("go\n")
			f.Close()
		}
	}()
	o := waitFor(cmd, stdout, stderr, 2*time.Minute)
	close(exited)
	c.add("trials", 1)
	if data, err := os.ReadFile(calls); err == nil && strings.Contains(string(data), secret) {
		c.fail(secretInLog, strings.TrimSpace(string(data)))
	}
	sum := sha256.Sum256([]byte(secret))
	if got, _ := os.ReadFile(filepath.Join(w.fx, "s.env")); string(got) != hex.EncodeToString(sum[:]) {
		c.fail(secretNotThere, fmt.Sprintf("the step saw another value (sysinit: %s)", o))
	}
	c.report(t, "secrets trial")
}
