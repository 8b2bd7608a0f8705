package nixgraph

import (
	"bytes"
	"strings"
	"unsafe"
)

// refKind says what a reference reaches.
type refKind uint8

const (
	// refPath is a path: Text resolved against the file's directory (or,
	// when absolute, against the roots), then Suffix appended.
	refPath refKind = iota
	// refImpure is read from outside the flake (~/…, <…>, an environment
	// variable); Text says what.
	refImpure
	// refFlake reaches the whole flake.
	refFlake
	// refHead reads git metadata: HEAD's commit and whether the tree is dirty.
	refHead
	// refOutputs evaluates another configuration: its entries when Attr
	// names it, else the whole flake.
	refOutputs
	// refFlakeOutput reads the flake output Attr ("*": any of them), so
	// what flake.nix defines it with is read too.
	refFlakeOutput
	// refLetUse is a use of the let binding Attr, at a place whose Scope
	// says when it is evaluated: what the binding's value references is
	// read when that place is. It matters in flake.nix.
	refLetUse
)

// ref is one fact about a file, independent of where the file is: resolving
// it against the file's directory happens at analysis time, so facts are
// cached by content alone.
type ref struct {
	Kind      refKind
	Code      bool   // the target is read as Nix code (import, callPackage): lex it whatever its name
	Line      int32  // 1-based
	Text      string // a path literal's text (./x, ../y, /abs), or what the reference is
	Suffix    string // literal text a path concatenation appends to the resolved Text
	Construct string // the construct that made the reference dynamic, or ""
	// Attr is, for refOutputs, the configuration's attribute path when it
	// is named literally ("nixosConfigurations.alcyone"), or ""; for
	// refFlakeOutput, the output read.
	Attr string
	// Tail is the literal text that follows the first interpolation of a
	// path ("/default.nix" in ./hosts/${h}/default.nix), its pieces joined
	// by NUL: a file is reached only if what follows the prefix holds them
	// in order.
	Tail string
	// Scope is the flake output whose definition holds the reference, when
	// that output is one a configuration reads only by name (checks,
	// packages, deploy …; see deferredOutputs), or, after letScope, the
	// let binding whose value holds it. It matters in flake.nix.
	Scope string
	// Owner is the configuration whose own output definition holds the
	// reference ("nixosConfigurations.b" for a reference under
	// nixosConfigurations.b = …), when flake.nix names it literally there,
	// or "". Only such a reference may stay out of b's entries: one
	// anywhere else (another configuration's definition, a let binding, a
	// computed name) may be evaluated for any configuration.
	Owner string
}

// letScope starts the Scope of what a let binding's value holds: "let
// mkApp". No output name holds a space.
const letScope = "let "

// dirOwn is the Text that stands for the file's own directory, with a
// trailing slash so that it reaches only what is under it.
const dirOwn = "./"

var keywords = map[string]bool{
	"if": true, "then": true, "else": true, "assert": true, "with": true, "let": true,
	"in": true, "rec": true, "inherit": true, "or": true,
}

// The attributes of a flake's self that read git metadata, not the tree.
var revAttrs = map[string]bool{
	"rev": true, "shortRev": true, "dirtyRev": true, "dirtyShortRev": true,
	"lastModified": true, "lastModifiedDate": true, "revCount": true, "submodules": true,
}

// The flake outputs that hold configurations.
var configOutputs = map[string]bool{
	"nixosConfigurations": true, "darwinConfigurations": true, "homeConfigurations": true,
	"systemConfigs": true, "nixOnDroidConfigurations": true, "deploy": true, "colmena": true,
	"colmenaHive": true,
}

// The outputs whose selection, anywhere, names a configuration.
var configSets = map[string]bool{
	"nixosConfigurations": true, "darwinConfigurations": true, "homeConfigurations": true,
}

// outputWrappers are the names that hold flake outputs beneath them:
// outputs itself, and flake-parts' perSystem and flake.
var outputWrappers = map[string]bool{"outputs": true, "perSystem": true, "flake": true}

// deferredOutputs are the flake outputs a configuration's evaluation reads
// only by asking for them by name (self.packages, outputs.overlays): what
// flake.nix defines them with is read only then.
var deferredOutputs = map[string]bool{
	"checks": true, "deploy": true, "colmena": true, "colmenaHive": true, "hydraJobs": true,
	"apps": true, "devShells": true, "devShell": true, "formatter": true, "templates": true,
	"defaultTemplate": true, "packages": true, "defaultPackage": true, "legacyPackages": true,
	"nixosModules": true, "nixosModule": true, "darwinModules": true, "homeManagerModules": true,
	"homeModules": true, "flakeModules": true, "overlays": true, "overlay": true, "lib": true,
	"bundlers": true, "images": true, "herculesCI": true, "githubActions": true,
}

// Functions whose argument is a path they read as a whole (a directory
// listing, a copy with a filter, an auto-import); the argument may be a
// variable, so a non-literal one widens to the file's directory.
var dirReaders = map[string]string{
	"readDir":                        "builtins.readDir",
	"filterSource":                   "builtins.filterSource",
	"listFilesRecursive":             "lib.filesystem.listFilesRecursive",
	"packagesFromDirectoryRecursive": "lib.filesystem.packagesFromDirectoryRecursive",
	"cleanSource":                    "lib.cleanSource",
	"cleanSourceWith":                "lib.cleanSourceWith",
	"sourceByRegex":                  "lib.sourceByRegex",
	"sourceFilesBySuffices":          "lib.sourceFilesBySuffices",
	"import-tree":                    "import-tree",
	"rakeLeaves":                     "rakeLeaves",
	"flattenTree":                    "flattenTree",
}

