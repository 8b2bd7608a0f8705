package scaffold

import (
	"strings"
)

// The static reader of flake.nix needs only a few shapes of Nix: attribute
// sets, attribute paths, strings, paths, lists and the keywords that hold
// semicolons of their own (let, with, assert). This tokenizer knows enough
// of Nix's lexical grammar to never mistake the inside of a string or a
// comment for code; everything else is a plain token.

type tokKind int

const (
	tEOF    tokKind = iota
	tIdent          // foo, foo-bar, foo'
	tString         // "…" or ''…''; text holds the value, dynamic when it interpolates
	tPath           // ./x, ../x, /x, ~/x, <nixpkgs>
	tPunct          // { } [ ] ( ) ; = . , : @ ?
	tInterp         // ${ opening an interpolated attribute name; closed by }
	tOther          // numbers, operators, URIs
)

type token struct {
	kind    tokKind
	text    string
	dynamic bool // a string or path with ${…} in it
	line    int
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

// lexNix splits src into tokens. It never fails: text it does not
// understand becomes tOther tokens, and an unterminated string or comment
// ends the input.
func lexNix(src string) []token {
	l := &lexer{src: src, line: 1}
	l.run(false)
	return l.toks
}

type lexer struct {
	src  string
	pos  int
	line int
	toks []token
	// depth counts open braces inside an interpolation being skipped.
}

func (l *lexer) emit(kind tokKind, text string, dynamic bool, line int) {
	l.toks = append(l.toks, token{kind: kind, text: text, dynamic: dynamic, line: line})
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '\'' || c == '-'
}

func isPathChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+'
}

// run lexes until the end of input, or, when interp is set, until the }
// closing the interpolation it was called for (its tokens are dropped by
// the caller).
func (l *lexer) run(interp bool) {
	depth := 0
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				end = len(l.src) - l.pos - 2
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += 2 + end + 2
		case c == '"':
			l.doubleString()
		case strings.HasPrefix(l.src[l.pos:], "''"):
			l.indentString()
		case c == '<' && l.angledPath():
		case l.path():
		case isIdentStart(c):
			start := l.pos
			for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
				l.pos++
			}
			// An unquoted URI (github:owner/repo): one token.
			if l.pos < len(l.src) && l.src[l.pos] == ':' && l.pos+1 < len(l.src) && uriChar(l.src[l.pos+1]) {
				for l.pos < len(l.src) && (uriChar(l.src[l.pos]) || l.src[l.pos] == ':') {
					l.pos++
				}
				l.emit(tOther, l.src[start:l.pos], false, l.line)
				continue
			}
			l.emit(tIdent, l.src[start:l.pos], false, l.line)
		case strings.HasPrefix(l.src[l.pos:], "${"):
			l.emit(tInterp, "${", false, l.line)
			l.pos += 2
			depth++
		case c == '{':
			l.emit(tPunct, "{", false, l.line)
			l.pos++
			depth++
		case c == '}':
			if interp && depth == 0 {
				l.pos++
				return
			}
			l.emit(tPunct, "}", false, l.line)
			l.pos++
			depth--
		case strings.IndexByte("[]();=.,:@?", c) >= 0:
			// `==` and `...` are operators, not `=` `=` or `.` `.` `.`.
			if c == '=' && strings.HasPrefix(l.src[l.pos:], "==") {
				l.emit(tOther, "==", false, l.line)
				l.pos += 2
				continue
			}
			if strings.HasPrefix(l.src[l.pos:], "...") {
				l.emit(tOther, "...", false, l.line)
				l.pos += 3
				continue
			}
			l.emit(tPunct, string(c), false, l.line)
			l.pos++
		default:
			start := l.pos
			l.pos++
			for l.pos < len(l.src) && strings.IndexByte("+-*/!<>=&|", l.src[l.pos]) >= 0 && strings.IndexByte("+-*/!<>=&|", c) >= 0 {
				l.pos++
			}
			for l.pos < len(l.src) && c >= '0' && c <= '9' && (l.src[l.pos] >= '0' && l.src[l.pos] <= '9' || l.src[l.pos] == '.' || l.src[l.pos] == 'e') {
				l.pos++
			}
			l.emit(tOther, l.src[start:l.pos], false, l.line)
		}
	}
}

