package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Where sysinit keeps its files (stores, locks, logs), and the checks that
// keep another user from choosing those files for it.
//
// sysinit's own directories (<cache>/sysinit, <state>/sysinit/logs, …) must
// be real directories, belong to the user sysinit runs as, and be writable
// by no one else: a directory another user can write lets that user plant a
// symbolic link where sysinit is about to create, truncate or delete a file.
// As root, the directories above them must be safe as well (see BaseDir).

// UnsafeDirError is a directory sysinit refuses to keep its files in.
type UnsafeDirError struct {
	Dir     string
	Problem string // "it is a symbolic link", "/home/alice belongs to uid 1000 (alice), not to root", …
	Fix     string // a command that makes it safe, or what to do instead
}

func (e *UnsafeDirError) Error() string {
	return fmt.Sprintf("refusing state directory %s: %s; fix: %s", e.Dir, e.Problem, e.Fix)
}

// geteuid is a seam for the tests of root's rules, which must also run
// unprivileged.
var geteuid = os.Geteuid

// ErrNoHome: with neither the XDG variable nor an absolute HOME, sysinit
// has nowhere to keep its store and logs. A relative fallback would put
// them wherever it was started, usually in the repo it refreshes.
var ErrNoHome = errors.New("$HOME is not set to an absolute path")

// BaseDir returns the XDG base directory that variable (XDG_CACHE_HOME or
// XDG_STATE_HOME) names when it is an absolute path, or else $HOME/fallback,
// read through getenv.
//
// As root, no other user may be able to redirect what root writes below it:
// every directory on the way that exists must belong to root (or to the
// group root) and be writable by no one else unless it is sticky (/tmp), and
// a symbolic link on the way must belong to root. Under `sudo -E`, or a
// macOS sudo that keeps HOME, HOME is the user's; root refuses it rather
// than write its state through links that user may plant, or leave
// root-owned files that would break the user's own runs. The error says to
// run as that user, or with root's own HOME (sudo -H).
func BaseDir(getenv func(string) string, variable, fallback string) (string, error) {
	dir := getenv(variable)
	// The XDG spec says relative values are invalid and must be ignored.
	if !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if !filepath.IsAbs(home) {
			return "", fmt.Errorf("finding $%s: it is not set to an absolute path, and %w", variable, ErrNoHome)
		}
		dir = filepath.Join(home, fallback)
	}
	dir = filepath.Clean(dir)
	if geteuid() == 0 {
		if err := checkRootPath(dir); err != nil {
			var ue *UnsafeDirError
			if errors.As(err, &ue) {
				ue.Fix = fmt.Sprintf("run sysinit as that user (steps that need root use sudo), or as root with root's own HOME (sudo -H sysinit …) and $%s unset", variable)
			}
			return "", err
		}
	}
	return dir, nil
}

// checkRootPath checks, for root, every existing component of the absolute
// path p: links are followed only when root owns them; directories must
// belong to root and be writable by no other user (sticky ones excepted).
// Components that do not exist yet are root's to create.
func checkRootPath(p string) error {
	cur := "/"
	if err := checkRootComponent(p, cur); err != nil {
		return err
	}
	rest := splitPath(p)
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("checking state directory %s: %w", p, err)
		}
		if uid := ownerOf(fi); uid != 0 {
			return &UnsafeDirError{Dir: p, Problem: next + " belongs to " + describeUID(uid) + ", not to root: that user could redirect root's writes below it"}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if links++; links > 40 {
				return fmt.Errorf("checking state directory %s: too many levels of symbolic links", p)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("checking state directory %s: %w", p, err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if !fi.IsDir() {
			return fmt.Errorf("checking state directory %s: %s is not a directory", p, next)
		}
		if err := checkRootComponent(p, next); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

func checkRootComponent(p, dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking state directory %s: %w", p, err)
	}
	who := othersMayWrite(fi, true)
	if who == "" && fi.Mode()&fs.ModeSticky == 0 {
		// Mode bits do not say everything: an ACL entry can let another
		// user write a directory whose group is 0.
		var err error
		if who, err = aclWriters(dir); err != nil {
			return fmt.Errorf("checking state directory %s: reading the access control list of %s: %w", p, dir, err)
		}
	}
	if who != "" {
		return &UnsafeDirError{Dir: p, Problem: dir + " " + who + ": other users could redirect root's writes below it"}
	}
	return nil
}

// othersMayWrite says who other than the owner may change the entries of
// directory fi ("" = no one), as its mode bits tell (see aclWriters for
// what they do not). On root's way to its directories (above) a sticky
// directory (/tmp) will do, as others may add entries there but not replace
// root's, and so will one writable by group 0 (root, wheel) when that
// group's members are root alone. sysinit's own directories allow neither:
// an entry planted before sysinit creates its file is as bad as a replaced
// one.
func othersMayWrite(fi fs.FileInfo, above bool) string {
	return mayWrite(fi.Mode(), groupOf(fi), above)
}

// OthersMayWrite is othersMayWrite's rule for a directory on root's way to
// a file it writes, for callers that hold a stat rather than an
// fs.FileInfo (file steps' installer, which walks directory descriptors):
// mode holds the permission bits and fs.ModeSticky, gid the group.
func OthersMayWrite(mode fs.FileMode, gid int) string { return mayWrite(mode, gid, true) }

// ACLWriters says whom the access control list of dir lets write it, as
// mode bits do not tell ("" = no one; see aclWriters for the platforms).
func ACLWriters(dir string) (string, error) { return aclWriters(dir) }

func mayWrite(mode fs.FileMode, gid int, above bool) string {
	perm := mode.Perm()
	if above && mode&fs.ModeSticky != 0 {
		return ""
	}
	switch {
	case perm&0o002 != 0:
		return "is writable by every user"
	case perm&0o020 != 0 && above && gid == 0:
		if other, err := rootGroupMember(); err != nil {
			return "is writable by its group (gid 0), whose members sysinit cannot tell (" + err.Error() + ")"
		} else if other != "" {
			return "is writable by its group (gid 0), whose members include " + other
		}
	case perm&0o020 != 0:
		return "is writable by its group"
	}
	return ""
}

// groupFile and passwdFile are where group 0's members are listed; tests
// point them elsewhere.
var (
	groupFile  = "/etc/group"
	passwdFile = "/etc/passwd"
)

// rootGroupMember returns a member of group 0 other than root ("" when
// there is none): one listed in the group file's line of gid 0, or a user
// whose primary group is 0. Only the files are read: on macOS, members
// that Directory Services adds to wheel and that /etc/group does not list
// are not seen (docs/decisions.md).
func rootGroupMember() (string, error) {
	groups, err := os.ReadFile(groupFile)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(groups), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[2] != "0" {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" && m != "root" {
				return m, nil
			}
		}
	}
	users, err := os.ReadFile(passwdFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(users), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 4 && f[3] == "0" && f[2] != "0" && !strings.HasPrefix(f[0], "#") {
			return f[0], nil
		}
	}
	return "", nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func groupOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Gid)
	}
	return -1
}