// Functions that read a path as Nix code.
var importers = map[string]bool{
	"import": true, "scopedImport": true, "callPackage": true, "callPackages": true,
}

// Functions that read the file or directory their argument names.
var fileReaders = map[string]bool{
	"import": true, "scopedImport": true, "readFile": true, "pathExists": true,
	"readFileType": true, "hashFile": true, "readDir": true, "toPath": true,
	"filterSource": true, "callPackage": true,
}

// extractor walks the significant tokens of one file.
type extractor struct {
	src   []byte
	toks  []Token
	sig   []int32  // indices into toks of tokens that are not space or comments
	match []int32  // for a bracket or a string's opening quote in sig, the index in sig of its partner, or -1
	pend  []int32  // for a path start in sig, the index in sig of its PathEnd
	scope []string // for each sig token, the deferred output it is defined under, or ""
	owner []string // for each sig token, the configuration whose definition holds it, or ""
	cur   int      // the sig index being handled: its scope goes to new references
	refs  []ref
	// lets are the names of the let bindings that are a scope (those not
	// inside a deferred output's definition).
	lets map[string]bool
}

// extract lexes src and returns its references.
func extract(src []byte, scratch []Token) ([]ref, []Token) {
	// Growing the token slice append by append copies it again and again,
	// which on a large file (a dynamic import may read megabytes of data)
	// costs many times the lexing: one allocation sized for the file does
	// not. Code holds a token per several bytes, data up to one per two.
	if need := len(src)/2 + 64; cap(scratch) < need {
		scratch = make([]Token, 0, need)
	}
	toks := Lex(scratch[:0], src)
	x := &extractor{src: src, toks: toks}
	n := 0
	for _, t := range toks {
		if t.Kind != Space && t.Kind != Comment {
			n++
		}
	}
	x.sig = make([]int32, 0, n)
	for i, t := range toks {
		if t.Kind != Space && t.Kind != Comment {
			x.sig = append(x.sig, int32(i))
		}
	}
	x.pair()
	x.scopes()
	x.walk()
	x.letUses()
	return x.refs, toks
}

func (x *extractor) tok(i int) Token { return x.toks[x.sig[i]] }

// text returns sig token i's text without copying it: src does not change
// while the extractor runs, and add copies what a reference keeps.
func (x *extractor) text(i int) string {
	t := x.toks[x.sig[i]]
	if t.End == t.Start {
		return ""
	}
	return unsafe.String(&x.src[t.Start], int(t.End-t.Start))
}

func (x *extractor) kind(i int) Kind {
	if i < 0 || i >= len(x.sig) {
		return Space // stands for "no token"
	}
	return x.toks[x.sig[i]].Kind
}

// is reports whether sig token i is the punctuation or identifier s.
func (x *extractor) is(i int, s string) bool {
	if i < 0 || i >= len(x.sig) {
		return false
	}
	t := x.toks[x.sig[i]]
	if t.Kind != Punct && t.Kind != Ident {
		return false
	}
	return string(x.src[t.Start:t.End]) == s
}

func (x *extractor) line(i int) int32 { return x.tok(i).Line }

// pair matches brackets and path literals.
func (x *extractor) pair() {
	n := len(x.sig)
	x.match = make([]int32, n)
	x.pend = make([]int32, n)
	var open, paths, strs []int32
	for i := 0; i < n; i++ {
		x.match[i], x.pend[i] = -1, -1
		t := x.tok(i)
		switch t.Kind {
		case StrOpen, IndOpen:
			strs = append(strs, int32(i))
		case StrClose, IndClose:
			if k := len(strs); k > 0 {
				x.match[i], x.match[strs[k-1]] = strs[k-1], int32(i)
				strs = strs[:k-1]
			}
		case LBrace, Interp:
			open = append(open, int32(i))
		case RBrace:
			if k := len(open); k > 0 {
				x.match[i], x.match[open[k-1]] = open[k-1], int32(i)
				open = open[:k-1]
			}
		case Punct:
			switch x.src[t.Start] {
			case '(', '[':
				if t.End-t.Start == 1 {
					open = append(open, int32(i))
				}
			case ')', ']':
				if k := len(open); k > 0 && t.End-t.Start == 1 {
					x.match[i], x.match[open[k-1]] = open[k-1], int32(i)
					open = open[:k-1]
				}
			}
		case Path, HomePath:
			paths = append(paths, int32(i))
		case PathEnd:
			if k := len(paths); k > 0 {
				x.pend[paths[k-1]] = int32(i)
				paths = paths[:k-1]
			}
		}
	}
}

// exprEnd reports whether sig token i can end an expression, so that a
// path right after it is an argument of a function application.
func (x *extractor) exprEnd(i int) bool {
	switch x.kind(i) {
	case Ident:
		return !keywords[x.text(i)]
	case Int, Float, PathEnd, StrClose, IndClose, SearchPath, URI, RBrace:
		return true
	case Punct:
		return x.is(i, ")") || x.is(i, "]")
	}
	return false
}

func (x *extractor) add(r ref) {
	if x.cur < len(x.scope) {
		r.Scope = x.scope[x.cur]
		r.Owner = x.owner[x.cur]
	}
	// References outlive src (the cache keeps them): no string may share
	// its memory.
	r.Text, r.Suffix, r.Construct = strings.Clone(r.Text), strings.Clone(r.Suffix), strings.Clone(r.Construct)
	r.Attr, r.Tail, r.Scope = strings.Clone(r.Attr), strings.Clone(r.Tail), strings.Clone(r.Scope)
	r.Owner = strings.Clone(r.Owner)
	x.refs = append(x.refs, r)
}

