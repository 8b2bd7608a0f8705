package scaffold

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/config"
)

// Configuration kinds a flake defines, by the output attribute that holds
// them.
const (
	outDarwin = "darwinConfigurations"
	outNixOS  = "nixosConfigurations"
	outHome   = "homeConfigurations"
)

var configOutputs = []string{outDarwin, outNixOS, outHome}

// Configuration is one configuration a flake defines.
type Configuration struct {
	Name string
	// Entry lists the files and directories the configuration's modules
	// list names (relative to the repository, slash-separated), where the
	// static reader found them: where the configuration starts.
	Entry []string
	// Where names the file and line that defines it, for comments.
	Where string
}

// Configurations are the configurations of a flake, by kind.
type Configurations struct {
	Darwin, NixOS, Home []Configuration
	// Dynamic lists the places that define configurations the static
	// reader could not name (a function call, an interpolated name),
	// beside the names it read or instead of them.
	Dynamic []Computed
}

// Computed is a part of a flake output that the static reader could not
// name: `genAttrs hosts mk` in `genAttrs hosts mk // { garfield = …; }`.
type Computed struct {
	Output string // darwinConfigurations
	Where  string // flake.nix:10
	Text   string // the expression, shortened; "" for an interpolated attribute name
}

func (c Computed) String() string {
	if c.Text == "" {
		return c.Output + " at " + c.Where
	}
	return c.Output + " at " + c.Where + ": " + c.Text
}

func (c *Configurations) of(output string) *[]Configuration {
	switch output {
	case outDarwin:
		return &c.Darwin
	case outNixOS:
		return &c.NixOS
	}
	return &c.Home
}

// Empty reports whether no configuration was found.
func (c *Configurations) Empty() bool {
	return len(c.Darwin)+len(c.NixOS)+len(c.Home) == 0
}

func (c *Configurations) add(output string, conf Configuration) {
	list := c.of(output)
	for i, have := range *list {
		if have.Name == conf.Name {
			if len(have.Entry) == 0 {
				(*list)[i].Entry = conf.Entry
			}
			return
		}
	}
	*list = append(*list, conf)
}

// ReadFlake reads the configurations a flake.nix defines without
// evaluating it: attribute sets and attribute paths naming
// darwinConfigurations, nixosConfigurations or homeConfigurations
// (flake-parts' flake.darwinConfigurations too), following `import ./x`
// where the set comes from another file, and genAttrs over a literal list.
// Names computed any other way are listed in Dynamic.
func ReadFlake(repo string) (*Configurations, error) {
	data, err := readFile(filepath.Join(repo, "flake.nix"))
	if err != nil {
		return nil, err
	}
	r := &flakeReader{repo: repo, seen: map[string]bool{}}
	r.file(filepath.Join(repo, "flake.nix"), string(data))
	return &r.out, nil
}

type flakeReader struct {
	repo string
	out  Configurations
	seen map[string]bool // files followed through import
}

// source is one tokenized file.
type source struct {
	path string
	toks []token
}

func (s *source) at(i int) token {
	if i < len(s.toks) {
		return s.toks[i]
	}
	return token{kind: tEOF}
}

func (s *source) where(i int, repo string) string {
	rel, err := filepath.Rel(repo, s.path)
	if err != nil {
		rel = s.path
	}
	return filepath.ToSlash(rel) + ":" + strconv.Itoa(s.at(i).line)
}

func (r *flakeReader) file(path, text string) {
	s := &source{path: path, toks: lexNix(text)}
	r.scan(s, 0, len(s.toks))
}

// scan looks at every attribute set between from and to.
func (r *flakeReader) scan(s *source, from, to int) {
	for i := from; i < to; i++ {
		t := s.at(i)
		if !t.is(tPunct, "{") {
			continue
		}
		end := matching(s.toks, i)
		if isPattern(s, i, end) {
			i = end
			continue
		}
		for _, b := range bindings(s, i+1, end) {
			r.binding(s, b)
			r.scan(s, b.value, b.end)
		}
		i = end
	}
}

