package brew

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The lexer reads just enough Ruby to tell a literal Brewfile line from one
// that computes something. It never guesses silently: what it cannot read
// becomes a token the parser marks dynamic, and only what Ruby itself would
// reject (a string or heredoc that never ends, a stray closing bracket) is a
// syntax error.

type tokKind uint8

const (
	tEOF     tokKind = iota
	tNewline         // "\n" or ";"
	tString          // text holds the decoded value
	tSymbol          // text holds the name
	tInt             // text holds the literal, underscores removed
	tFloat
	tIdent  // names, keywords, @ivars, $globals
	tLabel  // `key:` or `"key":` — text holds the key
	tPunct  // operators and brackets
	tWords  // %w[] or %i[] — words holds the items
	tOpaque // a literal that computes: backticks, %x, regexps
)

type token struct {
	kind  tokKind
	text  string
	words []string
	line  int
	// endLine is the line a string ends on, when it runs over lines.
	endLine int
	space   bool // whitespace (or a line start) comes right before it
	// dyn says why a literal is not static: "string interpolation",
	// "heredoc", "runs a command", "regular expression".
	dyn string
	sym bool // tWords: %i (symbols) rather than %w
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

// opens and closes report whether t is an opening or closing bracket.
func (t token) opens() bool { return t.kind == tPunct && openers[t.text] != "" }
func (t token) closes() bool {
	return t.kind == tPunct && (t.text == ")" || t.text == "]" || t.text == "}")
}

// isValue reports whether t ends an operand, which decides whether a
// following `/`, `%` or `<<` is an operator or starts a literal.
func (t token) isValue() bool {
	switch t.kind {
	case tString, tSymbol, tInt, tFloat, tIdent, tWords, tOpaque:
		return true
	case tPunct:
		return t.closes()
	}
	return false
}

type lexer struct {
	src      []byte
	name     string
	pos      int
	line     int
	toks     []token
	space    bool
	pending  []heredoc
	comments map[int]string
	// firstMulti is the line of the first string that ran over a line
	// end: when quotes pair up wrongly, that is where it went wrong.
	firstMulti int
}

type heredoc struct {
	id       string
	indented bool // <<~ or <<-: the terminator may be indented
	line     int
}

func lex(name string, src []byte) ([]token, map[int]string, error) {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	// About one token per four bytes of a typical Brewfile.
	l := &lexer{src: src, name: name, line: 1, space: true, comments: map[int]string{}, toks: make([]token, 0, len(src)/4+8)}
	if err := l.run(); err != nil {
		return nil, nil, err
	}
	return l.toks, l.comments, nil
}

func (l *lexer) errorf(line int, format string, args ...any) error {
	return &syntaxError{File: l.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) emit(t token) {
	t.space = l.space
	if t.line == 0 {
		t.line = l.line
	}
	l.toks = append(l.toks, t)
	l.space = false
}

func (l *lexer) prev() token {
	if len(l.toks) == 0 {
		return token{kind: tNewline}
	}
	return l.toks[len(l.toks)-1]
}

func (l *lexer) peek(off int) byte {
	if l.pos+off < len(l.src) {
		return l.src[l.pos+off]
	}
	return 0
}

func (l *lexer) atLineStart() bool { return l.pos == 0 || l.src[l.pos-1] == '\n' }

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lineStartsWith reports whether the text at pos is word followed by
// whitespace or the line end.
func (l *lexer) lineStartsWith(word string) bool {
	if !bytes.HasPrefix(l.src[l.pos:], []byte(word)) {
		return false
	}
	c := l.peek(len(word))
	return c == 0 || c == '\n' || c == '\r' || c == ' ' || c == '\t'
}

func (l *lexer) run() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if l.atLineStart() {
			if l.lineStartsWith("__END__") && strings.TrimRight(string(l.lineAt(l.pos)), "\r") == "__END__" {
				break // Ruby stops reading here
			}
			if l.lineStartsWith("=begin") {
				if err := l.blockComment(); err != nil {
					return err
				}
				continue
			}
		}
		switch {
		case c == '\n':
			l.emit(token{kind: tNewline, text: "\n"})
			l.pos++
			l.line++
			l.space = true
			if err := l.heredocBodies(); err != nil {
				return err
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
			l.space = true
		case c == '\\' && l.peek(1) == '\n':
			l.pos += 2
			l.line++
			l.space = true
			if err := l.heredocBodies(); err != nil {
				return err
			}
		case c == '\\' && l.peek(1) == '\r' && l.peek(2) == '\n':
			l.pos += 3
			l.line++
			l.space = true
			if err := l.heredocBodies(); err != nil {
				return err
			}
		case c == '#':
			end := l.pos
			for end < len(l.src) && l.src[end] != '\n' {
				end++
			}
			l.comments[l.line] = strings.TrimSpace(string(l.src[l.pos+1 : end]))
			l.pos = end
		case c == '"' || c == '\'' || c == '`':
			if err := l.quoted(c); err != nil {
				return err
			}
		case c == ':':
			if err := l.colon(); err != nil {
				return err
			}
		case isDigit(c):
			l.number()
		case isIdentStart(c):
			l.ident()
		case (c == '@' || c == '$') && (isIdentStart(l.peek(1)) || c == '@' && l.peek(1) == '@'):
			start := l.pos
			l.pos++
			for l.pos < len(l.src) && (isIdentChar(l.src[l.pos]) || l.src[l.pos] == '@') {
				l.pos++
			}
			l.emit(token{kind: tIdent, text: string(l.src[start:l.pos])})
		case c == '%' && l.percentStarts():
			if err := l.percent(); err != nil {
				return err
			}
		case c == '<' && l.peek(1) == '<' && l.heredocStarts():
			l.heredocStart()
		case c == '/' && l.regexpStarts():
			if err := l.regexp(); err != nil {
				return err
			}
		default:
			l.punct()
		}
	}
	if len(l.pending) > 0 {
		h := l.pending[0]
		return l.errorf(h.line, "heredoc <<%s never ends: no line holding just %s", h.id, h.id)
	}
	l.emit(token{kind: tNewline, text: "\n"})
	l.emit(token{kind: tEOF})
	return nil
}

func (l *lexer) lineAt(pos int) []byte {
	end := bytes.IndexByte(l.src[pos:], '\n')
	if end < 0 {
		return l.src[pos:]
	}
	return l.src[pos : pos+end]
}

func (l *lexer) blockComment() error {
	start := l.line
	for l.pos < len(l.src) {
		if l.atLineStart() && l.lineStartsWith("=end") {
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
			return nil
		}
		if l.src[l.pos] == '\n' {
			l.line++
		}
		l.pos++
	}
	return l.errorf(start, "=begin comment never ends: no =end line")
}

var multiPunct = []string{"**=", "<=>", "===", "...", "||=", "&&=", "=>", "::", "==", "!=", "=~", "!~", "<=", ">=", "&&", "||", "<<", ">>", "**", "&.", "..", "->", "+=", "-=", "*=", "/=", "|=", "&="}

func (l *lexer) punct() {
	rest := l.src[l.pos:]
	for _, p := range multiPunct {
		if bytes.HasPrefix(rest, []byte(p)) {
			l.emit(token{kind: tPunct, text: p})
			l.pos += len(p)
			return
		}
	}
	if l.src[l.pos] == ';' {
		l.emit(token{kind: tNewline, text: ";"})
	} else {
		l.emit(token{kind: tPunct, text: string(l.src[l.pos])})
	}
	l.pos++
}

func (l *lexer) ident() {
	start := l.pos
	for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
		l.pos++
	}
	// Predicate and bang methods (`mac?`), but not `x!=y` or `a ?b :c`.
	if c := l.peek(0); (c == '?' || c == '!') && l.peek(1) != '=' && l.peek(1) != ':' {
		l.pos++
	}
	text := string(l.src[start:l.pos])
	if l.peek(0) == ':' && l.peek(1) != ':' {
		l.pos++
		l.emit(token{kind: tLabel, text: text})
		return
	}
	l.emit(token{kind: tIdent, text: text})
}

