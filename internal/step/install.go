package step

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysinit/sysinit/internal/state"
)

// Install makes dest a new file holding what content reads, with the
// permission bits of mode (setuid, setgid and sticky included), replacing
// dest in one rename. It is what a file step does, as root too, so it never
// writes through a name someone else could have prepared:
//
//   - as root, dest's directory is reached from / one component at a
//     time, each opened relative to the one before without following a
//     link (O_NOFOLLOW|O_DIRECTORY); a link on the way is read and its
//     target walked the same way; directories that are missing are created
//     (0755) one at a time;
//   - the new file gets an unpredictable name and is created in that
//     directory's descriptor with O_EXCL|O_NOFOLLOW, so a link or file
//     planted under any name is never opened; it is written, fsynced and
//     chmodded through its descriptor;
//   - it is then renamed (renameat, in the same descriptor) over dest's
//     name, which replaces whatever is there (a link included) and never
//     writes through it.
//
// Run as another user, links on the way are followed wherever they lead,
// by the kernel: they are the path as the config wrote it (~/.config is
// often a link into a dotfiles repo), that user writes only where she may
// anyway, and a directory she may only search (0711) must not stop her. As
// root, every link and directory on the way must belong to root, or to the
// user root installs for — the one who ran sudo (SUDO_UID), who could write
// there herself — and no directory may be writable by others (a sticky one,
// like /tmp, or one writable by group 0, will do). Anyone else who owns a
// link could point it anywhere, and anyone who can write a directory could
// swap what lies below it between root's checks and its writes: root
// refuses the way, saying which component and how to fix it, rather than
// write where another user chose.
//
// With backup set, a dest that exists is first given that second name in its
// directory (a hard link: no copy, no link followed), so a file edited by
// hand is kept beside the one that replaces it.
func Install(dest string, mode fs.FileMode, content io.Reader, backup string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("installing %s: %w", dest, err)
		}
	}()
	abs, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	var dir int
	if t := rootTrust(); t != nil {
		dir, err = openDir(filepath.Dir(abs), t)
	} else {
		dir, err = openDirFollow(filepath.Dir(abs))
	}
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	base := filepath.Base(abs)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmp := "." + base + ".sysinit-" + hex.EncodeToString(b[:])
	fd, err := unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(filepath.Dir(abs), tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(filepath.Dir(abs), tmp))
	err = func() error {
		if _, err := io.Copy(f, content); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, uint32(mode)&0o7777); err != nil {
			return &fs.PathError{Op: "chmod", Path: f.Name(), Err: err}
		}
		return f.Sync()
	}()
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil && backup != "" {
		name := backup
		for i := 2; ; i++ {
			err = unix.Linkat(dir, base, dir, name, 0)
			if !errors.Is(err, unix.EEXIST) || i > 100 {
				break
			}
			name = fmt.Sprintf("%s-%d", backup, i) // two backups in one second
		}
		if errors.Is(err, unix.ENOENT) {
			err = nil // nothing there to keep
		} else if err != nil {
			err = &os.LinkError{Op: "link", Old: abs, New: filepath.Join(filepath.Dir(abs), name), Err: err}
		}
	}
	if err == nil {
		if err = unix.Renameat(dir, tmp, dir, base); err != nil {
			err = &os.LinkError{Op: "rename", Old: f.Name(), New: abs, Err: err}
		}
	}
	if err != nil {
		_ = unix.Unlinkat(dir, tmp, 0)
		return err
	}
	return nil
}

// trust is who may own the links and directories on the way to a file
// Install writes; nil: anyone (sysinit does not run as root).
type trust []int

// rootTrust is root, and the user who ran sudo, when sysinit runs as root.
func rootTrust() trust {
	if os.Geteuid() != 0 {
		return nil
	}
	t := trust{0}
	// sudo sets SUDO_UID itself: the user cannot choose it.
	if uid, err := strconv.Atoi(os.Getenv("SUDO_UID")); err == nil && uid > 0 {
		t = append(t, uid)
	}
	return t
}

func (t trust) owns(uid uint32) bool {
	return t == nil || slices.Contains(t, int(uid))
}

// UnsafePathError is a link or directory on the way to a file that root
// will not go through.
type UnsafePathError struct {
	Path    string // the component, as reached (links resolved)
	Problem string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("refusing, as root, the way through %s: %s; fix: make it root's alone (chown root, chmod go-w), or install the file as the user it belongs to (sudo = false, sysinit run as that user)", e.Path, e.Problem)
}