// DescribeUID is "uid 1000 (alice)", or "uid 1000" for an unknown user.
func DescribeUID(uid int) string { return describeUID(uid) }

func describeUID(uid int) string {
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}

// userName is the name of uid for a chown command, or the uid itself.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// PrivateDir makes sure dir exists and is sysinit's own. dir must lie below
// base; base and its parents are the user's (created with mode 0700 when
// missing, and, as root, checked again once they exist: see BaseDir). Every
// directory from below base down to dir is created with mode 0700 when
// missing and must be a real directory (not a symbolic link) belonging to
// this user and writable by no one else; an *UnsafeDirError names the first
// that is not, and how to fix it.
func PrivateDir(base, dir string) error {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("creating state directory %s: not below %s", dir, base)
	}
	if _, err := os.Stat(dir); err != nil {
		// Something is missing: make the base, and check it as root now
		// that a link planted meanwhile would exist.
		if err := os.MkdirAll(base, 0o700); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
		if geteuid() == 0 {
			if err := checkRootPath(base); err != nil {
				return err
			}
		}
	}
	cur := base
	for _, name := range splitPath(rel) {
		cur = filepath.Join(cur, name)
		err := CheckDir(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(cur, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("creating state directory: %w", err)
			}
			err = CheckDir(cur)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckDir checks that the existing directory dir is sysinit's own: a real
// directory, of this user, that no one else may write.
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking state directory: %w", err)
	}
	euid := geteuid()
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &UnsafeDirError{Dir: dir, Problem: "it is a symbolic link (sysinit keeps its files only in real directories it made)", Fix: "rm " + dir}
	case !fi.IsDir():
		return &UnsafeDirError{Dir: dir, Problem: "it is not a directory", Fix: "move it out of the way"}
	case ownerOf(fi) != euid:
		fix := "chown -R " + userName(euid) + " " + dir
		if euid != 0 {
			fix = "sudo " + fix
		}
		return &UnsafeDirError{Dir: dir, Problem: fmt.Sprintf("it belongs to %s, not to %s, whom sysinit runs as", describeUID(ownerOf(fi)), describeUID(euid)), Fix: fix}
	}
	if who := othersMayWrite(fi, false); who != "" {
		return &UnsafeDirError{Dir: dir, Problem: "it " + who, Fix: "chmod 700 " + dir}
	}
	return nil
}

// notYours turns a permission error on one of sysinit's files into the
// reason and the fix when the file belongs to another user (left, say, by
// an older sysinit run as root with this user's HOME); other errors come
// back as they are.
func notYours(what, path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	fi, statErr := os.Lstat(path)
	if statErr != nil || ownerOf(fi) == geteuid() {
		return err
	}
	fix := "chown " + userName(geteuid()) + " " + path
	if geteuid() != 0 {
		fix = "sudo " + fix
	}
	return fmt.Errorf("refusing %s %s: it belongs to %s, not to %s, whom sysinit runs as; fix: %s", what, path, describeUID(ownerOf(fi)), describeUID(geteuid()), fix)
}
