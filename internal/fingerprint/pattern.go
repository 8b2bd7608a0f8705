package fingerprint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Pattern kinds, by what the part after the literal prefix looks like. The
// kinds exist so the walk can prune directories and match most files without
// calling doublestar; doublestar.Match stays the definition of a match, and
// TestSelectionMatchesReference holds the fast paths to it.
const (
	kindTree    = iota // prefix/** (or a bare path, which means the same): everything at or under prefix
	kindBase           // prefix/**/X, X one segment: files under prefix whose name matches X
	kindFixed          // prefix/A/B/X, no ** : segment by segment, fixed depth
	kindGeneric        // prefix/… with ** elsewhere: prune by literal prefix, match the full path
)

type pattern struct {
	raw     string // the glob, relative to the walk's root, without the leading "!"
	given   string // as the spec gave it, for messages
	spec    int    // index of the spec within the chunk being scanned
	exclude bool
	// copy marks a spec's Trees: every entry is selected as a copy of the
	// directory holds it, so .git directories are entered at any depth and
	// symlinks are not followed. Patterns (copy false) follow symlinks to
	// directories and leave .git alone.
	copy bool
	kind int
	lit  []string // literal leading segments, unescaped
	rest []string // segments after lit (kindBase, kindFixed)
	base nameMatcher
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

// compilePattern parses one pattern of a spec, relative to the walk's
// root (an absolute pattern comes here without its leading "/"). given is
// the pattern as the spec wrote it, for messages.
func compilePattern(raw, given string, spec int) (*pattern, error) {
	p := &pattern{spec: spec, given: given}
	if strings.HasPrefix(raw, "!") {
		p.exclude = true
		raw = raw[1:]
	}
	for strings.HasPrefix(raw, "./") {
		raw = raw[2:]
	}
	switch {
	case raw == "":
		return nil, fmt.Errorf("bad pattern %q: empty", given)
	case strings.HasPrefix(raw, "/"):
		return nil, fmt.Errorf("bad pattern %q: empty path segment", given)
	case strings.HasSuffix(raw, "/"):
		return nil, fmt.Errorf("bad pattern %q: patterns match files; did you mean %q", given, strings.TrimSuffix(given, "/"))
	case !doublestar.ValidatePattern(raw):
		return nil, fmt.Errorf("bad pattern %q: invalid glob syntax", given)
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
		return p, checkSegments(given, p.lit)
	}
	segs := strings.Split(raw, "/")
	var lit []string
	for _, seg := range segs {
		name, ok := literalSegment(seg)
		if !ok {
			break
		}
		lit = append(lit, name)
	}
	if err := checkSegments(given, lit); err != nil {
		return nil, err
	}
	if err := checkSegments(given, segs[len(lit):]); err != nil {
		return nil, err
	}
	p.lit, p.rest = lit, segs[len(lit):]
	switch {
	case len(p.rest) == 0:
		// A bare path names a file, or a directory and all it holds: as
		// with .gitignore, `src` means what `src/**` does (and doublestar's
		// `src/**` matches `src` itself).
		p.kind = kindTree
		p.raw += "/**"
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

// treePattern is the pattern for one of a spec's Trees: dir ("" for the
// walk's root) and everything under it, as a copy holds it.
func treePattern(dir, given string, spec int) (*pattern, error) {
	p := &pattern{spec: spec, given: given, copy: true, kind: kindTree, raw: "**"}
	if dir != "" {
		p.lit = strings.Split(dir, "/")
		if err := checkSegments(given, p.lit); err != nil {
			return nil, err
		}
		esc := make([]string, len(p.lit))
		for i, s := range p.lit {
			esc[i] = escapeMeta(s)
		}
		p.raw = strings.Join(esc, "/") + "/**"
	}
	return p, nil
}

// literalSegment returns seg with its escapes removed, if it holds no
// wildcard: `\[x\]` names the file "[x]".
func literalSegment(seg string) (string, bool) {
	if !hasMeta(seg) {
		return seg, true
	}
	b := make([]byte, 0, len(seg))
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; c {
		case '\\':
			if i+1 == len(seg) {
				return "", false
			}
			i++
			b = append(b, seg[i])
		case '*', '?', '[', ']', '{', '}':
			return "", false
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

// escapeMeta escapes the glob metacharacters of a literal name.
func escapeMeta(s string) string {
	if !hasMeta(s) {
		return s
	}
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]{}\`, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

func checkSegments(orig string, segs []string) error {
	for _, s := range segs {
		switch s {
		case "":
			return fmt.Errorf("bad pattern %q: empty path segment", orig)
		case ".", "..":
			return fmt.Errorf("bad pattern %q: %q segments are not allowed", orig, s)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("bad pattern %q: NUL in a path", orig)
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
// every git command), unless the pattern's literal prefix names it, it is an
// exclude, or it is a copy of a tree (nix copies .git with a path: flake).
func (p *pattern) matchFull(path string) bool {
	if !doublestar.MatchUnvalidated(p.raw, path) {
		return false
	}
	if p.exclude || p.copy {
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

// rootState is the state of p at the walk's root.
func (p *pattern) rootState() patState {
	if len(p.lit) == 0 {
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
		if int(c.depth) < len(p.lit) {
			c.st = stInPrefix
		} else {
			c.st = stUnder
		}
	case stUnder:
		if name == ".git" && !p.exclude && !p.copy {
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

// covers reports whether p, in state s, matches everything at and below
// the directory.
func (p *pattern) covers(s patState) bool {
	return p.kind == kindTree && s.st == stUnder
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

// specSet is the compiled form of up to 64 specs. Each spec's patterns
// are kept in its order: its Trees, then its Patterns as given. As in
// .gitignore, the last pattern that matches a path decides whether it is
// in (an include) or out (an exclude); a path no pattern matches is in
// when the spec lists it in Files.
type specSet struct {
	specs    []Spec
	patterns []*pattern // by spec, each spec's in order
}

// compileSpecs compiles the specs' Trees and Patterns. absolute: the
// walk starts at "/", and the paths (which start with "/" as given) are
// made relative to it.
func compileSpecs(specs []Spec, absolute bool) (*specSet, error) {
	ss := &specSet{specs: specs}
	for i, sp := range specs {
		for _, d := range sp.Trees {
			dir := d
			switch {
			case absolute:
				dir = d[1:]
				if dir == "" {
					return nil, fmt.Errorf("bad tree %q: the whole file system", d)
				}
			case d == ".":
				dir = ""
			}
			p, err := treePattern(dir, d, i)
			if err != nil {
				return nil, err
			}
			ss.patterns = append(ss.patterns, p)
		}
		for _, s := range sp.Patterns {
			raw := s
			if absolute {
				body := strings.TrimPrefix(s, "!")
				rel := body[1:]
				if strings.HasPrefix(rel, "!") {
					// "/!x/**" names the directory "!x": without
					// its "/" it would read as an exclude.
					rel = `\` + rel
				}
				raw = s[:len(s)-len(body)] + rel
			}
			p, err := compilePattern(raw, s, i)
			if err != nil {
				return nil, err
			}
			if absolute && len(p.lit) == 0 {
				return nil, fmt.Errorf("bad pattern %q: an absolute pattern must start with a directory, like /etc/nix/**", s)
			}
			ss.patterns = append(ss.patterns, p)
		}
	}
	return ss, nil
}

// decide is the reference selection of path: bit i is set when the last
// pattern of spec i that matches path is an include, or when none matches
// and explicit (the specs that list path in Files) has bit i.
func (ss *specSet) decide(path string, explicit uint64) uint64 {
	var inc, decided uint64
	for i := len(ss.patterns) - 1; i >= 0; i-- {
		p := ss.patterns[i]
		bit := uint64(1) << p.spec
		if decided&bit == 0 && p.matchFull(path) {
			decided |= bit
			if !p.exclude {
				inc |= bit
			}
		}
	}
	return inc | explicit&^decided
}

// dirCtx is what the walk knows about one directory: each pattern's state and
// the per-file tests derived from them.
type dirCtx struct {
	states []patState
	// walk: some spec can include a file at or below this directory.
	walk bool
	// follows: a pattern that follows symlinks is alive here.
	follows bool
	// incAll: specs whose last live pattern here takes every file.
	incAll uint64
	// excAll: specs whose last live pattern here excludes every file, and
	// everything below.
	excAll uint64
	// checks: the tests of the other specs, each spec's last pattern
	// first, ending at the first that takes or excludes every file.
	checks []fileCheck
}

func (ss *specSet) rootCtx() *dirCtx {
	states := make([]patState, len(ss.patterns))
	for i, p := range ss.patterns {
		states[i] = p.rootState()
	}
	return ss.newCtx(states)
}

// childStates fills dst with the pattern states of subdirectory name of
// parent, and reports whether the walk must enter it. followed: the
// subdirectory is a symlink's target, which only Patterns (not Trees) see.
func (ss *specSet) childStates(parent *dirCtx, name string, dst []patState, followed bool) bool {
	for i, p := range ss.patterns {
		s := patState{st: stDead}
		if !followed || !p.copy {
			s = p.childState(parent.states[i], name)
		}
		dst[i] = s
	}
	return ss.needMask(dst) != 0
}

// needMask returns the specs that a directory whose pattern states are
// states (as childStates left them) may have files of.
func (ss *specSet) needMask(states []patState) uint64 {
	var need, blocked uint64
	for i := len(ss.patterns) - 1; i >= 0; i-- {
		p, s := ss.patterns[i], states[i]
		bit := uint64(1) << p.spec
		if s.st == stDead || blocked&bit != 0 {
			continue
		}
		switch {
		case !p.exclude:
			need |= bit
		case p.covers(s):
			// Nothing earlier in the spec can bring a file below back.
			blocked |= bit
		}
	}
	return need
}

func (ss *specSet) newCtx(states []patState) *dirCtx {
	c := &dirCtx{states: states}
	var need, blocked, decided, checked uint64
	var buf [8]fileCheck // most directories need fewer: one allocation
	checks := buf[:0]
	for i := len(ss.patterns) - 1; i >= 0; i-- {
		p := ss.patterns[i]
		s := states[i]
		if s.st == stDead {
			continue
		}
		bit := uint64(1) << p.spec
		if blocked&bit == 0 {
			switch {
			case !p.exclude:
				need |= bit
				c.follows = c.follows || !p.copy
			case p.covers(s):
				blocked |= bit
			}
		}
		if decided&bit != 0 {
			continue
		}
		fc, ok := p.fileCheckFor(s)
		if !ok {
			continue
		}
		if fc.op == 'a' {
			decided |= bit
			if checked&bit == 0 {
				if p.exclude {
					c.excAll |= bit
				} else {
					c.incAll |= bit
				}
				continue
			}
		}
		checked |= bit
		checks = append(checks, fc)
	}
	if len(checks) > 0 {
		c.checks = slices.Clone(checks)
	}
	c.walk = need != 0
	return c
}

// fileMask selects a file of this directory by its name and full relative
// path; explicit are the specs that list it in Files.
func (c *dirCtx) fileMask(name, path string, explicit uint64) uint64 {
	inc := c.incAll
	decided := c.incAll | c.excAll
	for i := range c.checks {
		fc := &c.checks[i]
		bit := uint64(1) << fc.p.spec
		if decided&bit == 0 && fc.match(name, path) {
			decided |= bit
			if !fc.p.exclude {
				inc |= bit
			}
		}
	}
	return inc | explicit&^decided
}

// keep returns the specs among explicit that keep a listed path of this
// directory: those whose patterns do not exclude it.
func (c *dirCtx) keep(name, path string, explicit uint64) uint64 {
	return explicit & c.fileMask(name, path, explicit)
}

// EscapeGlob makes a path a pattern of Spec that names it alone. A leading
// "!" would make the pattern an exclude (of the name without it), so "!"
// is escaped too: doublestar reads "\!" as "!".
func EscapeGlob(path string) string {
	var b strings.Builder
	for _, r := range path {
		if strings.ContainsRune(`*?[]{}\!`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Selects reports whether patterns, read as a Spec's Patterns, select the
// file at path (relative to the root). Bad patterns select nothing.
func Selects(patterns []string, path string) bool {
	ss, err := compileSpecs([]Spec{{Patterns: patterns}}, false)
	return err == nil && ss.decide(path, 0) != 0
}