// scopes finds, for each token, the flake output whose definition holds
// it, when that output is deferred: the first flake output name among the
// attributes being defined around it, counted only through attribute
// sets. Inside a let binding's value (outside any flake output's
// definition), the scope is that binding: its value is evaluated only
// where its name is used, which letUses records.
func (x *extractor) scopes() {
	x.scope = make([]string, len(x.sig))
	x.owner = make([]string, len(x.sig))
	// Scopes matter in flake.nix, which defines outputs; sparing other
	// files the work keeps the answer a function of the content alone.
	if !bytes.Contains(x.src, []byte("outputs")) {
		return
	}
	for i := range x.sig {
		if x.kind(i) == Ident && x.text(i) == "rec" {
			return // rec { packages = …; a = f packages; }: names cross scopes
		}
		if x.is(i, "let") && x.kind(i+1) == LBrace {
			return // let { body = …; }: a rec set by another name
		}
	}
	type frame struct {
		let     bool
		binding []string // the attribute path being defined
		start   bool     // the next token starts a binding
		direct  bool     // the set is the value of the enclosing binding itself (x = { … })
	}
	stack := []frame{{start: true}}
	var cur, own string
	// ownerOf names the configuration whose own definition the token
	// being read sits in: the binding path outside every let binding's
	// value is outputs/flake …, a configuration output, then a literal
	// name, either in one chain (nixosConfigurations.b = …) or as a
	// binding of the set that is the output's value itself
	// (nixosConfigurations = { b = …; }). Anything else (a computed name,
	// a set handed to mapAttrs, a let binding) names no owner.
	ownerOf := func() string {
		for k, f := range stack {
			if f.binding == nil {
				continue
			}
			if f.let {
				return ""
			}
			for j, n := range f.binding {
				if !configOutputs[n] {
					if n != "outputs" && n != "flake" {
						return ""
					}
					continue
				}
				var name string
				switch {
				case j+1 < len(f.binding):
					name = f.binding[j+1]
				case k+1 < len(stack) && stack[k+1].direct && stack[k+1].binding != nil:
					name = stack[k+1].binding[0]
				}
				if name == "" || strings.Contains(name, "${") {
					return ""
				}
				return n + "." + name
			}
		}
		return ""
	}
	recompute := func() {
		cur = ""
		own = ownerOf()
		for _, f := range stack {
			if f.binding == nil {
				continue
			}
			if f.let {
				// The value of a let binding: it is evaluated where the
				// name is used, so its scope is the binding.
				cur = letScope + f.binding[0]
				if x.lets == nil {
					x.lets = map[string]bool{}
				}
				x.lets[f.binding[0]] = true
				return
			}
			// The first name that is not a wrapper (outputs, flake-parts'
			// perSystem and flake) decides: an output name defers (or
			// not); any other name (foo.packages, foo = { packages … })
			// is an attribute a configuration may read by that path, so
			// nothing beneath it waits.
			for _, n := range f.binding {
				if outputWrappers[n] {
					continue
				}
				if deferredOutputs[n] {
					cur = n
				}
				return
			}
		}
	}
	for i := 0; i < len(x.sig); i++ {
		top := &stack[len(stack)-1]
		switch {
		case x.kind(i) == LBrace || x.kind(i) == Interp:
			x.scope[i], x.owner[i] = cur, own
			// A set is the binding's value itself when = comes right
			// before it and nothing selects from it after (x = { b = …; }.b
			// makes b's value all of x).
			direct := x.kind(i) == LBrace && x.is(i-1, "=")
			if m := x.match[i]; direct && (m < 0 || x.is(int(m)+1, ".")) {
				direct = false
			}
			stack = append(stack, frame{start: x.kind(i) == LBrace, direct: direct})
			continue
		case x.kind(i) == RBrace:
			x.scope[i], x.owner[i] = cur, own
			for len(stack) > 1 {
				f := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if !f.let {
					break
				}
			}
			recompute()
			continue
		case x.is(i, "let"):
			x.scope[i], x.owner[i] = cur, own
			stack = append(stack, frame{let: true, start: true})
			continue
		case x.is(i, "in"):
			x.scope[i], x.owner[i] = cur, own
			if top.let && len(stack) > 1 {
				stack = stack[:len(stack)-1]
				recompute()
			}
			continue
		case x.is(i, ";"):
			x.scope[i], x.owner[i] = cur, own
			top.binding, top.start = nil, true
			recompute()
			continue
		}
		if top.start && (x.kind(i) == Ident || x.kind(i) == StrOpen) {
			top.start = false
			if x.kind(i) == Ident {
				names, end := x.chain(i)
				if x.is(end+1, "=") {
					top.binding = names
					recompute()
				}
			} else if s, dyn, after, ok := x.stringPrefix(i); ok && !dyn && x.is(after, "=") {
				top.binding = []string{s} // "me@host" = …
				recompute()
			}
		} else {
			top.start = false
		}
		x.scope[i], x.owner[i] = cur, own
	}
}