// binding checks one `path = value;` for configuration outputs.
func (r *flakeReader) binding(s *source, b binding) {
	for j, p := range b.path {
		if p.dynamic || !slices.Contains(configOutputs, p.name) {
			continue
		}
		if j+1 < len(b.path) {
			name := b.path[j+1]
			if name.dynamic {
				r.out.Dynamic = append(r.out.Dynamic, Computed{Output: p.name, Where: s.where(b.start, r.repo)})
				return
			}
			r.out.add(p.name, Configuration{Name: name.name, Entry: r.entry(s, b.value, b.end), Where: s.where(b.start, r.repo)})
			return
		}
		r.configSet(s, p.name, b.value, b.end, 0)
		return
	}
}

// configSet reads the names of a value that should be an attribute set of
// configurations.
func (r *flakeReader) configSet(s *source, output string, from, to, depth int) {
	// The value is terms joined by `//`; each term is a set, an import, a
	// genAttrs over a literal list, or something computed. A term that
	// names nothing is said, even beside terms that do: its names are
	// missing from what init writes.
	for start := from; start < to; start = nextTerm(s, start, to) {
		found := false
		i := start
		// let … in { … }: the set after the bindings.
		for s.at(i).is(tIdent, "let") && i < to {
			i = skipLet(s, i)
		}
		if s.at(i).is(tIdent, "rec") {
			i++
		}
		// (import ./x { … }) // …: the parenthesised term.
		for s.at(i).is(tPunct, "(") && i+1 < to {
			i++
		}
		t := s.at(i)
		switch {
		case t.is(tPunct, "{"):
			end := matching(s.toks, i)
			if end == i+1 {
				found = true // {}: no configuration, none computed
			}
			for _, b := range bindings(s, i+1, end) {
				if b.inherit != nil {
					for _, n := range b.inherit {
						r.out.add(output, Configuration{Name: n, Where: s.where(b.start, r.repo)})
					}
					found = true
					continue
				}
				if len(b.path) == 0 || b.path[0].dynamic {
					r.out.Dynamic = append(r.out.Dynamic, Computed{Output: output, Where: s.where(b.start, r.repo)})
					continue
				}
				r.out.add(output, Configuration{Name: b.path[0].name, Entry: r.entry(s, b.value, b.end), Where: s.where(b.start, r.repo)})
				found = true
			}
		case t.is(tIdent, "import") && s.at(i+1).kind == tPath && !s.at(i+1).dynamic && depth < 4:
			if r.importSet(s, output, s.at(i+1).text, depth+1) {
				found = true
			}
		default:
			// f [ "a" "b" ] … where f is genAttrs, anywhere in the term.
			for k := i; k < to && !s.at(k).is(tOther, "//"); k++ {
				g := s.at(k)
				if g.kind != tIdent || !strings.HasSuffix(g.text, "genAttrs") || !s.at(k+1).is(tPunct, "[") {
					continue
				}
				end := matching(s.toks, k+1)
				for j := k + 2; j < end; j++ {
					if st := s.at(j); st.kind == tString && !st.dynamic {
						r.out.add(output, Configuration{Name: st.text, Where: s.where(j, r.repo)})
						found = true
					}
				}
				break
			}
		}
		if !found {
			end := nextTerm(s, start, to)
			if end < to || s.at(end-1).is(tOther, "//") {
				end-- // the `//`
			}
			r.out.Dynamic = append(r.out.Dynamic, Computed{Output: output, Where: s.where(start, r.repo), Text: exprText(s.toks[start:min(end, len(s.toks))])})
		}
	}
}

// exprText renders tokens as Nix text, near enough to recognize in a
// comment, shortened to 40 bytes.
func exprText(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		text := t.text
		switch t.kind {
		case tString:
			text = strconv.Quote(t.text)
		case tInterp:
			text = "${"
		}
		if i > 0 {
			prev := toks[i-1]
			tight := t.is(tPunct, ".") || prev.is(tPunct, ".") || prev.is(tPunct, "(") || prev.kind == tInterp ||
				t.is(tPunct, ")") || t.is(tPunct, ";") || t.is(tPunct, ":") || t.is(tPunct, ",")
			if !tight {
				b.WriteByte(' ')
			}
		}
		b.WriteString(text)
	}
	out := b.String()
	if len(out) > 40 {
		out = out[:37] + "..."
	}
	return out
}

