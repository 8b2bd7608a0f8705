// Package sudotest gives tests a real user with a real sudo: a user made
// for the test (useradd), with a sudoers entry that asks for a password or
// not, and Debian's sudo deciding. It needs root, sudo and the shadow
// utilities; without them a test is skipped, or fails when
// SYSINIT_REQUIRE_SUDO=1 (CI installs sudo and sets it).
package sudotest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// RequireEnv makes a missing sudo a failure instead of a skip.
const RequireEnv = "SYSINIT_REQUIRE_SUDO"

// User is a user created for one test and removed after it.
type User struct {
	Name     string
	UID, GID int
	Home     string // theirs, with a 0755 path down to it
	Password string // what sudo asks for; "" when it asks nothing
	Log      string // sudo's log file for this user, with Options.Log
}

// Options says what sudo asks of the user.
type Options struct {
	// Password makes sudo ask for the user's password (a sudoers entry
	// without NOPASSWD), as on every Mac.
	Password bool
	// Log makes sudo log this user's commands to User.Log, as it would to
	// syslog.
	Log bool
	// Defaults are sudoers settings for this user alone, such as
	// "timestamp_timeout=0".
	Defaults []string
}

// Need skips t, or fails it under SYSINIT_REQUIRE_SUDO=1, unless this
// process is root and the real sudo and the user tools are installed.
// Nothing else is needed to run a program as a created user through sudo.
func Need(t testing.TB) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s, and %s=1", msg, RequireEnv)
		}
		t.Skipf("%s: skipping a test of the real sudo (%s=1 makes this a failure)", msg, RequireEnv)
	}
	if os.Geteuid() != 0 {
		missing("not root: a test user and its sudoers entry can't be made")
	}
	for _, prog := range []string{"/usr/bin/sudo", "/usr/sbin/useradd", "/usr/sbin/userdel", "/usr/sbin/chpasswd"} {
		if _, err := os.Stat(prog); err != nil {
			missing("%s is not installed (apt-get install sudo passwd)", prog)
		}
	}
	out, err := exec.Command("/usr/bin/sudo", "-V").Output()
	if err != nil || !strings.HasPrefix(string(out), "Sudo version") {
		missing("/usr/bin/sudo -V does not say it is sudo: %v", err)
	}
	if _, err := os.Stat("/etc/sudoers.d"); err != nil {
		missing("/etc/sudoers.d is missing")
	}
}

// New creates a user for t whose sudo entry runs anything as anyone, and
// removes it, its sudoers entry and its sudo tickets when t ends.
func New(t testing.TB, o Options) *User {
	t.Helper()
	Need(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	u := &User{Name: "sysinit-" + hex.EncodeToString(b[:])}
	base, err := os.MkdirTemp("", "sysinit-sudotest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	u.Home = filepath.Join(base, u.Name)
	run(t, nil, "/usr/sbin/useradd", "--create-home", "--home-dir", u.Home, "--shell", "/bin/sh", "--user-group", u.Name)
	sudoers := filepath.Join("/etc/sudoers.d", u.Name)
	t.Cleanup(func() {
		os.Remove(sudoers)
		os.RemoveAll(filepath.Join("/run/sudo/ts", u.Name))
		// --force: a process of the test (a tmux server told to quit) may
		// still be on its way out.
		_ = exec.Command("/usr/sbin/userdel", "--force", u.Name).Run()
	})
	pu, err := user.Lookup(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	if u.UID, err = strconv.Atoi(pu.Uid); err != nil {
		t.Fatal(err)
	}
	if u.GID, err = strconv.Atoi(pu.Gid); err != nil {
		t.Fatal(err)
	}
	tag := "NOPASSWD: "
	if o.Password {
		tag = ""
		_, _ = rand.Read(b[:])
		u.Password = "pw-" + hex.EncodeToString(b[:])
		run(t, strings.NewReader(u.Name+":"+u.Password+"\n"), "/usr/sbin/chpasswd")
	}
	// A fresh user has no ticket; remove any a reused name could find.
	os.RemoveAll(filepath.Join("/run/sudo/ts", u.Name))
	entry := fmt.Sprintf("%s ALL=(ALL:ALL) %sALL\n", u.Name, tag)
	if o.Log {
		u.Log = filepath.Join(base, "sudo.log")
		entry += fmt.Sprintf("Defaults:%s logfile=%s\n", u.Name, u.Log)
	}
	for _, d := range o.Defaults {
		entry += fmt.Sprintf("Defaults:%s %s\n", u.Name, d)
	}
	if err := os.WriteFile(sudoers, []byte(entry), 0o440); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/visudo", "-c", "-f", sudoers).CombinedOutput(); err != nil {
		t.Fatalf("visudo -c %s: %v\n%s", sudoers, err, out)
	}
	return u
}

// Command is a program that runs as the user, from their home, with a
// minimal environment of their own (HOME, USER, LOGNAME, PATH) plus env.
func (u *User) Command(env []string, argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = u.Home
	cmd.Env = append([]string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{uint32(u.GID)},
	}}
	return cmd
}

// Copy copies the file at src into the user's home, owned by them with
// mode, and returns its path: the user cannot run a test binary from the
// root-only directory go test builds it in.
func (u *User) Copy(t testing.TB, src string, mode os.FileMode) string {
	t.Helper()
	dst := filepath.Join(u.Home, filepath.Base(src))
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	u.Own(t, dst)
	return dst
}

// Own gives the user the files at paths.
func (u *User) Own(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
}

// Mkdir makes a directory in the user's home, owned by them.
func (u *User) Mkdir(t testing.TB, rel string) string {
	t.Helper()
	dir := filepath.Join(u.Home, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != u.Home; d = filepath.Dir(d) {
		u.Own(t, d)
	}
	return dir
}

func run(t testing.TB, stdin io.Reader, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}
