package brew

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Brewfile is what a Brewfile says, read without running Ruby.
type Brewfile struct {
	Name    string  // as given to Parse, for messages
	Entries []Entry // in file order
	// CaskArgs merges every cask_args line, later keys winning as in Ruby.
	CaskArgs map[string]Value
	// Dynamic lists the lines that compute something — conditionals,
	// loops, commands, interpolation — so that what the file installs
	// may change while its text does not. Only `brew bundle check` can
	// tell then.
	Dynamic []Dynamic
}

// IsDynamic reports whether some line could not be read statically.
func (b *Brewfile) IsDynamic() bool { return len(b.Dynamic) > 0 }

// Entry is one dependency line: `brew "wget", args: ["with-x"]`.
type Entry struct {
	Type    string // tap, brew, cask, mas, vscode, go, cargo, npm, uv, flatpak, whalebrew
	Name    string // as written
	Options map[string]Value
	Line    int
	Comment string // a comment ending the line, without the #
	// Conditional is set when the entry sits inside (or is guarded by) a
	// conditional or a loop: it may or may not be installed.
	Conditional bool
}

// Dynamic is a line that could not be read statically.
type Dynamic struct {
	Line int
	Why  string // "conditional", "runs a command", "string interpolation", …
	Text string // the line, shortened
}

func (d Dynamic) String() string { return fmt.Sprintf("line %d: %s (%s)", d.Line, d.Text, d.Why) }

// EntryTypes are the dependency kinds a Brewfile can declare.
var EntryTypes = []string{"tap", "brew", "cask", "mas", "vscode", "go", "cargo", "npm", "uv", "flatpak", "whalebrew"}

// SyntaxError is a line that is wrong whatever Ruby would make of the rest.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Parse reads a Brewfile. name is used in errors ("Brewfile:3: …"). A line
// that computes something is recorded in Dynamic, not an error; an error
// is a line that cannot be right: a string that never ends, `brew` without
// a name, `mas` without an id.
func Parse(name string, r io.Reader) (*Brewfile, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	toks, comments, err := lex(name, src)
	if err != nil {
		return nil, err
	}
	p := &parser{
		name:     name,
		lines:    strings.Split(string(src), "\n"),
		comments: comments,
		bf:       &Brewfile{Name: name, CaskArgs: map[string]Value{}},
	}
	stmts, err := p.split(toks)
	if err != nil {
		return nil, err
	}
	for _, st := range stmts {
		if err := p.statement(st); err != nil {
			return nil, err
		}
	}
	return p.bf, nil
}

// Kind is the type of a Value.
type Kind uint8

// The kinds of literal a Brewfile option can hold.
const (
	String Kind = iota + 1
	Symbol
	Int
	Float
	Bool
	Nil
	Array
	Hash
)

// Value is a Ruby literal.
type Value struct {
	Kind  Kind
	Text  string  // String and Symbol: the text; Int and Float: the literal
	Bool  bool    // Bool
	Items []Value // Array
	Pairs []Pair  // Hash, in file order
}

// Pair is one key and value of a hash.
type Pair struct {
	Key   string // the label, symbol or string key
	Value Value
}

// Int64 returns an Int's value.
func (v Value) Int64() (int64, bool) {
	if v.Kind != Int {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Text, 10, 64)
	return n, err == nil
}

// Strings returns an Array of strings or symbols as strings.
func (v Value) Strings() ([]string, bool) {
	if v.Kind != Array {
		return nil, false
	}
	out := make([]string, 0, len(v.Items))
	for _, it := range v.Items {
		if it.Kind != String && it.Kind != Symbol {
			return nil, false
		}
		out = append(out, it.Text)
	}
	return out, true
}

// String renders v as Ruby that Parse reads back to the same value.
func (v Value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v Value) write(b *strings.Builder) {
	switch v.Kind {
	case String:
		b.WriteString(quote(v.Text))
	case Symbol:
		if plainSymbol.MatchString(v.Text) {
			b.WriteString(":" + v.Text)
		} else {
			b.WriteString(":" + quote(v.Text))
		}
	case Int, Float:
		b.WriteString(v.Text)
	case Bool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case Nil:
		b.WriteString("nil")
	case Array:
		b.WriteByte('[')
		for i, it := range v.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			it.write(b)
		}
		b.WriteByte(']')
	case Hash:
		if len(v.Pairs) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{ ")
		writePairs(b, v.Pairs)
		b.WriteString(" }")
	default:
		b.WriteString("nil")
	}
}

func writePairs(b *strings.Builder, ps []Pair) {
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if plainKey.MatchString(p.Key) {
			b.WriteString(p.Key)
		} else {
			b.WriteString(quote(p.Key))
		}
		b.WriteString(": ")
		p.Value.write(b)
	}
}

var (
	plainSymbol = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*[?!]?$`)
	plainKey    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// quote writes s as a double-quoted Ruby string that cannot interpolate.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case r == '"' || r == '\\' || r == '#':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r >= 0x80 && !strconv.IsPrint(r):
			fmt.Fprintf(&b, `\u{%X}`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// String renders the entry as a Brewfile line, options sorted by key.
func (e Entry) String() string {
	var b strings.Builder
	b.WriteString(e.Type)
	b.WriteByte(' ')
	b.WriteString(quote(e.Name))
	opts := e.sortedOptions()
	if e.Type == "tap" {
		// The clone URL is tap's second argument; options can only follow
		// one.
		if ct, ok := e.Options["clone_target"]; ok && ct.Kind == String {
			b.WriteString(", ")
			ct.write(&b)
		} else if len(opts) > 0 {
			b.WriteString(", nil")
		}
	}
	if len(opts) > 0 {
		b.WriteString(", ")
		writePairs(&b, opts)
	}
	return b.String()
}

func (e Entry) sortedOptions() []Pair {
	var ps []Pair
	for k, v := range e.Options {
		if e.Type == "tap" && k == "clone_target" && v.Kind == String {
			continue
		}
		ps = append(ps, Pair{Key: k, Value: v})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}
