package brew

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

type parser struct {
	name     string
	lines    []string
	comments map[int]string
	bf       *Brewfile
	blocks   []block // open if/while/do … blocks, innermost last
	guard    *cond   // what holds where the current statement starts
}

// block is an open block. Its guard is what holds inside its current
// branch: for an if or unless, the branch's conditions (decided later, on
// a platform); for a loop, a method body or a block passed to a call, an
// unknown leaf.
type block struct {
	kind  string  // "if", "unless", or "other"
	taken []*cond // if and unless: the condition of each branch so far
	guard *cond
}

type stmt struct {
	toks []token
	line int
}

// notStatic is a value that is computed, not written out.
type notStatic struct {
	tok token
	why string
}

func (e *notStatic) Error() string { return e.why }

// continues reports whether a line ending in t goes on on the next line.
func continues(t token) bool {
	if t.kind != tPunct {
		return false
	}
	switch t.text {
	case ",", "=>", "&&", "||", "=", ".", "&.", "+", "-", "*", "||=", "&&=", "+=", "-=", "::", "?", ":":
		return true
	}
	return false
}

var openers = map[string]string{"(": ")", "[": "]", "{": "}"}

// split groups tokens into statements: a newline ends one unless brackets
// are open or the line ends in a comma or an operator.
func (p *parser) split(toks []token) ([]stmt, error) {
	var out []stmt
	// Statements are windows on one array, which never grows past
	// len(toks), so appending never moves what earlier windows see.
	all := make([]token, 0, len(toks))
	start := 0
	cur := all[:0]
	var open []token
	for _, t := range toks {
		switch {
		case t.kind == tEOF:
			if len(open) > 0 {
				o := open[len(open)-1]
				return nil, &syntaxError{File: p.name, Line: o.line, Msg: fmt.Sprintf("%q is never closed", o.text)}
			}
			if len(cur) > 0 {
				last := cur[len(cur)-1]
				return nil, &syntaxError{File: p.name, Line: last.line, Msg: fmt.Sprintf("the file ends after %q", last.text)}
			}
		case t.kind == tNewline:
			if len(open) > 0 || t.text == "\n" && len(cur) > 0 && continues(cur[len(cur)-1]) {
				continue
			}
			if len(cur) > 0 {
				out = append(out, stmt{toks: cur[:len(cur):len(cur)], line: cur[0].line})
				start += len(cur)
				cur = all[start:start]
			}
		case t.opens():
			open = append(open, t)
			cur = append(cur, t)
		case t.closes():
			if len(open) == 0 {
				return nil, &syntaxError{File: p.name, Line: t.line, Msg: fmt.Sprintf("unexpected %q: nothing to close", t.text)}
			}
			o := open[len(open)-1]
			if openers[o.text] != t.text {
				return nil, &syntaxError{File: p.name, Line: t.line, Msg: fmt.Sprintf("%q does not close %q from line %d", t.text, o.text, o.line)}
			}
			open = open[:len(open)-1]
			cur = append(cur, t)
		default:
			cur = append(cur, t)
		}
	}
	return out, nil
}

// blockWords open a block that `end` closes when they start an expression.
var blockWords = map[string]string{
	"if": "conditional", "unless": "conditional", "case": "conditional",
	"while": "loop", "until": "loop", "for": "loop",
	"begin": "begin block", "def": "method definition", "class": "class definition", "module": "module definition",
}

// modifiers guard what comes before them: `brew "x" if OS.mac?`.
var modifiers = map[string]string{
	"if": "conditional", "unless": "conditional", "while": "loop", "until": "loop",
	"rescue": "rescue", "and": "conditional", "or": "conditional", "do": "block",
}

var commandWords = map[string]string{
	"system": "runs a command", "exec": "runs a command", "spawn": "runs a command", "fork": "runs a command",
	"require": "loads Ruby code", "require_relative": "loads Ruby code", "load": "loads Ruby code",
	"eval": "loads Ruby code", "instance_eval": "loads Ruby code", "binding": "loads Ruby code",
	"puts": "prints", "print": "prints", "raise": "raises", "abort": "exits", "exit": "exits",
}

// startsExpression reports whether a keyword after t begins an expression
// (so `x = if …` opens a block while `brew "a" if …` does not).
func startsExpression(t token) bool {
	if t.kind == tNewline || t.kind == tLabel {
		return true
	}
	if t.kind == tIdent {
		return t.text == "return" || t.text == "then" || t.text == "else" || t.text == "do" || t.text == "not"
	}
	if t.kind != tPunct {
		return false
	}
	return t.text != ")" && t.text != "]" && t.text != "}"
}

