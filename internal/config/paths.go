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

	"github.com/sysinit/sysinit/internal/fingerprint"
)

const relHint = "relative paths start at the directory holding sysinit.toml"

// checkInputs checks input patterns: globs relative to the config directory,
// absolute ones and "~/…" ones (expanded here, with the step's HOME) for
// files outside it.
func (l *loader) checkInputs(s *Step, kp *posNode) {
	for i, in := range s.Inputs {
		if in == "" {
			continue // reported by strs
		}
		at := l.at(kp.index(i))
		bang := in[:len(in)-len(strings.TrimPrefix(in, "!"))]
		pat := in[len(bang):]
		if strings.HasPrefix(pat, "~") {
			home, err := l.stepHome(s, pat)
			if err != nil {
				l.fail(at, err.hint, "input pattern %q: %s", in, err.msg)
				continue
			}
			// HOME is a path, not a pattern: "/home/[x]" names
			// that directory.
			pat = fingerprint.EscapeGlob(home) + pat[1:]
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
			// conf/../conf/a.conf: a pattern matches the paths of the
			// repository's files, and none has a "..".
			hint := ""
			if clean, ok := cleanInside(pat); ok {
				hint = fmt.Sprintf("write it as %q", bang+clean)
			} else if !escapes(path.Clean(pat)) {
				hint = "write the pattern without it"
			}
			if hint != "" {
				l.fail(at, hint, "input pattern %q has a \"..\" element, which no file's path in the config directory has", in)
				break
			}
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
	getenv := func(k string) string {
		if h, set := s.Env["HOME"]; set && k == "HOME" {
			return h
		}
		return os.Getenv(k)
	}
	home, err := ExpandHome("input pattern", "~", getenv)
	if err != nil {
		return "", &homeError{fmt.Sprintf("expanding ~: %v", err), "set HOME, or write the pattern as an absolute path"}
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

// cleanInside is pat without its ".." elements when all of them follow a
// literal path and it stays inside the config directory: "conf/../a" is
// "a"; "*/../a", "{a,..}/x" and "a/../../b" are not rewritten.
func cleanInside(pat string) (string, bool) {
	last := strings.LastIndex(pat, "..")
	if last < 0 || last > 0 && pat[last-1] != '/' || last+2 < len(pat) && pat[last+2] != '/' {
		return "", false // ..a, ..{a,b}: a name, not the parent
	}
	if strings.ContainsAny(pat[:last+2], `*?[]{}\`) {
		return "", false
	}
	clean := path.Clean(pat[:last+2]) + pat[last+2:]
	if escapes(clean) || path.IsAbs(clean) {
		return "", false
	}
	return strings.TrimPrefix(clean, "./"), true
}

// checkSource checks a path a step reads (a file step's source, a
// Brewfile): it must exist, and a relative one may not climb out of the
// repo — a file step may install as root, and would copy whatever it
// reaches.
func (l *loader) checkSource(s *Step, d *keyDecl, p string) {
	if !filepath.IsAbs(p) && slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "..") {
		l.FailStep(s, d.name, fmt.Sprintf("a relative %s must lie under the directory holding sysinit.toml; write an absolute path to use a file from elsewhere", d.name),
			"%s %q leaves the config directory", d.name, p)
		return
	}
	l.checkExists(s, d, p, false)
}

func (l *loader) checkExists(s *Step, d *keyDecl, p string, wantDir bool) {
	key := d.name
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
			hint = "create it, or point to it with " + d.example
		case strings.HasPrefix(p, "~"):
			hint = "~ is not expanded here; " + relHint
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

// expandDest resolves a destination: "~/x" is $HOME/x, a relative one lies
// under the config directory (examples and tests install into the repo).
func (l *loader) expandDest(s *Step, dk *keyDecl, d string) string {
	at := s.Keys[dk.name]
	switch {
	case strings.HasPrefix(d, "~/"):
		if strings.TrimLeft(d[2:], "/") == "" {
			l.fail(at, `name the file, like dest = "~/.config/tool/config"`, "%s = %q is your home directory", dk.name, d)
			return d
		}
		p, err := ExpandHome(dk.name, d, os.Getenv)
		if err != nil {
			l.fail(at, "set HOME, or write it as an absolute path", "expanding ~ in %v", err)
			return d
		}
		return p
	case strings.HasPrefix(d, "~"):
		l.fail(at, `write "~/..." for your home directory, or an absolute path`, "%s = %q: only ~/ is expanded", dk.name, d)
	case !filepath.IsAbs(d):
		return filepath.Join(l.cfg.Dir, d)
	}
	return d
}

// Path returns p resolved against the config directory, unless absolute.
// Step paths (Source, Brewfile, Dir, input patterns) are stored as written.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
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
