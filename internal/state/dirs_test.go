package state

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// mallory is a real unprivileged user (made with useradd when missing) who
// plays the attacker: what the tests chown to her is hers.
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

// victim is a file the tests must leave intact.
func victim(t *testing.T) (path string, check func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(path, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func() {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(path); string(data) != "precious\n" || fi.Mode() != 0o600 {
			t.Errorf("%s was changed: %q, mode %v", path, data, fi.Mode())
		}
	}
}

func unsafeDir(t *testing.T, err error, dir, problem, fix string) {
	t.Helper()
	var ue *UnsafeDirError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want an *UnsafeDirError", err)
	}
	if ue.Dir != dir || !strings.Contains(ue.Problem, problem) || !strings.Contains(ue.Fix, fix) {
		t.Errorf("refused %q for %q with fix %q; want %q for %q with fix %q", ue.Dir, ue.Problem, ue.Fix, dir, problem, fix)
	}
	if !strings.HasPrefix(err.Error(), "refusing state directory "+dir+": ") {
		t.Errorf("message %q does not name %s first", err, dir)
	}
}

// TestCheckDir: sysinit's own directories are real directories of the user
// it runs as, that no one else may write; anything else is refused with
// the fix.
func TestCheckDir(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, ok := range []string{mk("private", 0o700), mk("readable", 0o755)} {
		if err := CheckDir(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	p := mk("world", 0o777)
	unsafeDir(t, CheckDir(p), p, "writable by every user", "chmod 700 "+p)
	p = mk("sticky", os.ModeSticky|0o777)
	unsafeDir(t, CheckDir(p), p, "writable by every user", "chmod 700 "+p)
	p = mk("group", 0o770)
	unsafeDir(t, CheckDir(p), p, "writable by its group", "chmod 700 "+p)
	link := filepath.Join(base, "link")
	if err := os.Symlink(mk("target", 0o700), link); err != nil {
		t.Fatal(err)
	}
	unsafeDir(t, CheckDir(link), link, "symbolic link", "rm "+link)

	if os.Geteuid() == 0 {
		uid, gid := mallory(t)
		p = mk("hers", 0o700)
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		unsafeDir(t, CheckDir(p), p, "belongs to uid "+strconv.Itoa(uid)+" (sysinit-mallory), not to uid 0 (root)", "chown -R root "+p)
	}
}

// TestPrivateDir: missing directories are made 0700 whatever the umask
// allows; an unsafe one on the way stops it before anything is made below.
func TestPrivateDir(t *testing.T) {
	base := filepath.Join(t.TempDir(), "home", ".cache")
	dir := filepath.Join(base, "sysinit", "logs")
	if err := PrivateDir(base, dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if fi, err := os.Lstat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a 0700 directory", d, fi.Mode(), err)
		}
	}
	if err := os.Chmod(filepath.Dir(dir), 0o777); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run1")
	unsafeDir(t, PrivateDir(base, run), filepath.Dir(dir), "writable by every user", "chmod 700")
	if _, err := os.Lstat(run); err == nil {
		t.Error("made a directory below an unsafe one")
	}
	if err := PrivateDir(base, base); err == nil {
		t.Error("PrivateDir(base, base) accepted")
	}
}

// TestBaseDirAsRoot: root keeps its state only where no other user could
// redirect it. A HOME (or XDG directory) of another user's is refused, so
// root neither writes through her links nor leaves her root-owned files;
// root's own directories, /tmp-like sticky ones and root-owned links are
// fine.
func TestBaseDirAsRoot(t *testing.T) {
	uid, gid := mallory(t)
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	mkdir := func(p string, mode os.FileMode, owner int) string {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, owner, gid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hers := mkdir(filepath.Join(root, "home", "mallory"), 0o755, uid)
	mine := mkdir(filepath.Join(root, "root"), 0o700, 0)
	sticky := mkdir(filepath.Join(root, "tmp"), os.ModeSticky|0o777, 0)
	open := mkdir(filepath.Join(root, "open"), 0o777, 0)
	rootLink := filepath.Join(root, "rootlink")
	if err := os.Symlink(mine, rootLink); err != nil {
		t.Fatal(err)
	}
	herLink := filepath.Join(root, "herlink")
	if err := os.Symlink(mine, herLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(herLink, uid, gid); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	for _, ok := range []struct{ name, home, want string }{
		{"root's own", mine, filepath.Join(mine, ".cache")},
		{"below a sticky directory", filepath.Join(sticky, "x"), filepath.Join(sticky, "x", ".cache")},
		{"through root's link", rootLink, filepath.Join(rootLink, ".cache")},
	} {
		got, err := BaseDir(env(map[string]string{"HOME": ok.home}), "XDG_CACHE_HOME", ".cache")
		if err != nil || got != ok.want {
			t.Errorf("%s: %q, %v; want %q", ok.name, got, err, ok.want)
		}
	}
	for _, bad := range []struct {
		name    string
		env     map[string]string
		problem string
	}{
		{"her HOME", map[string]string{"HOME": hers}, hers + " belongs to uid " + strconv.Itoa(uid) + " (sysinit-mallory), not to root"},
		{"her XDG_CACHE_HOME", map[string]string{"HOME": mine, "XDG_CACHE_HOME": filepath.Join(hers, ".cache")}, hers + " belongs to"},
		{"through her link", map[string]string{"HOME": herLink}, herLink + " belongs to"},
		{"below a directory all may write", map[string]string{"HOME": filepath.Join(open, "x")}, open + " is writable by every user"},
	} {
		_, err := BaseDir(env(bad.env), "XDG_CACHE_HOME", ".cache")
		var ue *UnsafeDirError
		if !errors.As(err, &ue) || !strings.Contains(ue.Problem, bad.problem) || !strings.Contains(ue.Fix, "sudo -H") || !strings.Contains(ue.Fix, "$XDG_CACHE_HOME") {
			t.Errorf("%s: %v; want refused for %q with a fix", bad.name, err, bad.problem)
		}
	}
	// Nothing was made in her HOME.
	if ents, _ := os.ReadDir(hers); len(ents) != 0 {
		t.Errorf("her HOME holds %d entries", len(ents))
	}
}

// TestBaseDirNotRoot: a user's own directories are not second-guessed
// above sysinit's own: a group-writable HOME (user private groups) is
// theirs to have.
func TestBaseDirNotRoot(t *testing.T) {
	defer func(f func() int) { geteuid = f }(geteuid)
	geteuid = func() int { return 1000 }
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	got, err := BaseDir(func(k string) string { return map[string]string{"HOME": open}[k] }, "XDG_STATE_HOME", ".local/state")
	if err != nil || got != filepath.Join(open, ".local/state") {
		t.Errorf("%q, %v", got, err)
	}
}

// TestStoreRefusesLinks: a link planted where the store or its lock goes
// is refused, never followed; the file it points to stays intact.
func TestStoreRefusesLinks(t *testing.T) {
	target, check := victim(t)
	dir := filepath.Join(t.TempDir(), "sysinit")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dots-0123.db")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, LockPath(path)); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path, false, nil); err == nil || err.Error() != "refusing run lock "+LockPath(path)+": it is a symbolic link; remove it" {
		t.Errorf("Acquire: %v", err)
	}
	for _, readOnly := range []bool{true, false} {
		s, warnings := openAt(t, path, readOnly)
		want := "refusing state store " + path + ": it is a symbolic link; remove it and sysinit starts a new one"
		if _, err := s.Records(); err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("Records (read-only %v): %v", readOnly, err)
		}
		if !readOnly {
			if err := s.Put(sampleRecord("a"), nil); err == nil || !strings.HasSuffix(err.Error(), want) {
				t.Errorf("Put: %v", err)
			}
		}
		if len(*warnings) != 0 {
			t.Errorf("warnings %q: a link is not damage to move aside", *warnings)
		}
	}
	check()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was moved or replaced: %v", err)
	}
}