// letUses records where the let bindings that are scopes are used: each
// identifier that is not an attribute name, a binding or a parameter, with
// the scope of the place it is used at. Any identifier of the same name
// counts, shadowed or not, which can only make a binding count more often.
// A binding's value can only be reached through its name (let names are
// lexical: no with, inherit or attrValues sees them unnamed), so a binding
// none of whose uses is evaluated is never evaluated either.
func (x *extractor) letUses() {
	if len(x.lets) == 0 {
		return
	}
	// One use per binding, scope and configuration definition: a use in
	// another configuration's own definition waits for that
	// configuration (deferKey), so it cannot stand for one in this one's.
	seen := map[[3]string]bool{}
	for i := range x.sig {
		if x.kind(i) != Ident || x.is(i-1, ".") {
			continue
		}
		name := x.text(i)
		if !x.lets[name] || keywords[name] {
			continue
		}
		names, end := x.chain(i)
		if x.binding(i, end, len(names)) {
			continue
		}
		k := [3]string{name, x.scope[i], x.owner[i]}
		if seen[k] || k[1] == letScope+name {
			continue
		}
		seen[k] = true
		x.cur = i
		x.add(ref{Kind: refLetUse, Line: x.line(i), Text: name, Attr: name, Construct: "let binding " + name})
	}
}

func (x *extractor) walk() {
	for i := 0; i < len(x.sig); i++ {
		x.cur = i
		switch x.kind(i) {
		case Path, HomePath:
			x.path(i)
		case SearchPath:
			x.add(ref{Kind: refImpure, Line: x.line(i), Text: x.text(i), Construct: "search path"})
		case StrOpen, IndOpen:
			if s, _, _, ok := x.stringPrefix(i); ok {
				x.localURL(i, s)
			}
		case URI:
			x.localURL(i, x.text(i))
		case Ident:
			if x.is(i-1, ".") {
				continue // an attribute of a select chain: seen with its head
			}
			if next := x.ident(i); next > i {
				i = next
			}
		}
	}
}

// pathLiteral returns the static text of the path literal starting at sig
// token i (up to its first interpolation), whether it is interpolated, and
// the index of its PathEnd.
func (x *extractor) pathLiteral(i int) (string, bool, int) {
	end := int(x.pend[i])
	if end < 0 {
		end = len(x.sig) - 1
	}
	var b strings.Builder
	b.WriteString(x.text(i))
	for j := i + 1; j < end; j++ {
		switch x.kind(j) {
		case PathText:
			b.WriteString(x.text(j))
			continue
		case Interp:
			return b.String(), true, end
		}
		break
	}
	return b.String(), false, end
}

// pathTail returns the literal pieces of the path literal from sig i to
// end that come after its first interpolation.
func (x *extractor) pathTail(i, end int) []string {
	var pieces []string
	cur, started := "", false
	for j := i + 1; j < end; j++ {
		switch x.kind(j) {
		case Interp:
			if started && cur != "" {
				pieces = append(pieces, cur)
			}
			cur, started = "", true
			if m := x.match[j]; m > 0 {
				j = int(m)
			}
		case PathText:
			if started {
				cur += x.text(j)
			}
		}
	}
	if started && cur != "" {
		pieces = append(pieces, cur)
	}
	return pieces
}

// stringTail returns the literal pieces of the string opened at sig i
// that come after its first interpolation, or nil when one cannot be known
// (indentation stripping): no tail only widens.
func (x *extractor) stringTail(i int) []string {
	end := x.stringEnd(i) - 1
	var pieces []string
	cur, started := "", false
	for j := i + 1; j < end; j++ {
		switch x.kind(j) {
		case Interp:
			if started && cur != "" {
				pieces = append(pieces, cur)
			}
			cur, started = "", true
			if m := x.match[j]; m > 0 {
				j = int(m)
			}
		case StrText:
			if started {
				cur += unescape(x.text(j))
			}
		case IndText:
			t := x.text(j)
			if strings.ContainsRune(t, '\n') {
				return nil
			}
			if started {
				cur += unescapeInd(t)
			}
		}
	}
	if started && cur != "" {
		pieces = append(pieces, cur)
	}
	return pieces
}

// setTail records the literal pieces after an interpolation. A ".." among
// them may undo the dynamic part and climb: the reference then widens to
// the prefix's ancestor that many levels up, with no tail.
func setTail(r *ref, pieces []string) {
	up := 0
	for _, p := range pieces {
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." {
				up++
			}
		}
	}
	if up > 0 {
		r.Suffix += strings.Repeat("/..", up)
		return
	}
	r.Tail = strings.Join(pieces, "\x00")
}

// path handles the path literal starting at sig token i.
func (x *extractor) path(i int) {
	text, interp, end := x.pathLiteral(i)
	line := x.line(i)
	if x.kind(i) == HomePath {
		if interp {
			text += "${…}"
		}
		x.add(ref{Kind: refImpure, Line: line, Text: text, Construct: "home path"})
		return
	}
	r := ref{Kind: refPath, Line: line, Text: text}
	prev := i - 1
	if x.is(prev, "(") {
		prev--
	}
	if x.kind(prev) == Ident && importers[x.text(prev)] {
		r.Code = true
	}
	switch {
	case interp:
		r.Construct = "path interpolation"
		setTail(&r, x.pathTail(i, end))
	case x.is(end+1, "+") && !x.exprEnd(i-1):
		// The path is the left operand of +: Nix appends the right one
		// to its canonical text. A string literal there is text we can
		// add; anything else may name any file that starts with the path.
		switch x.kind(end + 2) {
		case StrOpen, IndOpen:
			s, dyn, after, ok := x.stringPrefix(end + 2)
			switch {
			case !ok:
				r.Construct = "path + string"
			case dyn:
				r.Suffix = s
				r.Construct = "path + interpolated string"
				if !x.is(after, "+") {
					setTail(&r, x.stringTail(end+2))
				}
			default:
				r.Suffix = s
				if x.is(after, "+") {
					r.Construct = "path + string + …"
				}
			}
		default:
			r.Construct = "path + expression"
		}
	}
	x.add(r)
}

