package config

import (
	"errors"
	"fmt"
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
// absolute ones and "~/…" ones (expanded here, with the step's HOME) for
// files outside it, or for flake-update the names of flake inputs.
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
		bang := in[:len(in)-len(strings.TrimPrefix(in, "!"))]
		pat := in[len(bang):]
		if strings.HasPrefix(pat, "~") {
			home, err := l.stepHome(s, pat)
			if err != nil {
				l.fail(at, err.hint, "input pattern %q: %s", in, err.msg)
				continue
			}
			pat = home + pat[1:]
			s.Inputs[i] = bang + pat
		}
		switch {
		case pat == "":
			l.fail(at, `write a pattern after "!", like "!fonts/**/*.tmp"`, "input pattern %q is empty", in)
		case !doublestar.ValidatePattern(pat):
			l.fail(at, `check its brackets and braces ("[abc]", "{a,b}"); escape literal ones with \`,
				"input pattern %q is not a valid glob", in)
		case path.IsAbs(pat) || filepath.IsAbs(pat):
			l.checkAbsoluteInput(at, in, pat)
		case escapes(pat):
			l.fail(at, `name a file outside it by absolute path ("/etc/x", "~/x"), for a step that reads it`,
				"input pattern %q leaves the config directory", in)
		}
	}
}

type homeError struct{ msg, hint string }

// stepHome is the home directory "~/" means in pat for step s: the HOME
// its env sets, else the user's.
func (l *loader) stepHome(s *Step, pat string) (string, *homeError) {
	if !strings.HasPrefix(pat, "~/") {
		return "", &homeError{"only ~/ is expanded", `write "~/..." for your home directory, or an absolute path`}
	}
	if strings.TrimLeft(pat[2:], "/") == "" {
		return "", &homeError{"names your whole home directory", `name what the step reads, like "~/.config/tool/**"`}
	}
	home, set := s.Env["HOME"]
	if !set {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", &homeError{fmt.Sprintf("expanding ~: %v", err), "set HOME, or write the pattern as an absolute path"}
		}
	}
	if !filepath.IsAbs(home) {
		return "", &homeError{fmt.Sprintf("expanding ~: HOME %q is not absolute", home), "set HOME to an absolute path"}
	}
	return filepath.ToSlash(filepath.Clean(home)), nil
}

// checkAbsoluteInput checks a pattern for files outside the config
// directory: clean, starting with a directory, and really outside.
func (l *loader) checkAbsoluteInput(at Pos, in, pat string) {
	segs := strings.Split(pat[1:], "/")
	for _, seg := range segs {
		switch seg {
		case "", ".", "..":
			l.fail(at, "write the path without empty, . or .. elements", "input pattern %q is not a clean path", in)
			return
		}
	}
	if escapes(pat) {
		l.fail(at, "write the path without .. elements", "input pattern %q is not a clean path", in)
		return
	}
	if strings.ContainsAny(segs[0], `*?[]{}\`) {
		l.fail(at, `start it with the directory to look in, like "/etc/nix/**"`, "input pattern %q would search the whole file system", in)
		return
	}
	if rel, err := filepath.Rel(l.cfg.Dir, filepath.FromSlash(pat)); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		l.fail(at, fmt.Sprintf("inputs inside it are written relative to it: %q", relPattern(in, filepath.ToSlash(rel))),
			"input pattern %q is inside the config directory", in)
	}
}

// relPattern is in rewritten relative to the config directory, rel being
// its path from there.
func relPattern(in, rel string) string {
	if strings.HasPrefix(in, "!") {
		return "!" + rel
	}
	return rel
}

// escapes reports whether a glob has a ".." element, including inside
// brace alternatives ("{a,../b}"). Relative inputs are hashed as paths
// relative to the config directory, which such a pattern could leave.
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

// checkDests refuses two file steps that install to one destination: each
// would overwrite the other's file, and each refresh would see the other's
// install as drift and run again.
func (l *loader) checkDests() {
	first := map[string]*Step{}
	for _, s := range l.cfg.Steps {
		if s.Kind != "file" || s.Dest == "" {
			continue
		}
		d := filepath.Clean(s.Dest)
		if o, ok := first[d]; ok {
			l.fail(s.Keys["dest"], fmt.Sprintf("give each step its own dest, or remove one of them (step %q installs it at %s)", o.Name, o.Keys["dest"]),
				"step %q: dest %s is also step %q's", s.Name, d, o.Name)
			continue
		}
		first[d] = s
	}
}

// ExpandHome turns "~" and "~/x" into $HOME and $HOME/x, reading HOME
// through getenv; other paths come back as they are. key names the setting
// in the error when HOME is not set.
func ExpandHome(key, p string, getenv func(string) string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("%s %q: $HOME is not set", key, p)
	}
	return filepath.Join(home, p[1:]), nil
}
