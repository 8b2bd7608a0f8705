package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	// Step names become log file names and command-line arguments.
	stepNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maxStepName keeps "<step>.log" well inside the 255-byte file name limit.
const maxStepName = 128

// step decodes and checks one [steps.NAME] table. It returns a Step even
// when the table is broken, so `after` checks elsewhere still know the name.
func (l *loader) step(name string, raw any) *Step {
	sp := l.stepNode(name)
	s := &Step{Name: name, Pos: l.at(sp), Keys: map[string]Pos{}}
	l.checkName(s)
	tbl, ok := raw.(map[string]any)
	if !ok {
		l.fail(s.Pos, fmt.Sprintf("write [steps.%s] and put its keys on the lines below", name),
			"step %q must be a table, not %s", name, typeName(raw))
		return s
	}
	keys := l.byOffset(sp, tbl)
	for _, k := range keys {
		s.Keys[k] = l.at(sp.key(k))
	}

	kindOK := l.kind(s, tbl)
	for _, k := range keys {
		if k == "kind" {
			continue
		}
		if _, known := keyDocs[k]; !known || kindOK && !allowed(s.Kind, k) {
			l.unknownKey(s, kindOK, k)
			continue
		}
		l.set(s, sp.key(k), k, tbl[k])
	}
	if kindOK {
		l.applyDefaults(s)
		l.checkRequired(s)
	}
	l.checkValues(s)
	return s
}

func (l *loader) checkName(s *Step) {
	hint := "use letters, digits, '.', '_' and '-'; the name becomes a log file name"
	switch {
	case !stepNameRE.MatchString(s.Name):
		l.fail(s.Pos, hint, "invalid step name %q", s.Name)
	case s.Name == "." || s.Name == "..":
		l.fail(s.Pos, hint+", so it cannot be \".\" or \"..\"", "invalid step name %q", s.Name)
	case strings.HasPrefix(s.Name, "-"):
		l.fail(s.Pos, "start it with a letter or digit; `sysinit refresh -x` would read it as a flag",
			"invalid step name %q", s.Name)
	case len(s.Name) > maxStepName:
		l.fail(s.Pos, fmt.Sprintf("use at most %d characters; the name becomes a log file name", maxStepName),
			"step name is %d characters long", len(s.Name))
	}
}

// kind sets s.Kind and reports whether it names a known kind.
func (l *loader) kind(s *Step, tbl map[string]any) bool {
	raw, ok := tbl["kind"]
	if !ok {
		l.fail(s.Pos, "add "+guessKind(tbl), "step %q has no kind", s.Name)
		return false
	}
	at := s.Keys["kind"]
	k, ok := raw.(string)
	if !ok {
		l.fail(at, "write it like "+keyDocs["kind"].example, "`kind` must be a string, not %s", typeName(raw))
		return false
	}
	s.Kind = k
	if _, ok := Kinds[k]; !ok {
		hint := "kinds: " + strings.Join(kindNames, ", ")
		if c := closest(k, kindNames); c != "" {
			hint = fmt.Sprintf("did you mean %q? ", c) + hint
		}
		l.fail(at, hint, "unknown kind %q", k)
		return false
	}
	return true
}

// guessKind suggests the kind line for a step that has none: the one kind
// accepting all its keys, if there is exactly one.
func guessKind(tbl map[string]any) string {
	var fits []string
	for _, kind := range kindNames {
		ok := true
		for k := range tbl {
			if !allowed(kind, k) {
				ok = false
				break
			}
		}
		if ok {
			fits = append(fits, kind)
		}
	}
	if len(fits) == 1 {
		return fmt.Sprintf("kind = %q", fits[0])
	}
	return "kind = \"...\", one of: " + strings.Join(kindNames, ", ")
}