// stringPrefix returns the literal text at the start of the string opened at
// sig token i, up to its first interpolation; whether an interpolation
// follows; and the sig index after the string. ok is false when the text
// cannot be known without Nix's indentation stripping.
func (x *extractor) stringPrefix(i int) (text string, dyn bool, after int, ok bool) {
	ind := x.kind(i) == IndOpen
	if ind && strings.ContainsRune(x.text(i), '\n') {
		return "", false, x.stringEnd(i), false
	}
	var b strings.Builder
	j := i + 1
	for ; j < len(x.sig); j++ {
		switch x.kind(j) {
		case StrText:
			b.WriteString(unescape(x.text(j)))
			continue
		case IndText:
			t := x.text(j)
			if strings.ContainsRune(t, '\n') {
				return "", false, x.stringEnd(i), false
			}
			b.WriteString(unescapeInd(t))
			continue
		case Interp:
			return b.String(), true, x.stringEnd(i), true
		}
		break
	}
	return b.String(), false, j + 1, true
}

// stringEnd returns the sig index after the string opened at i.
func (x *extractor) stringEnd(i int) int {
	if m := x.match[i]; m >= 0 {
		return int(m) + 1
	}
	return len(x.sig) // unterminated
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "\\\r") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default:
				c = s[i]
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unescapeInd(s string) string {
	switch {
	case s == "''$":
		return "$"
	case s == "'''":
		return "''"
	case strings.HasPrefix(s, "''\\"):
		return unescape(s[2:])
	}
	return s
}

func localScheme(s string) bool {
	return strings.HasPrefix(s, "path:") || strings.HasPrefix(s, "git+file:") || strings.HasPrefix(s, "file:")
}

// localURL handles a flake reference or fetcher URL naming a local path
// (path:./sub, git+file:///abs): the path is read as a whole.
func (x *extractor) localURL(i int, s string) {
	if !localScheme(s) {
		return
	}
	var rest string
	var git bool
	switch {
	case strings.HasPrefix(s, "path:"):
		rest = s[len("path:"):]
	case strings.HasPrefix(s, "git+file:"):
		rest, git = s[len("git+file:"):], true
	case strings.HasPrefix(s, "file:"):
		rest = s[len("file:"):]
	default:
		return
	}
	rest = strings.TrimPrefix(rest, "//") // file:///abs → /abs
	if k := strings.IndexAny(rest, "?#"); k >= 0 {
		rest = rest[:k]
	}
	if rest == "" {
		return
	}
	if rest[0] != '/' && !strings.HasPrefix(rest, "./") && !strings.HasPrefix(rest, "../") && rest != "." && rest != ".." {
		rest = "./" + rest
	}
	x.add(ref{Kind: refPath, Line: x.line(i), Text: rest, Construct: "local flake reference"})
	if git {
		x.add(ref{Kind: refHead, Line: x.line(i), Text: s, Construct: "git+file reference"})
	}
}

// chain reads the select chain starting at identifier i (a.b."c".${d}) and
// returns its names (a dynamic one as "${…}") and the sig index of its last
// token.
func (x *extractor) chain(i int) ([]string, int) {
	names := []string{x.text(i)}
	j := i
	for x.is(j+1, ".") {
		k := j + 2
		switch x.kind(k) {
		case Ident:
			names = append(names, x.text(k))
			j = k
			continue
		case StrOpen:
			if s, dyn, after, ok := x.stringPrefix(k); ok && !dyn {
				names = append(names, s)
				j = after - 1
				continue
			}
			names = append(names, "${…}")
			j = x.stringEnd(k) - 1
			continue
		case Interp:
			names = append(names, "${…}")
			if m := x.match[k]; m > 0 {
				j = int(m)
				continue
			}
		}
		break
	}
	return names, j
}

