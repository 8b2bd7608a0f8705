package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysinit/sysinit/internal/state"
)

// The logs of every run live in a directory of their own under one logs
// directory shared by all repositories, which keeps only the newest runs. A
// run's directory is locked (an flock on its runLock file, which dies with
// the process) for as long as the run lasts, so pruning never removes the
// logs of a refresh still running, however long ago it started.

// runLock is the lock file of a run's log directory. No step's log can have
// its name: those end in ".log".
const runLock = "run.lock"

// makeRunDir makes dir, a run's log directory, below base (see
// state.PrivateDir for what is checked on the way), and returns its lock,
// held until the file is closed, with label written in it (see RunLabel).
// The directory is made under a hidden name and renamed into place once
// locked and labelled, so pruning never finds it unlocked and `sysinit
// logs` never finds it unlabelled.
func makeRunDir(base, dir, label string) (*os.File, error) {
	logs := filepath.Dir(dir)
	if err := state.PrivateDir(base, logs); err != nil {
		return nil, err
	}
	hidden := filepath.Join(logs, "."+filepath.Base(dir))
	if err := os.Mkdir(hidden, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(hidden, runLock), os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err == nil {
		if err = flock(lock, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			lock.Close()
		}
	}
	if err == nil && label != "" {
		if _, err = lock.WriteString(label); err != nil {
			lock.Close()
		}
	}
	if err == nil {
		if err = os.Rename(hidden, dir); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(hidden)
		return nil, err
	}
	return lock, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// PruneLogs removes the oldest run directories under logs (by name, which
// starts with the run's start time) beyond the newest keep, sparing those
// whose run is still going and mine, the directory of the run that prunes
// (it may have started long ago, and its summary points at its logs). logs
// must be sysinit's own directory (see state.CheckDir); a missing one has
// nothing to prune.
func PruneLogs(logs string, keep int, mine string) error {
	if err := state.CheckDir(logs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("pruning logs: %w", err)
	}
	ents, err := os.ReadDir(logs)
	if err != nil {
		return fmt.Errorf("pruning logs: %w", err)
	}
	var names []string
	for _, e := range ents {
		// Hidden ones are runs being set up; links are not ours.
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != filepath.Base(mine) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names[:max(len(names)-keep, 0)] {
		if err := removeFinished(filepath.Join(logs, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pruning logs: %w", err)
	}
	return nil
}

// removeFinished removes the run directory dir unless its run still holds
// its lock. Directories from before the lock existed have none, and go.
func removeFinished(dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, runLock), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		defer lock.Close()
		err := flock(lock, unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil // still running
		}
		if err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}
