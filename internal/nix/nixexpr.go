package nix

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// flakeSetting is one entry of a flake's nixConfig, its value written the
// way nix passes it to its settings: a list joined by spaces, a bool as
// true or false, an int in decimal.
type flakeSetting struct {
	Name  string
	Value string
	// List is set for a list value: nix ≥ 2.24 joins lists leaving out
	// leading empty strings, older ones keep them.
	List []string
}

// errNixConfigUnreadable is a nixConfig sysinit does not read itself. Nix
// accepts only literal values there (its flake.cc forces a value only when
// it is "trivial"), so a flake nix accepts is almost always one sysinit
// reads; the rest (paths, indented strings, parentheses) make sysinit let
// nix apply the flake's configuration itself.
var errNixConfigUnreadable = errors.New("nixConfig is not written with the literals sysinit reads")

// readNixConfig returns the settings in the nixConfig attribute of a
// flake.nix, sorted by name as nix applies them (it keeps them in a
// std::map). A flake.nix that does not mention nixConfig has none.
func readNixConfig(src []byte) ([]flakeSetting, error) {
	if !strings.Contains(string(src), "nixConfig") {
		return nil, nil
	}
	p := &nixParser{lx: &nixLexer{src: string(src)}}
	settings, err := p.flake()
	if err != nil {
		return nil, err
	}
	sort.Slice(settings, func(i, j int) bool { return settings[i].Name < settings[j].Name })
	return settings, nil
}

// value is how nix of version v turns s into a setting's text.
func (s flakeSetting) value(joinDropsLeadingEmpty bool) string {
	if s.List == nil || !joinDropsLeadingEmpty {
		return s.Value
	}
	var b strings.Builder
	for _, e := range s.List {
		if b.Len() != 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e)
	}
	return b.String()
}

// ---- a lexer for the structure of nix source ----

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokInt
	tokString    // "…"; text holds the value when it has no interpolation
	tokIndString // an indented string
	tokPunct     // { } [ ] ( ) ; = . and any other operator character
)

type token struct {
	kind   tokKind
	text   string
	interp bool // a string with ${…}
	pos    int
}

type nixLexer struct {
	src string
	i   int
}

func (l *nixLexer) errorf(format string, a ...any) error {
	line := 1 + strings.Count(l.src[:min(l.i, len(l.src))], "\n")
	return fmt.Errorf("flake.nix line %d: %s", line, fmt.Sprintf(format, a...))
}

