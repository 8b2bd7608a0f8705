package step

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
)

// mallory is a real unprivileged user (made with useradd when missing) who
// plays the attacker: the directories and links the tests give her are
// hers, as if she had made them.
func mallory(t *testing.T) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the attack needs a second user and root to aim at: run the tests as root")
	}
	const name = "sysinit-mallory"
	if _, err := user.Lookup(name); err != nil {
		out, err := exec.Command("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("useradd %s: %v\n%s", name, err, out)
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// victim is a root-only file outside the attacker's reach.
func victim(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(p, []byte("root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkUntouched(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if string(data) != "root's secret\n" || fi.Mode() != 0o600 || st.Uid != 0 {
		t.Errorf("%s was changed: %q, mode %v, uid %d", p, data, fi.Mode(), st.Uid)
	}
}

// plant makes a link at link to target, owned by uid as if she made it.
func plant(t *testing.T, target, link string, uid, gid int) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// TestInstallNeverFollowsPlantedLinks: root installs into a directory
// another user can write — hers, and she ran sudo, so root may write there
// (TestInstallNeverFollowsPlantedParentLink has root refuse anyone else's)
// — where she has planted links to a root-only file under the destination's
// name and every temporary name sysinit used to use. The file is replaced,
// never written through; the target is intact.
func TestInstallNeverFollowsPlantedLinks(t *testing.T) {
	uid, gid := mallory(t)
	t.Setenv("SUDO_UID", strconv.Itoa(uid))
	secret := victim(t)
	dir := filepath.Join(t.TempDir(), "etc-app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "app.conf")
	planted := []string{dest, dest + ".sysinit-tmp", filepath.Join(dir, ".app.conf.sysinit-tmp")}
	for _, p := range planted {
		plant(t, secret, p, uid, gid)
	}
	if err := Install(dest, 0o644, strings.NewReader("new content\n"), ""); err != nil {
		t.Fatal(err)
	}
	checkUntouched(t, secret)
	fi, err := os.Lstat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dest); !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 || string(data) != "new content\n" {
		t.Errorf("dest: mode %v, content %q; want a regular 0644 file holding the new content", fi.Mode(), data)
	}
	// Nothing else was left in her directory: only her two other links.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want app.conf and the two planted links", names)
	}
}

// TestInstallMode: the permission bits are exactly the ones asked for,
// setuid and all, whatever the umask; missing directories are made.
func TestInstallMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, mode := range []fs.FileMode{0o440, 0o644, 0o755, 0o4755} {
		dest := filepath.Join(t.TempDir(), "a", "b", "f")
		if err := Install(dest, mode, strings.NewReader("x"), ""); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(dest, &st); err != nil {
			t.Fatal(err)
		}
		if got := fs.FileMode(st.Mode) & 0o7777; got != mode {
			t.Errorf("mode %04o installed as %04o", mode, got)
		}
	}
}

// TestInstallFailureLeavesNothing: when the rename cannot happen (the
// destination is a directory), the error names the destination and no
// temporary file is left behind.
func TestInstallFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(dest, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Install(dest, 0o644, strings.NewReader("x"), "")
	if err == nil || !strings.HasPrefix(err.Error(), "installing "+dest+": ") {
		t.Fatalf("error %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries left in the directory, want only the destination", len(ents))
	}
}

// TestFileRunReplacesPlantedFIFO: a destination that is not a regular file
// (a FIFO, or a link to one or to a device, planted by someone who can
// write its directory) is never read — reading would block — but replaced.
func TestFileRunReplacesPlantedFIFO(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.conf")
	if err := os.WriteFile(src, []byte("real\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "out", "dest.conf")
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(dest, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Dir: dir}
	s := &config.Step{Name: "f", Kind: "file", Own: &fileKeys{Source: "src.conf", Dest: dest}}
	st, err := newFile(cfg, s, &Env{Getenv: os.Getenv, LookPath: exec.LookPath})
	if err != nil {
		t.Fatal(err)
	}
	if drift, err := st.(*File).Probe(context.Background(), "x|y"); err != nil || !strings.Contains(drift, "changed outside sysinit") {
		t.Errorf("probe: %q, %v", drift, err)
	}
	var out strings.Builder
	if _, err := st.Run(context.Background(), &RunContext{Out: &out, Progress: func(string) {}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dest)
	if err != nil || string(data) != "real\n" {
		t.Errorf("dest holds %q, %v", data, err)
	}
	if _, err := os.Stat(dest + ".sysinit-tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a temporary file was left: %v", err)
	}
}

// needRoot skips a test that needs root, unless SYSINIT_REQUIRE_ROOT=1
// says a run without root is a mistake.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("SYSINIT_REQUIRE_ROOT") == "1" {
		t.Fatal("SYSINIT_REQUIRE_ROOT=1 but the tests do not run as root")
	}
	t.Skip("root's rules for installing need root: run the tests as root (SYSINIT_REQUIRE_ROOT=1 makes this an error)")
}

func mkdirOwned(t *testing.T, dir string, perm fs.FileMode, uid, gid int) {
	t.Helper()
	if err := os.Mkdir(dir, perm); err != nil {
		t.Fatal(err)
	}
	// Mkdir is subject to the umask; the test wants the bits it names.
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// TestInstallNeverFollowsPlantedParentLink: root installs below directories
// of which one is not root's: a link another user owns (she could point it
// anywhere), a directory she owns, one every user may write. Root refuses
// each, naming the component, and the root-only file the link leads to is
// untouched. A link root owns (macOS's /etc -> private/etc), a sticky
// directory (/tmp) and a directory of the user root installs for (the one
// who ran sudo) are fine.
func TestInstallNeverFollowsPlantedParentLink(t *testing.T) {
	needRoot(t)
	uid, gid := mallory(t)
	secret := victim(t)
	secretDir := filepath.Dir(secret)
	t.Setenv("SUDO_UID", "")
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}

	hers := filepath.Join(base, "hers")
	plant(t, secretDir, hers, uid, gid)
	herDir := filepath.Join(base, "herdir")
	mkdirOwned(t, herDir, 0o755, uid, gid)
	open := filepath.Join(base, "open")
	mkdirOwned(t, open, 0o777, 0, 0)
	groupOpen := filepath.Join(base, "groupopen")
	mkdirOwned(t, groupOpen, 0o775, 0, gid)
	// Root's own directory, mode 0755, whose access control list lets her
	// write (when setfacl is there to grant it).
	aclDir := ""
	if _, err := exec.LookPath("setfacl"); err == nil {
		aclDir = filepath.Join(base, "acl")
		mkdirOwned(t, aclDir, 0o755, 0, 0)
		if out, err := exec.Command("setfacl", "-m", "u:"+strconv.Itoa(uid)+":rwx", aclDir).CombinedOutput(); err != nil {
			t.Fatalf("setfacl: %v: %s", err, out)
		}
	} else {
		t.Log("setfacl is not installed: the access control list case is left out")
	}
	// Her link one level down, below a missing directory that root creates.
	deep := filepath.Join(herDir, "deep")
	plant(t, secretDir, deep, uid, gid)

	for _, tc := range []struct{ dest, want string }{
		{filepath.Join(hers, "shadow"), hers + ": a symbolic link that belongs to uid " + strconv.Itoa(uid)},
		{filepath.Join(hers, "sub", "x.conf"), hers + ": a symbolic link that belongs to uid " + strconv.Itoa(uid)},
		{filepath.Join(herDir, "x.conf"), herDir + ": a directory that belongs to uid " + strconv.Itoa(uid)},
		{filepath.Join(deep, "shadow"), herDir + ": a directory that belongs to uid " + strconv.Itoa(uid)},
		{filepath.Join(open, "x.conf"), open + ": it is writable by every user"},
		{filepath.Join(groupOpen, "x.conf"), groupOpen + ": it is writable by its group"},
		{filepath.Join(aclDir, "x.conf"), aclDir + ": it grants write to uid " + strconv.Itoa(uid)},
	} {
		if strings.HasPrefix(tc.dest, "/x.conf") {
			continue // no setfacl
		}
		err := Install(tc.dest, 0o644, strings.NewReader("new content\n"), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "installing "+tc.dest+": ") {
			t.Errorf("Install(%s): %v\nwant an error saying %q", tc.dest, err, tc.want)
		}
		checkUntouched(t, secret)
	}
	for _, p := range []string{filepath.Join(herDir, "x.conf"), filepath.Join(open, "x.conf"), filepath.Join(groupOpen, "x.conf")} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was made: %v", p, err)
		}
	}
	if ents, _ := os.ReadDir(secretDir); len(ents) != 1 {
		t.Errorf("the secret's directory holds %d entries, want only the secret", len(ents))
	}

	// What root may go through.
	real := filepath.Join(base, "real")
	mkdirOwned(t, real, 0o755, 0, 0)
	if err := os.Symlink("real", filepath.Join(base, "rootlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(base)+"/real/../real", filepath.Join(base, "rootlink2")); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(base, "sticky")
	mkdirOwned(t, sticky, 0o777|fs.ModeSticky, 0, 0)
	for _, dest := range []string{
		filepath.Join(base, "rootlink", "a.conf"),
		filepath.Join(base, "rootlink2", "new", "b.conf"),
		filepath.Join(sticky, "made", "c.conf"),
	} {
		if err := Install(dest, 0o644, strings.NewReader("ok\n"), ""); err != nil {
			t.Errorf("Install(%s): %v", dest, err)
		} else if data, err := os.ReadFile(dest); err != nil || string(data) != "ok\n" {
			t.Errorf("%s: %q, %v", dest, data, err)
		}
	}
	// Her own directory is fine when it is she who asked (sudo sets
	// SUDO_UID): she could write there herself.
	t.Setenv("SUDO_UID", strconv.Itoa(uid))
	if err := Install(filepath.Join(herDir, "x.conf"), 0o644, strings.NewReader("ok\n"), ""); err != nil {
		t.Errorf("installing into the directory of the user who ran sudo: %v", err)
	}
	checkUntouched(t, secret)
}
