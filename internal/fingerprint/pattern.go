package fingerprint

import (
	"fmt"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Pattern kinds, by what the part after the literal prefix looks like. The
// kinds exist so the walk can prune directories and match most files without
// calling doublestar; doublestar.Match stays the definition of a match, and
// TestFastMatchAgreesWithDoublestar holds the fast paths to it.
const (
	kindLiteral = iota // no wildcard at all: one exact path
	kindTree           // prefix/** : everything under prefix
	kindBase           // prefix/**/X, X one segment: files under prefix whose name matches X
	kindFixed          // prefix/A/B/X, no ** : segment by segment, fixed depth
	kindGeneric        // prefix/… with ** elsewhere: prune by literal prefix, match the full path
)

type pattern struct {
	raw     string // without the leading "!"
	spec    int    // index of the spec within the chunk being scanned
	exclude bool
	kind    int
	lit     []string // literal leading segments
	rest    []string // segments after lit (kindBase, kindFixed)
	base    nameMatcher
}

// nameMatcher matches one path segment against one pattern segment, with the
// common shapes done as plain string tests.
type nameMatcher struct {
	op  byte // '=' exact, '>' suffix, '<' prefix, '*' any, 'g' glob
	lit string
	seg string
}

func newNameMatcher(seg string) nameMatcher {
	switch {
	case seg == "*":
		return nameMatcher{op: '*'}
	case !hasMeta(seg):
		return nameMatcher{op: '=', lit: seg}
	case seg[0] == '*' && !hasMeta(seg[1:]):
		return nameMatcher{op: '>', lit: seg[1:]}
	case seg[len(seg)-1] == '*' && !hasMeta(seg[:len(seg)-1]):
		return nameMatcher{op: '<', lit: seg[:len(seg)-1]}
	}
	return nameMatcher{op: 'g', seg: seg}
}

func (m *nameMatcher) match(name string) bool {
	switch m.op {
	case '=':
		return name == m.lit
	case '>':
		return strings.HasSuffix(name, m.lit)
	case '<':
		return strings.HasPrefix(name, m.lit)
	case '*':
		return true
	}
	return doublestar.MatchUnvalidated(m.seg, name)
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[]{}\`) }

// compilePattern parses one pattern string of a spec.
func compilePattern(s string, spec int) (*pattern, error) {
	p := &pattern{spec: spec}
	raw := s
	if strings.HasPrefix(raw, "!") {
		p.exclude = true
		raw = raw[1:]
	}
	for strings.HasPrefix(raw, "./") {
		raw = raw[2:]
	}
	switch {
	case raw == "":
		return nil, fmt.Errorf("bad pattern %q: empty", s)
	case strings.HasPrefix(raw, "/"):
		return nil, fmt.Errorf("bad pattern %q: must be relative to the root", s)
	case strings.HasSuffix(raw, "/"):
		return nil, fmt.Errorf("bad pattern %q: patterns match files; did you mean %q", s, raw+"**")
	case !doublestar.ValidatePattern(raw):
		return nil, fmt.Errorf("bad pattern %q: invalid glob syntax", s)
	}
	p.raw = raw
	if !splittable(raw) {
		// A brace or class holding a "/" cannot be cut into segments: keep the
		// literal directories before the first wildcard and match whole paths.
		cut := strings.IndexAny(raw, `*?[{\`)
		if i := strings.LastIndexByte(raw[:cut], '/'); i >= 0 {
			p.lit = strings.Split(raw[:i], "/")
		}
		p.kind = kindGeneric
		return p, checkSegments(s, p.lit)
	}
	segs := strings.Split(raw, "/")
	if err := checkSegments(s, segs); err != nil {
		return nil, err
	}
	n := 0
	for n < len(segs) && !hasMeta(segs[n]) {
		n++
	}
	p.lit, p.rest = segs[:n], segs[n:]
	switch {
	case len(p.rest) == 0:
		p.kind = kindLiteral
	case len(p.rest) == 1 && p.rest[0] == "**":
		p.kind = kindTree
	case len(p.rest) == 2 && p.rest[0] == "**" && p.rest[1] != "**":
		p.kind = kindBase
		p.base = newNameMatcher(p.rest[1])
	default:
		p.kind = kindFixed
		for _, r := range p.rest {
			if r == "**" {
				p.kind = kindGeneric
				break
			}
		}
	}
	return p, nil
}

func checkSegments(orig string, segs []string) error {
	for _, s := range segs {
		switch s {
		case "":
			return fmt.Errorf("bad pattern %q: empty path segment", orig)
		case ".", "..":
			return fmt.Errorf("bad pattern %q: %q segments are not allowed", orig, s)
		}
	}
	return nil
}

// splittable reports whether every "/" in p separates segments, i.e. none is
// inside a {…} alternation or a […] class or escaped.
func splittable(p string) bool {
	depth, class := 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			if i+1 < len(p) && p[i+1] == '/' {
				return false
			}
			i++
		case class:
			if c == ']' {
				class = false
			} else if c == '/' {
				return false
			}
		case c == '[':
			class = true
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '/' && depth > 0:
			return false
		}
	}
	return true
}

// matchFull is the definition of a pattern match, used wherever the walk has
// no fast path and by tests as the reference: doublestar's match, plus the rule
// that wildcards never enter a directory named ".git" (its contents change on
// every git command), unless the pattern's literal prefix names it.
func (p *pattern) matchFull(path string) bool {
	if !doublestar.MatchUnvalidated(p.raw, path) {
		return false
	}
	if p.exclude {
		return true
	}
	return !gitBelow(path, len(p.lit))
}

// gitBelow reports whether a directory segment of path at index >= from is ".git".
func gitBelow(path string, from int) bool {
	if !strings.Contains(path, ".git/") {
		return false
	}
	i := 0
	for seg := 0; ; seg++ {
		j := strings.IndexByte(path[i:], '/')
		if j < 0 {
			return false // the last segment is the file itself
		}
		if seg >= from && path[i:i+j] == ".git" {
			return true
		}
		i += j + 1
	}
}

// Pattern states within one directory.
const (
	stDead     = iota // nothing at or below this directory can match
	stInPrefix        // the directory is a proper prefix of the literal part
	stUnder           // the directory is at or below the literal part
)

type patState struct {
	st    uint8
	depth int32 // segments of the directory
}

// rootState is the state of p at the scan root.
func (p *pattern) rootState() patState {
	if len(p.lit) == 0 {
		if p.kind == kindLiteral {
			return patState{st: stDead}
		}
		return patState{st: stUnder}
	}
	return patState{st: stInPrefix}
}

// childState is the state of p in subdirectory name of a directory in state s.
func (p *pattern) childState(s patState, name string) patState {
	c := patState{st: stDead, depth: s.depth + 1}
	switch s.st {
	case stInPrefix:
		if name != p.lit[s.depth] {
			return c
		}
		switch {
		case int(c.depth) < len(p.lit):
			c.st = stInPrefix
		case p.kind != kindLiteral:
			c.st = stUnder
		}
	case stUnder:
		if name == ".git" && !p.exclude {
			return c
		}
		if p.kind == kindFixed {
			// Dirs past the prefix must match the pattern segment for segment,
			// leaving one segment for the file.
			i := int(s.depth) - len(p.lit)
			if i+1 >= len(p.rest) || !doublestar.MatchUnvalidated(p.rest[i], name) {
				return c
			}
		}
		c.st = stUnder
	}
	return c
}

// fileCheck is one pattern's test for the files of one directory.
type fileCheck struct {
	p    *pattern
	op   byte // 'a' all, 'n' name matcher, 'f' full match, 'e' exact name then full match
	name nameMatcher
	lit  string
}

// fileCheckFor returns how files in a directory in state s are tested against
// p, and false if none can match.
func (p *pattern) fileCheckFor(s patState) (fileCheck, bool) {
	fc := fileCheck{p: p}
	switch s.st {
	case stInPrefix:
		if int(s.depth) != len(p.lit)-1 {
			return fc, false
		}
		if p.kind == kindLiteral {
			fc.op, fc.name = 'n', nameMatcher{op: '=', lit: p.lit[s.depth]}
			return fc, true
		}
		// "a/**" also matches a file named "a": let doublestar decide.
		fc.op, fc.lit = 'e', p.lit[s.depth]
		return fc, true
	case stUnder:
		switch p.kind {
		case kindTree:
			fc.op = 'a'
		case kindBase:
			fc.op, fc.name = 'n', p.base
		case kindFixed:
			i := int(s.depth) - len(p.lit)
			if i != len(p.rest)-1 {
				return fc, false
			}
			fc.op, fc.name = 'n', newNameMatcher(p.rest[i])
		default:
			fc.op = 'f'
		}
		return fc, true
	}
	return fc, false
}

func (fc *fileCheck) match(name, path string) bool {
	switch fc.op {
	case 'a':
		return true
	case 'n':
		return fc.name.match(name)
	case 'e':
		return name == fc.lit && fc.p.matchFull(path)
	}
	return fc.p.matchFull(path)
}

// specSet is the compiled form of up to 64 specs.
type specSet struct {
	specs    []Spec
	patterns []*pattern
}

func compileSpecs(specs []Spec) (*specSet, error) {
	ss := &specSet{specs: specs}
	for i, sp := range specs {
		for _, s := range sp.Patterns {
			p, err := compilePattern(s, i)
			if err != nil {
				return nil, err
			}
			ss.patterns = append(ss.patterns, p)
		}
	}
	return ss, nil
}

// matchMask is the reference selection of path by patterns alone: bit i is
// set when spec i includes path through some pattern and excludes it through
// none. explicit adds specs that list path in Files, still subject to excludes.
func (ss *specSet) matchMask(path string, explicit uint64) uint64 {
	inc := explicit
	for _, p := range ss.patterns {
		if !p.exclude && inc&(1<<p.spec) == 0 && p.matchFull(path) {
			inc |= 1 << p.spec
		}
	}
	return inc &^ ss.excludeMask(path, inc)
}

// excludeMask returns the specs among candidates whose excludes match path.
func (ss *specSet) excludeMask(path string, candidates uint64) uint64 {
	var ex uint64
	for _, p := range ss.patterns {
		if p.exclude && candidates&(1<<p.spec) != 0 && ex&(1<<p.spec) == 0 && p.matchFull(path) {
			ex |= 1 << p.spec
		}
	}
	return ex
}

// dirCtx is what the walk knows about one directory: each pattern's state and
// the per-file tests derived from them.
type dirCtx struct {
	states []patState
	// walk: some spec can include a file at or below this directory.
	walk bool
	// incAll: specs with an include that takes every file here.
	incAll uint64
	// deadMask: specs whose excludes cover this whole subtree.
	deadMask uint64
	// incChecks: include tests for specs not in incAll or deadMask.
	incChecks []fileCheck
	// excChecks: exclude tests for specs not in deadMask.
	excChecks []fileCheck
}

func (ss *specSet) rootCtx() *dirCtx {
	states := make([]patState, len(ss.patterns))
	for i, p := range ss.patterns {
		states[i] = p.rootState()
	}
	return ss.newCtx(states)
}

// childStates fills dst with the pattern states of subdirectory name of
// parent, and reports whether the walk must enter it.
func (ss *specSet) childStates(parent *dirCtx, name string, dst []patState) bool {
	var alive, dead uint64
	for i, p := range ss.patterns {
		s := p.childState(parent.states[i], name)
		dst[i] = s
		if s.st == stDead {
			continue
		}
		if !p.exclude {
			alive |= 1 << p.spec
		} else if p.kind == kindTree && s.st == stUnder {
			dead |= 1 << p.spec
		}
	}
	return alive&^dead != 0
}

func (ss *specSet) newCtx(states []patState) *dirCtx {
	c := &dirCtx{states: states}
	var incAny uint64
	for i, p := range ss.patterns {
		s := states[i]
		if s.st == stDead {
			continue
		}
		bit := uint64(1) << p.spec
		if p.exclude {
			if p.kind == kindTree && s.st == stUnder {
				c.deadMask |= bit
			}
			continue
		}
		incAny |= bit
		if p.kind == kindTree && s.st == stUnder {
			c.incAll |= bit
		}
	}
	c.walk = incAny&^c.deadMask != 0
	c.incAll &^= c.deadMask
	for i, p := range ss.patterns {
		bit := uint64(1) << p.spec
		if bit&c.deadMask != 0 || (!p.exclude && bit&c.incAll != 0) {
			continue
		}
		fc, ok := p.fileCheckFor(states[i])
		if !ok {
			continue
		}
		if p.exclude {
			c.excChecks = append(c.excChecks, fc)
		} else {
			c.incChecks = append(c.incChecks, fc)
		}
	}
	return c
}

// excluded returns the specs among candidates that exclude the entry name
// (full relative path path) of this directory.
func (c *dirCtx) excluded(name, path string, candidates uint64) uint64 {
	ex := candidates & c.deadMask
	for i := range c.excChecks {
		fc := &c.excChecks[i]
		bit := uint64(1) << fc.p.spec
		if candidates&^ex&bit != 0 && fc.match(name, path) {
			ex |= bit
		}
	}
	return ex
}

// fileMask selects a file of this directory by its name and full relative
// path; explicit are the specs that list it in Files.
func (c *dirCtx) fileMask(name, path string, explicit uint64) uint64 {
	inc := c.incAll | explicit&^c.deadMask
	for i := range c.incChecks {
		fc := &c.incChecks[i]
		bit := uint64(1) << fc.p.spec
		if inc&bit == 0 && fc.match(name, path) {
			inc |= bit
		}
	}
	for i := range c.excChecks {
		fc := &c.excChecks[i]
		bit := uint64(1) << fc.p.spec
		if inc&bit != 0 && fc.match(name, path) {
			inc &^= bit
		}
	}
	return inc
}
