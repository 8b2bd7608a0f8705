package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Reading the logs back, for `sysinit logs`. Every repository's runs share
// one logs directory; a run's own is told by the label written in its lock
// file (Options.Label), or, for runs from before labels, by its id being
// in the config's history.

// maxLabel bounds what is read of a lock file: a label is a path.
const maxLabel = 64 << 10

// RunDirs returns the ids of the runs under logs that belong to a config —
// labelled label, or named in ids — newest first. An id starts with the
// second its run started, so two runs of one second are ordered by when
// each made its directory (its lock file's time), then by id.
func RunDirs(logs, label string, ids map[string]bool) ([]string, error) {
	ents, err := os.ReadDir(logs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the logs: %w", err)
	}
	type run struct {
		id   string
		made time.Time
	}
	var runs []run
	for _, e := range ents {
		name := e.Name()
		// Hidden ones are runs being set up; links are not ours.
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		dir := filepath.Join(logs, name)
		if ids[name] || (label != "" && readLabel(dir) == label) {
			r := run{id: name}
			if fi, err := os.Lstat(filepath.Join(dir, runLock)); err == nil {
				r.made = fi.ModTime()
			}
			runs = append(runs, r)
		}
	}
	sort.Slice(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		if pa, pb := secondOf(a.id), secondOf(b.id); pa != pb {
			return pa > pb
		}
		if !a.made.Equal(b.made) {
			return a.made.After(b.made)
		}
		return a.id > b.id
	})
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.id
	}
	return out, nil
}

// secondOf is the part of a run id before its random suffix: the second
// the run started.
func secondOf(id string) string {
	s, _, _ := strings.Cut(id, "-")
	return s
}

// readLabel is the label in a run directory's lock file; "" when it has
// none or cannot be read.
func readLabel(dir string) string {
	f, err := os.OpenFile(filepath.Join(dir, runLock), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLabel))
	if err != nil {
		return ""
	}
	return string(b)
}

// LogPath is where the run of directory dir keeps step's log.
func LogPath(dir, step string) string { return filepath.Join(dir, step+".log") }

// Running reports whether the run of directory dir is still going: it
// holds the lock of its directory for as long as it lasts.
func Running(dir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, runLock), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // from before the lock existed: long over
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = flock(f, unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, flock(f, unix.LOCK_UN)
}

// ended is closed when the run of directory dir has let its lock go. The
// goroutine waiting for it stays blocked until then, whatever the caller
// does meanwhile; it costs a descriptor.
func ended(dir string) (<-chan struct{}, error) {
	f, err := os.OpenFile(filepath.Join(dir, runLock), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer f.Close()
		defer close(done)
		if flock(f, unix.LOCK_SH) == nil {
			_ = flock(f, unix.LOCK_UN)
		}
	}()
	return done, nil
}

// Follow copies step's log in the run directory dir to w and then, while
// the run goes on, what is added to it, every poll, until the run ends
// (when the rest is copied) or ctx does. A log the run has not started yet
// is waited for; found is false when the run ended without writing one.
func Follow(ctx context.Context, dir, step string, w io.Writer, poll time.Duration) (found bool, err error) {
	end, err := ended(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// No lock: the run is long over. Whatever is there is all.
		end = closed
	} else if err != nil {
		return false, fmt.Errorf("following %s: %w", dir, err)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	path := LogPath(dir, step)
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for first := true; ; first = false {
		over := false
		if !first {
			select {
			case <-ctx.Done():
				return f != nil, ctx.Err()
			case <-end:
				over = true
			case <-tick.C:
			}
		}
		if f == nil {
			f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
			switch {
			case errors.Is(err, fs.ErrNotExist) && over:
				return false, nil
			case errors.Is(err, fs.ErrNotExist):
				f = nil
				continue
			case err != nil:
				return false, fmt.Errorf("reading %s: %w", path, err)
			}
		}
		if _, err := io.Copy(w, f); err != nil {
			return true, fmt.Errorf("reading %s: %w", path, err)
		}
		if over {
			return true, nil
		}
	}
}

// closed is a channel that is always ready.
var closed = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