// check refuses, for root, a directory or link st at path that another
// user owns or may change.
func (t trust) check(path string, st *unix.Stat_t) error {
	if t == nil {
		return nil
	}
	what := "a directory"
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		what = "a symbolic link"
	}
	if !t.owns(st.Uid) {
		return &UnsafePathError{Path: path, Problem: fmt.Sprintf("%s that belongs to %s, who could redirect root's write below it", what, state.DescribeUID(int(st.Uid)))}
	}
	if what != "a directory" {
		return nil // a link's own permission bits mean nothing
	}
	mode := fs.FileMode(st.Mode & 0o777)
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	if who := state.OthersMayWrite(mode, int(st.Gid)); who != "" {
		return &UnsafePathError{Path: path, Problem: "it " + who + ": others could redirect root's write below it"}
	}
	who, err := state.ACLWriters(path)
	if err != nil {
		return &UnsafePathError{Path: path, Problem: "its access control list cannot be read (" + err.Error() + "), so sysinit cannot tell who may redirect root's write below it"}
	}
	if who != "" {
		return &UnsafePathError{Path: path, Problem: "it " + who + ": others could redirect root's write below it"}
	}
	return nil
}

// openDir opens the absolute directory path, creating what is missing of
// it, walking from / as Install says: no link is followed by the kernel;
// sysinit reads each and walks its target, after t has checked it.
func openDir(path string, t trust) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	root, err := unix.Open("/", flags, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	// The walk so far: descriptors and names of real directories, / first.
	// A link's target replaces the link, so the stack never holds one, and
	// ".." is the directory below on the stack, as the kernel would see it.
	fds, names := []int{root}, []string{"/"}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var st unix.Stat_t
	if err := fstat(root, &st); err != nil {
		return -1, &fs.PathError{Op: "stat", Path: "/", Err: err}
	}
	if err := t.check("/", &st); err != nil {
		return -1, err
	}
	rest := splitPath(path)
	links, made := 0, 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		cur := fds[len(fds)-1]
		here := filepath.Join(names[len(names)-1], name)
		switch name {
		case ".":
			continue
		case "..":
			if len(fds) > 1 {
				unix.Close(cur)
				fds, names = fds[:len(fds)-1], names[:len(names)-1]
			}
			continue
		}
		fd, err := openat(cur, name, flags)
		if errors.Is(err, unix.ENOENT) {
			// Made one at a time; one that appears meanwhile (EEXIST) is
			// opened and checked like any other.
			if err := unix.Mkdirat(cur, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, &fs.PathError{Op: "mkdir", Path: here, Err: err}
			}
			if made++; made > 100 {
				return -1, &fs.PathError{Op: "mkdir", Path: here, Err: errors.New("it keeps disappearing")}
			}
			rest = append([]string{name}, rest...)
			continue
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			// O_NOFOLLOW met a link (or this is not a directory at all).
			if err := unix.Fstatat(cur, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return -1, &fs.PathError{Op: "stat", Path: here, Err: err}
			}
			if st.Mode&unix.S_IFMT != unix.S_IFLNK {
				return -1, &fs.PathError{Op: "open", Path: here, Err: unix.ENOTDIR}
			}
			if err := t.check(here, &st); err != nil {
				return -1, err
			}
			if links++; links > 40 {
				return -1, &fs.PathError{Op: "open", Path: path, Err: unix.ELOOP}
			}
			target, err := readlinkat(cur, name)
			if err != nil {
				return -1, &fs.PathError{Op: "readlink", Path: here, Err: err}
			}
			if filepath.IsAbs(target) {
				for _, fd := range fds[1:] {
					unix.Close(fd)
				}
				fds, names = fds[:1], names[:1]
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: here, Err: err}
		}
		fds, names = append(fds, fd), append(names, here)
		if err := fstat(fd, &st); err != nil {
			return -1, &fs.PathError{Op: "stat", Path: here, Err: err}
		}
		if err := t.check(here, &st); err != nil {
			return -1, err
		}
	}
	top := fds[len(fds)-1]
	fds = fds[:len(fds)-1] // kept open for the caller
	return top, nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func openat(dir int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int, st *unix.Stat_t) error {
	for {
		err := unix.Fstat(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// openDirFollow opens the directory path, following links as the kernel
// does, creating what is missing of it: the way for a user other than root.
func openDirFollow(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		return fd, nil
	}
	parent := filepath.Dir(path)
	if !errors.Is(err, unix.ENOENT) || parent == path {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	pfd, err := openDirFollow(parent)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	name := filepath.Base(path)
	if err := unix.Mkdirat(pfd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, &fs.PathError{Op: "mkdir", Path: path, Err: err}
	}
	fd, err = unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// checkSource refuses, for root, to install the opened source src of path
// when another user controls the way to it (a directory or link of theirs
// on it, or one they may write) and the file is not one they could read
// anyway (theirs, or readable by everyone): they could have aimed path at
// a secret of root's — with a link, or a hard link, which macOS lets anyone
// make — to read it at the destination.
func checkSource(path string, src *os.File, t trust) error {
	if t == nil {
		return nil
	}
	var st unix.Stat_t
	if err := fstat(int(src.Fd()), &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&0o004 != 0 {
		return nil // no secret: anyone may read it
	}
	problem, err := wayProblem(path, &st, t)
	if err != nil {
		return fmt.Errorf("refusing, as root, to read %s: cannot tell who controls the way to it: %w", path, err)
	}
	if problem == nil {
		return nil
	}
	return fmt.Errorf("refusing, as root, to read %s: on the way, %s is %s, and the file it leads to is %s's (mode %04o), not theirs to read: they could aim the source at a secret of root's and read it at the destination; fix: make the way root's alone (chown root, chmod go-w), or name the real file as source",
		path, problem.Path, problem.Problem, state.DescribeUID(int(st.Uid)), st.Mode&0o7777)
}

// wayProblem walks path from / as the kernel would, without opening
// anything, and returns the first directory or link on the way (the file
// itself aside) that t does not trust and that someone other than the
// owner of opened controls: a directory or link of another user's, or one
// others may write. Each counts, not only the first: in Alice's directory,
// Bob's link may aim at Alice's key. opened is the file root opened
// at path: the way must lead to it, or the path was changed meanwhile. A
// directory others may add names to (sticky, like /tmp, or group 0's)
// is no problem for the file root's opened there when that file has no
// other name: anyone could have put a hard link to a secret of root's
// there (macOS lets anyone make one).
func wayProblem(path string, opened *unix.Stat_t, t trust) (*UnsafePathError, error) {
	var st unix.Stat_t
	shared := false // the directory reached so far is one others may add names to
	check := func(here string) (*UnsafePathError, error) {
		if err := unix.Lstat(here, &st); err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: here, Err: err}
		}
		var bad *UnsafePathError
		if !errors.As(t.check(here, &st), &bad) {
			return nil, nil
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case t.owns(st.Uid):
			// Others may write it.
			if p, ok := strings.CutPrefix(bad.Problem, "it "); ok {
				p, _, _ = strings.Cut(p, ":")
				bad = &UnsafePathError{Path: bad.Path, Problem: "a directory that " + p}
			}
			return bad, nil
		case isDir && st.Mode&0o002 != 0:
			// Another user's, and everyone may write it too. (Group
			// write is left to her: with a group of her own, as umask
			// 002 systems give each user, it lets no one else in.)
			return &UnsafePathError{Path: here, Problem: "a directory that belongs to " + state.DescribeUID(int(st.Uid)) + " and that every user may write"}, nil
		case st.Uid == opened.Uid:
			return nil, nil // the owner of the file: hers to read anyway
		}
		what := "a directory"
		if !isDir {
			what = "a symbolic link"
		}
		return &UnsafePathError{Path: here, Problem: what + " that belongs to " + state.DescribeUID(int(st.Uid))}, nil
	}
	if bad, err := check("/"); bad != nil || err != nil {
		return bad, err
	}
	cur, rest, links := "/", splitPath(path), 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		here := filepath.Join(cur, name)
		if err := unix.Lstat(here, &st); err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: here, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if bad, err := check(here); bad != nil || err != nil {
				return bad, err
			}
			if links++; links > 40 {
				return nil, &fs.PathError{Op: "open", Path: path, Err: unix.ELOOP}
			}
			target, err := os.Readlink(here)
			if err != nil {
				return nil, err
			}
			if filepath.IsAbs(target) {
				cur, shared = "/", false
			}
			rest = append(splitPath(target), rest...)
		case unix.S_IFDIR:
			if len(rest) == 0 {
				return nil, nil
			}
			if bad, err := check(here); bad != nil || err != nil {
				return bad, err
			}
			shared = st.Mode&0o022 != 0
			cur = here
		default:
			// The file itself: what was opened is judged, if it is
			// what the way leads to.
			if st.Dev != opened.Dev || st.Ino != opened.Ino {
				return nil, fmt.Errorf("%s is no longer the file sysinit opened (changed meanwhile); run again", here)
			}
			if shared && st.Nlink > 1 {
				return &UnsafePathError{Path: cur, Problem: fmt.Sprintf("a directory others may add names to, where the source is one of %d names of one file", st.Nlink)}, nil
			}
			return nil, nil
		}
	}
	return nil, nil
}
