package config

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

const relHint = "relative paths start at the directory holding sysinit.toml"

// checkInputs checks input patterns: globs relative to the config directory,
// or for flake-update the names of flake inputs.
func (l *loader) checkInputs(s *Step, kp *posNode) {
	for i, in := range s.Inputs {
		if in == "" {
			continue // reported by strs
		}
		at := l.at(kp.index(i))
		if s.Kind == "flake-update" {
			// These become arguments of `nix flake update`, so one that
			// starts with '-' would be read as a flag.
			if strings.ContainsAny(in, " \t\r\n") || strings.HasPrefix(in, "-") {
				l.fail(at, "name inputs as flake.nix does, like "+example(s.Kind, "inputs"), "input %q: not a flake input name", in)
			}
			continue
		}
		pat := strings.TrimPrefix(in, "!")
		switch {
		case pat == "":
			l.fail(at, `write a pattern after "!", like "!fonts/**/*.tmp"`, "input pattern %q is empty", in)
		case path.IsAbs(pat) || filepath.IsAbs(pat):
			l.fail(at, "inputs are relative to the directory holding sysinit.toml", "input pattern %q is absolute", in)
		case strings.HasPrefix(pat, "~"):
			l.fail(at, "~ is not expanded in inputs; they are relative to the directory holding sysinit.toml",
				"input pattern %q starts with ~", in)
		case escapes(pat):
			l.fail(at, "inputs must lie under the directory holding sysinit.toml", "input pattern %q leaves the config directory", in)
		case !doublestar.ValidatePattern(pat):
			l.fail(at, `check its brackets and braces ("[abc]", "{a,b}"); escape literal ones with \`,
				"input pattern %q is not a valid glob", in)
		}
	}
}

// escapes reports whether a glob has a ".." element, including inside
// brace alternatives ("{a,../b}"). Inputs are hashed as paths relative to
// the config directory, which such a pattern could leave.
func escapes(pat string) bool {
	for _, el := range strings.FieldsFunc(pat, func(r rune) bool { return strings.ContainsRune("/{},", r) }) {
		if el == ".." {
			return true
		}
	}
	return false
}

// checkPaths checks the paths a step names: those it reads must exist now,
// the destination must say unambiguously where it goes.
func (l *loader) checkPaths(s *Step) {
	if s.Dir != "" {
		l.checkExists(s, "dir", s.Dir, true)
	}
	if s.Source != "" {
		if !filepath.IsAbs(s.Source) && slices.Contains(strings.Split(filepath.ToSlash(s.Source), "/"), "..") {
			// A file step may install as root: a relative source that
			// climbs out of the repo would copy whatever it reaches to dest.
			l.fail(s.Keys["source"], "a relative source must lie under the directory holding sysinit.toml; write an absolute path to install a file from elsewhere",
				"source %q leaves the config directory", s.Source)
		} else {
			l.checkExists(s, "source", s.Source, false)
		}
	}
	if s.Brewfile != "" {
		l.checkExists(s, "brewfile", s.Brewfile, false)
	}
	if s.Dest != "" {
		l.expandDest(s)
	}
}

func (l *loader) checkExists(s *Step, key, p string, wantDir bool) {
	if strings.IndexByte(p, 0) >= 0 {
		return // reported by str; the file system would only say "invalid argument"
	}
	at, set := s.Keys[key]
	if !set {
		at = s.Pos // a default value
	}
	full := l.cfg.Path(p)
	fi, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hint := ""
		switch {
		case !set:
			hint = "create it, or point to it with " + keyDocs[key].example
		case strings.HasPrefix(p, "~"):
			hint = "~ is expanded only in dest; " + relHint
		case !filepath.IsAbs(p):
			hint = relHint
		}
		l.fail(at, hint, "%s %s does not exist", key, full)
	case err != nil:
		l.fail(at, "", "checking %s: %v", key, err)
	case wantDir && !fi.IsDir():
		l.fail(at, "", "%s %s is not a directory", key, full)
	case !wantDir && fi.IsDir():
		hint := ""
		if key == "source" {
			hint = "a file step installs one file; copy a directory with a command step"
		}
		l.fail(at, hint, "%s %s is a directory", key, full)
	}
}

// expandDest turns "~/x" into $HOME/x, and a relative destination into one
// under the config directory (examples and tests install into the repo).
func (l *loader) expandDest(s *Step) {
	at := s.Keys["dest"]
	d := s.Dest
	switch {
	case strings.HasPrefix(d, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			l.fail(at, "set HOME, or write dest as an absolute path", "expanding ~ in dest: %v", err)
			return
		}
		rest := strings.TrimLeft(d[2:], "/")
		if rest == "" {
			l.fail(at, `name the file, like dest = "~/.config/tool/config"`, "dest = %q is your home directory", d)
			return
		}
		s.Dest = filepath.Join(home, rest)
	case strings.HasPrefix(d, "~"):
		l.fail(at, `write "~/..." for your home directory, or an absolute path`, "dest = %q: only ~/ is expanded", d)
	case !filepath.IsAbs(d):
		s.Dest = filepath.Join(l.cfg.Dir, d)
	}
}

// Path returns p resolved against the config directory, unless absolute.
// Step paths (Source, Brewfile, Dir, input patterns) are stored as written.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}