func (l *lexer) number() {
	start := l.pos
	kind := tInt
	if l.src[l.pos] == '0' && strings.ContainsRune("xXbBoO", rune(l.peek(1))) {
		l.pos += 2
		for l.pos < len(l.src) && (isIdentChar(l.src[l.pos])) {
			l.pos++
		}
	} else {
		for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.src[l.pos] == '_') {
			l.pos++
		}
		if l.peek(0) == '.' && isDigit(l.peek(1)) {
			kind = tFloat
			l.pos++
			for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.src[l.pos] == '_') {
				l.pos++
			}
		}
		if c := l.peek(0); c == 'e' || c == 'E' {
			off := 1
			if s := l.peek(1); s == '+' || s == '-' {
				off = 2
			}
			if isDigit(l.peek(off)) {
				kind = tFloat
				l.pos += off
				for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
					l.pos++
				}
			}
		}
	}
	text := strings.ReplaceAll(string(l.src[start:l.pos]), "_", "")
	if kind == tInt {
		// Decimal when Ruby and Go agree on the value; anything else (too
		// big for 64 bits, `08`) stays as written.
		if n, err := strconv.ParseInt(text, 0, 64); err == nil {
			text = strconv.FormatInt(n, 10)
		}
	}
	l.emit(token{kind: kind, text: text})
}

