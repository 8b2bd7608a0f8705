package fingerprint

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Spec selects one step's input files, relative to the Scanner root.
//
// A path is in the set when the last of the spec's Trees and Patterns
// that matches it is an include, or when none matches and Files lists it.
// Paths outside the root are absolute: a pattern, file or tree starting
// with "/" selects them, and their entries' paths are absolute too.
type Spec struct {
	// Patterns are doublestar globs (github.com/bmatcuk/doublestar/v4),
	// slash-separated, relative to the root unless they start with "/".
	// A leading "!" excludes. They are evaluated in order and the last
	// one that matches a path decides, as in .gitignore: a later include
	// brings back a file an earlier exclude left out. A pattern without
	// wildcards names a file, or a directory and everything in it (`src`
	// means `src/**`). Wildcards match hidden files, but never descend
	// into a directory named ".git" (its contents change on every git
	// command) unless the pattern's literal prefix names it, as in
	// ".git/hooks/**"; excludes apply inside .git too. A symlink to a
	// directory is recorded as a symlink and also followed, its files
	// selected under the link's path, so an edit behind the link or a
	// link pointed elsewhere is a change; a loop of links is an error.
	// Links into the nix store are not followed when nothing in the
	// store path they lead to leads out of the store: what a store path
	// holds never changes, so the store path a link resolves to names its
	// content. A store path holding a link out (home-manager's home-files
	// and its mkOutOfStoreSymlink links) is followed like any directory.
	Patterns []string
	// Files are explicit paths (e.g. the git-tracked files of a flake),
	// relative or absolute. Each is lstat'ed directly, with no walk. A listed
	// path that does not exist is recorded as a TypeMissing entry, so its
	// appearance later is a change; one that is a directory is recorded as
	// TypeDir (its contents are not included). A path below a symlink counts
	// as missing: symlinks are never followed to find Files.
	Files []string
	// Trees are directories (relative, "." for the root, or absolute) whose
	// every entry is an input as a copy of the directory holds it — what nix
	// copies for a path: flake: .git directories are entered at any depth,
	// and symlinks are recorded, not followed. They come before Patterns,
	// which can exclude from them.
	Trees []string
	// Root, when set and not the Scanner's, is the absolute directory this
	// spec's relative paths are relative to: a flake whose git repository
	// starts above the config directory, say. Such specs are walked on their
	// own, without the stat cache (whose entries are keyed by paths relative
	// to the Scanner root), so every file of theirs is hashed on each scan.
	Root string
}

// Scanner computes manifests of files below Root. A Scanner, like its Cache,
// serves one Scan at a time; Scan itself uses GOMAXPROCS goroutines.
type Scanner struct {
	Root   string   // absolute
	Ignore []string // absolute paths never entered nor included (state and cache dirs)
	Cache  *Cache   // may be nil: every file is hashed
	// Background marks a scan that runs beside other work (warming the
	// cache while steps run): its stats are system calls the scheduler
	// may hand the processor away from while they block, so a stuck
	// filesystem cannot stall the goroutines copying a step's output.
	Background bool

	// workers is the walk and hash parallelism; 0 means GOMAXPROCS.
	workers int
	// now stands in for time.Now in tests of the racy rule.
	now func() time.Time
	// hashed counts the files the last Scan read, for tests.
	hashed int
	// storeChecks counts the store paths the last Scan walked to tell
	// whether they hold links out of the store, for tests.
	storeChecks int
	// lists counts the directories the last Scan read from the file
	// system rather than took from the cache, for tests.
	lists int
	// beforeHash, in tests, runs between the walk and the hashing.
	beforeHash func()
}

// racyWindow: a file whose mtime or ctime is less than this before the scan
// began is hashed but not cached, so the next scan hashes it again. Without
// it, an edit landing in the same timestamp tick as the hash, with the same
// size (or with its mtime put back by touch -r, on a filesystem whose ctime is
// as coarse), would leave every cached field equal to a stale hash. Two
// seconds covers the coarsest common timestamps (FAT's 2 s, HFS+'s 1 s), the
// kernel's coarse clock lagging time.Now, and small skew between a network
// filesystem's clock and ours; the cost is that a file edited just before a
// scan is hashed once more on the next one.
const racyWindow = 2 * time.Second