// ident handles the identifier or select chain at sig token i; it returns
// the sig index the walk may skip to (tokens up to it were handled).
func (x *extractor) ident(i int) int {
	name := x.text(i)
	switch name {
	case "inherit":
		return x.inherit(i)
	case "with":
		if x.kind(i+1) != Ident {
			return i
		}
		names, end := x.chain(i + 1)
		if isSelf(names[0]) && len(names) == 1 || isInputs(names[0]) && len(names) == 2 && names[1] == "self" {
			x.add(ref{Kind: refFlake, Line: x.line(i), Text: "with " + strings.Join(names, "."), Construct: "with self"})
			return end
		}
		return i
	}
	if keywords[name] {
		return i
	}
	names, end := x.chain(i)
	if x.is(i-1, "?") {
		return end // e ? a.b tests attribute names: no use of a variable
	}
	if x.binding(i, end, len(names)) {
		return i // a definition or a parameter, not a use
	}
	line := x.line(i)

	// The flake itself: self, and inputs (which holds self).
	if isSelf(names[0]) {
		x.self(i, end, names[1:], names[0], line)
		return i
	}
	for k, n := range names {
		if k > 0 && n == "self" {
			// args.self, specialArgs.self: a module's arguments taken whole.
			x.self(i, end, names[k+1:], strings.Join(names[:k+1], "."), line)
			return i
		}
		if !isInputs(n) {
			continue
		}
		rest := names[k+1:]
		switch {
		case len(rest) == 0:
			if k == 0 {
				x.bare(i, end, n, line)
			}
			return i
		case rest[0] == "self":
			x.self(i, end, rest[1:], strings.Join(names[:k+2], "."), line)
			return i
		case rest[0] == "${…}":
			x.add(ref{Kind: refFlake, Line: line, Text: strings.Join(names, "."), Construct: "inputs with a computed name"})
			return i
		}
		break // another input: its functions are looked at below
	}

	// outputs is what flake.nix conventionally hands modules as
	// self.outputs (inherit (self) outputs); config.flake in flake-parts.
	for k := 0; k+1 < len(names); k++ {
		if names[k] == "outputs" && k == 0 || names[k] == "flake" && k > 0 && names[k-1] == "config" {
			if deferredOutputs[names[k+1]] {
				x.add(ref{Kind: refFlakeOutput, Line: line, Text: strings.Join(names[:k+2], "."), Attr: names[k+1], Construct: "flake output " + names[k+1]})
			}
			break
		}
	}

	fn := names[len(names)-1]
	qual := names[:len(names)-1]
	has := func(s string) bool {
		for _, q := range qual {
			if q == s {
				return true
			}
		}
		return false
	}
	onlyBuiltins := len(qual) == 0 || len(qual) == 1 && qual[0] == "builtins"
	arg := end + 1

	importTree := false
	for _, n := range names {
		importTree = importTree || n == "import-tree"
	}
	switch c, reader := dirReaders[fn]; {
	case reader && (onlyBuiltins || fn != "readDir" && fn != "filterSource"):
		if fn == "filterSource" {
			arg = x.skipArg(arg) // filterSource filter path
		}
		x.widenArg(arg, c, line)
	case importTree:
		x.widenArg(arg, "import-tree", line)
	case fn == "path" && len(qual) == 1 && qual[0] == "builtins":
		x.widenArg(arg, "builtins.path", line)
	case (fn == "fetchGit" || fn == "fetchTree") && onlyBuiltins:
		x.widenArg(arg, "builtins."+fn, line)
		x.add(ref{Kind: refHead, Line: line, Text: "builtins." + fn, Construct: "builtins." + fn})
	case fn == "getFlake" && onlyBuiltins:
		x.getFlake(arg, line)
	case has("filesystem"):
		x.widenArg(arg, "lib.filesystem."+fn, line)
	case has("fileset"):
		x.widenArg(arg, "lib.fileset."+fn, line)
		if fn == "gitTracked" || fn == "gitTrackedWith" {
			x.add(ref{Kind: refHead, Line: line, Text: "lib.fileset." + fn, Construct: "lib.fileset." + fn})
		}
	case has("sources"):
		x.widenArg(arg, "lib.sources."+fn, line)
	case has("haumea") && fn == "load":
		x.widenArg(arg, "haumea.lib.load", line)
	case fn == "dirOf" && onlyBuiltins:
		x.dirOf(arg, line)
	case fn == "getEnv" && onlyBuiltins:
		t := "builtins.getEnv"
		if x.kind(arg) == StrOpen {
			if s, dyn, _, ok := x.stringPrefix(arg); ok && !dyn {
				t += " " + s
			}
		}
		x.add(ref{Kind: refImpure, Line: line, Text: t, Construct: "environment variable"})
	case (fn == "currentTime" || fn == "nixPath" || fn == "findFile" || fn == "__nixPath" || fn == "__findFile") && onlyBuiltins:
		x.add(ref{Kind: refImpure, Line: line, Text: strings.Join(names, "."), Construct: "impure builtin"})
	case len(names) > 1 && configSets[fn] && x.kind(i-1) == Ident && x.text(i-1) == "attrNames":
		// attrNames outputs.nixosConfigurations: the names flake.nix gives
	case len(names) > 1 && (configSets[fn] || has("nixosConfigurations") || has("darwinConfigurations") || has("homeConfigurations")):
		x.outputs(line, names)
	}
	if importers[fn] && onlyBuiltins && x.is(arg, "(") {
		x.computedImport(arg, fn, line)
	}
	if fileReaders[fn] && onlyBuiltins && x.kind(arg) == StrOpen {
		if s, _, _, ok := x.stringPrefix(arg); ok && (strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~")) {
			if s[0] == '~' {
				x.add(ref{Kind: refImpure, Line: line, Text: s, Construct: "home path in a string"})
			} else {
				x.add(ref{Kind: refPath, Line: line, Text: s, Construct: "absolute path in a string"})
			}
		}
	}
	return i
}

// outputs records a use of the configurations a flake defines; names is
// the select chain.
func (x *extractor) outputs(line int32, names []string) {
	r := ref{Kind: refOutputs, Line: line, Text: strings.Join(names, "."), Construct: "another configuration's outputs"}
	for k, n := range names {
		if configOutputs[n] {
			if k+1 < len(names) && names[k+1] != "${…}" {
				r.Attr = n + "." + names[k+1]
				r.Text = strings.Join(names[:k+2], ".")
			}
			break
		}
	}
	x.add(r)
}

func isSelf(n string) bool   { return n == "self" || n == "self'" }
func isInputs(n string) bool { return n == "inputs" || n == "inputs'" }

// binding reports whether the chain from sig i to end is a name being bound
// (an attribute or let definition, a function parameter) rather than used.
func (x *extractor) binding(i, end, n int) bool {
	prev, next := i-1, end+1
	if x.is(next, "=") && (prev < 0 || x.kind(prev) == LBrace || x.is(prev, ";") || x.is(prev, "let")) {
		return true
	}
	if n == 1 {
		if x.is(next, ":") || x.is(next, "@") || x.is(prev, "@") {
			return true
		}
		if (x.kind(prev) == LBrace || x.is(prev, ",")) &&
			(x.is(next, ",") || x.kind(next) == RBrace || x.is(next, "?") || x.is(next, "...")) {
			return true
		}
	}
	return false
}