// TestStoreRefusesForeignDir: a store whose directory belongs to another
// user (or that others may write) is neither read nor written, and says
// how to fix it.
func TestStoreRefusesForeignDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sysinit")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s, _ := openAt(t, filepath.Join(dir, "dots-0123.db"), false)
	if _, err := s.Records(); err == nil || !strings.Contains(err.Error(), "refusing state directory "+dir+": it is writable by every user; fix: chmod 700 "+dir) {
		t.Errorf("Records: %v", err)
	}
	if err := s.Put(sampleRecord("a"), nil); err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Errorf("Put: %v", err)
	}
	if _, err := Acquire(filepath.Join(dir, "dots-0123.db"), false, nil); err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Errorf("Acquire: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files made in the refused directory", len(ents))
	}
}

const leftoverEnv = "SYSINIT_STATE_TEST_LEFTOVER"

// TestLeftoverRootFiles: files an older sysinit run as root left in a
// user's own state directory make her runs fail with the reason and the
// fix, not a bare "permission denied". The user's side runs in a child
// process as mallory.
func TestLeftoverRootFiles(t *testing.T) {
	uid, gid := mallory(t)
	base := t.TempDir()
	// She must reach the directory and the binary.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "sysinit")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dots-0123.db")
	s, _ := openAt(t, path, false)
	mustPut(t, s, sampleRecord("a"), nil)
	l, err := Acquire(path, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	// Her side: a copy of this test binary she may run.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "state.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestLeftoverRootFilesHelper$", "-test.v")
	cmd.Env = append(os.Environ(), leftoverEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLeftoverRootFilesHelper") {
		t.Fatalf("her side: %v\n%s", err, out)
	}
}

// TestLeftoverRootFilesHelper is TestLeftoverRootFiles's child.
func TestLeftoverRootFilesHelper(t *testing.T) {
	path := os.Getenv(leftoverEnv)
	if path == "" {
		t.Skip("helper process for TestLeftoverRootFiles; runs only when it sets " + leftoverEnv)
	}
	fix := "not to uid " + strconv.Itoa(os.Geteuid()) + " (sysinit-mallory), whom sysinit runs as; fix: sudo chown sysinit-mallory "
	if _, err := Acquire(path, false, nil); err == nil || !strings.Contains(err.Error(), "refusing run lock "+LockPath(path)+": it belongs to uid 0 (root), "+fix+LockPath(path)) {
		t.Errorf("Acquire: %v", err)
	}
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Records(); err == nil || !strings.Contains(err.Error(), "refusing state store "+path+": it belongs to uid 0 (root), "+fix+path) {
		t.Errorf("Records: %v", err)
	}
}

// TestBaseDirAsRootRefusesACLWriters: mode bits do not tell everyone who
// may write a directory. A POSIX ACL entry can give another user write
// access to a directory whose group is 0 (which root's rules otherwise
// accept, as that group's members are root already), and group 0 itself
// may have members other than root. Root refuses both; an ACL entry the
// mask takes write from is harmless.
func TestBaseDirAsRootRefusesACLWriters(t *testing.T) {
	uid, gid := mallory(t)
	if _, err := exec.LookPath("setfacl"); err != nil {
		t.Skip("setfacl is not installed")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	mkdir := func(name string, acl string) string {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.Mkdir(p, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			t.Fatal(err)
		}
		if acl != "" {
			if out, err := exec.Command("setfacl", "-m", acl, p).CombinedOutput(); err != nil {
				t.Fatalf("setfacl -m %s %s: %v: %s", acl, p, err, out)
			}
		}
		return p
	}
	plain := mkdir("plain", "")
	hers := mkdir("acl-user", "u:"+strconv.Itoa(uid)+":rwx")
	herGroup := mkdir("acl-group", "g:"+strconv.Itoa(gid)+":rwx")
	masked := mkdir("acl-masked", "u:"+strconv.Itoa(uid)+":rwx,m::r-x")
	env := func(home string) func(string) string {
		return func(k string) string {
			if k == "HOME" {
				return home
			}
			return ""
		}
	}
	// Group 0 as this machine has it, and with a member other than root.
	dir := t.TempDir()
	onlyRoot, withHer := filepath.Join(dir, "group"), filepath.Join(dir, "group-her")
	writeFile(t, onlyRoot, []byte("root:x:0:\nusers:x:100:sysinit-mallory\n"))
	writeFile(t, withHer, []byte("root:x:0:root,sysinit-mallory\n"))
	defer func(g string) { groupFile = g }(groupFile)
	groupFile = onlyRoot

	for _, ok := range []string{plain, masked} {
		if _, err := BaseDir(env(filepath.Join(ok, "x")), "XDG_CACHE_HOME", ".cache"); err != nil {
			t.Errorf("below %s: %v; want accepted", ok, err)
		}
	}
	for _, bad := range []struct{ dir, problem string }{
		{hers, hers + " grants write to uid " + strconv.Itoa(uid) + " (sysinit-mallory) in its access control list"},
		{herGroup, herGroup + " grants write to group"},
	} {
		_, err := BaseDir(env(filepath.Join(bad.dir, "x")), "XDG_CACHE_HOME", ".cache")
		var ue *UnsafeDirError
		if !errors.As(err, &ue) || !strings.Contains(ue.Problem, bad.problem) {
			t.Errorf("below %s: %v; want refused for %q", bad.dir, err, bad.problem)
		}
	}
	groupFile = withHer
	_, err := BaseDir(env(filepath.Join(plain, "x")), "XDG_CACHE_HOME", ".cache")
	var ue *UnsafeDirError
	if !errors.As(err, &ue) || !strings.Contains(ue.Problem, plain+" is writable by its group (gid 0), whose members include sysinit-mallory") {
		t.Errorf("group 0 with her in it: %v; want refused", err)
	}
}