// set decodes the value of key, which s.Kind accepts, into s. Value content
// (enums, paths, globs) is checked later by checkValues, once defaults are in.
func (l *loader) set(s *Step, kp *posNode, key string, v any) {
	switch key {
	case "run":
		s.Run = l.str(s, key, v)
	case "check":
		s.Check = l.str(s, key, v)
	case "dir":
		s.Dir = l.str(s, key, v)
	case "source":
		s.Source = l.str(s, key, v)
	case "dest":
		s.Dest = l.str(s, key, v)
	case "mode":
		s.Mode = l.str(s, key, v)
	case "on-change":
		s.OnChange = l.str(s, key, v)
	case "flake":
		s.Flake = l.str(s, key, v)
	case "profile":
		s.Profile = l.str(s, key, v)
	case "activate":
		s.Activate = l.str(s, key, v)
	case "action":
		s.Action = l.str(s, key, v)
	case "brewfile":
		s.Brewfile = l.str(s, key, v)
	case "cleanup":
		s.Cleanup = l.str(s, key, v)
	case "prefix":
		s.Prefix = l.str(s, key, v)

	case "inputs":
		s.Inputs = l.strs(s, kp, key, v, true)
	case "after":
		s.After = l.strs(s, kp, key, v, true)
	case "os":
		s.OS = l.strs(s, kp, key, v, true)
	case "requires":
		s.Requires = l.strs(s, kp, key, v, true)
	case "extra-args":
		s.ExtraArgs = l.strs(s, kp, key, v, false)

	case "sudo":
		if b, ok := l.boolean(s, key, v); ok {
			s.Sudo = &b
		}
	case "impure":
		s.Impure, _ = l.boolean(s, key, v)
	case "commit":
		s.Commit, _ = l.boolean(s, key, v)
	case "upgrade":
		s.Upgrade, _ = l.boolean(s, key, v)

	case "max-jobs":
		s.MaxJobs = l.positiveInt(s, key, v)
	case "cores":
		s.Cores = l.positiveInt(s, key, v)

	case "every":
		s.Every = l.duration(s, key, v, "leave `every` out to run only when something changed")
	case "timeout":
		s.Timeout = l.duration(s, key, v, "leave `timeout` out for no time limit")
	case "update-every":
		s.UpdateEvery = l.duration(s, key, v, `remove the line, or use a positive duration like "24h"`)

	case "env":
		s.Env = l.env(s, kp, v)
	}
}

// str decodes a string value; empty strings are errors since every string key
// means something only when set.
func (l *loader) str(s *Step, key string, v any) string {
	at := s.Keys[key]
	str, ok := v.(string)
	switch {
	case !ok:
		l.fail(at, "write it like "+example(s.Kind, key), "`%s` must be a string, not %s", key, typeName(v))
	case str == "":
		l.fail(at, fmt.Sprintf("give it a value, like %s, or remove the line", example(s.Kind, key)), "`%s` is empty", key)
	case strings.IndexByte(str, 0) >= 0:
		l.failNUL(at, "`"+key+"`")
	}
	return str
}

// failNUL reports a string holding a NUL byte (TOML's "\u0000"): no
// command, argument, path or environment value can carry one, and the
// program would fail or see it cut short.
func (l *loader) failNUL(at Pos, what string) {
	l.fail(at, `remove the \u0000; commands, paths and environment values cannot hold a NUL byte`, "%s contains a NUL byte", what)
}

