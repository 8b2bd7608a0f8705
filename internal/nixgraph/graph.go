package nixgraph

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Config is one configuration of a flake.
type Config struct {
	// Name is its attribute path in the flake's outputs:
	// "nixosConfigurations.lv426", "darwinConfigurations.arrakis",
	// "homeConfigurations.me". It lets a module that reads another
	// configuration by name (outputs.nixosConfigurations.lv426.config…)
	// reach that configuration's entries instead of the whole flake.
	Name string
	// Entries are where it starts: the files and directories flake.nix
	// puts in its modules list (hosts/lv426, modules/darwin). A directory
	// stands for everything under it.
	Entries []string
}

// Request says what to analyse. Every path is slash-separated and relative
// to the root of the source tree Nix copies (the top of the git work tree).
type Request struct {
	// Tracked is every tracked file (from git's index). Only these count:
	// Nix sees no other file of a git flake.
	Tracked []string
	// Config is the configuration to analyse.
	Config Config
	// Others are the flake's other configurations. flake.nix defines
	// every configuration: what sits in another one's own definition
	// (nixosConfigurations.b = …, its Name written literally) is followed
	// only when a reached file reads that configuration by name. Without
	// Others, or without Config.Name, flake.nix reaches every host.
	Others []Config
	// Outputs are the deferred flake outputs (packages, legacyPackages,
	// checks …; see deferredOutputs) the configuration itself is defined
	// under, as a nix-profile step building packages.x86_64-linux.tools
	// is: what flake.nix defines them with is read as if a reached file
	// read them. "*" stands for every deferred output, for an attribute
	// path that cannot be told.
	Outputs []string
	// Flake is the path of flake.nix; "" means "flake.nix". flake.lock
	// beside it is always an input too.
	Flake string
	// Roots are the absolute paths of the tree's root as Nix files may
	// write them (the path as configured and its symlink-free form), so an
	// absolute path into the tree is recognised.
	Roots []string
	// SetAsideWhole is for diagnostics only: the widenings to the whole
	// tree are reported but not followed, which shows what the
	// configuration would read without them (sysinit graph can tell a user
	// what dropping self from nix.registry would gain); so are references
	// to the tree's root. The result is then not sound: it must never
	// decide that a step is up to date.
	SetAsideWhole bool
	// StopAtWhole stops at the first reference that reaches the whole
	// tree (self used as a value, ./. …), for a caller that then takes
	// every tracked file and HEAD as inputs and needs no more: the rest
	// of the tree is neither stat'ed nor read. The Result has Stopped
	// set; what the analysis would have found after — more widenings,
	// impure inputs, git metadata read — is not in it.
	StopAtWhole bool
}

// Widening is a reference the analysis could not follow exactly, and the
// path prefix it widened to instead.
type Widening struct {
	Construct string // what could not be followed: "builtins.readDir", "path interpolation", "self used as a value"
	File      string
	Line      int
	// Dir is the prefix every file it reaches starts with: "modules/" is a
	// directory, "modules/banner" also reaches modules/banner.txt, "." is
	// the whole tree.
	Dir string
}

func (w Widening) String() string {
	return fmt.Sprintf("%s:%d: %s widens to %s", w.File, w.Line, w.Construct, w.Dir)
}

// Impure is an input from outside the tree: only a probe of the active
// system can notice that it changed.
type Impure struct {
	File      string
	Line      int
	Construct string // "home path", "search path", "environment variable", "absolute path"
	Text      string // the path, or what is read
}

func (i Impure) String() string {
	return fmt.Sprintf("%s:%d: %s %s", i.File, i.Line, i.Construct, i.Text)
}

// Site is a place in a file.
type Site struct {
	File      string
	Line      int
	Construct string
}

// Edge is one step of a chain of references.
type Edge struct {
	From string // the file holding the reference; "" for an entry or flake.nix itself
	Line int
	Ref  string // the path prefix the reference resolved to ("modules/" or "hosts/a/x.nix")
	To   string // the file reached
	Via  string // what kind of step: "entry", "flake", "symlink", or the construct that widened it
}

