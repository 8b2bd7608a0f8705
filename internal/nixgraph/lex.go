package nixgraph

import "bytes"

// The lexer follows Nix's own (src/libexpr/lexer.l): the same token
// patterns, flex's longest-match rule with ties going to the earlier rule,
// and the same start-condition stack, so that a path literal, a comment and
// the text of a string are told apart exactly where Nix tells them apart.
// It never fails: input Nix would reject still lexes, the way flex would
// scan it before the parser gave up.

// Kind is a token's kind.
type Kind uint8

// Token kinds. A path literal is a Path or HomePath token, then any number
// of PathText and Interp…RBrace pieces, then a zero-width PathEnd.
const (
	Space      Kind = iota // blanks and line breaks
	Comment                // # … and /* … */
	Ident                  // identifiers and keywords
	Int                    // 42
	Float                  // 1.5, .5e3
	Path                   // ./x, ../y, a/b, /abs, ./dir/ before ${ (the start of a path literal)
	HomePath               // ~/x (the start of a path literal)
	SearchPath             // <nixpkgs>
	URI                    // https://example.org/x
	PathText               // a later literal piece of an interpolated path
	PathEnd                // zero-width: a path literal ended
	StrOpen                // "
	StrText                // text of a "…" string, escapes undone by Unquote
	StrClose               // "
	IndOpen                // '' (with the rest of its line when that is blank)
	IndText                // text of a ''…'' string
	IndClose               // ''
	Interp                 // ${
	LBrace                 // {
	RBrace                 // }
	Punct                  // any other operator or character
)

var kindNames = [...]string{
	Space: "space", Comment: "comment", Ident: "ident", Int: "int", Float: "float",
	Path: "path", HomePath: "home-path", SearchPath: "search-path", URI: "uri",
	PathText: "path-text", PathEnd: "path-end", StrOpen: "str-open", StrText: "str-text",
	StrClose: "str-close", IndOpen: "ind-open", IndText: "ind-text", IndClose: "ind-close",
	Interp: "interp", LBrace: "lbrace", RBrace: "rbrace", Punct: "punct",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Token is one lexeme: src[Start:End], on line Line (1-based) where it starts.
// The tokens of an input cover it exactly, in order.
type Token struct {
	Start, End int32
	Line       int32
	Kind       Kind
}

// Start conditions, as in lexer.l. The bottom of the stack is INITIAL,
// which a stray '}' never pops.
type lexState uint8

const (
	stDefault lexState = iota
	stString
	stInd
	stInPath
	stInPathSlash
)

type lexer struct {
	src   []byte
	pos   int
	line  int32
	stack []lexState
	toks  []Token
	// The end of the run of path characters (and of URI scheme
	// characters) that contains the position last asked about: every
	// token inside a long run (a.b.c.…) would otherwise rescan it.
	pathRunStart, pathRunEnd     int
	schemeRunStart, schemeRunEnd int
	// The last search for */: from where, and where it was found (-1:
	// nowhere), so that many unterminated /* do not each scan to the end.
	closeFrom, closeAt int
}

// Lex appends the tokens of src to dst and returns it. Inputs over 2 GiB are
// not supported (positions are 32-bit); callers bound file sizes.
func Lex(dst []Token, src []byte) []Token {
	lx := lexer{src: src, line: 1, toks: dst, closeFrom: -1}
	lx.run()
	return lx.toks
}

func (lx *lexer) top() lexState {
	if n := len(lx.stack); n > 0 {
		return lx.stack[n-1]
	}
	return stDefault
}

func (lx *lexer) push(s lexState) { lx.stack = append(lx.stack, s) }

func (lx *lexer) pop() {
	if n := len(lx.stack); n > 0 {
		lx.stack = lx.stack[:n-1]
	}
}

// emit adds a token of n bytes at the current position.
func (lx *lexer) emit(k Kind, n int) {
	start := lx.pos
	lx.toks = append(lx.toks, Token{Start: int32(start), End: int32(start + n), Line: lx.line, Kind: k})
	switch k {
	case Space, Comment, StrText, IndText, IndOpen:
		// Only these can hold a line break. (Nix also counts a lone \r as
		// one; lines here only name places in reports.)
		lx.line += int32(bytes.Count(lx.src[start:start+n], []byte{'\n'}))
	}
	lx.pos += n
}

func (lx *lexer) run() {
	for lx.pos < len(lx.src) {
		switch lx.top() {
		case stString:
			lx.inString()
		case stInd:
			lx.inInd()
		case stInPath, stInPathSlash:
			lx.inPath()
		default:
			lx.inDefault()
		}
	}
	// flex ends an open path at EOF with PATH_END.
	for n := len(lx.stack); n > 0; n-- {
		if s := lx.stack[n-1]; s == stInPath || s == stInPathSlash {
			lx.emit(PathEnd, 0)
		}
	}
}

func isPathChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIDStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

func isIDChar(c byte) bool { return isIDStart(c) || isDigit(c) || c == '\'' || c == '-' }

func isURIScheme(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '+' || c == '-' || c == '.'
}

func isURIChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) {
		return true
	}
	switch c {
	case '%', '/', '?', ':', '@', '&', '=', '+', '$', ',', '-', '_', '.', '!', '~', '*', '\'':
		return true
	}
	return false
}