// strs decodes an array of strings. Elements are located by their own line,
// since arrays of inputs often span several.
func (l *loader) strs(s *Step, kp *posNode, key string, v any, nonEmpty bool) []string {
	hint := "write it like " + example(s.Kind, key)
	what := keyDocs[key].items
	if s.Kind == "flake-update" && key == "inputs" {
		what = "flake input names"
	}
	arr, ok := v.([]any)
	if !ok {
		l.fail(s.Keys[key], hint, "`%s` must be an array of %s, not %s", key, what, typeName(v))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, el := range arr {
		str, ok := el.(string)
		switch {
		case !ok:
			l.fail(l.at(kp.index(i)), hint, "`%s` must be an array of %s; element %d is %s", key, what, i+1, typeName(el))
		case str == "" && nonEmpty:
			l.fail(l.at(kp.index(i)), "remove it", "`%s` has an empty element", key)
		case strings.IndexByte(str, 0) >= 0:
			l.failNUL(l.at(kp.index(i)), fmt.Sprintf("`%s` element %d", key, i+1))
		}
		out = append(out, str)
	}
	return out
}

func (l *loader) boolean(s *Step, key string, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		hint := "write it like " + keyDocs[key].example
		if str, isStr := v.(string); isStr && (str == "true" || str == "false") {
			hint = fmt.Sprintf("write %s = %s, without quotes", key, str)
		}
		l.fail(s.Keys[key], hint, "`%s` must be true or false, not %s", key, typeName(v))
	}
	return b, ok
}

func (l *loader) positiveInt(s *Step, key string, v any) *int {
	hint := fmt.Sprintf("write it like %s, or leave it out to use nix's default", keyDocs[key].example)
	n, ok := v.(int64)
	switch {
	case !ok:
		l.fail(s.Keys[key], hint, "`%s` must be a whole number, not %s", key, typeName(v))
		return nil
	case n < 1:
		l.fail(s.Keys[key], hint, "%s = %d: must be at least 1", key, n)
		return nil
	case n > math.MaxInt32:
		l.fail(s.Keys[key], hint, "%s = %d: too large", key, n)
		return nil
	}
	i := int(n)
	return &i
}

func (l *loader) duration(s *Step, key string, v any, nonPositiveHint string) time.Duration {
	at := s.Keys[key]
	str, ok := v.(string)
	if !ok {
		hint := "write it like " + keyDocs[key].example
		if _, isInt := v.(int64); isInt {
			hint = "add a unit and quotes, like " + keyDocs[key].example
		}
		l.fail(at, hint, "`%s` must be a duration string, not %s", key, typeName(v))
		return 0
	}
	d, err := parseDuration(str)
	switch {
	case err != nil:
		l.fail(at, `use a number and a unit: "24h", "7d", "90m"`, "%s = %q: not a duration", key, str)
	case d <= 0:
		l.fail(at, nonPositiveHint, "%s = %q: must be more than zero", key, str)
	}
	return d
}

func (l *loader) env(s *Step, kp *posNode, v any) map[string]string {
	tbl, ok := v.(map[string]any)
	if !ok {
		l.fail(s.Keys["env"], "write it like "+keyDocs["env"].example, "`env` must be a table of strings, not %s", typeName(v))
		return nil
	}
	env := make(map[string]string, len(tbl))
	for _, name := range l.byOffset(kp, tbl) {
		at := l.at(kp.key(name))
		if !envNameRE.MatchString(name) {
			l.fail(at, "use letters, digits and '_', not starting with a digit",
				"env: %q is not a valid environment variable name", name)
		}
		switch val := tbl[name].(type) {
		case string:
			if strings.IndexByte(val, 0) >= 0 {
				l.failNUL(at, "env: the value of "+name)
			}
			env[name] = val
		case int64, float64, bool:
			l.fail(at, fmt.Sprintf(`quote it: %s = "%v"`, name, val), "env: the value of %s must be a string, not %s", name, typeName(val))
		default:
			l.fail(at, fmt.Sprintf(`write it like %s = "1"`, name), "env: the value of %s must be a string, not %s", name, typeName(val))
		}
	}
	return env
}