// skipTrivia skips blanks and comments.
func (l *nixLexer) skipTrivia() error {
	for l.i < len(l.src) {
		switch c := l.src[l.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.i++
		case c == '#':
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case c == '/' && l.i+1 < len(l.src) && l.src[l.i+1] == '*':
			end := strings.Index(l.src[l.i+2:], "*/")
			if end < 0 {
				return l.errorf("unterminated comment")
			}
			l.i += end + 4
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '\'' || c == '-'
}

func (l *nixLexer) next() (token, error) {
	if err := l.skipTrivia(); err != nil {
		return token{}, err
	}
	if l.i >= len(l.src) {
		return token{kind: tokEOF, pos: l.i}, nil
	}
	start := l.i
	c := l.src[l.i]
	switch {
	case isIdentStart(c):
		for l.i < len(l.src) && isIdentChar(l.src[l.i]) {
			l.i++
		}
		return token{kind: tokIdent, text: l.src[start:l.i], pos: start}, nil
	case c >= '0' && c <= '9':
		for l.i < len(l.src) && l.src[l.i] >= '0' && l.src[l.i] <= '9' {
			l.i++
		}
		return token{kind: tokInt, text: l.src[start:l.i], pos: start}, nil
	case c == '"':
		l.i++
		text, interp, err := l.string()
		return token{kind: tokString, text: text, interp: interp, pos: start}, err
	case c == '\'' && l.i+1 < len(l.src) && l.src[l.i+1] == '\'':
		l.i += 2
		interp, err := l.indString()
		return token{kind: tokIndString, interp: interp, pos: start}, err
	}
	l.i++
	return token{kind: tokPunct, text: string(c), pos: start}, nil
}

// string reads a "…" string after its opening quote, as nix's lexer does:
// a backslash escapes the next character, ${ opens an interpolation and
// $$ is two dollars.
func (l *nixLexer) string() (string, bool, error) {
	var b strings.Builder
	interp := false
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '"':
			l.i++
			return b.String(), interp, nil
		case c == '\\' && l.i+1 < len(l.src):
			switch e := l.src[l.i+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
			l.i += 2
		case c == '$' && l.i+1 < len(l.src) && l.src[l.i+1] == '{':
			l.i += 2
			interp = true
			if err := l.skipInterpolation(); err != nil {
				return "", true, err
			}
		case c == '$' && l.i+1 < len(l.src) && l.src[l.i+1] != '"' && l.src[l.i+1] != '\\':
			b.WriteString(l.src[l.i : l.i+2])
			l.i += 2
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return "", interp, l.errorf("unterminated string")
}

// indString skips an indented string after its two opening quotes; its value is
// not needed (sysinit does not read indented strings in nixConfig).
func (l *nixLexer) indString() (bool, error) {
	interp := false
	for l.i < len(l.src) {
		switch {
		case strings.HasPrefix(l.src[l.i:], "'''"), strings.HasPrefix(l.src[l.i:], "''$"):
			l.i += 3
		case strings.HasPrefix(l.src[l.i:], "''\\"):
			l.i += 4
		case strings.HasPrefix(l.src[l.i:], "''"):
			l.i += 2
			return interp, nil
		case strings.HasPrefix(l.src[l.i:], "${"):
			l.i += 2
			interp = true
			if err := l.skipInterpolation(); err != nil {
				return true, err
			}
		case strings.HasPrefix(l.src[l.i:], "$$"):
			l.i += 2
		default:
			l.i++
		}
	}
	return interp, l.errorf("unterminated indented string")
}

// skipInterpolation skips the expression of a ${…} up to its closing brace.
func (l *nixLexer) skipInterpolation() error {
	depth := 1
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		switch {
		case t.kind == tokEOF:
			return l.errorf("unterminated interpolation")
		case t.kind == tokPunct && t.text == "{":
			depth++
		case t.kind == tokPunct && t.text == "}":
			if depth--; depth == 0 {
				return nil
			}
		}
	}
}

// ---- the parts of flake.nix that hold nixConfig ----

type nixParser struct {
	lx   *nixLexer
	peek *token
}

func (p *nixParser) next() (token, error) {
	if p.peek != nil {
		t := *p.peek
		p.peek = nil
		return t, nil
	}
	return p.lx.next()
}

func (p *nixParser) unread(t token) { p.peek = &t }

func (p *nixParser) expect(text string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind != tokPunct || t.text != text {
		return p.lx.errorf("expected %q", text)
	}
	return nil
}

// flake reads the top-level attribute set and the nixConfig in it.
func (p *nixParser) flake() ([]flakeSetting, error) {
	if err := p.expect("{"); err != nil {
		return nil, fmt.Errorf("%w: %v", errNixConfigUnreadable, err)
	}
	var settings []flakeSetting
	seen := map[string]bool{}
	add := func(s flakeSetting) error {
		if seen[s.Name] {
			return p.lx.errorf("nixConfig.%s is set twice", s.Name)
		}
		seen[s.Name] = true
		settings = append(settings, s)
		return nil
	}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tokPunct && t.text == "}" {
			return settings, nil
		}
		if t.kind == tokIdent && t.text == "inherit" {
			if err := p.skipValue(); err != nil {
				return nil, err
			}
			continue
		}
		p.unread(t)
		path, err := p.attrPath()
		if err != nil {
			return nil, err
		}
		if path[0] != "nixConfig" {
			if err := p.skipValue(); err != nil {
				return nil, err
			}
			continue
		}
		switch len(path) {
		case 1:
			if err := p.expect("{"); err != nil {
				return nil, fmt.Errorf("%w: %v", errNixConfigUnreadable, err)
			}
			for {
				t, err := p.next()
				if err != nil {
					return nil, err
				}
				if t.kind == tokPunct && t.text == "}" {
					break
				}
				p.unread(t)
				sub, err := p.attrPath()
				if err != nil {
					return nil, err
				}
				if len(sub) != 1 {
					return nil, fmt.Errorf("%w: nixConfig.%s is not a setting", errNixConfigUnreadable, strings.Join(sub, "."))
				}
				s, err := p.literal(sub[0])
				if err != nil {
					return nil, err
				}
				if err := add(s); err != nil {
					return nil, err
				}
			}
			if err := p.expect(";"); err != nil {
				return nil, err
			}
		case 2:
			s, err := p.literal(path[1])
			if err != nil {
				return nil, err
			}
			if err := add(s); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: %s is not a setting", errNixConfigUnreadable, strings.Join(path, "."))
		}
	}
}

// attrPath reads `a.b."c" =`.
func (p *nixParser) attrPath() ([]string, error) {
	var path []string
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		switch {
		case t.kind == tokIdent:
			path = append(path, t.text)
		case t.kind == tokString && !t.interp:
			path = append(path, t.text)
		default:
			return nil, fmt.Errorf("%w: %v", errNixConfigUnreadable, p.lx.errorf("an attribute name sysinit does not read"))
		}
		t, err = p.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tokPunct && t.text == "=" {
			return path, nil
		}
		if t.kind != tokPunct || t.text != "." {
			return nil, fmt.Errorf("%w: %v", errNixConfigUnreadable, p.lx.errorf("expected '=' after %s", strings.Join(path, ".")))
		}
	}
}