func (e Edge) String() string {
	if e.From == "" {
		return fmt.Sprintf("%s (%s)", e.To, e.Via)
	}
	s := e.From
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	s += " → " + e.To
	var notes []string
	if e.Ref != e.To {
		notes = append(notes, "by "+e.Ref)
	}
	if e.Via != "" {
		notes = append(notes, e.Via)
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, "; ") + ")"
	}
	return s
}

// Result is what a configuration can read.
type Result struct {
	// Files are the reachable tracked files, sorted.
	Files []string
	// Widenings are the references that could not be followed exactly, in
	// the reachable files.
	Widenings []Widening
	// Impure are inputs from outside the tree.
	Impure []Impure
	// GitHead are the places that read git metadata (self.rev,
	// self.lastModified …): HEAD's commit and whether the work tree is
	// dirty are then inputs, which no tracked file's content shows. The
	// caller adds .git/HEAD and the ref it names, and the tree's dirtiness.
	GitHead []Site
	// Stopped says the analysis stopped at a reference to the whole tree
	// (Request.StopAtWhole): every tracked file is reached, and git
	// metadata may be read where it did not look, so HEAD is an input.
	Stopped bool

	tracked []string
	parent  []parentRec
}

type parentRec struct {
	from int32 // index into tracked; -1 for an entry, -2 for flake.nix and flake.lock
	line int32
	ref  string
	via  string
}

// Reaches reports whether the configuration can read the tracked file p.
func (r *Result) Reaches(p string) bool {
	i, ok := find(r.tracked, p)
	return ok && r.parent[i].from != notReached
}

// Chain returns the references that lead from an entry (or flake.nix) to
// the tracked file p, first step first, or nil when p is not reachable.
// The chain is a shortest one.
func (r *Result) Chain(p string) []Edge {
	i, ok := find(r.tracked, p)
	if !ok || r.parent[i].from == notReached {
		return nil
	}
	var rev []Edge
	for guard := 0; guard <= len(r.tracked); guard++ {
		pr := r.parent[i]
		e := Edge{Line: int(pr.line), Ref: pr.ref, To: r.tracked[i], Via: pr.via}
		if pr.from < 0 {
			rev = append(rev, e)
			break
		}
		e.From = r.tracked[pr.from]
		rev = append(rev, e)
		i = int(pr.from)
	}
	for a, b := 0, len(rev)-1; a < b; a, b = a+1, b-1 {
		rev[a], rev[b] = rev[b], rev[a]
	}
	return rev
}

const (
	notReached = -3
	fromEntry  = -1
	fromFlake  = -2
)

// maxFile bounds what is lexed: token offsets are 32-bit.
const maxFile = 1 << 30

// EntryError is an entry that names no tracked file.
type EntryError struct{ Entry string }

func (e *EntryError) Error() string {
	return fmt.Sprintf("entry %q: no tracked file is at or under it", e.Entry)
}

type analysis struct {
	src     FileSource
	cache   *Cache
	req     Request
	tracked []string
	flake   string
	lock    string
	roots   []string
	configs map[string]Config // every configuration by Name
	parent  []parentRec
	lexed   []bool
	code    []bool // read as Nix code whatever its name: imported exactly
	// maybeCode marks files a dynamic import may read (import (d + …)):
	// lexed for their references, but most are data, so what looks like
	// an impure reference in them is not reported.
	maybeCode []bool
	queue     []int32
	// flake.nix's references under deferred outputs, by output; which
	// outputs a reached file reads (and where), and which were followed.
	deferred  map[string][]ref
	triggered map[string]string
	followed  map[string]bool
	flakeIdx  int
	note      string // why the references being followed are read, for chains
	stop      bool   // StopAtWhole, and the whole tree is reached
	res       *Result
	scratch   []Token
}