// nextTerm returns the start of the term after the `//` following i, or to.
func nextTerm(s *source, i, to int) int {
	for ; i < to; i++ {
		t := s.at(i)
		switch {
		case t.is(tPunct, "{") || t.is(tPunct, "[") || t.is(tPunct, "(") || t.kind == tInterp:
			i = matching(s.toks, i)
		case t.is(tIdent, "let"):
			i = skipLet(s, i) - 1 // a // in its bindings joins no terms
		case t.is(tOther, "//"):
			return i + 1
		}
	}
	return to
}

// importSet follows `import ./x` to the set that file evaluates to, past
// its function header and let … in.
func (r *flakeReader) importSet(s *source, output, rel string, depth int) bool {
	p := resolvePath(filepath.Dir(s.path), rel)
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, "default.nix")
	}
	if r.seen[p] {
		return false
	}
	r.seen[p] = true
	data, err := readFile(p)
	if err != nil {
		return false
	}
	sub := &source{path: p, toks: lexNix(string(data))}
	i := skipHeader(sub, 0)
	before := len(*r.out.of(output))
	r.configSet(sub, output, i, len(sub.toks), depth)
	return len(*r.out.of(output)) > before
}

// skipHeader skips function headers (`{ a, ... }:`, `args@{ … }:`, `x:`)
// and `let … in` at i.
func skipHeader(s *source, i int) int {
	for {
		t := s.at(i)
		switch {
		case t.is(tPunct, "{"):
			end := matching(s.toks, i)
			if !isPattern(s, i, end) {
				return i
			}
			i = end + 1
			if s.at(i).is(tPunct, "@") {
				i += 2
			}
			if s.at(i).is(tPunct, ":") {
				i++
			}
		case t.kind == tIdent && s.at(i+1).is(tPunct, ":"):
			i += 2
		case t.kind == tIdent && s.at(i+1).is(tPunct, "@") && s.at(i+2).is(tPunct, "{"):
			i += 2
		case t.is(tIdent, "let"):
			i = skipLet(s, i)
		default:
			return i
		}
	}
}

// skipLet returns the token after the `in` matching the `let` at i.
func skipLet(s *source, i int) int {
	depth := 0
	for k := i; k < len(s.toks); k++ {
		t := s.toks[k]
		switch {
		case t.is(tPunct, "{") || t.is(tPunct, "[") || t.is(tPunct, "(") || t.kind == tInterp:
			k = matching(s.toks, k)
		case t.is(tIdent, "let"):
			depth++
		case t.is(tIdent, "in"):
			depth--
			if depth == 0 {
				return k + 1
			}
		}
	}
	return len(s.toks)
}

// entry lists the paths in the `modules = [ … ]` of a configuration's
// value, relative to the repository; paths outside it or that do not exist
// are left out.
func (r *flakeReader) entry(s *source, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		t := s.at(i)
		if !t.is(tIdent, "modules") || !s.at(i+1).is(tPunct, "=") || !s.at(i+2).is(tPunct, "[") {
			continue
		}
		end := matching(s.toks, i+2)
		for k := i + 3; k < end; k++ {
			pt := s.at(k)
			switch {
			case pt.is(tPunct, "{") || pt.is(tPunct, "(") || pt.is(tPunct, "["):
				// A module written inline, or a call: its paths are not
				// the list's own entries, except `import ./x`.
				k = matching(s.toks, k)
				continue
			case pt.kind != tPath || pt.dynamic || !strings.HasPrefix(pt.text, "."):
				continue
			}
			p := resolvePath(filepath.Dir(s.path), pt.text)
			rel, err := filepath.Rel(r.repo, p)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue
			}
			if _, err := os.Stat(p); err != nil {
				continue
			}
			rel = filepath.ToSlash(rel)
			if !slices.Contains(out, rel) {
				out = append(out, rel)
			}
		}
		i = end
	}
	return out
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// attrPart is one component of an attribute path.
type attrPart struct {
	name    string
	dynamic bool // ${…} or an interpolating string
}