// maxSpecsPerWalk: specs are tracked as bits of a uint64 per file; more specs
// are scanned in several walks.
const maxSpecsPerWalk = 64

// Scan computes one Manifest per spec, in order, walking the tree once for up
// to 64 specs. It enters only directories some spec can match, and prunes
// subtrees an exclude covers. Any error — an unreadable file or directory, a
// bad pattern, a cancelled ctx — fails the whole scan: a partial manifest
// could hide a change. A file that is gone by the time it is read is not an
// error: the manifest is of the tree without it (missing, where Files list
// it). If s.Cache is set, Scan reuses and updates it.
func (s *Scanner) Scan(ctx context.Context, specs []Spec) ([]*Manifest, error) {
	out := make([]*Manifest, len(specs))
	stores := newStoreChecker(s.Cache)
	var own []Spec
	var ownAt []int
	for i, sp := range specs {
		if sp.Root == "" || filepath.Clean(sp.Root) == filepath.Clean(s.Root) {
			own, ownAt = append(own, sp), append(ownAt, i)
			continue
		}
		other := &Scanner{Root: sp.Root, Ignore: s.Ignore, Background: s.Background, workers: s.workers, now: s.now}
		sp.Root = ""
		ms, err := other.scanChunk(ctx, []Spec{sp}, stores)
		if err != nil {
			return nil, err
		}
		out[i] = ms[0]
		s.hashed += other.hashed
	}
	for start := 0; start < len(own); start += maxSpecsPerWalk {
		end := min(start+maxSpecsPerWalk, len(own))
		ms, err := s.scanChunk(ctx, own[start:end], stores)
		if err != nil {
			return nil, err
		}
		for j, m := range ms {
			out[ownAt[start+j]] = m
		}
	}
	stores.save(s.Cache)
	s.storeChecks = stores.checks
	return out, nil
}

// item is one directory entry the walk kept: a selected file, or a
// subdirectory (child set) whose entries follow it in path order.
type item struct {
	path     string
	nameAt   int32 // where the base name starts in path
	kind     byte  // entry type; 0 for a subdirectory
	storable bool  // after hashing: the cache may keep this hash
	gone     bool  // listed, but gone when it was to be hashed
	mask     uint64
	child    *node
	st       fileStat
	hash     Sum
	// link, for a symlink whose chain of links ends at a file, is that
	// file; nil for any other item.
	link *linkTarget
}

type node struct {
	items []item
	// extra: for a followed symlink, the Files listed below it, which
	// are missing (Files never follow links), to merge with items.
	extra []item
}

type dirJob struct {
	// parent is the open parent directory, which the job opens its
	// directory relative to (one path lookup, not one per level); nil for the
	// root. The job holds one reference to it.
	parent *dirFD
	rel    string // relative path, "" for the root
	ctx    *dirCtx
	tri    *trieNode // explicit files at or below, or nil
	walk   bool      // list the directory (else: stat the explicit names only)
	node   *node
	// via is the innermost symlink followed to reach this directory, or
	// nil; a followed directory is opened through its link.
	via      *followed
	followed bool
}

// followed is a symlink the walk followed, in the chain of those it
// followed to reach a directory: the chain tells a loop.
type followed struct {
	link   string // relative path of the link
	real   string // absolute path of its target, symlinks resolved
	parent *followed
	depth  int
	// ignore are the ignored paths below the target, by their path
	// through the link.
	ignore []string
}

// maxFollowDepth bounds the symlinks followed one inside another, as the
// kernel bounds those it resolves in one path: with loops caught, only
// a tree that changes during the walk could reach it.
const maxFollowDepth = 40

// nixStore holds store paths, whose contents never change once made: a
// symlink to a sealed one is not followed (see store.go).
const nixStore = "/nix/store/"

// dirFD is an open directory shared by the jobs of its subdirectories: it is
// closed when the last of them has opened its own.
type dirFD struct {
	fd   int
	refs atomic.Int32
}

func (d *dirFD) release() {
	if d.refs.Add(-1) == 0 {
		unix.Close(d.fd)
	}
}