// Analyze finds the tracked files a configuration can read, starting from
// its entries and flake.nix. A nil cache parses every Nix file it reaches.
func Analyze(src FileSource, req Request, cache *Cache) (*Result, error) {
	if cache == nil {
		cache = NewCache()
	}
	a := &analysis{src: src, cache: cache, req: req}
	a.tracked = sortedSet(req.Tracked)
	a.flake = cleanRel(req.Flake)
	if a.flake == "" {
		a.flake = "flake.nix"
	}
	a.lock = path.Join(path.Dir(a.flake), "flake.lock")
	for _, r := range req.Roots {
		if r = path.Clean(r); r != "/" && r != "." {
			a.roots = append(a.roots, r)
		}
	}
	a.configs = map[string]Config{}
	if req.Config.Name != "" {
		a.configs[req.Config.Name] = req.Config
	}
	for _, c := range req.Others {
		if c.Name != "" {
			if _, dup := a.configs[c.Name]; !dup {
				a.configs[c.Name] = c
			}
		}
	}
	n := len(a.tracked)
	a.parent = make([]parentRec, n)
	for i := range a.parent {
		a.parent[i].from = notReached
	}
	a.lexed = make([]bool, n)
	a.code = make([]bool, n)
	a.maybeCode = make([]bool, n)
	a.triggered = map[string]string{}
	for _, o := range req.Outputs {
		// Followed when flake.nix is read, as any output read before it.
		a.triggered[o] = "the attribute the step builds"
	}
	a.flakeIdx = -1
	a.res = &Result{tracked: a.tracked, parent: a.parent}

	if len(req.Config.Entries) == 0 {
		a.res.Widenings = append(a.res.Widenings, Widening{Construct: "no entries", Dir: "."})
		a.reachPrefix("", parentRec{from: fromEntry, via: "entry", ref: "."})
	}
	for _, e := range req.Config.Entries {
		e = cleanRel(e)
		if a.reachEntry(e, parentRec{from: fromEntry, via: "entry"}) == 0 {
			return nil, &EntryError{Entry: e}
		}
	}
	if err := a.drain(); err != nil {
		return nil, err
	}
	// flake.nix defines the configuration: what it references (overlays,
	// lib, shared modules) is read, but for what sits in another
	// configuration's own definition (ref.Owner).
	for _, f := range []string{a.flake, a.lock} {
		if i, ok := find(a.tracked, f); ok {
			a.mark(i, parentRec{from: fromFlake, via: "flake", ref: f})
		}
	}
	if err := a.drain(); err != nil {
		return nil, err
	}
	for i, p := range a.parent {
		if p.from != notReached {
			a.res.Files = append(a.res.Files, a.tracked[i])
		}
	}
	a.res.Stopped = a.stop
	// A file visited again (reached freely after flake.nix reached it)
	// reports its findings again.
	a.res.Widenings = unique(a.res.Widenings)
	a.res.Impure = unique(a.res.Impure)
	a.res.GitHead = unique(a.res.GitHead)
	return a.res, nil
}