// self handles a use of the flake's self with the attributes rest selected
// from it.
func (x *extractor) self(i, end int, rest []string, what string, line int32) {
	if len(rest) == 0 {
		x.bare(i, end, what, line)
		return
	}
	a := rest[0]
	switch {
	case revAttrs[a]:
		x.add(ref{Kind: refHead, Line: line, Text: what + "." + a, Construct: what + "." + a})
	case a == "sourceInfo":
		if len(rest) > 1 && revAttrs[rest[1]] {
			x.add(ref{Kind: refHead, Line: line, Text: what + ".sourceInfo." + rest[1], Construct: what + ".sourceInfo." + rest[1]})
			return
		}
		x.add(ref{Kind: refFlake, Line: line, Text: what + ".sourceInfo", Construct: what + ".sourceInfo"})
	case a == "outPath" || a == "narHash" || a == "${…}":
		x.add(ref{Kind: refFlake, Line: line, Text: what + "." + a, Construct: what + "." + a})
	case configOutputs[a] && len(rest) == 1 && x.kind(i-1) == Ident && x.text(i-1) == "attrNames":
		// attrNames self.nixosConfigurations: the names flake.nix gives
	case configOutputs[a] || a == "outputs" && len(rest) > 1 && configOutputs[rest[1]]:
		x.outputs(line, append([]string{what}, rest...))
	case deferredOutputs[a]:
		x.add(ref{Kind: refFlakeOutput, Line: line, Text: what + "." + a, Attr: a, Construct: "flake output " + a})
	case a == "outputs" && len(rest) > 1 && deferredOutputs[rest[1]]:
		x.add(ref{Kind: refFlakeOutput, Line: line, Text: what + ".outputs." + rest[1], Attr: rest[1], Construct: "flake output " + rest[1]})
	case a == "outputs" && len(rest) == 1:
		// self.outputs as a value: any output may be read through it,
		// unless it is bound to the name outputs, whose uses are seen.
		if !(x.is(i-1, "=") && x.kind(i-2) == Ident && x.text(i-2) == "outputs") {
			x.add(ref{Kind: refFlakeOutput, Line: line, Text: what + ".outputs", Attr: "*", Construct: what + ".outputs used as a value"})
		}
	case a == "inputs":
		if len(rest) > 1 && rest[1] == "self" {
			x.self(i, end, rest[2:], what+".inputs.self", line)
		} else if len(rest) > 1 && rest[1] == "${…}" {
			x.add(ref{Kind: refFlake, Line: line, Text: what + ".inputs.${…}", Construct: "inputs with a computed name"})
		} else if len(rest) == 1 {
			x.bare(i, end, what+".inputs", line)
		}
	}
	// Any other attribute is an output flake.nix defines under no
	// deferred name: its references are followed anyway.
}

// bare handles self or inputs used as a whole value: unless it is only
// passed on under its own name, the value may be turned into a string (the
// flake's store path, which hashes every tracked file) or walked.
func (x *extractor) bare(i, end int, what string, line int32) {
	prev, next := i-1, end+1
	// self ? rev tests an attribute: git metadata for the rev family,
	// flake.nix's outputs for anything else; never the tree.
	if x.is(next, "?") {
		if strings.HasSuffix(what, "self") && x.kind(next+1) == Ident && revAttrs[x.text(next+1)] {
			x.add(ref{Kind: refHead, Line: line, Text: what + " ? " + x.text(next+1), Construct: what + " ? " + x.text(next+1)})
		}
		return
	}
	// specialArgs = inputs; passes self on under its own name.
	if x.is(prev, "=") && (x.is(next, ";") || x.is(next, "//")) && x.kind(prev-1) == Ident {
		switch x.text(prev - 1) {
		case "specialArgs", "extraSpecialArgs", "args":
			return
		}
	}
	if x.is(prev, "//") && x.is(next, ";") {
		// specialArgs = { … } // inputs;
		for j := prev - 1; j >= 0 && j > prev-200; j-- {
			if k := x.kind(j); k == RBrace || x.is(j, ")") || x.is(j, "]") {
				if m := x.match[j]; m >= 0 && int(m) < j {
					j = int(m)
					continue
				}
			}
			if x.is(j, "=") {
				if x.kind(j-1) == Ident {
					switch x.text(j - 1) {
					case "specialArgs", "extraSpecialArgs", "args":
						return
					}
				}
				break
			}
			if x.is(j, ";") {
				break
			}
		}
	}
	c := "self used as a value"
	if isInputs(strings.SplitN(what, ".", 2)[0]) && !strings.HasSuffix(what, "self") {
		c = "inputs used as a value (it holds self)"
	} else if what != "self" && what != "self'" {
		c = what + " used as a value"
	}
	x.add(ref{Kind: refFlake, Line: line, Text: what, Construct: c})
}