// scanRun is the state of one walk.
type scanRun struct {
	ctx       context.Context
	root      string
	specs     *specSet
	tri       *trieNode      // the explicit files, or nil
	explicit  []explicitFile // sorted by path
	ignored   []string       // relative paths
	ignoreDir map[string][]string
	// ignoredReal are the ignored paths, absolute with symlinks resolved
	// where they exist, to compare with the targets of followed links.
	ignoredReal []string
	workers     int
	// stores tells which store paths links may lead to unfollowed.
	stores *storeChecker
	// dirs reads directory listings from the cache and collects those
	// to keep; nil without a cache.
	dirs *dirRun
	// background: stat with statAtYielding (Scanner.Background). A
	// flag, not a func value: through one, every Stat_t would escape.
	background bool

	mu      sync.Mutex
	cond    sync.Cond
	queue   []*dirJob
	pending int
	err     error
	nitems  atomic.Int64
	// vanished counts the files gone by the time they were read.
	vanished atomic.Int32

	// notes are what the manifests of the specs in their masks note.
	notes []scanNote

	// outside is the run of the same scan for absolute paths, from "/".
	outside *scanRun

	realOnce sync.Once
	realRoot string // root with symlinks resolved, for loop checks
	realErr  error
}

func (s *Scanner) scanChunk(ctx context.Context, specs []Spec, stores *storeChecker) ([]*Manifest, error) {
	if !filepath.IsAbs(s.Root) {
		return nil, fmt.Errorf("scanning %q: root is not an absolute path", s.Root)
	}
	// Paths outside the root are walked from "/" in a run of their own;
	// they never match the same paths as relative ones, so splitting a
	// spec's ordered patterns between the two runs keeps their meaning.
	inside, outside, hasOutside := splitOutside(specs)
	r, err := s.newRun(ctx, filepath.Clean(s.Root), inside, false, stores)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	start := now()
	racyBefore := start.Add(-racyWindow).UnixNano()
	r.useDirs(s.Cache, racyBefore)

	files, err := r.walk()
	if err != nil {
		return nil, err
	}
	unmatched := make([][]Unmatched, len(specs))
	r.unmatched(files, unmatched)
	if hasOutside {
		o, err := s.newRun(ctx, "/", outside, true, stores)
		if err != nil {
			return nil, err
		}
		o.useDirs(s.Cache, racyBefore)
		ofiles, err := o.walk()
		if err != nil {
			return nil, err
		}
		o.unmatched(ofiles, unmatched)
		// Their entries are named by absolute path, which no relative
		// path can be, and so are their stat cache entries.
		for _, it := range ofiles {
			it.path = "/" + it.path
			it.nameAt++
		}
		r.outside = o
		files = mergeItems(make([]*item, 0, len(files)+len(ofiles)), files, ofiles, nil)
	}

	if s.beforeHash != nil {
		s.beforeHash()
	}
	hashed, err := r.hashFiles(s.Cache, files, racyBefore)
	s.hashed = hashed
	if err != nil {
		return nil, err
	}
	if s.Cache != nil {
		runs := []*dirRun{r.dirs}
		if r.outside != nil {
			runs = append(runs, r.outside.dirs)
		}
		s.lists = 0
		for _, d := range runs {
			s.lists += len(d.read)
		}
		s.Cache.saveDirs(runs...)
	}
	if r.vanished.Load() > 0 {
		for _, it := range files {
			if it.gone {
				it.mask &= r.listed(it.path)
			}
		}
	}

	ms := make([]*Manifest, len(specs))
	for i := range specs {
		bit := uint64(1) << i
		n := 0
		for _, it := range files {
			if it.mask&bit != 0 {
				n++
			}
		}
		es := make([]Entry, 0, n)
		for _, it := range files {
			if it.mask&bit == 0 {
				continue
			}
			// A path listed in Files below a followed symlink is both
			// missing (Files never follow links) and, for a spec whose
			// patterns select it there, found: the found one comes first.
			if k := len(es); k > 0 && es[k-1].Path == it.path {
				continue
			}
			es = append(es, entryOf(it))
		}
		ms[i] = &Manifest{Entries: es, Digest: computeDigest(es), Unmatched: unmatched[i], Notes: notesFor(bit, r, r.outside)}
	}
	return ms, nil
}