func (l *lexer) colon() error {
	switch c := l.peek(1); {
	case c == ':':
		l.emit(token{kind: tPunct, text: "::"})
		l.pos += 2
	case c == '"' || c == '\'':
		l.pos++
		if err := l.quoted(c); err != nil {
			return err
		}
		t := &l.toks[len(l.toks)-1]
		t.kind = tSymbol
	case isIdentStart(c):
		l.pos++
		start := l.pos
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		if c := l.peek(0); (c == '?' || c == '!') && l.peek(1) != '=' {
			l.pos++
		}
		l.emit(token{kind: tSymbol, text: string(l.src[start:l.pos])})
	default:
		l.emit(token{kind: tPunct, text: ":"})
		l.pos++
	}
	return nil
}

// quoted reads a '…', "…" or `…` literal starting at pos.
func (l *lexer) quoted(q byte) error {
	startLine := l.line
	l.pos++
	var b strings.Builder
	dyn := ""
	if q == '`' {
		dyn = "runs a command"
	}
	for {
		if l.pos >= len(l.src) {
			return l.unterminated(startLine)
		}
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			t := token{kind: tString, text: b.String(), line: startLine, dyn: dyn}
			if l.line != startLine {
				t.endLine = l.line
				if l.firstMulti == 0 {
					l.firstMulti = startLine
				}
			}
			// "key": value is a label, like key: value.
			if q != '`' && l.peek(0) == ':' && l.peek(1) != ':' && dyn == "" {
				l.pos++
				t.kind = tLabel
			}
			l.emit(t)
			return nil
		case c == '\n':
			l.line++
			b.WriteByte(c)
			l.pos++
		case c == '\\' && q == '\'':
			if n := l.peek(1); n == '\\' || n == '\'' {
				b.WriteByte(n)
				l.pos += 2
			} else {
				b.WriteByte(c)
				l.pos++
			}
		case c == '\\':
			if err := l.escape(&b); err != nil {
				return err
			}
		case c == '#' && q != '\'' && l.peek(1) == '{':
			dyn = "string interpolation"
			l.pos += 2
			if err := l.skipInterpolation(startLine); err != nil {
				return err
			}
		case c == '#' && q != '\'' && (l.peek(1) == '@' || l.peek(1) == '$') && isIdentStart(l.peek(2)):
			dyn = "string interpolation"
			b.WriteByte(c)
			l.pos++
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
}

func (l *lexer) unterminated(startLine int) error {
	line := startLine
	if l.firstMulti != 0 && l.firstMulti < line {
		line = l.firstMulti
	}
	return l.errorf(line, "unterminated string: a quote is missing")
}

// skipInterpolation skips the code of a #{…} up to its closing brace.
func (l *lexer) skipInterpolation(startLine int) error {
	depth := 1
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				l.pos++
				return nil
			}
		case '\n':
			l.line++
		case '"', '\'', '`':
			// A string inside the code: read it and drop the token.
			n := len(l.toks)
			if err := l.quoted(c); err != nil {
				return err
			}
			l.toks = l.toks[:n]
			continue
		}
		l.pos++
	}
	return l.unterminated(startLine)
}