// track follows block nesting through a statement, so entries inside an
// `if … end` or a loop are known to be conditional.
func (p *parser) track(toks []token) {
	loop := false // while/until/for take an optional `do` that opens nothing
	for i, t := range toks {
		if t.kind != tIdent {
			continue
		}
		prev := token{kind: tNewline}
		if i > 0 {
			prev = toks[i-1]
		}
		if prev.kind == tPunct && (prev.text == "." || prev.text == "&." || prev.text == "::") {
			continue // a method named like a keyword
		}
		switch t.text {
		case "end":
			if len(p.blocks) > 0 {
				p.blocks = p.blocks[:len(p.blocks)-1]
			}
		case "do":
			if !loop {
				p.open(t.line, "block")
			}
			loop = false
		case "if", "unless", "while", "until":
			if startsExpression(prev) {
				p.open(t.line, blockWords[t.text])
				loop = t.text == "while" || t.text == "until"
			}
		case "for":
			p.open(t.line, "loop")
			loop = true
		case "case", "begin", "def", "class", "module":
			p.open(t.line, blockWords[t.text])
		}
	}
}

// open opens a block that sysinit cannot see into.
func (p *parser) open(line int, why string) {
	p.blocks = append(p.blocks, block{kind: "other", guard: unknownCond(fmt.Sprintf("(%s on line %d)", why, line))})
}

// guardHere is what holds inside the open blocks.
func (p *parser) guardHere() *cond {
	var g *cond
	for _, b := range p.blocks {
		g = andCond(g, b.guard)
	}
	return g
}

func (p *parser) top() *block {
	if len(p.blocks) == 0 {
		return nil
	}
	return &p.blocks[len(p.blocks)-1]
}

// header reads the condition of an `if`, `unless` or `elsif` line: what
// follows the keyword, up to an optional `then`. It is not a header when
// the line goes on after `then` or opens a block of its own.
func header(toks []token) ([]token, bool) {
	if n := len(toks); n > 0 && toks[n-1].is(tIdent, "then") {
		toks = toks[:n-1]
	}
	if len(toks) == 0 {
		return nil, false
	}
	for i, t := range toks {
		if t.kind != tIdent || i > 0 && toks[i-1].kind == tPunct && (toks[i-1].text == "." || toks[i-1].text == "&." || toks[i-1].text == "::") {
			continue
		}
		switch t.text {
		case "then", "end", "do", "if", "unless", "while", "until", "case", "begin", "for", "def", "class", "module":
			return nil, false
		}
	}
	return toks, true
}

// branch handles the lines that open or go on with an if or unless block:
// `if COND`, `unless COND`, `elsif COND`, `else`. It reports whether st
// was one.
func (p *parser) branch(st stmt) bool {
	first := st.toks[0]
	if first.kind != tIdent {
		return false
	}
	switch first.text {
	case "if", "unless":
		toks, ok := header(st.toks[1:])
		if !ok {
			return false
		}
		c := p.cond(toks)
		taken := c
		if first.text == "unless" {
			taken = notCond(c)
		}
		if c.HasUnknown() {
			p.dynamicAt(st.line, "conditional", andCond(p.guardHere(), c))
		}
		p.blocks = append(p.blocks, block{kind: first.text, taken: []*cond{taken}, guard: taken})
		return true
	case "elsif", "else":
		b := p.top()
		toks, ok := header(st.toks[1:])
		if first.text == "else" {
			ok = len(st.toks) == 1
		}
		if b == nil || b.kind != "if" && (b.kind != "unless" || first.text != "else") || !ok {
			// Not a branch sysinit can follow. Inside a loop or a case
			// the block's own line says so already; otherwise the block
			// is opaque from here on.
			if b == nil || b.kind != "other" {
				if b != nil {
					*b = block{kind: "other", guard: unknownCond(fmt.Sprintf("(%s on line %d)", first.text, st.line))}
				}
				p.dynamicAt(st.line, "conditional", p.guardHere())
			}
			return true
		}
		// A branch holds when the ones before it did not, and its own
		// condition does; Ruby evaluates them in that order.
		var g *cond
		for _, t := range b.taken {
			g = andCond(g, notCond(t))
		}
		if first.text == "elsif" {
			c := p.cond(toks)
			g = andCond(g, c)
			b.taken = append(b.taken, c)
			if c.HasUnknown() {
				p.dynamicAt(st.line, "conditional", andCond(p.guardOutside(), g))
			}
		}
		b.guard = g
		return true
	}
	return false
}