// splitOutside separates the absolute paths of specs (patterns, files
// and trees starting with "/") from the relative ones, keeping their
// order; hasOutside reports whether there are any.
func splitOutside(specs []Spec) (inside, outside []Spec, hasOutside bool) {
	for _, sp := range specs {
		isAbs := func(p string) bool { return strings.HasPrefix(strings.TrimPrefix(p, "!"), "/") }
		if !slices.ContainsFunc(sp.Patterns, isAbs) && !slices.ContainsFunc(sp.Files, isAbs) && !slices.ContainsFunc(sp.Trees, isAbs) {
			continue
		}
		hasOutside = true
		break
	}
	if !hasOutside {
		return specs, nil, false
	}
	inside, outside = make([]Spec, len(specs)), make([]Spec, len(specs))
	for i, sp := range specs {
		for _, p := range sp.Patterns {
			if strings.HasPrefix(strings.TrimPrefix(p, "!"), "/") {
				outside[i].Patterns = append(outside[i].Patterns, p)
			} else {
				inside[i].Patterns = append(inside[i].Patterns, p)
			}
		}
		for _, f := range sp.Files {
			if strings.HasPrefix(f, "/") {
				outside[i].Files = append(outside[i].Files, f[1:])
			} else {
				inside[i].Files = append(inside[i].Files, f)
			}
		}
		for _, t := range sp.Trees {
			if strings.HasPrefix(t, "/") {
				outside[i].Trees = append(outside[i].Trees, t)
			} else {
				inside[i].Trees = append(inside[i].Trees, t)
			}
		}
	}
	return inside, outside, true
}

// newRun prepares a walk of root for specs; absolute: root is "/", and
// the specs' patterns and trees still carry their leading "/".
func (s *Scanner) newRun(ctx context.Context, root string, specs []Spec, absolute bool, stores *storeChecker) (*scanRun, error) {
	ss, err := compileSpecs(specs, absolute)
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	r := &scanRun{ctx: ctx, root: root, specs: ss, workers: s.workers, background: s.Background, stores: stores}
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	r.cond.L = &r.mu
	if err := r.setIgnore(s.Ignore); err != nil {
		return nil, err
	}
	if r.tri, err = r.buildExplicit(specs); err != nil {
		return nil, fmt.Errorf("scanning %s: %w", r.root, err)
	}
	return r, nil
}

// useDirs has the run take directory listings from c, and keep those it
// reads when their directories did not change since racyBefore; c may be
// nil.
func (r *scanRun) useDirs(c *Cache, racyBefore int64) {
	if c != nil {
		r.dirs = &dirRun{old: &c.dirs, racyBefore: racyBefore}
	}
}

// walk lists the run's selected files in path order, not yet hashed.
func (r *scanRun) walk() ([]*item, error) {
	var rootNode node
	rctx := r.specs.rootCtx()
	if rctx.walk || r.tri != nil {
		r.queue = append(r.queue, &dirJob{ctx: rctx, tri: r.tri, walk: rctx.walk, node: &rootNode})
		r.pending = 1
		if err := r.runWalk(); err != nil {
			return nil, err
		}
	}
	return flatten(&rootNode, make([]*item, 0, r.nitems.Load())), nil
}

func entryOf(it *item) Entry {
	e := Entry{Path: it.path, Type: it.kind}
	switch it.kind {
	case TypeFile, TypeExec, TypeSymlink:
		e.Size, e.Hash = it.st.size, it.hash
	}
	if it.kind == TypeSymlink && it.link != nil {
		switch {
		case it.link.kind != 0:
			e.Hash = it.link.combine(it.hash)
		case it.link.store != "":
			e.Hash = it.link.combineStore(it.hash)
		}
	}
	return e
}

// setIgnore records the ignored paths that lie below the root, relative to
// it. Both the paths as given and with symlinks resolved are compared, so
// /var/… and /private/var/… spellings of the same directory agree.
func (r *scanRun) setIgnore(ignore []string) error {
	if len(ignore) == 0 {
		return nil
	}
	roots := []string{r.root}
	if real, err := filepath.EvalSymlinks(r.root); err == nil && real != r.root {
		roots = append(roots, real)
	}
	r.ignoreDir = map[string][]string{}
	for _, ig := range ignore {
		if !filepath.IsAbs(ig) {
			return fmt.Errorf("scanning %s: ignored path %q is not absolute", r.root, ig)
		}
		cands := []string{filepath.Clean(ig)}
		if real, err := filepath.EvalSymlinks(ig); err == nil && real != cands[0] {
			cands = append(cands, real)
		}
		r.ignoredReal = append(r.ignoredReal, cands[len(cands)-1])
		for _, root := range roots {
			for _, c := range cands {
				rel, err := filepath.Rel(root, c)
				if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					continue
				}
				if rel == "." {
					return fmt.Errorf("scanning %s: the root itself is ignored (%s)", r.root, ig)
				}
				rel = filepath.ToSlash(rel)
				if slices.Contains(r.ignored, rel) {
					continue
				}
				r.ignored = append(r.ignored, rel)
				dir, name := "", rel
				if i := strings.LastIndexByte(rel, '/'); i >= 0 {
					dir, name = rel[:i], rel[i+1:]
				}
				r.ignoreDir[dir] = append(r.ignoreDir[dir], name)
			}
		}
		// An ignored path that contains the root is as bad as ignoring the root.
		for _, c := range cands {
			if rel, err := filepath.Rel(c, r.root); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && rel != "." {
				return fmt.Errorf("scanning %s: the root is inside ignored path %s", r.root, ig)
			}
		}
	}
	return nil
}