// escape decodes one backslash escape of a double-quoted string.
func (l *lexer) escape(b *strings.Builder) error {
	line := l.line
	l.pos++ // the backslash
	if l.pos >= len(l.src) {
		return l.unterminated(line)
	}
	c := l.src[l.pos]
	l.pos++
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 's':
		b.WriteByte(' ')
	case 'e':
		b.WriteByte(0x1b)
	case 'a':
		b.WriteByte(0x07)
	case 'b':
		b.WriteByte(0x08)
	case 'f':
		b.WriteByte(0x0c)
	case 'v':
		b.WriteByte(0x0b)
	case '\n':
		l.line++ // a continued line: nothing
	case 'x':
		n, v := 0, 0
		for n < 2 && l.pos < len(l.src) && isHex(l.src[l.pos]) {
			v = v*16 + hexVal(l.src[l.pos])
			l.pos++
			n++
		}
		if n == 0 {
			return l.errorf(line, `invalid hex escape: \x needs hex digits`)
		}
		b.WriteByte(byte(v))
	case 'u':
		if l.peek(0) == '{' {
			l.pos++
			for {
				for l.peek(0) == ' ' || l.peek(0) == '\t' {
					l.pos++
				}
				if l.peek(0) == '}' {
					l.pos++
					return nil
				}
				n, v := 0, 0
				for l.pos < len(l.src) && isHex(l.src[l.pos]) && n < 7 {
					v = v*16 + hexVal(l.src[l.pos])
					l.pos++
					n++
				}
				if n == 0 || !utf8.ValidRune(rune(v)) {
					return l.errorf(line, `invalid Unicode escape`)
				}
				b.WriteRune(rune(v))
			}
		}
		v := 0
		for i := 0; i < 4; i++ {
			if l.pos >= len(l.src) || !isHex(l.src[l.pos]) {
				return l.errorf(line, `invalid Unicode escape: \u needs 4 hex digits`)
			}
			v = v*16 + hexVal(l.src[l.pos])
			l.pos++
		}
		if !utf8.ValidRune(rune(v)) {
			return l.errorf(line, `invalid Unicode escape`)
		}
		b.WriteRune(rune(v))
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v := int(c - '0')
		for i := 0; i < 2 && l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '7'; i++ {
			v = v*8 + int(l.src[l.pos]-'0')
			l.pos++
		}
		b.WriteByte(byte(v))
	default:
		// Ruby drops the backslash of an unknown escape.
		b.WriteByte(c)
	}
	return nil
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// percentStarts tells %w[…] and friends from the modulo operator.
func (l *lexer) percentStarts() bool {
	p := l.prev()
	if p.isValue() && (!l.space || l.peek(1) == ' ') {
		return false
	}
	c := l.peek(1)
	if strings.IndexByte("wWiIqQxsr", c) >= 0 {
		d := l.peek(2)
		return d != 0 && !isIdentChar(d) && d != ' ' && d != '\n'
	}
	return c != 0 && strings.IndexByte("([{<|!/^", c) >= 0
}

var closer = map[byte]byte{'(': ')', '[': ']', '{': '}', '<': '>'}

func (l *lexer) percent() error {
	startLine := l.line
	l.pos++
	typ := byte('Q')
	if c := l.src[l.pos]; isIdentChar(c) {
		typ = c
		l.pos++
	}
	open := l.src[l.pos]
	l.pos++
	end, nests := open, false
	if c, ok := closer[open]; ok {
		end, nests = c, true
	}
	var body []byte
	depth := 1
	for {
		if l.pos >= len(l.src) {
			return l.unterminated(startLine)
		}
		c := l.src[l.pos]
		if c == '\\' && l.pos+1 < len(l.src) {
			if l.src[l.pos+1] == '\n' {
				l.line++
			}
			body = append(body, c, l.src[l.pos+1])
			l.pos += 2
			continue
		}
		l.pos++
		if c == '\n' {
			l.line++
		}
		if nests && c == open {
			depth++
		} else if c == end {
			depth--
			if depth == 0 {
				break
			}
		}
		body = append(body, c)
	}
	interp := bytes.Contains(body, []byte("#{"))
	switch typ {
	case 'w', 'W', 'i', 'I':
		t := token{kind: tWords, line: startLine, sym: typ == 'i' || typ == 'I'}
		t.words = strings.Fields(string(body))
		if interp && (typ == 'W' || typ == 'I') {
			t.dyn = "string interpolation"
		}
		if bytes.IndexByte(body, '\\') >= 0 {
			// Escaped spaces and the like: not worth decoding.
			t.dyn = "escapes in a %w list"
		}
		l.emit(t)
	case 'q':
		l.emit(token{kind: tString, text: string(body), line: startLine, dyn: dynIf(bytes.IndexByte(body, '\\') >= 0, "escapes in a %q string")})
	case 'Q':
		l.emit(token{kind: tString, text: string(body), line: startLine, dyn: dynIf(interp || bytes.IndexByte(body, '\\') >= 0, "string interpolation")})
	case 's':
		l.emit(token{kind: tSymbol, text: string(body), line: startLine})
	case 'x':
		l.emit(token{kind: tOpaque, text: string(body), line: startLine, dyn: "runs a command"})
	default: // r
		l.emit(token{kind: tOpaque, text: string(body), line: startLine, dyn: "regular expression"})
	}
	return nil
}