func uriChar(c byte) bool {
	return isPathChar(c) || strings.IndexByte("/?=&%~*'!", c) >= 0
}

// skipInterp skips ${…} (l.pos just after the "${"), nested strings and
// all, and reports whether it was closed.
func (l *lexer) skipInterp() {
	sub := &lexer{src: l.src, pos: l.pos, line: l.line}
	sub.run(true)
	l.pos, l.line = sub.pos, sub.line
}

func (l *lexer) doubleString() {
	line := l.line
	l.pos++ // "
	var b strings.Builder
	dynamic := false
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '"':
			l.pos++
			l.emit(tString, b.String(), dynamic, line)
			return
		case c == '\\' && l.pos+1 < len(l.src):
			n := l.src[l.pos+1]
			switch n {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				if n == '\n' {
					l.line++
				}
				b.WriteByte(n)
			}
			l.pos += 2
		case strings.HasPrefix(l.src[l.pos:], "${"):
			l.pos += 2
			dynamic = true
			l.skipInterp()
		default:
			if c == '\n' {
				l.line++
			}
			b.WriteByte(c)
			l.pos++
		}
	}
	l.emit(tString, b.String(), dynamic, line)
}

func (l *lexer) indentString() {
	line := l.line
	l.pos += 2 // ''
	var b strings.Builder
	dynamic := false
	for l.pos < len(l.src) {
		rest := l.src[l.pos:]
		switch {
		case strings.HasPrefix(rest, "'''"): // escaped ''
			b.WriteString("''")
			l.pos += 3
		case strings.HasPrefix(rest, "''$"): // escaped $
			b.WriteByte('$')
			l.pos += 3
		case strings.HasPrefix(rest, "''\\") && len(rest) > 3:
			b.WriteByte(rest[3])
			l.pos += 4
		case strings.HasPrefix(rest, "''"):
			l.pos += 2
			l.emit(tString, b.String(), dynamic, line)
			return
		case strings.HasPrefix(rest, "${"):
			l.pos += 2
			dynamic = true
			l.skipInterp()
		default:
			if rest[0] == '\n' {
				l.line++
			}
			b.WriteByte(rest[0])
			l.pos++
		}
	}
	l.emit(tString, b.String(), dynamic, line)
}

// angledPath lexes <nixpkgs> when that is what follows; a lone < is an
// operator.
func (l *lexer) angledPath() bool {
	end := l.pos + 1
	for end < len(l.src) && (isPathChar(l.src[end]) || l.src[end] == '/') {
		end++
	}
	if end == l.pos+1 || end >= len(l.src) || l.src[end] != '>' {
		return false
	}
	l.emit(tPath, l.src[l.pos:end+1], false, l.line)
	l.pos = end + 1
	return true
}

// path lexes a path literal when one starts here: a run of path
// characters holding a slash followed by one (./x, ../x, a/b, /abs, ~/x),
// with ${…} parts making it dynamic.
func (l *lexer) path() bool {
	i := l.pos
	if l.src[i] == '~' {
		i++
	}
	for i < len(l.src) && isPathChar(l.src[i]) {
		i++
	}
	if i >= len(l.src) || l.src[i] != '/' || i+1 >= len(l.src) || !(isPathChar(l.src[i+1]) || strings.HasPrefix(l.src[i+1:], "${")) {
		return false
	}
	if l.src[l.pos] == '/' && i == l.pos && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/' {
		return false // the // operator
	}
	start, line := l.pos, l.line
	var b strings.Builder
	dynamic := false
	l.pos = i
	b.WriteString(l.src[start:i])
	for l.pos < len(l.src) {
		switch {
		case l.src[l.pos] == '/' && l.pos+1 < len(l.src) && (isPathChar(l.src[l.pos+1]) || strings.HasPrefix(l.src[l.pos+1:], "${")):
			b.WriteByte('/')
			l.pos++
		case isPathChar(l.src[l.pos]):
			b.WriteByte(l.src[l.pos])
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "${"):
			l.pos += 2
			dynamic = true
			b.WriteString("${…}")
			l.skipInterp()
		default:
			l.emit(tPath, b.String(), dynamic, line)
			return true
		}
	}
	l.emit(tPath, b.String(), dynamic, line)
	return true
}