func unique[T comparable](xs []T) []T {
	seen := make(map[T]bool, len(xs))
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// sortedSet returns the paths sorted and without repeats (git's paths are
// clean already).
func sortedSet(in []string) []string {
	out := make([]string, 0, len(in))
	sorted := true
	for i, p := range in {
		out = append(out, p)
		if i > 0 && in[i-1] >= p {
			sorted = false
		}
	}
	if !sorted {
		sort.Strings(out)
		w := 0
		for i, p := range out {
			if i == 0 || p != out[w-1] {
				out[w] = p
				w++
			}
		}
		out = out[:w]
	}
	return out
}

// cleanRel cleans a tree-relative path; "" is the root.
func cleanRel(p string) string {
	p = path.Clean("/" + p)[1:]
	return p
}

func find(sorted []string, p string) (int, bool) {
	i := sort.SearchStrings(sorted, p)
	return i, i < len(sorted) && sorted[i] == p
}

// mark reaches tracked file i. Every file's references are followed
// whole: which configuration's definition a reference in a file other
// than flake.nix serves cannot be told.
func (a *analysis) mark(i int, pr parentRec) {
	if a.parent[i].from != notReached {
		return
	}
	a.parent[i] = pr
	a.queue = append(a.queue, int32(i))
}

// reachEntry reaches the entry e and everything under it; it returns how
// many tracked files that is.
func (a *analysis) reachEntry(e string, pr parentRec) int {
	pr.ref = e
	if e == "" {
		pr.ref = "."
		return a.reachPrefix("", pr)
	}
	count := 0
	if i, ok := find(a.tracked, e); ok {
		a.mark(i, pr)
		count++
	}
	count += a.reachPrefix(e+"/", pr)
	count += a.reachAncestors(e, pr)
	return count
}

// reachPrefix reaches every tracked file whose path starts with prefix.
func (a *analysis) reachPrefix(prefix string, pr parentRec) int {
	return a.reachMatching(prefix, nil, false, pr)
}

// reachMatching reaches every tracked file whose path starts with prefix
// and whose rest holds the tail's pieces in order; with maybeCode, each may
// be imported and is read for references whatever its name.
func (a *analysis) reachMatching(prefix string, tail []string, maybeCode bool, pr parentRec) int {
	count := 0
	for i := sort.SearchStrings(a.tracked, prefix); i < len(a.tracked) && strings.HasPrefix(a.tracked[i], prefix); i++ {
		f := a.tracked[i]
		if !a.matches(f, prefix, tail) {
			continue
		}
		if maybeCode && !a.maybeCode[i] {
			a.maybeCode[i] = true
			if a.parent[i].from != notReached && !a.lexed[i] {
				a.queue = append(a.queue, int32(i)) // reached before as data
			}
		}
		a.mark(i, pr)
		count++
	}
	return count
}

// matches reports whether path f starts with prefix and what follows
// holds the tail's pieces in order.
func (a *analysis) matches(f, prefix string, tail []string) bool {
	if !strings.HasPrefix(f, prefix) {
		return false
	}
	if len(tail) == 0 {
		return true
	}
	rest := f[len(prefix):]
	if strings.HasSuffix(prefix, "/") {
		rest = "/" + rest // an empty interpolation: Nix drops the double slash
	}
	return holdsInOrder(rest, tail)
}

func holdsInOrder(s string, pieces []string) bool {
	for _, p := range pieces {
		k := strings.Index(s, p)
		if k < 0 {
			return false
		}
		s = s[k+len(p):]
	}
	return true
}

// setCode marks tracked file i as read as code.
func (a *analysis) setCode(i int) {
	if a.code[i] {
		return
	}
	a.code[i] = true
	if a.parent[i].from != notReached && !a.lexed[i] {
		a.queue = append(a.queue, int32(i)) // reached before as data
	}
}

// reachAncestors reaches the tracked files that are a proper ancestor
// directory of p: symlinks to directories, through which Nix reads p.
func (a *analysis) reachAncestors(p string, pr parentRec) int {
	count := 0
	for k := strings.IndexByte(p, '/'); k >= 0; {
		if i, ok := find(a.tracked, p[:k]); ok {
			a.mark(i, pr)
			count++
		}
		next := strings.IndexByte(p[k+1:], '/')
		if next < 0 {
			break
		}
		k += 1 + next
	}
	return count
}

func (a *analysis) drain() error {
	if a.stop {
		a.queue = nil
	}
	for len(a.queue) > 0 && !a.stop {
		i := int(a.queue[0])
		a.queue = a.queue[1:]
		if err := a.visit(i); err != nil {
			return err
		}
	}
	return nil
}

// visit follows the references of tracked file i.
func (a *analysis) visit(i int) error {
	if a.lexed[i] {
		return nil
	}
	p := a.tracked[i]
	st, err := a.src.Stat(p)
	if err != nil {
		return fmt.Errorf("analysing %s: %w", p, err)
	}
	if !st.Symlink && !strings.HasSuffix(p, ".nix") && !a.code[i] && !a.maybeCode[i] {
		return nil // data: it is an input itself, and reads nothing
	}
	a.lexed[i] = true
	refs, err := a.facts(p, st)
	if err != nil {
		return err
	}
	dir := path.Dir(p)
	if dir == "." {
		dir = ""
	}
	if p == a.flake {
		// What flake.nix defines under a deferred output is read only
		// when a reached file reads that output.
		// So is what a let binding's value holds: it is read once the
		// binding's name is used at a place that is (refLetUse). Every
		// deferred reference is set aside before any is followed: a use
		// may come before what it reads.
		a.flakeIdx = i
		a.deferred = map[string][]ref{}
		a.followed = map[string]bool{}
		for _, r := range refs {
			if k := a.deferKey(r); k != "" {
				a.deferred[k] = append(a.deferred[k], r)
			}
		}
		for _, r := range refs {
			if a.deferKey(r) == "" {
				a.follow(i, dir, r)
			}
		}
		outs := make([]string, 0, len(a.triggered))
		for out := range a.triggered {
			outs = append(outs, out)
		}
		sort.Strings(outs)
		for _, out := range outs {
			a.followOutput(out)
		}
		return nil
	}
	for _, r := range refs {
		a.follow(i, dir, r)
	}
	return nil
}

// deferKey says what a reference of flake.nix waits for: the deferred
// output or let binding its Scope names, or the configuration whose own
// definition holds it when that is another configuration (Request.Others)
// than this one: nixosConfigurations.b = … is evaluated only when
// something reads that configuration (self.nixosConfigurations.b, which
// refOutputs follows), as a deferred output is. "" means it is followed
// at once. Without this configuration's name, which definition is its own
// cannot be told, so none waits.
func (a *analysis) deferKey(r ref) string {
	if r.Scope != "" {
		return r.Scope
	}
	if r.Owner != "" && a.req.Config.Name != "" && r.Owner != a.req.Config.Name {
		if _, other := a.configs[r.Owner]; other {
			return configScope + r.Owner
		}
	}
	return ""
}

// configScope starts the key under which flake.nix's references in
// another configuration's own definition wait: "config
// nixosConfigurations.b". No output name holds a space.
const configScope = "config "

// followOutput follows what flake.nix defines the output out with ("*":
// every deferred output, let binding and configuration definition;
// configScope+"*": every configuration's definition), once flake.nix was
// read.
func (a *analysis) followOutput(out string) {
	if a.flakeIdx < 0 {
		return // when flake.nix is read, it follows what was asked for
	}
	outs := []string{out}
	if all, ok := strings.CutSuffix(out, "*"); ok {
		outs = outs[:0]
		for o := range a.deferred {
			if strings.HasPrefix(o, all) {
				outs = append(outs, o)
			}
		}
		sort.Strings(outs)
	}
	dir := path.Dir(a.flake)
	if dir == "." {
		dir = ""
	}
	for _, o := range outs {
		if a.followed[o] {
			continue
		}
		a.followed[o] = true
		outer := a.note
		if name, ok := strings.CutPrefix(o, letScope); ok {
			a.note = "let binding " + name + " of " + a.flake + ", used at " + a.triggered[out]
		} else if name, ok := strings.CutPrefix(o, configScope); ok {
			a.note = "the definition of " + name + " in " + a.flake + ", read at " + a.triggered[out]
		} else {
			a.note = "flake output " + o + ", read at " + a.triggered[out]
		}
		for _, r := range a.deferred[o] {
			a.follow(a.flakeIdx, dir, r)
		}
		a.note = outer
	}
}

// facts returns the references of file p, from the cache when its content
// was seen before.
func (a *analysis) facts(p string, st Stat) ([]ref, error) {
	if st.HaveSum {
		if refs, ok := a.cache.get(cacheKey{st.Sum, st.Symlink}); ok {
			return refs, nil
		}
	}
	f, err := a.src.Read(p)
	if err != nil {
		return nil, fmt.Errorf("analysing %s: %w", p, err)
	}
	if f.Symlink {
		k := cacheKey{SumOf([]byte(f.Target)), true}
		refs := []ref{{Kind: refPath, Line: 0, Text: f.Target, Construct: "symlink"}}
		if !strings.HasPrefix(f.Target, "/") && !strings.HasPrefix(f.Target, ".") {
			refs[0].Text = "./" + f.Target
		}
		a.cache.put(k, refs)
		return refs, nil
	}
	if len(f.Data) > maxFile {
		return nil, fmt.Errorf("analysing %s: %w (%d bytes)", p, errTooBig, len(f.Data))
	}
	k := cacheKey{SumOf(f.Data), false}
	if refs, ok := a.cache.get(k); ok {
		return refs, nil
	}
	var refs []ref
	refs, a.scratch = extract(f.Data, a.scratch)
	a.cache.put(k, refs)
	return refs, nil
}

// follow resolves reference r of tracked file i (in directory dir) and
// reaches what it names.
func (a *analysis) follow(i int, dir string, r ref) {
	file := a.tracked[i]
	line := int(r.Line)
	data := a.maybeCode[i] && !a.code[i] && !strings.HasSuffix(file, ".nix")
	switch r.Kind {
	case refImpure:
		if data {
			return
		}
		a.res.Impure = append(a.res.Impure, Impure{File: file, Line: line, Construct: r.Construct, Text: r.Text})
		return
	case refHead:
		a.res.GitHead = append(a.res.GitHead, Site{File: file, Line: line, Construct: r.Construct})
		return
	case refFlakeOutput:
		if _, seen := a.triggered[r.Attr]; !seen {
			a.triggered[r.Attr] = fmt.Sprintf("%s:%d", file, line)
			a.followOutput(r.Attr)
		}
		return
	case refLetUse:
		// Only flake.nix's let bindings wait for a use; another file's
		// references are all followed.
		if i != a.flakeIdx {
			return
		}
		k := letScope + r.Attr
		if _, seen := a.triggered[k]; !seen {
			a.triggered[k] = fmt.Sprintf("%s:%d", file, line)
			a.followOutput(k)
		}
		return
	case refOutputs:
		if c, ok := a.configs[r.Attr]; ok && r.Attr != "" && len(c.Entries) > 0 {
			// A configuration named literally: what it reads is its
			// entries' reach, followed freely (flake.nix is reached anyway).
			pr := parentRec{from: int32(i), line: r.Line, via: a.withNote(r.Construct + " (" + r.Attr + ")")}
			for _, e := range c.Entries {
				e = cleanRel(e)
				a.res.Widenings = append(a.res.Widenings, Widening{Construct: pr.via, File: file, Line: line, Dir: e})
				a.reachEntry(e, pr)
			}
			a.trigger(configScope+r.Attr, file, line)
			return
		}
		// Any configuration may be evaluated: every definition is read.
		a.trigger(configScope+"*", file, line)
		fallthrough
	case refFlake:
		a.res.Widenings = append(a.res.Widenings, Widening{Construct: r.Construct, File: file, Line: line, Dir: "."})
		if a.req.SetAsideWhole {
			return
		}
		// The whole tree, other configurations' entries included: the
		// flake's store path hashes every tracked file.
		a.reachPrefix("", parentRec{from: int32(i), line: r.Line, ref: ".", via: a.withNote(r.Construct)})
		a.stop = a.req.StopAtWhole
		return
	}
	if r.Kind != refPath {
		return
	}
	target, abs, outside := a.resolve(dir, r)
	if outside && data {
		return
	}
	if outside {
		c := "path outside the flake"
		if abs {
			c = "absolute path"
		}
		if r.Construct != "" {
			c += " (" + r.Construct + ")"
		}
		a.res.Impure = append(a.res.Impure, Impure{File: file, Line: line, Construct: c, Text: r.Text + r.Suffix})
		return
	}
	via := r.Construct
	if abs {
		// With --impure Nix reads the work tree there, untracked files too.
		if via == "" {
			via = "absolute path into the tree"
		}
		a.res.Impure = append(a.res.Impure, Impure{File: file, Line: line, Construct: "absolute path into the tree (untracked files too)", Text: r.Text + r.Suffix})
	}
	var tail []string
	if r.Tail != "" {
		tail = strings.Split(r.Tail, "\x00")
	}
	shown := target
	if len(tail) > 0 {
		shown += "…" + strings.Join(tail, "…")
	}
	if shown == "" {
		shown = "."
	}
	if via != "" && r.Construct != "symlink" {
		a.res.Widenings = append(a.res.Widenings, Widening{Construct: via, File: file, Line: line, Dir: shown})
	}
	if a.req.SetAsideWhole && target == "" && len(tail) == 0 {
		if via == "" {
			a.res.Widenings = append(a.res.Widenings, Widening{Construct: "the tree's root", File: file, Line: line, Dir: "."})
		}
		return
	}
	pr := parentRec{from: int32(i), line: r.Line, ref: shown, via: a.withNote(via)}
	if r.Code {
		// Mark it before reaching it, so its first visit reads it as code.
		if j, ok := find(a.tracked, strings.TrimSuffix(target, "/")); ok {
			a.setCode(j)
		}
	}
	// An import of a computed path may read any file it can name.
	a.reachMatching(target, tail, r.Code && r.Construct != "", pr)
	if target == "" && len(tail) == 0 {
		a.stop = a.req.StopAtWhole
	}
	a.reachAncestors(strings.TrimSuffix(target, "/"), pr)
	// A reference to flake.nix itself (import ./flake.nix, then .outputs
	// { … }) may evaluate any of its outputs and let bindings: nothing of
	// it waits any longer.
	if target == a.flake || r.Code && r.Construct != "" && a.matches(a.flake, target, tail) {
		a.trigger("*", file, line)
	}
}

// trigger follows what flake.nix defers under key k (see followOutput),
// read at file:line, unless that was asked for before.
func (a *analysis) trigger(k, file string, line int) {
	if _, seen := a.triggered[k]; !seen {
		a.triggered[k] = fmt.Sprintf("%s:%d", file, line)
		a.followOutput(k)
	}
}

func (a *analysis) withNote(via string) string {
	switch {
	case a.note == "":
		return via
	case via == "":
		return a.note
	}
	return via + "; " + a.note
}

// resolve turns reference r of a file in dir into the path prefix it
// reaches. abs says the reference was an absolute path; outside says it
// leaves the tree.
func (a *analysis) resolve(dir string, r ref) (target string, abs, outside bool) {
	raw := r.Text + r.Suffix
	var p string
	if strings.HasPrefix(r.Text, "/") {
		abs = true
		full := path.Clean(path.Clean(r.Text) + r.Suffix)
		found := false
		for _, root := range a.roots {
			if full == root {
				p, found = "", true
				break
			}
			if strings.HasPrefix(full, root+"/") {
				p, found = full[len(root)+1:], true
				break
			}
		}
		if !found {
			return "", true, true
		}
	} else {
		base := path.Join(dir, r.Text)
		if base == "." {
			base = ""
		}
		if r.Suffix != "" {
			// Nix appends the text to the path's canonical form: at the
			// root, anything but "/…" names a sibling of the tree.
			if base == "" {
				if !strings.HasPrefix(r.Suffix, "/") {
					return "", false, true
				}
				base = path.Clean(r.Suffix[1:])
			} else {
				base = path.Clean(base + r.Suffix)
			}
			if base == "." {
				base = ""
			}
		}
		if base == ".." || strings.HasPrefix(base, "../") {
			return "", false, true
		}
		p = base
	}
	if p != "" && strings.HasSuffix(raw, "/") {
		p += "/"
	}
	return p, abs, false
}