// applyDefaults fills what a kind assumes when a key is left out.
func (l *loader) applyDefaults(s *Step) {
	set := func(key string) bool { _, ok := s.Keys[key]; return ok }
	switch s.Kind {
	case "nix-darwin", "home-manager", "flake-update":
		if !set("flake") {
			s.Flake = "."
		}
		// nix-darwin configures macOS: on another system it is not
		// applicable, rather than a build that fails.
		if s.Kind == "nix-darwin" && !set("os") {
			s.OS = []string{"darwin"}
		}
	case "nixos":
		if !set("flake") {
			s.Flake = "."
		}
		if !set("action") {
			s.Action = "switch"
		}
		if !set("os") {
			s.OS = []string{"linux"}
		}
	case "brew-bundle":
		if !set("brewfile") {
			s.Brewfile = "Brewfile"
		}
		if !set("cleanup") {
			s.Cleanup = "none"
		}
	}
}

// required lists, per kind, the keys with no sensible default.
var required = map[string][]string{
	"command":     {"run"},
	"file":        {"source", "dest"},
	"nix-profile": {"flake", "profile"},
}

func (l *loader) checkRequired(s *Step) {
	for _, key := range required[s.Kind] {
		if _, ok := s.Keys[key]; !ok {
			l.fail(s.Pos, "add "+example(s.Kind, key), "%s step %q needs `%s`", s.Kind, s.Name, key)
		}
	}
}

// validOS are the GOOS values a step may be limited to (`go tool dist list`).
var validOS = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
	"linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}

// checkValues checks the content of values whose type was right: enums,
// patterns, names, and the paths that must exist.
func (l *loader) checkValues(s *Step) {
	sp := l.stepNode(s.Name)
	l.checkInputs(s, sp.key("inputs"))
	for i, a := range s.After {
		if a == s.Name {
			l.fail(l.at(sp.key("after").index(i)), fmt.Sprintf("remove %q from `after`", a),
				"step %q lists itself in `after`", s.Name)
		}
	}
	for i, o := range s.OS {
		if o == "" || slices.Contains(validOS, o) {
			continue
		}
		hint := "known: " + strings.Join(validOS, ", ")
		switch strings.ToLower(o) {
		case "macos", "osx", "mac", "macosx":
			hint = `use "darwin" for macOS`
		default:
			if c := closest(o, validOS); c != "" {
				hint = fmt.Sprintf("did you mean %q? ", c) + hint
			}
		}
		l.fail(l.at(sp.key("os").index(i)), hint, "unknown os %q", o)
	}
	for i, r := range s.Requires {
		if strings.ContainsAny(r, " \t\n") {
			l.fail(l.at(sp.key("requires").index(i)), "list program names, like "+keyDocs["requires"].example,
				"requires = %q: not a program name", r)
		}
	}
	if s.Mode != "" && !isOctalMode(s.Mode) {
		l.fail(s.Keys["mode"], `use 3 or 4 octal digits, like "0644"`, "mode = %q: not an octal permission", s.Mode)
	}
	l.checkEnum(s, "cleanup", s.Cleanup, "none", "check", "uninstall", "zap")
	l.checkEnum(s, "action", s.Action, "switch", "boot", "test")
	if s.Kind == "brew-bundle" && s.Sudo != nil && *s.Sudo {
		l.fail(s.Keys["sudo"], "remove `sudo`; Homebrew refuses to run as root", "brew-bundle steps never run as root")
	}
	l.checkPaths(s)
}

func isOctalMode(m string) bool {
	if len(m) != 3 && len(m) != 4 {
		return false
	}
	for _, c := range m {
		if c < '0' || c > '7' {
			return false
		}
	}
	return true
}

func (l *loader) checkEnum(s *Step, key, val string, valid ...string) {
	if val == "" || slices.Contains(valid, val) {
		return
	}
	hint := "use one of: " + strings.Join(valid, ", ")
	if c := closest(val, valid); c != "" {
		hint = fmt.Sprintf("did you mean %q? ", c) + hint
	}
	at, ok := s.Keys[key]
	if !ok {
		at = s.Pos
	}
	l.fail(at, hint, "%s = %q: unknown value", key, val)
}