func dynIf(cond bool, why string) string {
	if cond {
		return why
	}
	return ""
}

// heredocStarts tells <<~EOS from the shift operator (list << x).
func (l *lexer) heredocStarts() bool {
	p := l.prev()
	if p.isValue() && (!l.space || l.peek(2) == ' ') {
		return false
	}
	i := 2
	if c := l.peek(i); c == '~' || c == '-' {
		i++
	}
	c := l.peek(i)
	return c == '"' || c == '\'' || c == '`' || isIdentStart(c)
}

func (l *lexer) heredocStart() {
	line := l.line
	l.pos += 2
	indented := false
	if c := l.peek(0); c == '~' || c == '-' {
		indented = true
		l.pos++
	}
	var id string
	if q := l.peek(0); q == '"' || q == '\'' || q == '`' {
		end := bytes.IndexByte(l.src[l.pos+1:], q)
		if nl := bytes.IndexByte(l.src[l.pos+1:], '\n'); end < 0 || nl >= 0 && nl < end {
			// Not a heredoc after all; let the quote be read as a string.
			l.emit(token{kind: tPunct, text: "<<"})
			return
		}
		id = string(l.src[l.pos+1 : l.pos+1+end])
		l.pos += end + 2
	} else {
		start := l.pos
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		id = string(l.src[start:l.pos])
	}
	l.pending = append(l.pending, heredoc{id: id, indented: indented, line: line})
	l.emit(token{kind: tString, line: line, dyn: "heredoc"})
}

// heredocBodies skips the bodies of the heredocs opened on the line just
// ended, in order.
func (l *lexer) heredocBodies() error {
	for len(l.pending) > 0 {
		h := l.pending[0]
		for {
			if l.pos >= len(l.src) {
				return l.errorf(h.line, "heredoc <<%s never ends: no line holding just %s", h.id, h.id)
			}
			line := l.lineAt(l.pos)
			l.pos += len(line)
			if l.pos < len(l.src) {
				l.pos++ // the newline
			}
			l.line++
			text := strings.TrimRight(string(line), "\r")
			if h.indented {
				text = strings.TrimLeft(text, " \t")
			}
			if text == h.id {
				break
			}
		}
		l.pending = l.pending[1:]
	}
	return nil
}

// regexpStarts tells /regexp/ from division.
func (l *lexer) regexpStarts() bool {
	p := l.prev()
	if p.isValue() && (!l.space || l.peek(1) == ' ') {
		return false
	}
	// Only when the regexp ends on this line: a lone slash stays a slash.
	for i := l.pos + 1; i < len(l.src) && l.src[i] != '\n'; i++ {
		if l.src[i] == '\\' {
			if i+1 >= len(l.src) || l.src[i+1] == '\n' {
				return false
			}
			i++
			continue
		}
		if l.src[i] == '/' {
			return true
		}
	}
	return false
}

func (l *lexer) regexp() error {
	start := l.pos
	l.pos++
	for l.src[l.pos] != '/' {
		if l.src[l.pos] == '\\' {
			l.pos++
		}
		l.pos++
	}
	l.pos++
	for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
		l.pos++ // flags
	}
	l.emit(token{kind: tOpaque, text: string(l.src[start:l.pos]), dyn: "regular expression"})
	return nil
}
