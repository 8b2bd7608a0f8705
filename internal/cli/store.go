package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/state"
)

// storePath locates the state store of the config file at path (as the
// user gave it). Readers use a store left under the repo's unresolved
// path (see legacyStore); writers use the new one and adopt the old.
func (a *app) storePath(path string, write bool) (string, error) {
	sp, err := state.Path(a.getenv, config.StateKeyOf(path))
	if err != nil {
		return "", err
	}
	if legacy := a.legacyStore(path, sp); legacy != "" && !write {
		return legacy, nil
	}
	return sp, nil
}

// legacyStore is the store of path's repo kept under its unresolved
// directory, before records were keyed by the real one — when it exists
// and sp does not. A repo reached through a symlink finds its records
// there, so an upgrade does not re-run everything.
func (a *app) legacyStore(path, sp string) string {
	abs, err := filepath.Abs(path)
	if err != nil || filepath.Base(abs) != config.FileName {
		return ""
	}
	legacy, err := state.Path(a.getenv, filepath.Dir(abs))
	if err != nil || legacy == sp || exists(sp) || !exists(legacy) {
		return ""
	}
	return legacy
}

// adoptLegacyStore moves the legacy store of path's repo to sp. Call it
// holding sp's run lock.
func (a *app) adoptLegacyStore(path, sp string) error {
	legacy := a.legacyStore(path, sp)
	if legacy == "" {
		return nil
	}
	if err := os.Rename(legacy, sp); err != nil {
		return fmt.Errorf("moving state store %s to %s: %w", legacy, sp, err)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// storeOptions binds the store to this machine, this user and cfgKey.
func (a *app) storeOptions(readOnly bool, cfgKey string) state.Options {
	return state.Options{
		ReadOnly: readOnly,
		Warn:     a.warn,
		Owner:    &state.Owner{Machine: state.LocalMachineID(), UID: os.Geteuid(), Config: cfgKey},
	}
}
