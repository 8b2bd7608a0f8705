package brew

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// Brewfile is what a Brewfile says, read without running Ruby.
type Brewfile struct {
	Name    string  // as given to Parse, for messages
	Entries []entry // in file order
	// CaskArgs merges every cask_args line, later keys winning as in Ruby.
	CaskArgs map[string]value
	// Dynamic lists the lines that compute something — conditions other
	// than the platform's, loops, commands, interpolation — so that what
	// the file installs may change while its text does not. Only `brew
	// bundle check` can tell then. A line guarded by a platform condition
	// computes something only where that condition holds: see On.
	Dynamic []dynamic

	caskArgs []caskArgsLine // every cask_args line, in file order
	// platform is set when some condition asks about the platform, so
	// that what the file declares depends on where it is read.
	platform bool
}

// caskArgsLine is one cask_args call: the casks declared after it (from
// entry index from on) get its arguments, where guard holds.
type caskArgsLine struct {
	guard *cond
	pairs []pair
	from  int
}

// IsDynamic reports whether some line could not be read statically on
// some platform.
func (b *Brewfile) IsDynamic() bool { return len(b.Dynamic) > 0 }

// PlatformDependent reports whether what the file declares depends on the
// platform it is read on (it asks OS.mac? or the like).
func (b *Brewfile) PlatformDependent() bool { return b.platform }

// DynamicOn lists the lines that compute something when the file is read
// on p: those whose platform guards hold there, or depend on what only
// Ruby can evaluate.
func (b *Brewfile) DynamicOn(p platform) []dynamic {
	var out []dynamic
	for _, d := range b.Dynamic {
		if v, u := d.at.Eval(p); v || u != nil {
			out = append(out, d)
		}
	}
	return out
}

// On is what the Brewfile declares when read on p, as brew bundle's DSL
// (bundle/dsl.rb) builds it: the entries whose guards hold there, in file
// order, each cask's args merged over the cask_args called before it.
// dyn lists the lines that compute something on p; unless it is empty,
// only brew can tell what the file declares.
func (b *Brewfile) On(p platform) (entries []entry, dyn []dynamic) {
	dyn = b.DynamicOn(p)
	var caskArgs []pair
	next := 0
	for i, e := range b.Entries {
		for next < len(b.caskArgs) && b.caskArgs[next].from <= i {
			if v, u := b.caskArgs[next].guard.Eval(p); v && u == nil {
				caskArgs = mergePairs(caskArgs, b.caskArgs[next].pairs)
			}
			next++
		}
		v, u := e.Guard.Eval(p)
		if u != nil && !slices.ContainsFunc(dyn, func(d dynamic) bool { return d.Line <= e.Line }) {
			// A guard sysinit cannot decide, under no line that computes
			// here (a construct the parser took apart oddly): only brew
			// can tell whether the entry is declared, so say so rather
			// than leave it out.
			dyn = append(dyn, dynamic{Line: e.Line, Why: "a condition sysinit cannot decide", Text: e.String()})
		}
		if !v || u != nil {
			continue
		}
		if e.Type == "cask" && len(caskArgs) > 0 {
			own, ok := e.Options["args"]
			if !ok || own.Kind == Hash {
				opts := make(map[string]value, len(e.Options)+1)
				for k, v := range e.Options {
					opts[k] = v
				}
				opts["args"] = value{Kind: Hash, Pairs: mergePairs(caskArgs, own.Pairs)}
				e.Options = opts
			}
		}
		entries = append(entries, e)
	}
	return entries, dyn
}

// mergePairs is Ruby's Hash#merge: a key of over replaces the value in
// place, a new key goes last.
func mergePairs(base, over []pair) []pair {
	out := append([]pair(nil), base...)
	for _, o := range over {
		i := slices.IndexFunc(out, func(p pair) bool { return p.Key == o.Key })
		if i >= 0 {
			out[i].Value = o.Value
			continue
		}
		out = append(out, o)
	}
	return out
}

// entry is one dependency line: `brew "wget", args: ["with-x"]`.
type entry struct {
	Type    string // tap, brew, cask, mas, vscode, go, cargo, npm, uv, flatpak, whalebrew
	Name    string // as written
	Options map[string]value
	Line    int
	Comment string // a comment ending the line, without the #
	// Conditional is set when the entry sits inside (or is guarded by) a
	// conditional or a loop: it may or may not be installed.
	Conditional bool
	// Guard is what must hold for the entry to be declared: the
	// conditions around it, in the order Ruby evaluates them. Nil when it
	// is always declared. Leaves that are not platform questions stand for
	// what only Ruby can evaluate (a loop, an ENV lookup).
	Guard *cond
}

// dynamic is a line that could not be read statically.
type dynamic struct {
	Line int
	Why  string // "conditional", "runs a command", "string interpolation", …
	Text string // the line, shortened
	// at reaches an unknown leaf on the platforms where the line computes
	// something: its guards, then what it computes.
	at *cond
}

func (d dynamic) String() string { return fmt.Sprintf("line %d: %s (%s)", d.Line, d.Text, d.Why) }

// entryTypes are the dependency kinds a Brewfile can declare.
var entryTypes = []string{"tap", "brew", "cask", "mas", "vscode", "go", "cargo", "npm", "uv", "flatpak", "whalebrew"}

// syntaxError is a line that is wrong whatever Ruby would make of the rest.
type syntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

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
		bf:       &Brewfile{Name: name, CaskArgs: map[string]value{}},
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

// valueKind is the type of a Value.
type valueKind uint8

// The kinds of literal a Brewfile option can hold.
const (
	String valueKind = iota + 1
	Symbol
	Int
	Float
	Bool
	Nil
	Array
	Hash
)

// value is a Ruby literal.
type value struct {
	Kind  valueKind
	Text  string  // String and Symbol: the text; Int and Float: the literal
	Bool  bool    // Bool
	Items []value // Array
	Pairs []pair  // Hash, in file order
}

// pair is one key and value of a hash.
type pair struct {
	Key   string // the label, symbol or string key
	Value value
}

// Int64 returns an Int's value.
func (v value) Int64() (int64, bool) {
	if v.Kind != Int {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Text, 10, 64)
	return n, err == nil
}

// Strings returns an Array of strings or symbols as strings.
func (v value) Strings() ([]string, bool) {
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
func (v value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v value) write(b *strings.Builder) {
	switch v.Kind {
	case String:
		b.WriteString(quote(v.Text))
	case Symbol:
		if plainSymbol().MatchString(v.Text) {
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

func writePairs(b *strings.Builder, ps []pair) {
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if plainKey().MatchString(p.Key) {
			b.WriteString(p.Key)
		} else {
			b.WriteString(quote(p.Key))
		}
		b.WriteString(": ")
		p.Value.write(b)
	}
}

var (
	plainSymbol = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*[?!]?$`)
	plainKey    = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
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
func (e entry) String() string {
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

func (e entry) sortedOptions() []pair {
	var ps []pair
	for k, v := range e.Options {
		if e.Type == "tap" && k == "clone_target" && v.Kind == String {
			continue
		}
		ps = append(ps, pair{Key: k, Value: v})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}
