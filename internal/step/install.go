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

	"golang.org/x/sys/unix"
)

// Install makes dest a new file holding what content reads, with the
// permission bits of mode (setuid, setgid and sticky included), replacing
// dest in one rename. It is what a file step does, as root too, so it never
// writes through a name someone else could have prepared:
//
//   - dest's directory is opened once and everything happens relative to it;
//     directories that are missing are created (0755) one at a time, each
//     opened without following a link;
//   - the new file gets an unpredictable name and is created with
//     O_EXCL|O_NOFOLLOW, so a link or file planted under any name is never
//     opened; it is written, fsynced and chmodded through its descriptor;
//   - it is then renamed over dest's name, which replaces whatever is
//     there (a link included) and never writes through it.
//
// Links among dest's existing parent directories are followed: they are the
// path as the config wrote it (~/.config is often a link into a dotfiles
// repo). Whoever can write one of those directories can choose where the file
// goes, as with any program that writes there.
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
	dir, err := openDir(filepath.Dir(dest))
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	base := filepath.Base(dest)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmp := "." + base + ".sysinit-" + hex.EncodeToString(b[:])
	fd, err := unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(filepath.Dir(dest), tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(filepath.Dir(dest), tmp))
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
			err = &os.LinkError{Op: "link", Old: dest, New: filepath.Join(filepath.Dir(dest), name), Err: err}
		}
	}
	if err == nil {
		if err = unix.Renameat(dir, tmp, dir, base); err != nil {
			err = &os.LinkError{Op: "rename", Old: f.Name(), New: dest, Err: err}
		}
	}
	if err != nil {
		_ = unix.Unlinkat(dir, tmp, 0)
		return err
	}
	return nil
}

// openDir opens the directory path, creating what is missing of it.
func openDir(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		return fd, nil
	}
	parent := filepath.Dir(path)
	if !errors.Is(err, unix.ENOENT) || parent == path {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	pfd, err := openDir(parent)
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
