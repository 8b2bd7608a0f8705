package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Find walks up from dir to the first directory holding sysinit.toml, the
// way git looks for .git, and returns the file's absolute path.
//
// The walk is lexical (filepath.Dir of the absolute path), so a dir reached
// through a symlink is searched from the link's parents, as the user sees them
// in their shell. A sysinit.toml that exists but cannot be checked (permission
// denied) stops the walk with that error rather than silently using a config
// further up.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", FileName, err)
	}
	for d := abs; ; {
		p := filepath.Join(d, FileName)
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return "", fmt.Errorf("finding %s: %s is a directory", FileName, p)
		case err == nil:
			return p, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("finding %s: %w", FileName, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no %s in %s or any parent directory", FileName, abs)
		}
		d = parent
	}
}
