package step

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

var toolIDs sync.Map // path → resolved path; links don't move under a running sysinit

// ToolID is how a definition names a program found on PATH: its real path,
// through symlinks, so that reaching one program by another PATH entry
// (/bin/sh and /usr/bin/sh, ~/.nix-profile/bin/nix and the default
// profile's) re-runs nothing, while another program does. Steps still run
// the path they found: multi-call programs (nix-env, busybox's sh) tell
// what to do by the name they were started as.
//
// A program in a Nix store is named by its package's name and version,
// without the store hash: /nix/store/HASH-nix-2.24.9/bin/nix is
// "/nix/store/*-nix-2.24.9/bin/nix". An upgrade of nix (a new version) is
// then a definition change, seen the same way on every machine and by every
// step, while the same version rebuilt against new dependencies — a new
// hash after most nixpkgs updates, with nothing in the program's behaviour
// that a step depends on — does not re-run every nix step. A program
// outside a store keeps its path: an in-place upgrade (a distribution's
// package) is not seen, as telling its version would take a process at
// plan time.
func ToolID(path string) string {
	if path == "" {
		return ""
	}
	if id, ok := toolIDs.Load(path); ok {
		return id.(string)
	}
	id, err := filepath.EvalSymlinks(path)
	if err != nil {
		id = path
	}
	id = withoutStoreHash(id)
	toolIDs.Store(path, id)
	return id
}

// storeEntry is the name of an entry of a Nix store: 32 characters of
// Nix's base-32 alphabet, a dash, the name.
var storeEntry = lazyregexp.New(`^[0-9abcdfghijklmnpqrsvwxyz]{32}-(.+)$`)

// withoutStoreHash replaces the hash of the store entry p is in with "*".
// A store is a directory named "store" (/nix/store, or a store moved with
// NIX_STORE_DIR to another such directory).
func withoutStoreHash(p string) string {
	parts := strings.Split(filepath.ToSlash(p), "/")
	for i := 1; i < len(parts); i++ {
		if parts[i-1] != "store" {
			continue
		}
		if m := storeEntry().FindStringSubmatch(parts[i]); m != nil {
			parts[i] = "*-" + m[1]
			return filepath.FromSlash(strings.Join(parts, "/"))
		}
	}
	return p
}