// inherit handles `inherit a b;` and `inherit (src) a b;`, returning the
// sig index of the closing ';'.
func (x *extractor) inherit(i int) int {
	j := i + 1
	var src []string
	if x.is(j, "(") {
		m := int(x.match[j])
		if m < 0 {
			return i
		}
		// A plain chain as the source: its uses are the names selected.
		if x.kind(j+1) == Ident {
			names, end := x.chain(j + 1)
			if end+1 == m {
				src = names
			}
		}
		if src == nil {
			return i // the walk reads the source expression itself
		}
		j = m + 1
	}
	line := x.line(i)
	for ; j < len(x.sig) && !x.is(j, ";"); j++ {
		var n string
		switch x.kind(j) {
		case Ident:
			n = x.text(j)
		case StrOpen:
			s, _, after, _ := x.stringPrefix(j)
			n, j = s, after-1
		default:
			return j - 1
		}
		if src == nil {
			continue // inherit self; passes self on under its own name
		}
		switch {
		case isSelf(src[0]) && len(src) == 1 && n == "outputs":
			// inherit (self) outputs; binds the name outputs, whose uses are seen
		case isSelf(src[0]):
			x.self(j, j, append(src[1:len(src):len(src)], n), strings.Join(src, "."), line)
		case isInputs(src[0]) && len(src) == 1 && n == "self":
			// inherit (inputs) self; passes self on under its own name
		case isInputs(src[0]) && len(src) >= 2 && src[1] == "self":
			x.self(j, j, append(src[2:len(src):len(src)], n), strings.Join(src, "."), line)
		}
	}
	return j
}

// widenArg handles a function that reads its argument as a whole: a path
// literal argument is reached (and named with the construct); anything else
// widens to the file's own directory.
func (x *extractor) widenArg(arg int, construct string, line int32) {
	if p := x.firstPath(arg); p >= 0 {
		text, _, _ := x.pathLiteral(p)
		x.add(ref{Kind: refPath, Line: line, Text: text, Construct: construct})
		return
	}
	if x.kind(arg) == StrOpen {
		if s, _, _, ok := x.stringPrefix(arg); ok && strings.HasPrefix(s, "/") {
			x.add(ref{Kind: refPath, Line: line, Text: s, Construct: construct})
			return
		}
	}
	x.add(ref{Kind: refPath, Line: line, Text: dirOwn, Construct: construct + " of a non-literal path"})
}

// skipArg returns the sig index after the simple argument at arg: a
// select chain, a bracketed expression, or one token.
func (x *extractor) skipArg(arg int) int {
	switch {
	case x.kind(arg) == Ident:
		_, end := x.chain(arg)
		return end + 1
	case x.kind(arg) == LBrace || x.is(arg, "(") || x.is(arg, "["):
		if m := x.match[arg]; m >= 0 {
			return int(m) + 1
		}
	case x.kind(arg) == StrOpen || x.kind(arg) == IndOpen:
		return x.stringEnd(arg)
	case x.kind(arg) == Path:
		if e := x.pend[arg]; e >= 0 {
			return int(e) + 1
		}
	}
	return arg + 1
}

// firstPath returns the sig index of the path literal that is the argument
// at arg, or the first one inside it when it is bracketed, or -1.
func (x *extractor) firstPath(arg int) int {
	switch x.kind(arg) {
	case Path:
		return arg
	case LBrace:
	case Punct:
		if !x.is(arg, "(") && !x.is(arg, "[") {
			return -1
		}
	default:
		return -1
	}
	m := int(x.match[arg])
	if m < 0 {
		m = len(x.sig)
	}
	for j := arg + 1; j < m && j < arg+maxScan; j++ {
		if x.kind(j) == Path {
			return j
		}
	}
	return -1
}

// maxScan bounds how far into a bracketed argument the extractor looks for
// a path literal, so deeply nested calls stay linear. Past it, the
// argument counts as non-literal, which widens.
const maxScan = 1024

// dirOf handles dirOf: the parent of a literal path, or anything.
func (x *extractor) dirOf(arg int, line int32) {
	if x.kind(arg) == Path {
		text, interp, _ := x.pathLiteral(arg)
		if !interp {
			x.add(ref{Kind: refPath, Line: line, Text: text, Suffix: "/..", Construct: "dirOf"})
			return
		}
	}
	x.add(ref{Kind: refFlake, Line: line, Text: "dirOf", Construct: "dirOf of a non-literal path"})
}

// getFlake handles builtins.getFlake: a local flake reference is read whole.
func (x *extractor) getFlake(arg int, line int32) {
	if p := x.firstPath(arg); p >= 0 {
		text, _, _ := x.pathLiteral(p)
		x.add(ref{Kind: refPath, Line: line, Text: text, Construct: "builtins.getFlake"})
		return
	}
	if x.kind(arg) == StrOpen {
		if s, dyn, _, ok := x.stringPrefix(arg); ok && !dyn {
			if localScheme(s) {
				return // the walk reads the string as a local reference
			}
			if strings.HasPrefix(s, "/") {
				x.add(ref{Kind: refPath, Line: line, Text: s, Construct: "builtins.getFlake"})
				return
			}
			if strings.Contains(s, ":") {
				x.add(ref{Kind: refImpure, Line: line, Text: s, Construct: "builtins.getFlake"})
				return
			}
		}
	}
	x.add(ref{Kind: refFlake, Line: line, Text: "builtins.getFlake", Construct: "builtins.getFlake of a computed reference"})
}

// computedImport handles import (…): when the parenthesised expression is
// computed and holds no path literal to follow, it widens to the file's
// directory.
func (x *extractor) computedImport(arg int, fn string, line int32) {
	m := int(x.match[arg])
	if m < 0 {
		return
	}
	plus, lit := false, false
	if m > arg+maxScan {
		m = arg + maxScan
		plus = true
	}
	for j := arg + 1; j < m; j++ {
		switch {
		case x.is(j, "+"):
			plus = true
		case x.kind(j) == Path:
			lit = true
		}
	}
	if plus && !lit {
		x.add(ref{Kind: refPath, Code: true, Line: line, Text: dirOwn, Construct: fn + " (… + …)"})
	}
}