// literal reads one setting's value and its ';'.
func (p *nixParser) literal(name string) (flakeSetting, error) {
	s := flakeSetting{Name: name}
	t, err := p.next()
	if err != nil {
		return s, err
	}
	unreadable := func() (flakeSetting, error) {
		return s, fmt.Errorf("%w: %v", errNixConfigUnreadable, p.lx.errorf("the value of nixConfig.%s", name))
	}
	switch {
	case t.kind == tokString && !t.interp:
		s.Value = t.text
	case t.kind == tokInt:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return unreadable()
		}
		s.Value = strconv.FormatInt(n, 10)
	case t.kind == tokIdent && (t.text == "true" || t.text == "false"):
		s.Value = t.text
	case t.kind == tokPunct && t.text == "[":
		s.List = []string{}
		for {
			e, err := p.next()
			if err != nil {
				return s, err
			}
			if e.kind == tokPunct && e.text == "]" {
				break
			}
			if e.kind != tokString || e.interp {
				return unreadable()
			}
			s.List = append(s.List, e.text)
		}
		s.Value = strings.Join(s.List, " ")
	default:
		return unreadable()
	}
	if err := p.expect(";"); err != nil {
		return unreadable()
	}
	return s, nil
}

// skipValue skips an attribute's value up to the ';' that ends it: one
// at the same bracket depth that no `let`, `with` or `assert` of that
// depth is still waiting for.
func (p *nixParser) skipValue() error {
	depth, lets, semis := 0, 0, 0
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		switch {
		case t.kind == tokEOF:
			return p.lx.errorf("unexpected end of file")
		case t.kind == tokPunct && (t.text == "{" || t.text == "[" || t.text == "("):
			depth++
		case t.kind == tokPunct && (t.text == "}" || t.text == "]" || t.text == ")"):
			if depth--; depth < 0 {
				return p.lx.errorf("unbalanced %q", t.text)
			}
		case depth > 0:
		case t.kind == tokIdent && t.text == "let":
			lets++
		case t.kind == tokIdent && t.text == "in" && lets > 0:
			lets--
		case t.kind == tokIdent && (t.text == "with" || t.text == "assert"):
			semis++
		case t.kind == tokPunct && t.text == ";":
			switch {
			case semis > 0:
				semis--
			case lets > 0:
			default:
				return nil
			}
		}
	}
}