// binding is `path = value;` or `inherit … names;` in an attribute set.
type binding struct {
	path       []attrPart
	inherit    []string // names an inherit brings in
	start      int      // the binding's first token
	value, end int      // the value's tokens: [value, end)
}

// bindings parses the bindings of the set whose tokens are [from, to).
// It stops at the first thing that is not a binding.
func bindings(s *source, from, to int) []binding {
	var out []binding
	i := from
	for i < to {
		start := i
		if s.at(i).is(tIdent, "inherit") {
			i++
			if s.at(i).is(tPunct, "(") {
				i = matching(s.toks, i) + 1
			}
			var names []string
			for i < to && !s.at(i).is(tPunct, ";") {
				if t := s.at(i); t.kind == tIdent || t.kind == tString && !t.dynamic {
					names = append(names, t.text)
				}
				i++
			}
			out = append(out, binding{inherit: names, start: start, value: i, end: i})
			i++
			continue
		}
		var path []attrPart
		for {
			t := s.at(i)
			switch {
			case t.kind == tIdent:
				path = append(path, attrPart{name: t.text})
				i++
			case t.kind == tString:
				path = append(path, attrPart{name: t.text, dynamic: t.dynamic})
				i++
			case t.kind == tInterp:
				path = append(path, attrPart{dynamic: true})
				i = matching(s.toks, i) + 1
			default:
				return out
			}
			if !s.at(i).is(tPunct, ".") {
				break
			}
			i++
		}
		if !s.at(i).is(tPunct, "=") {
			return out
		}
		i++
		end := skipExpr(s, i, to)
		out = append(out, binding{path: path, start: start, value: i, end: end})
		i = end + 1
	}
	return out
}

// skipExpr returns the index of the `;` that ends the expression starting
// at i, skipping brackets and the semicolons that let, with and assert own.
func skipExpr(s *source, i, to int) int {
	pending := 0 // with/assert awaiting their ;, and let awaiting in
	for ; i < to; i++ {
		t := s.at(i)
		switch {
		case t.is(tPunct, "{") || t.is(tPunct, "[") || t.is(tPunct, "(") || t.kind == tInterp:
			i = matching(s.toks, i)
		case t.is(tIdent, "with") || t.is(tIdent, "assert"):
			pending++
		case t.is(tIdent, "let"):
			i = skipLet(s, i) - 1
		case t.is(tPunct, ";"):
			if pending == 0 {
				return i
			}
			pending--
		}
	}
	return to
}

// matching returns the index of the bracket closing the one at i (or the
// last token when it is never closed).
func matching(toks []token, i int) int {
	depth := 0
	for k := i; k < len(toks); k++ {
		t := toks[k]
		if t.kind == tInterp || t.kind == tPunct && (t.text == "{" || t.text == "[" || t.text == "(") {
			depth++
		} else if t.kind == tPunct && (t.text == "}" || t.text == "]" || t.text == ")") {
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return len(toks) - 1
}

// isPattern reports whether the braces [open, end] are a function's
// argument pattern ({ a, b ? 1, ... }: or { … }@args:) rather than a set.
func isPattern(s *source, open, end int) bool {
	next := s.at(end + 1)
	if next.is(tPunct, ":") || next.is(tPunct, "@") {
		return true
	}
	// `{ }:` handled above; `{ a, b }` with commas and no `=` at depth 1
	// is a pattern even when written oddly.
	return false
}

// maxRead bounds a file of the repository init reads (flake.nix, what it
// imports, a Taskfile): they are kilobytes, and a link to /dev/zero must
// not fill memory.
const maxRead = 16 << 20

// readFile reads a regular file of at most maxRead bytes; a FIFO, which
// would block, or a device is refused by name.
func readFile(path string) ([]byte, error) { return config.ReadRegular(path, maxRead) }
