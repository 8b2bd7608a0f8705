package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

var (
	// Step names become log file names and command-line arguments.
	stepNameRE = lazyregexp.New(`^[A-Za-z0-9._-]+$`)
	envNameRE  = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
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

	errs := len(l.errs)
	kind := l.kind(s, tbl)
	var own reflect.Value
	if kind != nil && kind.Keys != nil {
		own = reflect.New(reflect.TypeOf(kind.Keys).Elem())
		s.Own = own.Interface()
	}
	shared := reflect.ValueOf(s).Elem()
	for _, k := range keys {
		if k == "kind" {
			continue
		}
		if kind == nil {
			// The kind is wrong, but the keys it would share with any
			// kind are still checked, so that one load reports all.
			if d := sharedDecl(k); d != nil {
				l.set(s, sp.key(k), d, shared.FieldByIndex(d.field), tbl[k])
			} else if d := l.anyOwnDecl(k); d != nil {
				l.set(s, sp.key(k), d, reflect.New(d.typ).Elem(), tbl[k])
			} else {
				l.unknownKey(s, nil, k)
			}
			continue
		}
		d, isOwn := declFor(kind, k)
		if d == nil {
			l.unknownKey(s, kind, k)
			continue
		}
		dst := shared
		if isOwn {
			dst = own.Elem()
		}
		l.set(s, sp.key(k), d, dst.FieldByIndex(d.field), tbl[k])
	}
	if kind != nil {
		l.applyDefaults(s, kind, own)
		l.checkRequired(s, kind)
	}
	l.checkValues(s, kind, own)
	if kind != nil && len(l.errs) == errs {
		s.decoded = true
		if kind.Check != nil {
			kind.Check(l.cfg, s, &stepReporter{l, s})
		}
	}
	return s
}

// anyOwnDecl is key as the first kind that declares it has it, or nil.
func (l *loader) anyOwnDecl(key string) *keyDecl {
	for _, k := range l.kinds.List() {
		if d := k.key(key); d != nil {
			return d
		}
	}
	return nil
}

// stepReporter is the Reporter of one step's kind checks.
type stepReporter struct {
	l *loader
	s *Step
}

func (r *stepReporter) Fail(key, hint, format string, args ...any) {
	r.l.FailStep(r.s, key, hint, format, args...)
}

