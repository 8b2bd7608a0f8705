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

// configID identifies the config file at path (as the user gave it) for
// its state store: by what its directory is, not the path taken to it.
func configID(path string) (state.ConfigID, error) {
	return state.IdentifyConfig(config.StateDirOf(path))
}

// storePath locates the state store of the config file at path (as the
// user gave it), named by the config's identity (see state.Path). Readers
// use a store an older sysinit left under a name made of the repo's path
// (see legacyStore); writers use the new one and adopt the old.
func (a *app) storePath(path string, write bool) (string, state.ConfigID, error) {
	id, err := configID(path)
	if err != nil {
		return "", id, err
	}
	sp, err := state.Path(a.getenv, id)
	if err != nil {
		return "", id, err
	}
	if legacy := a.legacyStore(path, sp); legacy != "" && !write {
		return legacy, id, nil
	}
	return sp, id, nil
}

// legacyStore is the store of path's config that an older sysinit named
// by a path — the real directory's, or before that the directory as
// reached — when it exists and sp does not. Found there, and moved to sp
// by the next writer, it keeps its records across the upgrade; its owner,
// which names the config by path, is checked against the config's
// identity (state.Owner).
func (a *app) legacyStore(path, sp string) string {
	if exists(sp) {
		return ""
	}
	keys := []string{config.StateKeyOf(path)}
	if abs, err := filepath.Abs(path); err == nil && filepath.Base(abs) == config.FileName {
		keys = append(keys, filepath.Dir(abs))
	}
	for _, k := range keys {
		legacy, err := state.LegacyPath(a.getenv, k)
		if err == nil && legacy != sp && exists(legacy) {
			return legacy
		}
	}
	return ""
}

// adoptLegacyStore moves the legacy store of path's config to sp. Call it
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

// storeOptions binds the store to this machine, this user and HOME, and
// the config cfg.
func (a *app) storeOptions(readOnly bool, cfg state.ConfigID) state.Options {
	owner := state.LocalOwner(a.getenv, cfg)
	return state.Options{
		ReadOnly: readOnly,
		Warn:     a.warn,
		Owner:    &owner,
	}
}