func (lx *lexer) at(i int) byte {
	if i < len(lx.src) {
		return lx.src[i]
	}
	return 0
}

// The match functions return the length of the longest match of one
// lexer.l pattern at p, or 0.

func (lx *lexer) idLen(p int) int {
	if !isIDStart(lx.at(p)) {
		return 0
	}
	q := p + 1
	for q < len(lx.src) && isIDChar(lx.src[q]) {
		q++
	}
	return q - p
}

func (lx *lexer) digits(p int) int {
	q := p
	for q < len(lx.src) && isDigit(lx.src[q]) {
		q++
	}
	return q - p
}

// floatLen: (([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?
func (lx *lexer) floatLen(p int) int {
	best := 0
	if c := lx.at(p); '1' <= c && c <= '9' {
		q := p + 1 + lx.digits(p+1)
		if lx.at(q) == '.' {
			q++
			best = q + lx.digits(q) - p
		}
	}
	for _, q := range [2]int{p, p + 1} {
		if q == p+1 && lx.at(p) != '0' {
			continue
		}
		if lx.at(q) == '.' {
			if d := lx.digits(q + 1); d > 0 && q+1+d-p > best {
				best = q + 1 + d - p
			}
		}
	}
	if best == 0 {
		return 0
	}
	q := p + best
	if c := lx.at(q); c == 'e' || c == 'E' {
		r := q + 1
		if c := lx.at(r); c == '+' || c == '-' {
			r++
		}
		if d := lx.digits(r); d > 0 {
			best = r + d - p
		}
	}
	return best
}

func (lx *lexer) pathChars(p int) int {
	if p < lx.pathRunStart || p >= lx.pathRunEnd {
		if p >= len(lx.src) || !isPathChar(lx.src[p]) {
			return 0
		}
		q := p
		for q < len(lx.src) && isPathChar(lx.src[q]) {
			q++
		}
		lx.pathRunStart, lx.pathRunEnd = p, q
	}
	return lx.pathRunEnd - p
}

func (lx *lexer) schemeChars(p int) int {
	if p < lx.schemeRunStart || p >= lx.schemeRunEnd {
		if p >= len(lx.src) || !isURIScheme(lx.src[p]) {
			return 0
		}
		q := p
		for q < len(lx.src) && isURIScheme(lx.src[q]) {
			q++
		}
		lx.schemeRunStart, lx.schemeRunEnd = p, q
	}
	return lx.schemeRunEnd - p
}

// slashGroups matches (\/{PATH_CHAR}+)* at p and returns its length and the
// number of groups.
func (lx *lexer) slashGroups(p int) (int, int) {
	q, n := p, 0
	for lx.at(q) == '/' {
		k := lx.pathChars(q + 1)
		if k == 0 {
			break
		}
		q += 1 + k
		n++
	}
	return q - p, n
}

// pathLen: {PATH_CHAR}*(\/{PATH_CHAR}+)+\/?
func (lx *lexer) pathLen(p int) int {
	q := p + lx.pathChars(p)
	g, n := lx.slashGroups(q)
	if n == 0 {
		return 0
	}
	q += g
	if lx.at(q) == '/' {
		q++
	}
	return q - p
}

// pathSegLen: {PATH_CHAR}*\/
func (lx *lexer) pathSegLen(p int) int {
	q := p + lx.pathChars(p)
	if lx.at(q) != '/' {
		return 0
	}
	return q + 1 - p
}

// hpathLen: \~(\/{PATH_CHAR}+)+\/?
func (lx *lexer) hpathLen(p int) int {
	if lx.at(p) != '~' {
		return 0
	}
	g, n := lx.slashGroups(p + 1)
	if n == 0 {
		return 0
	}
	q := p + 1 + g
	if lx.at(q) == '/' {
		q++
	}
	return q - p
}

// spathLen: \<{PATH_CHAR}+(\/{PATH_CHAR}+)*\>
func (lx *lexer) spathLen(p int) int {
	if lx.at(p) != '<' {
		return 0
	}
	k := lx.pathChars(p + 1)
	if k == 0 {
		return 0
	}
	q := p + 1 + k
	g, _ := lx.slashGroups(q)
	q += g
	if lx.at(q) != '>' {
		return 0
	}
	return q + 1 - p
}