func (l *loader) checkName(s *Step) {
	hint := "use letters, digits, '.', '_' and '-'; the name becomes a log file name"
	switch {
	case !stepNameRE().MatchString(s.Name):
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

// kind sets s.Kind and returns its declaration, or nil when the step
// names no known kind.
func (l *loader) kind(s *Step, tbl map[string]any) *Kind {
	raw, ok := tbl["kind"]
	if !ok {
		l.fail(s.Pos, "add "+l.guessKind(tbl), "step %q has no kind", s.Name)
		return nil
	}
	at := s.Keys["kind"]
	k, ok := raw.(string)
	if !ok {
		l.fail(at, "write it like "+kindDecl.example, "`kind` must be a string, not %s", typeName(raw))
		return nil
	}
	s.Kind = k
	kind := l.kinds.Get(k)
	if kind == nil {
		names := l.kinds.Names()
		hint := "kinds: " + strings.Join(names, ", ")
		if c := closest(k, names); c != "" {
			hint = fmt.Sprintf("did you mean %q? ", c) + hint
		}
		l.fail(at, hint, "unknown kind %q", k)
	}
	return kind
}

// guessKind suggests the kind line for a step that has none: the one kind
// taking all its keys, if there is exactly one.
func (l *loader) guessKind(tbl map[string]any) string {
	var fits []string
	for _, k := range l.kinds.List() {
		ok := true
		for key := range tbl {
			if d, _ := declFor(k, key); d == nil {
				ok = false
				break
			}
		}
		if ok {
			fits = append(fits, k.Name)
		}
	}
	if len(fits) == 1 {
		return fmt.Sprintf("kind = %q", fits[0])
	}
	return "kind = \"...\", one of: " + strings.Join(l.kinds.Names(), ", ")
}

// set decodes v, the value of key d, into the field dst. Value content
// (enums, paths, globs) is checked later by checkValues, once defaults are
// in.
func (l *loader) set(s *Step, kp *posNode, d *keyDecl, dst reflect.Value, v any) {
	switch d.typ {
	case typeString:
		dst.SetString(l.str(s, d, v))
	case typeStrings:
		dst.Set(reflect.ValueOf(l.strs(s, kp, d, v)))
	case typeBool:
		b, _ := l.boolean(s, d, v)
		dst.SetBool(b)
	case typeBoolPtr:
		if b, ok := l.boolean(s, d, v); ok {
			dst.Set(reflect.ValueOf(&b))
		}
	case typeIntPtr:
		if n := l.positiveInt(s, d, v); n != nil {
			dst.Set(reflect.ValueOf(n))
		}
	case typeDuration:
		dst.SetInt(int64(l.duration(s, d, v)))
	case typeEnv:
		dst.Set(reflect.ValueOf(l.env(s, kp, d, v)))
	}
}

// str decodes a string value; empty strings are errors since every string key
// means something only when set.
func (l *loader) str(s *Step, d *keyDecl, v any) string {
	key := d.name
	at := s.Keys[key]
	str, ok := v.(string)
	switch {
	case !ok:
		l.fail(at, "write it like "+d.example, "`%s` must be a string, not %s", key, typeName(v))
	case str == "":
		l.fail(at, fmt.Sprintf("give it a value, like %s, or remove the line", d.example), "`%s` is empty", key)
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
func (l *loader) strs(s *Step, kp *posNode, d *keyDecl, v any) []string {
	key := d.name
	hint := "write it like " + d.example
	what := d.items
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
		case str == "" && !d.allowEmpty:
			l.fail(l.at(kp.index(i)), "remove it", "`%s` has an empty element", key)
		case strings.IndexByte(str, 0) >= 0:
			l.failNUL(l.at(kp.index(i)), fmt.Sprintf("`%s` element %d", key, i+1))
		}
		out = append(out, str)
	}
	return out
}

func (l *loader) boolean(s *Step, d *keyDecl, v any) (bool, bool) {
	key := d.name
	b, ok := v.(bool)
	if !ok {
		hint := "write it like " + d.example
		if str, isStr := v.(string); isStr && (str == "true" || str == "false") {
			hint = fmt.Sprintf("write %s = %s, without quotes", key, str)
		}
		l.fail(s.Keys[key], hint, "`%s` must be true or false, not %s", key, typeName(v))
	}
	return b, ok
}

func (l *loader) positiveInt(s *Step, d *keyDecl, v any) *int {
	key := d.name
	hint := fmt.Sprintf("write it like %s, or leave it out for the default", d.example)
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

func (l *loader) duration(s *Step, d *keyDecl, v any) time.Duration {
	key := d.name
	at := s.Keys[key]
	str, ok := v.(string)
	if !ok {
		hint := "write it like " + d.example
		if _, isInt := v.(int64); isInt {
			hint = "add a unit and quotes, like " + d.example
		}
		l.fail(at, hint, "`%s` must be a duration string, not %s", key, typeName(v))
		return 0
	}
	dur, err := parseDuration(str)
	switch {
	case err != nil:
		l.fail(at, `use a number and a unit: "24h", "7d", "90m"`, "%s = %q: not a duration", key, str)
	case dur <= 0:
		hint := d.zeroHint
		if hint == "" {
			hint = `remove the line, or use a positive duration like "24h"`
		}
		l.fail(at, hint, "%s = %q: must be more than zero", key, str)
	}
	return dur
}

func (l *loader) env(s *Step, kp *posNode, d *keyDecl, v any) map[string]string {
	tbl, ok := v.(map[string]any)
	if !ok {
		l.fail(s.Keys[d.name], "write it like "+d.example, "`%s` must be a table of strings, not %s", d.name, typeName(v))
		return nil
	}
	env := make(map[string]string, len(tbl))
	for _, name := range l.byOffset(kp, tbl) {
		at := l.at(kp.key(name))
		if !envNameRE().MatchString(name) {
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

// applyDefaults fills what a kind assumes when a key is left out: its own
// keys' declared defaults, and its default `os`.
func (l *loader) applyDefaults(s *Step, k *Kind, own reflect.Value) {
	for _, d := range k.ownKeys() {
		if _, other := s.Keys[d.unless]; d.unless != "" && other {
			continue
		}
		if _, set := s.Keys[d.name]; !set && d.def != "" {
			own.Elem().FieldByIndex(d.field).SetString(d.def)
		}
	}
	if _, set := s.Keys["os"]; !set && len(k.OS) > 0 {
		s.OS = slices.Clone(k.OS)
	}
}

func (l *loader) checkRequired(s *Step, k *Kind) {
	for _, d := range k.ownKeys() {
		if _, set := s.Keys[d.name]; d.required && !set {
			l.fail(s.Pos, "add "+d.example, "%s step %q needs `%s`", s.Kind, s.Name, d.name)
		}
	}
}

// validOS are the GOOS values a step may be limited to (`go tool dist list`).
var validOS = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
	"linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}

// checkValues checks the content of values whose type was right: the
// shared keys' patterns, names and paths, and the enums and paths of the
// kind's own keys.
func (l *loader) checkValues(s *Step, k *Kind, own reflect.Value) {
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
			l.fail(l.at(sp.key("requires").index(i)), "list program names, like "+sharedDecl("requires").example,
				"requires = %q: not a program name", r)
		}
	}
	if s.Dir != "" {
		l.checkExists(s, sharedDecl("dir"), s.Dir, true)
	}
	l.checkHosts(s)
	if k == nil || !own.IsValid() {
		return
	}
	for _, d := range k.ownKeys() {
		f := own.Elem().FieldByIndex(d.field)
		if d.typ != typeString || f.String() == "" {
			continue
		}
		if len(d.enum) > 0 {
			l.checkEnum(s, d, f.String())
		}
		switch d.path {
		case "file":
			l.checkSource(s, d, f.String())
		case "dir":
			l.checkExists(s, d, f.String(), true)
		case "dest":
			f.SetString(l.expandDest(s, d, f.String()))
		}
	}
}

func (l *loader) checkEnum(s *Step, d *keyDecl, val string) {
	if slices.Contains(d.enum, val) {
		return
	}
	hint := "use one of: " + strings.Join(d.enum, ", ")
	if c := closest(val, d.enum); c != "" {
		hint = fmt.Sprintf("did you mean %q? ", c) + hint
	}
	at, ok := s.Keys[d.name]
	if !ok {
		at = s.Pos
	}
	l.fail(at, hint, "%s = %q: unknown value", d.name, val)
}
