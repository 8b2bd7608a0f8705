package brew

import (
	"runtime"
	"strings"
)

// platform is what a Brewfile's static conditions ask about the machine.
// Homebrew answers OS.mac? and OS.linux? from Ruby's host_os, and
// Hardware::CPU.arm? and intel? from the CPU type it runs on (os.rb and
// hardware.rb in Homebrew/brew's Library/Homebrew); sysinit answers them
// from the platform it was built for, which is the one brew runs on when
// sysinit starts it.
type platform struct {
	OS   string // a GOOS: darwin, linux; "" answers no to both OS questions
	Arch string // a GOARCH: arm64, amd64
}

// runningPlatform is the platform sysinit runs on.
func runningPlatform() platform { return platform{OS: runtime.GOOS, Arch: runtime.GOARCH} }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// predicates are the questions sysinit decides, as Brewfiles write them.
var predicates = map[string]func(platform) bool{
	"OS.mac?":              func(p platform) bool { return p.OS == "darwin" },
	"OS.linux?":            func(p platform) bool { return p.OS == "linux" },
	"Hardware::CPU.arm?":   func(p platform) bool { return p.Arch == "arm64" || p.Arch == "arm" },
	"Hardware::CPU.intel?": func(p platform) bool { return p.Arch == "amd64" || p.Arch == "386" },
}

type condOp uint8

const (
	condTrue condOp = iota + 1
	condFalse
	condPred    // one of predicates
	condUnknown // anything else: ENV, system, File.exist?, a variable
	condNot
	condAnd
	condOr
)

// cond is a Ruby condition as far as sysinit can read it: the platform
// predicates, true, false and nil, joined by !, not, &&, ||, and, or and
// parentheses. What else it holds is an unknown leaf, which only Ruby can
// evaluate.
type cond struct {
	op   condOp
	text string // condPred: the predicate; condUnknown: the code
	x, y *cond
}

// andCond is x && y; nil stands for true.
func andCond(x, y *cond) *cond {
	switch {
	case x == nil:
		return y
	case y == nil:
		return x
	}
	return &cond{op: condAnd, x: x, y: y}
}

// notCond is !x.
func notCond(x *cond) *cond {
	if x.op == condNot {
		return x.x
	}
	return &cond{op: condNot, x: x}
}

func unknownCond(text string) *cond { return &cond{op: condUnknown, text: text} }

// Eval evaluates c on p as Ruby would, left to right with short circuits.
// When the evaluation reaches an unknown leaf it stops and returns it:
// then only Ruby knows the value — and what evaluating it does. A nil c is
// true.
func (c *cond) Eval(p platform) (value bool, unknown *cond) {
	if c == nil {
		return true, nil
	}
	switch c.op {
	case condTrue:
		return true, nil
	case condFalse:
		return false, nil
	case condPred:
		return predicates[c.text](p), nil
	case condNot:
		v, u := c.x.Eval(p)
		return !v, u
	case condAnd:
		v, u := c.x.Eval(p)
		if u != nil || !v {
			return false, u
		}
		return c.y.Eval(p)
	case condOr:
		v, u := c.x.Eval(p)
		if u != nil || v {
			return v, u
		}
		return c.y.Eval(p)
	}
	return false, c // condUnknown
}

// HasUnknown reports whether some leaf of c is not a platform question.
func (c *cond) HasUnknown() bool {
	if c == nil {
		return false
	}
	if c.op == condUnknown {
		return true
	}
	return c.x.HasUnknown() || c.y.HasUnknown()
}

// usesPlatform reports whether c asks about the platform.
func (c *cond) usesPlatform() bool {
	if c == nil {
		return false
	}
	return c.op == condPred || c.x.usesPlatform() || c.y.usesPlatform()
}

// String renders c as Ruby, fully parenthesized.
func (c *cond) String() string {
	if c == nil {
		return "true"
	}
	switch c.op {
	case condTrue:
		return "true"
	case condFalse:
		return "false"
	case condPred, condUnknown:
		return c.text
	case condNot:
		return "!" + c.x.wrapped()
	case condAnd:
		return c.x.wrapped() + " && " + c.y.wrapped()
	case condOr:
		return c.x.wrapped() + " || " + c.y.wrapped()
	}
	return "?"
}

func (c *cond) wrapped() string {
	if c.op == condAnd || c.op == condOr || c.op == condUnknown && strings.ContainsAny(c.text, " ") {
		return "(" + c.String() + ")"
	}
	return c.String()
}

// parseCond reads a Ruby condition, as written after `if`. It never fails:
// what it cannot read becomes an unknown leaf.
func parseCond(src string) *cond {
	toks, _, err := lex("condition", []byte(src))
	if err != nil {
		return unknownCond(strings.TrimSpace(src))
	}
	var body []token
	for _, t := range toks {
		if t.kind != tNewline && t.kind != tEOF {
			body = append(body, t)
		}
	}
	return readCond(body)
}