// uriLen: [a-zA-Z][a-zA-Z0-9\+\-\.]*\:[a-zA-Z0-9\%\/\?\:\@\&\=\+\$\,\-\_\.\!\~\*\']+
func (lx *lexer) uriLen(p int) int {
	c := lx.at(p)
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return 0
	}
	q := p + 1 + lx.schemeChars(p+1)
	if lx.at(q) != ':' {
		return 0
	}
	q++
	r := q
	for r < len(lx.src) && isURIChar(lx.src[r]) {
		r++
	}
	if r == q {
		return 0
	}
	return r - p
}

// longCommentLen: \/\*([^*]|\*+[^*/])*\*+\/ — the first */ after /*.
func (lx *lexer) longCommentLen(p int) int {
	if lx.at(p) != '/' || lx.at(p+1) != '*' {
		return 0
	}
	from := p + 2
	if lx.closeFrom < 0 || from < lx.closeFrom || lx.closeAt >= 0 && lx.closeAt < from {
		lx.closeFrom, lx.closeAt = from, -1
		if k := bytes.Index(lx.src[from:], []byte("*/")); k >= 0 {
			lx.closeAt = from + k
		}
	}
	if lx.closeAt < 0 {
		return 0
	}
	return lx.closeAt + 2 - p
}

// twoCharOp reports whether ab is one of == != <= >= && || -> // ++ <| |>.
func twoCharOp(a, b byte) bool {
	switch a {
	case '=', '!', '>':
		return b == '='
	case '<':
		return b == '=' || b == '|'
	case '&':
		return b == '&'
	case '|':
		return b == '|' || b == '>'
	case '-':
		return b == '>'
	case '/':
		return b == '/'
	case '+':
		return b == '+'
	}
	return false
}

// inDefault scans one token in the DEFAULT (or INITIAL) condition: every
// rule that can match is tried, the longest wins, ties go to the rule that
// comes first in lexer.l.
func (lx *lexer) inDefault() {
	p := lx.pos
	s := lx.src
	c := s[p]

	// Candidates in lexer.l's rule order; the first strictly longest wins.
	const (
		rOp = iota
		rID
		rInt
		rFloat
		rInterp
		rRBrace
		rLBrace
		rQuote
		rIndOpen
		rPathSegInterp
		rHPathInterp
		rPath
		rHPath
		rSPath
		rURI
		rSpace
		rHash
		rLongComment
		rAny
	)
	best, bestRule := 1, rAny

	try := func(n, rule int) {
		if n > best || n == best && rule < bestRule {
			best, bestRule = n, rule
		}
	}

	if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
		// Only the whitespace rule matches a blank.
		q := p
		for q < len(s) && (s[q] == ' ' || s[q] == '\t' || s[q] == '\r' || s[q] == '\n') {
			q++
		}
		lx.emit(Space, q-p)
		return
	}
	if c == '.' && lx.at(p+1) == '.' && lx.at(p+2) == '.' {
		try(3, rOp)
	}
	if p+1 < len(s) && twoCharOp(c, s[p+1]) {
		try(2, rOp)
	}
	try(lx.idLen(p), rID)
	if isDigit(c) {
		try(lx.digits(p), rInt)
	}
	if isDigit(c) || c == '.' {
		try(lx.floatLen(p), rFloat)
	}
	switch c {
	case '$':
		if lx.at(p+1) == '{' {
			try(2, rInterp)
		}
	case '}':
		try(1, rRBrace)
	case '{':
		try(1, rLBrace)
	case '"':
		try(1, rQuote)
	case '\'':
		if lx.at(p+1) == '\'' {
			n := 2
			q := p + 2
			for lx.at(q) == ' ' {
				q++
			}
			if lx.at(q) == '\n' {
				n = q + 1 - p
			}
			try(n, rIndOpen)
		}
	case '~':
		if lx.at(p+1) == '/' && lx.at(p+2) == '$' && lx.at(p+3) == '{' {
			try(4, rHPathInterp)
		}
		try(lx.hpathLen(p), rHPath)
	case '<':
		try(lx.spathLen(p), rSPath)
	case '#':
		q := p
		for q < len(s) && s[q] != '\r' && s[q] != '\n' {
			q++
		}
		try(q-p, rHash)
	case '/':
		try(lx.longCommentLen(p), rLongComment)
	}
	if isPathChar(c) || c == '/' {
		if seg := lx.pathSegLen(p); seg > 0 && lx.at(p+seg) == '$' && lx.at(p+seg+1) == '{' {
			try(seg+2, rPathSegInterp)
		}
		try(lx.pathLen(p), rPath)
	}
	try(lx.uriLen(p), rURI)

	switch bestRule {
	case rOp, rAny:
		lx.emit(Punct, best)
	case rID:
		lx.emit(Ident, best)
	case rInt:
		lx.emit(Int, best)
	case rFloat:
		lx.emit(Float, best)
	case rInterp:
		lx.push(stDefault)
		lx.emit(Interp, best)
	case rRBrace:
		lx.pop()
		lx.emit(RBrace, best)
	case rLBrace:
		lx.push(stDefault)
		lx.emit(LBrace, best)
	case rQuote:
		lx.push(stString)
		lx.emit(StrOpen, best)
	case rIndOpen:
		lx.push(stInd)
		lx.emit(IndOpen, best)
	case rPathSegInterp:
		// PATH_START: the segment is the path, ${ follows.
		lx.push(stInPathSlash)
		lx.emit(Path, best-2)
	case rHPathInterp:
		lx.push(stInPathSlash)
		lx.emit(HomePath, 2)
	case rPath, rHPath:
		if s[p+best-1] == '/' {
			lx.push(stInPathSlash)
		} else {
			lx.push(stInPath)
		}
		if bestRule == rPath {
			lx.emit(Path, best)
		} else {
			lx.emit(HomePath, best)
		}
	case rSPath:
		lx.emit(SearchPath, best)
	case rURI:
		lx.emit(URI, best)
	case rSpace:
		lx.emit(Space, best)
	case rHash, rLongComment:
		lx.emit(Comment, best)
	}
}