// guardOutside is what holds where the innermost open block starts.
func (p *parser) guardOutside() *cond {
	var g *cond
	for _, b := range p.blocks[:len(p.blocks)-1] {
		g = andCond(g, b.guard)
	}
	return g
}

// cond reads a condition and notes whether it asks about the platform.
func (p *parser) cond(toks []token) *cond {
	c := readCond(toks)
	if c.usesPlatform() {
		p.bf.platform = true
	}
	return c
}

func (p *parser) text(line int) string {
	if line < 1 || line > len(p.lines) {
		return ""
	}
	s := strings.TrimSpace(strings.TrimRight(p.lines[line-1], "\r"))
	const max = 48
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}

// dynamic records a line that computes something wherever it is reached.
func (p *parser) dynamic(line int, why string) {
	p.dynamicAt(line, why, andCond(p.guard, unknownCond(fmt.Sprintf("(%s on line %d)", why, line))))
}

// dynamicAt records a line that computes something where evaluating at
// reaches an unknown leaf.
func (p *parser) dynamicAt(line int, why string, at *cond) {
	if n := len(p.bf.Dynamic); n > 0 && p.bf.Dynamic[n-1].Line == line {
		return // one reason per line is enough
	}
	p.bf.Dynamic = append(p.bf.Dynamic, dynamic{Line: line, Why: why, Text: p.text(line), at: at})
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &syntaxError{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) statement(st stmt) error {
	p.guard = p.guardHere()
	if p.branch(st) {
		return nil
	}
	outside := len(p.blocks) == 0
	p.track(st.toks)
	first := st.toks[0]
	if first.kind == tIdent {
		switch {
		case slices.Contains(entryTypes, first.text) && !isAssignment(st.toks):
			return p.entry(st)
		case first.text == "cask_args" && !isAssignment(st.toks):
			return p.caskArgs(st)
		case first.text == "end" || first.text == "else" || first.text == "elsif" || first.text == "when" ||
			first.text == "in" || first.text == "then" || first.text == "rescue" || first.text == "ensure":
			// Part of a block whose opening line is already recorded.
			if outside && first.text != "end" {
				p.dynamic(st.line, "conditional")
			}
			return nil
		case blockWords[first.text] != "":
			p.dynamic(st.line, blockWords[first.text])
			return nil
		case commandWords[first.text] != "":
			p.dynamic(st.line, commandWords[first.text])
			return nil
		}
	}
	why := "expression"
	switch {
	case first.kind == tIdent && isAssignment(st.toks):
		why = "assigns " + first.text
	case first.kind == tIdent:
		why = "calls " + first.text
	}
	// What the line computes with says more than how it starts.
	for _, t := range st.toks {
		if t.dyn != "" {
			why = t.dyn
			break
		}
		if t.kind == tIdent && (t.text == "each" || t.text == "map" || t.text == "times") {
			why = "loop"
			break
		}
	}
	p.dynamic(st.line, why)
	return nil
}

func isAssignment(toks []token) bool {
	if len(toks) < 2 || toks[1].kind != tPunct {
		return false
	}
	switch toks[1].text {
	case "=", "||=", "&&=", "+=", "-=", "*=", "|=", "&=":
		return true
	}
	return false
}

// call splits a call's tokens (after the method name) into its argument
// list and what follows it (a modifier, a block, a method call).
func call(toks []token) (args, rest []token) {
	if len(toks) > 0 && toks[0].is(tPunct, "(") {
		// `brew ("x"), args: …` is a parenthesized first argument, not a
		// call's parentheses.
		if i := closing(toks); !(i+1 < len(toks) && toks[i+1].is(tPunct, ",")) {
			return toks[1:i], toks[i+1:]
		}
	}
	depth := 0
	for i, t := range toks {
		switch {
		case t.opens():
			depth++
		case t.closes():
			depth--
		case depth == 0 && t.kind == tIdent && modifiers[t.text] != "":
			return toks[:i], toks[i:]
		case depth == 0 && t.kind == tPunct && (t.text == "&&" || t.text == "||" || t.text == "."):
			return toks[:i], toks[i:]
		}
	}
	return toks, nil
}

// splitTop splits toks at top-level commas.
func splitTop(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.opens():
			depth++
		case t.closes():
			depth--
		case depth == 0 && t.is(tPunct, ","):
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// args reads positional values and key/value options. Options that cannot
// be read are left out and returned as notStatic.
func (p *parser) args(toks []token) (pos []value, posErr []error, opts []pair, dyn []*notStatic, err error) {
	if len(toks) == 0 {
		return nil, nil, nil, nil, nil
	}
	items := splitTop(toks)
	for i, it := range items {
		if len(it) == 0 {
			if i == len(items)-1 && i > 0 {
				continue // a trailing comma
			}
			return nil, nil, nil, nil, p.errorf(lineOf(toks), "an argument is missing between commas")
		}
		key, val, isPair, err := p.pair(it)
		if err != nil {
			var ns *notStatic
			if asNotStatic(err, &ns) {
				if isPair || len(opts) > 0 {
					dyn = append(dyn, ns)
					continue
				}
				pos = append(pos, value{})
				posErr = append(posErr, err)
				continue
			}
			return nil, nil, nil, nil, err
		}
		switch {
		case isPair:
			opts = append(opts, pair{Key: key, Value: val})
		case val.Kind == Hash && i == len(items)-1 && it[0].is(tPunct, "{"):
			opts = append(opts, val.Pairs...) // brew "x", { args: [...] }
		case len(opts) > 0:
			return nil, nil, nil, nil, p.errorf(it[0].line, "a value after key: value options; options go last")
		default:
			pos = append(pos, val)
			posErr = append(posErr, nil)
		}
	}
	return pos, posErr, opts, dyn, nil
}

func lineOf(toks []token) int {
	if len(toks) == 0 {
		return 0
	}
	return toks[0].line
}

func asNotStatic(err error, target **notStatic) bool {
	ns, ok := err.(*notStatic)
	if ok {
		*target = ns
	}
	return ok
}

// pair reads `key: value`, `:key => value`, `"key" => value` or a value.
func (p *parser) pair(it []token) (key string, val value, isPair bool, err error) {
	if it[0].kind == tLabel {
		if it[0].dyn != "" {
			return "", value{}, true, &notStatic{tok: it[0], why: it[0].dyn}
		}
		v, err := p.valueAll(it[1:], it[0])
		return it[0].text, v, true, err
	}
	depth := 0
	for i, t := range it {
		switch {
		case t.opens():
			depth++
		case t.closes():
			depth--
		case depth == 0 && t.is(tPunct, "=>"):
			k, err := p.valueAll(it[:i], t)
			if err != nil {
				return "", value{}, true, err
			}
			if k.Kind != String && k.Kind != Symbol {
				return "", value{}, true, &notStatic{tok: it[0], why: "hash key that is not a name"}
			}
			v, err := p.valueAll(it[i+1:], t)
			return k.Text, v, true, err
		}
	}
	v, err := p.valueAll(it, it[0])
	return "", v, false, err
}

// valueAll reads one value that must use every token.
func (p *parser) valueAll(toks []token, at token) (value, error) {
	if len(toks) == 0 {
		if at.kind == tLabel {
			// Ruby 3.1's `key:` shorthand takes a variable's value.
			return value{}, &notStatic{tok: at, why: "uses " + at.text}
		}
		return value{}, p.errorf(at.line, "a value is missing after %q", at.text)
	}
	v, n, err := p.value(toks)
	if err != nil {
		return value{}, err
	}
	if n < len(toks) {
		t := toks[n]
		why := "expression"
		if t.kind == tIdent && modifiers[t.text] != "" {
			why = modifiers[t.text]
		}
		return value{}, &notStatic{tok: t, why: why}
	}
	return v, nil
}

// value reads one literal at the start of toks and says how many tokens it
// used.
func (p *parser) value(toks []token) (value, int, error) {
	t := toks[0]
	if t.dyn != "" {
		return value{}, 0, &notStatic{tok: t, why: t.dyn}
	}
	switch t.kind {
	case tString:
		// Adjacent literals join: "a" "b" is "ab".
		s, n := t.text, 1
		for n < len(toks) && toks[n].kind == tString && toks[n].dyn == "" {
			s += toks[n].text
			n++
		}
		return value{Kind: String, Text: s}, n, nil
	case tSymbol:
		return value{Kind: Symbol, Text: t.text}, 1, nil
	case tInt:
		return value{Kind: Int, Text: t.text}, 1, nil
	case tFloat:
		return value{Kind: Float, Text: t.text}, 1, nil
	case tWords:
		v := value{Kind: Array, Items: []value{}}
		for _, w := range t.words {
			k := String
			if t.sym {
				k = Symbol
			}
			v.Items = append(v.Items, value{Kind: k, Text: w})
		}
		return v, 1, nil
	case tIdent:
		switch t.text {
		case "true", "false":
			return value{Kind: Bool, Bool: t.text == "true"}, 1, nil
		case "nil":
			return value{Kind: Nil}, 1, nil
		}
		return value{}, 0, &notStatic{tok: t, why: "uses " + t.text}
	case tPunct:
		switch t.text {
		case "-":
			if len(toks) > 1 && (toks[1].kind == tInt || toks[1].kind == tFloat) && !toks[1].space {
				text := toks[1].text
				if !strings.HasPrefix(text, "-") {
					text = "-" + text
				} else {
					text = text[1:]
				}
				k := Int
				if toks[1].kind == tFloat {
					k = Float
				}
				return value{Kind: k, Text: text}, 2, nil
			}
		case "[":
			return p.list(toks)
		case "{":
			return p.hash(toks)
		}
	}
	return value{}, 0, &notStatic{tok: t, why: "expression"}
}

// closing returns the index of the bracket closing toks[0].
func closing(toks []token) int {
	depth := 0
	for i, t := range toks {
		if t.opens() {
			depth++
		} else if t.closes() {
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(toks) - 1 // split guarantees balance
}

func (p *parser) list(toks []token) (value, int, error) {
	end := closing(toks)
	v := value{Kind: Array, Items: []value{}}
	inner := toks[1:end]
	if len(inner) > 0 {
		items := splitTop(inner)
		for i, it := range items {
			if len(it) == 0 {
				if i == len(items)-1 && i > 0 {
					continue
				}
				return value{}, 0, p.errorf(toks[0].line, "an item is missing between commas")
			}
			x, err := p.valueAll(it, it[0])
			if err != nil {
				return value{}, 0, err
			}
			v.Items = append(v.Items, x)
		}
	}
	return v, end + 1, nil
}

func (p *parser) hash(toks []token) (value, int, error) {
	end := closing(toks)
	v := value{Kind: Hash, Pairs: []pair{}}
	inner := toks[1:end]
	if len(inner) > 0 {
		if inner[0].is(tPunct, "|") {
			return value{}, 0, &notStatic{tok: toks[0], why: "block"}
		}
		items := splitTop(inner)
		for i, it := range items {
			if len(it) == 0 {
				if i == len(items)-1 && i > 0 {
					continue
				}
				return value{}, 0, p.errorf(toks[0].line, "a pair is missing between commas")
			}
			k, x, isPair, err := p.pair(it)
			if err != nil {
				return value{}, 0, err
			}
			if !isPair {
				return value{}, 0, &notStatic{tok: it[0], why: "block"}
			}
			v.Pairs = append(v.Pairs, pair{Key: k, Value: x})
		}
	}
	return v, end + 1, nil
}

// multiLine returns the first string in toks that runs over a line end.
func multiLine(toks []token) (token, bool) {
	for _, t := range toks {
		if t.endLine != 0 {
			return t, true
		}
	}
	return token{}, false
}

// modifier reads a trailing `if COND` or `unless COND`: what must hold for
// the statement to run. ok is false for any other tail (`while`,
// `rescue`, a method call).
func (p *parser) modifier(rest []token) (c *cond, ok bool) {
	if len(rest) < 2 || rest[0].kind != tIdent || rest[0].text != "if" && rest[0].text != "unless" {
		return nil, false
	}
	c = p.cond(rest[1:])
	if rest[0].text == "unless" {
		c = notCond(c)
	}
	return c, true
}

func (p *parser) entry(st stmt) error {
	typ := st.toks[0]
	args, rest := call(st.toks[1:])
	if mod, ok := p.modifier(rest); ok {
		// Ruby evaluates the condition first, and the call only if it
		// holds.
		if mod.HasUnknown() {
			p.dynamicAt(st.line, "conditional", andCond(p.guard, mod))
		}
		p.guard = andCond(p.guard, mod)
		rest = nil
	}
	pos, posErr, opts, dyn, err := p.args(args)
	if err != nil {
		return err
	}
	clean := len(rest) == 0 && len(dyn) == 0 && !slices.ContainsFunc(posErr, func(e error) bool { return e != nil })
	if ml, ok := multiLine(st.toks); ok && !clean {
		// A string that swallowed a line end inside a line that no
		// longer makes sense: the quote that closes it was meant to open
		// the next string.
		return p.errorf(ml.line, "unterminated string: a quote is missing")
	}
	if len(pos) == 0 {
		if len(rest) > 0 && rest[0].kind == tPunct && rest[0].text == "." {
			p.dynamic(st.line, "calls "+typ.text) // brew.something
			return nil
		}
		return p.errorf(typ.line, "%s needs a name: %s \"name\"", typ.text, typ.text)
	}
	if posErr[0] != nil {
		p.dynamic(lineOfDyn(posErr[0], st.line), "computed name ("+posErr[0].Error()+")")
		return nil
	}
	name := pos[0]
	if name.Kind != String {
		return p.errorf(typ.line, "%s name must be a string in quotes, not %s", typ.text, name)
	}
	if name.Text == "" {
		return p.errorf(typ.line, "%s has an empty name", typ.text)
	}
	e := entry{Type: typ.text, Name: name.Text, Line: typ.line, Comment: p.comments[typ.line], Guard: p.guard}
	extra := pos[1:]
	if typ.text == "tap" && len(extra) > 0 {
		// tap "user/repo", "https://…clone URL"
		switch {
		case posErr[1] != nil:
			dyn = append(dyn, posErr[1].(*notStatic))
		case extra[0].Kind == String:
			opts = append([]pair{{Key: "clone_target", Value: extra[0]}}, opts...)
		case extra[0].Kind == Nil:
		default:
			return p.errorf(typ.line, "tap's clone URL must be a string, not %s", extra[0])
		}
		extra = extra[1:]
	}
	for i, x := range extra {
		if err := posErr[len(pos)-len(extra)+i]; err != nil {
			dyn = append(dyn, err.(*notStatic))
			continue
		}
		return p.errorf(typ.line, "%s takes one name, not also %s; options go after it as key: value", typ.text, x)
	}
	if len(opts) > 0 {
		e.Options = make(map[string]value, len(opts))
	}
	for _, o := range opts {
		e.Options[o.Key] = o.Value
	}
	if typ.text == "mas" {
		// Without an id Ruby's DSL raises; a computed option may be it.
		if _, ok := e.Options["id"]; !ok && len(dyn) == 0 {
			return p.errorf(typ.line, `mas needs the app's id: mas %s, id: 123456789`, quote(e.Name))
		}
		if id, ok := e.Options["id"]; ok {
			if _, ok := id.Int64(); !ok {
				return p.errorf(typ.line, "mas id must be a whole number, not %s", id)
			}
		}
	}
	for _, d := range dyn {
		p.dynamic(d.tok.line, d.why)
	}
	if len(rest) > 0 {
		why := "expression"
		if r := rest[0]; r.kind == tIdent && modifiers[r.text] != "" {
			why = modifiers[r.text]
			e.Guard = andCond(e.Guard, unknownCond(fmt.Sprintf("(%s on line %d)", why, st.line)))
		}
		p.dynamic(st.line, why)
	}
	e.Conditional = e.Guard != nil
	p.bf.Entries = append(p.bf.Entries, e)
	return nil
}

func lineOfDyn(err error, def int) int {
	if ns, ok := err.(*notStatic); ok && ns.tok.line != 0 {
		return ns.tok.line
	}
	return def
}

func (p *parser) caskArgs(st stmt) error {
	args, rest := call(st.toks[1:])
	if mod, ok := p.modifier(rest); ok {
		if mod.HasUnknown() {
			p.dynamicAt(st.line, "conditional", andCond(p.guard, mod))
		}
		p.guard = andCond(p.guard, mod)
		rest = nil
	}
	pos, posErr, opts, dyn, err := p.args(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 && len(opts) == 0 && len(dyn) == 0 {
		return p.errorf(st.line, "cask_args needs key: value options, like cask_args appdir: \"~/Applications\"")
	}
	if len(pos) > 0 {
		if posErr[0] != nil {
			p.dynamic(lineOfDyn(posErr[0], st.line), posErr[0].Error())
			return nil
		}
		return p.errorf(st.line, "cask_args takes key: value options, like cask_args appdir: \"~/Applications\"")
	}
	for _, o := range opts {
		p.bf.CaskArgs[o.Key] = o.Value
	}
	p.bf.caskArgs = append(p.bf.caskArgs, caskArgsLine{guard: p.guard, pairs: opts, from: len(p.bf.Entries)})
	for _, d := range dyn {
		p.dynamic(d.tok.line, d.why)
	}
	if len(rest) > 0 {
		why := "expression"
		if r := rest[0]; r.kind == tIdent && modifiers[r.text] != "" {
			why = modifiers[r.text]
		}
		p.dynamic(st.line, why)
	}
	return nil
}
