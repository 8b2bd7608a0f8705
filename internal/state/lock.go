package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is the run lock of one store: while it is held no other sysinit
// refreshes with that store. It is an flock on <store>.lock, so it dies with
// the process that holds it, however that process ends; the file records the
// holder's pid for the message others see.
type Lock struct {
	f *os.File
}

// Holder is what the holder of a run lock wrote about itself, for the
// message of those who find it locked.
type Holder struct {
	PID     int       // 0 if it could not be read
	Since   time.Time // when it took the lock; zero if unknown
	Command string    // its command line; "" if unknown
}

// String is "pid 123, since 15:04:05: sysinit refresh", as much of it as
// is known.
func (h Holder) String() string {
	var b strings.Builder
	if h.PID > 0 {
		fmt.Fprintf(&b, "pid %d", h.PID)
	}
	if !h.Since.IsZero() {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		since := h.Since.Local()
		if time.Since(since) < 20*time.Hour {
			fmt.Fprintf(&b, "since %s", since.Format("15:04:05"))
		} else {
			fmt.Fprintf(&b, "since %s", since.Format("2006-01-02 15:04"))
		}
	}
	if h.Command != "" && b.Len() > 0 {
		fmt.Fprintf(&b, ": %s", h.Command)
	}
	return b.String()
}

// LockedError is returned by Acquire without wait when another process holds
// the lock.
type LockedError struct {
	Holder
}

func (e *LockedError) Error() string {
	if h := e.Holder.String(); h != "" {
		return fmt.Sprintf("locked by another sysinit (%s)", h)
	}
	return "locked by another sysinit"
}

// LockPath returns the lock file of the store at storePath.
func LockPath(storePath string) string { return storePath + ".lock" }

// Acquire takes the run lock of the store at storePath. If another process
// holds it, Acquire returns a *LockedError at once, or with wait calls onWait
// (if not nil) with the holder and blocks until the lock is free. The lock
// file records this process as the holder: its pid, the time and its
// command line.
func Acquire(storePath string, wait bool, onWait func(Holder)) (*Lock, error) {
	path := LockPath(storePath)
	dir := filepath.Dir(path)
	if err := PrivateDir(filepath.Dir(dir), dir); err != nil {
		return nil, err
	}
	// os.OpenFile sets O_CLOEXEC; ShareWithChildren clears it. O_NOFOLLOW:
	// the lock is truncated, so it must be the file it seems, never one a
	// link points to.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("refusing run lock %s: it is a symbolic link; remove it", path)
	}
	if err != nil {
		return nil, notYours("run lock", path, fmt.Errorf("opening run lock: %w", err))
	}
	err = flock(f, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		h := readHolder(f)
		if !wait {
			f.Close()
			return nil, &LockedError{Holder: h}
		}
		if onWait != nil {
			onWait(h)
		}
		err = flock(f, unix.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// Overwrite, then cut: a reader racing with this sees the new pid on the
	// first line even before the truncate.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n" + time.Now().UTC().Format(time.RFC3339) + "\n" + commandLine() + "\n")
	if _, err := f.WriteAt(pid, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing pid to %s: %w", path, err)
	}
	if err := f.Truncate(int64(len(pid))); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing pid to %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// ShareWithChildren makes every program started from now on inherit the
// lock's descriptor, and with it the lock: if this process dies without
// releasing it (kill -9), the lock stays held until the last program it
// started has exited, so no refresh starts a step beside one still running.
func (l *Lock) ShareWithChildren() error {
	if _, err := unix.FcntlInt(l.f.Fd(), unix.F_SETFD, 0); err != nil {
		return fmt.Errorf("sharing the run lock with children: %w", err)
	}
	return nil
}

// Release gives the lock up. The file stays: deleting it would let a waiter
// lock a file that a newcomer has already replaced.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Empty it, so a pid left behind never names a process that is gone.
	truncErr := f.Truncate(0)
	// Unlock before closing: children that inherited the descriptor (a
	// daemon a step started) share the lock, and closing ours alone would
	// leave it held for as long as they live.
	unlockErr := flock(f, unix.LOCK_UN)
	if err := f.Close(); err != nil {
		return fmt.Errorf("releasing run lock: %w", err)
	}
	if err := errors.Join(truncErr, unlockErr); err != nil {
		return fmt.Errorf("releasing run lock: %w", err)
	}
	return nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// readHolder reads what the holder wrote, or a zero Holder. The holder
// writes it just after getting the flock, so an empty file is retried
// briefly. It only decorates the message, so a read error just leaves it
// zero; a file of an older sysinit holds the pid alone.
func readHolder(f *os.File) Holder {
	for range 20 {
		buf := make([]byte, 1024)
		n, _ := f.ReadAt(buf, 0)
		lines := strings.SplitN(string(buf[:n]), "\n", 4)
		if pid, err := strconv.Atoi(strings.TrimSpace(lines[0])); err == nil && pid > 0 {
			h := Holder{PID: pid}
			if len(lines) > 2 {
				h.Since, _ = time.Parse(time.RFC3339, lines[1])
				h.Command = lines[2]
			}
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Holder{}
}

// commandLine is this process's command line for the lock file: one line,
// at most 200 bytes, the program by its base name.
func commandLine() string {
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	line := strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, strings.Join(args, " "))
	if len(line) > 200 {
		line = strings.ToValidUTF8(line[:200], "") + "…"
	}
	return line
}