// poison are the tokens that bind more loosely than `and`/`or` or make the
// text something other than a boolean expression (a ternary, an
// assignment, a range, a modifier): a condition holding one at its top
// level is unknown as a whole.
var poison = map[string]bool{
	"?": true, ":": true, "=": true, "+=": true, "-=": true, "*=": true, "/=": true, "||=": true, "&&=": true,
	"|=": true, "&=": true, "**=": true, "..": true, "...": true, "=>": true,
	"if": true, "unless": true, "while": true, "until": true, "rescue": true, "then": true, "do": true, "end": true,
	"case": true, "begin": true, "for": true, "def": true, "class": true, "module": true, "when": true, "else": true,
	"elsif": true,
}

// readCond reads toks, a whole condition.
func readCond(toks []token) *cond {
	if len(toks) == 0 {
		return unknownCond("")
	}
	depth := 0
	for _, t := range toks {
		switch {
		case t.opens():
			depth++
		case t.closes():
			depth--
		case depth == 0 && (t.kind == tPunct || t.kind == tIdent) && poison[t.text]:
			return unknownCond(render(toks))
		}
	}
	r := &condReader{toks: toks}
	c := r.expr()
	if r.i != len(toks) {
		return unknownCond(render(toks))
	}
	return c
}

type condReader struct {
	toks []token
	i    int
}

func (r *condReader) peek() (token, bool) {
	if r.i < len(r.toks) {
		return r.toks[r.i], true
	}
	return token{}, false
}

func (r *condReader) isWord(words ...string) bool {
	t, ok := r.peek()
	if !ok || t.kind != tIdent {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (r *condReader) isPunct(p string) bool {
	t, ok := r.peek()
	return ok && t.is(tPunct, p)
}

// Ruby's precedence, loosest first: `and`/`or` (equal, from the left),
// `not`, `||`, `&&`, `!`.
func (r *condReader) expr() *cond {
	x := r.notExpr()
	for r.isWord("and", "or") {
		op := condAnd
		if r.toks[r.i].text == "or" {
			op = condOr
		}
		r.i++
		x = &cond{op: op, x: x, y: r.notExpr()}
	}
	return x
}

func (r *condReader) notExpr() *cond {
	if r.isWord("not") {
		r.i++
		return notCond(r.notExpr())
	}
	return r.orExpr()
}

func (r *condReader) orExpr() *cond {
	x := r.andExpr()
	for r.isPunct("||") {
		r.i++
		x = &cond{op: condOr, x: x, y: r.andExpr()}
	}
	return x
}

func (r *condReader) andExpr() *cond {
	x := r.unary()
	for r.isPunct("&&") {
		r.i++
		x = &cond{op: condAnd, x: x, y: r.unary()}
	}
	return x
}

func (r *condReader) unary() *cond {
	if r.isPunct("!") {
		r.i++
		return notCond(r.unary())
	}
	return r.primary()
}

// primary reads a parenthesized condition or a leaf: the tokens up to the
// next boolean operator outside brackets.
func (r *condReader) primary() *cond {
	start := r.i
	if r.isPunct("(") {
		end := r.i + closing(r.toks[r.i:])
		if end < len(r.toks) && r.toks[end].is(tPunct, ")") && r.endsOperand(end+1) {
			r.i = end + 1
			return readCond(r.toks[start+1 : end])
		}
	}
	depth := 0
	for r.i < len(r.toks) {
		t := r.toks[r.i]
		if depth == 0 && (t.is(tPunct, "&&") || t.is(tPunct, "||") || t.kind == tIdent && (t.text == "and" || t.text == "or")) {
			break
		}
		if t.opens() {
			depth++
		} else if t.closes() {
			depth--
		}
		r.i++
	}
	return leaf(r.toks[start:r.i])
}

// endsOperand reports whether an operand may end before toks[i].
func (r *condReader) endsOperand(i int) bool {
	if i >= len(r.toks) {
		return true
	}
	t := r.toks[i]
	return t.is(tPunct, "&&") || t.is(tPunct, "||") || t.kind == tIdent && (t.text == "and" || t.text == "or")
}

// leaf reads one operand: a platform predicate, true, false, nil, or code
// only Ruby can evaluate.
func leaf(toks []token) *cond {
	text := render(toks)
	if len(toks) == 1 && toks[0].kind == tIdent {
		switch toks[0].text {
		case "true":
			return &cond{op: condTrue}
		case "false", "nil":
			return &cond{op: condFalse}
		}
	}
	// ::OS.mac? names the same constant as OS.mac?.
	name := strings.TrimPrefix(text, "::")
	if _, ok := predicates[name]; ok && plainCall(toks) {
		return &cond{op: condPred, text: name}
	}
	return unknownCond(text)
}

// plainCall reports whether toks are a constant path and a method name,
// nothing computed: `OS.mac?`, `::Hardware::CPU.arm?`.
func plainCall(toks []token) bool {
	for _, t := range toks {
		if t.dyn != "" || t.kind != tIdent && !(t.kind == tPunct && (t.text == "." || t.text == "::")) {
			return false
		}
	}
	return true
}

// render writes tokens back as code, for messages and predicate names.
func render(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.space {
			b.WriteByte(' ')
		}
		switch t.kind {
		case tString:
			b.WriteString(quote(t.text))
		case tSymbol:
			b.WriteString(":" + t.text)
		case tLabel:
			b.WriteString(t.text + ":")
		case tWords:
			b.WriteString("%w[" + strings.Join(t.words, " ") + "]")
		default:
			b.WriteString(t.text)
		}
	}
	return b.String()
}