// inPath scans inside a path literal that may continue (INPATH,
// INPATH_SLASH): an interpolation, more literal path, or its end.
func (lx *lexer) inPath() {
	p := lx.pos
	if lx.at(p) == '$' && lx.at(p+1) == '{' {
		lx.pop()
		lx.push(stInPath)
		lx.push(stDefault)
		lx.emit(Interp, 2)
		return
	}
	n := lx.pathLen(p)
	if k := lx.pathSegLen(p); k > n {
		n = k
	}
	if k := lx.pathChars(p); k > n {
		n = k
	}
	if n > 0 {
		lx.pop()
		if lx.src[p+n-1] == '/' {
			lx.push(stInPathSlash)
		} else {
			lx.push(stInPath)
		}
		lx.emit(PathText, n)
		return
	}
	// Anything else ends the path and is scanned again outside it. (After
	// a trailing slash Nix reports an error; ending the path is what
	// lets the rest of the file still be read.)
	lx.pop()
	lx.emit(PathEnd, 0)
}

// inString scans inside "…".
func (lx *lexer) inString() {
	p := lx.pos
	s := lx.src
	switch {
	case s[p] == '"':
		lx.pop()
		lx.emit(StrClose, 1)
		return
	case s[p] == '$' && lx.at(p+1) == '{':
		lx.push(stDefault)
		lx.emit(Interp, 2)
		return
	}
	q := p
	for q < len(s) {
		c := s[q]
		if c == '"' {
			break
		}
		if c == '\\' {
			if q+1 >= len(s) {
				q++
				break
			}
			q += 2
			continue
		}
		if c == '$' {
			next := lx.at(q + 1)
			if next == '{' {
				break
			}
			if q+1 >= len(s) || next == '"' {
				q++
				continue
			}
			if next == '\\' {
				// \$\\{ANY}: the dollar, then an escape.
				if q+2 >= len(s) {
					q += 2
					break
				}
				q += 3
				continue
			}
			q += 2 // $ and any character but { " \ — so $${ is no interpolation
			continue
		}
		q++
	}
	lx.emit(StrText, q-p)
}

// inInd scans inside an indented string.
func (lx *lexer) inInd() {
	p := lx.pos
	s := lx.src
	if s[p] == '\'' && lx.at(p+1) == '\'' {
		switch lx.at(p + 2) {
		case '$', '\'':
			lx.emit(IndText, 3) // ''$ and '''
			return
		case '\\':
			if p+3 < len(s) {
				lx.emit(IndText, 4) // ''\ANY
				return
			}
		}
		lx.pop()
		lx.emit(IndClose, 2)
		return
	}
	if s[p] == '$' && lx.at(p+1) == '{' {
		lx.push(stDefault)
		lx.emit(Interp, 2)
		return
	}
	q := p
	for q < len(s) {
		c := s[q]
		if c == '$' {
			next := lx.at(q + 1)
			if q+1 >= len(s) || next == '{' || next == '\'' {
				break
			}
			q += 2
			continue
		}
		if c == '\'' {
			next := lx.at(q + 1)
			if q+1 >= len(s) || next == '\'' || next == '$' {
				break
			}
			q += 2
			continue
		}
		q++
	}
	if q == p {
		q = p + 1 // a lone $ or ' is text of its own
	}
	lx.emit(IndText, q-p)
}
