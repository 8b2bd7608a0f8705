package step

import (
	"path/filepath"
	"sync"
)

var toolIDs sync.Map // path → resolved path; links don't move under a running sysinit

// ToolID is how a definition names a program found on PATH: its real path,
// through symlinks, so that reaching one program by another PATH entry
// (/bin/sh and /usr/bin/sh, ~/.nix-profile/bin/nix and the default
// profile's) re-runs nothing, while another program does. Steps still run
// the path they found: multi-call programs (nix-env, busybox's sh) tell
// what to do by the name they were started as.
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
	toolIDs.Store(path, id)
	return id
}
