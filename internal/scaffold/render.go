package scaffold

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// File is a sysinit.toml to write: a header and steps, each with its
// comments, some active and some commented out.
type File struct {
	Header []string // comment lines, without "# "
	Steps  []*Step
	Notes  []string // comment lines after the steps
	// NoneActive is set when the flake defines configurations and none is
	// this machine's: every configuration's step is commented out.
	NoneActive bool

	width int // where comments wrap; 0 is commentWidth (tests turn wrapping off)
}

// Step is one [steps.NAME] table.
type Step struct {
	Name    string
	Comment []string // lines above the table, without "# "
	Keys    []KV
	// Off renders the step commented out; Comment says how to turn it on.
	Off bool
}

// KV is one key: its value is a string, bool, int, []string or
// map[string]string.
type KV struct {
	Key     string
	Value   any
	Comment string // after the value, on the same line
}

func (s *Step) set(key string, v any, comment string) {
	for i := range s.Keys {
		if s.Keys[i].Key == key {
			s.Keys[i].Value, s.Keys[i].Comment = v, comment
			return
		}
	}
	s.Keys = append(s.Keys, KV{Key: key, Value: v, Comment: comment})
}

func (s *Step) get(key string) (any, bool) {
	for _, kv := range s.Keys {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Render writes f as TOML text.
func (f *File) Render() []byte {
	width := f.width
	if width == 0 {
		width = commentWidth
	}
	var b strings.Builder
	comment := func(b *strings.Builder, prefix string, lines []string) { comment(b, prefix, lines, width) }
	comment(&b, "", f.Header)
	for _, s := range f.Steps {
		b.WriteByte('\n')
		comment(&b, "", s.Comment)
		prefix := ""
		if s.Off {
			prefix = "# "
		}
		fmt.Fprintf(&b, "%s[steps.%s]\n", prefix, tomlKey(s.Name))
		width := 0
		for _, kv := range s.Keys {
			width = max(width, len(kv.Key))
		}
		for _, kv := range s.Keys {
			line := fmt.Sprintf("%s%-*s = %s", prefix, width, kv.Key, tomlValue(kv.Value))
			if kv.Comment != "" {
				line += "  # " + kv.Comment
			}
			b.WriteString(line + "\n")
		}
	}
	// Notes are groups of lines, each group after a "" line.
	for _, l := range f.Notes {
		if l == "" {
			b.WriteByte('\n')
			continue
		}
		comment(&b, "", []string{l})
	}
	return []byte(b.String())
}

// commentWidth is where comment lines are wrapped.
const commentWidth = 100

func comment(b *strings.Builder, prefix string, lines []string, width int) {
	for _, l := range lines {
		l = escapeControls(l)
		if l == "" {
			b.WriteString(prefix + "#\n")
			continue
		}
		for _, w := range wrap(l, width-2-len(prefix)) {
			b.WriteString(prefix + "# " + w + "\n")
		}
	}
}

// escapeControls writes the control characters TOML refuses in a comment
// (a name read from flake.nix may hold one) as \xNN; tabs and line ends
// are spaces to the wrapping anyway.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// wrap breaks s into lines of at most width bytes at spaces (a longer word
// gets a line of its own); the lines after the first keep s's indent. The
// lines are as few as filling each would make, and as even as that
// allows: it fills them to the narrowest width that needs no more lines,
// so that a paragraph never ends in one word left over from full lines.
func wrap(s string, width int) []string {
	lines := wrapGreedy(s, width)
	if len(lines) < 2 {
		return lines
	}
	// Fewer lines never come of a narrower width, so the narrowest that
	// keeps the count is found by bisection.
	lo, hi := 1, width
	for lo < hi {
		mid := (lo + hi) / 2
		if len(wrapGreedy(s, mid)) <= len(lines) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return wrapGreedy(s, lo)
}

// wrapGreedy fills each line before starting the next.
func wrapGreedy(s string, width int) []string {
	indent := s[:len(s)-len(strings.TrimLeft(s, " "))]
	var out []string
	line := ""
	for _, w := range commentWords(s) {
		switch {
		case line == "":
			line = indent + w
		case len(line)+1+len(w) > width:
			out = append(out, line)
			line = indent + w
		default:
			line += " " + w
		}
	}
	return append(out, line)
}

// commentWords splits s at spaces, except inside `code`, which a comment keeps
// on one line.
func commentWords(s string) []string {
	var out []string
	open := false
	for _, f := range strings.Fields(s) {
		if open {
			out[len(out)-1] += " " + f
		} else {
			out = append(out, f)
		}
		if strings.Count(f, "`")%2 == 1 {
			open = !open
		}
	}
	return out
}

// tomlKey quotes a key that is not bare.
func tomlKey(k string) string {
	for _, c := range k {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return tomlString(k)
		}
	}
	return k
}

func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return tomlString(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = tomlString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = tomlKey(k) + " = " + tomlString(v[k])
		}
		return "{ " + strings.Join(q, ", ") + " }"
	}
	return tomlString(fmt.Sprint(v))
}

// tomlString is a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