// abs returns the absolute form of a relative path (an absolute one, from
// the outside run, is returned as it is).
func (r *scanRun) abs(rel string) string {
	switch {
	case rel == "":
		return r.root
	case rel[0] == '/':
		return rel
	case r.root == "/":
		return "/" + rel
	}
	return r.root + "/" + rel
}

func (r *scanRun) isIgnored(path string) bool {
	for _, ig := range r.ignored {
		if strings.HasPrefix(path, ig) && (len(path) == len(ig) || path[len(ig)] == '/') {
			return true
		}
	}
	return false
}

// validName reports whether name can be one element of a clean relative
// path: not empty, not . or .., no NUL (paths are passed to the kernel
// NUL-terminated).
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && strings.IndexByte(name, 0) < 0
}

// validPath reports whether every element of p is a valid name.
func validPath(p string) bool {
	for {
		name, rest, more := strings.Cut(p, "/")
		if !validName(name) {
			return false
		}
		if !more {
			return true
		}
		p = rest
	}
}

func badPath(p string) error {
	return fmt.Errorf("bad input file %q: want a clean relative slash-separated path", p)
}

func flatten(n *node, out []*item) []*item {
	for i := range n.items {
		it := &n.items[i]
		switch {
		case it.child == nil:
			out = append(out, it)
		case it.child.extra == nil:
			out = flatten(it.child, out)
		default:
			out = mergeItems(out, flatten(it.child, nil), nil, it.child.extra)
		}
	}
	return out
}

// mergeItems appends to out the items of a, b and c (each sorted by path)
// in path order; on equal paths a's come before c's.
func mergeItems(out, a, b []*item, c []item) []*item {
	for len(a) > 0 || len(b) > 0 || len(c) > 0 {
		var best *item
		from := 0
		if len(a) > 0 {
			best, from = a[0], 1
		}
		if len(b) > 0 && (best == nil || b[0].path < best.path) {
			best, from = b[0], 2
		}
		if len(c) > 0 && (best == nil || c[0].path < best.path) {
			best, from = &c[0], 3
		}
		out = append(out, best)
		switch from {
		case 1:
			a = a[1:]
		case 2:
			b = b[1:]
		default:
			c = c[1:]
		}
	}
	return out
}

var errChanged = errors.New("changed while being scanned")

// scanNote is a note for the manifests of the specs in mask.
type scanNote struct {
	mask uint64
	text string
}

// note adds a note for the specs in mask.
func (r *scanRun) note(mask uint64, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.notes, scanNote{mask, text}) {
		r.notes = append(r.notes, scanNote{mask, text})
	}
}

// notesFor returns the notes of the runs for spec bit, in a stable order.
func notesFor(bit uint64, runs ...*scanRun) []string {
	var out []string
	for _, r := range runs {
		if r == nil {
			continue
		}
		for _, n := range r.notes {
			if n.mask&bit != 0 {
				out = append(out, n.text)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listed returns the specs that list path (of this run, or absolute) in
// Files.
func (r *scanRun) listed(path string) uint64 {
	if path != "" && path[0] == '/' {
		if r.outside == nil {
			return 0
		}
		return r.outside.listed(path[1:])
	}
	i, ok := slices.BinarySearchFunc(r.explicit, path, func(e explicitFile, p string) int { return strings.Compare(e.path, p) })
	if !ok {
		return 0
	}
	return r.explicit[i].mask
}
