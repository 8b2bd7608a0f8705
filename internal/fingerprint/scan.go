package fingerprint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	// Links into the nix store are not followed: what a store path holds
	// never changes, so the link's target names its content.
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
	var own []Spec
	var ownAt []int
	for i, sp := range specs {
		if sp.Root == "" || filepath.Clean(sp.Root) == filepath.Clean(s.Root) {
			own, ownAt = append(own, sp), append(ownAt, i)
			continue
		}
		other := &Scanner{Root: sp.Root, Ignore: s.Ignore, Background: s.Background, workers: s.workers, now: s.now}
		sp.Root = ""
		ms, err := other.scanChunk(ctx, []Spec{sp})
		if err != nil {
			return nil, err
		}
		out[i] = ms[0]
		s.hashed += other.hashed
	}
	for start := 0; start < len(own); start += maxSpecsPerWalk {
		end := min(start+maxSpecsPerWalk, len(own))
		ms, err := s.scanChunk(ctx, own[start:end])
		if err != nil {
			return nil, err
		}
		for j, m := range ms {
			out[ownAt[start+j]] = m
		}
	}
	return out, nil
}

// explicitFile is one path listed in some spec's Files.
type explicitFile struct {
	path string
	mask uint64 // specs that list it
}

// trieNode holds the explicit files at and below one directory: the
// paths below a directory are one contiguous run of the sorted list, so a
// node is that range, and the walker that enters the directory expands it
// into files and subdirectories — on all walkers at once, not up front.
type trieNode struct {
	fileList []explicitFile // the files directly in it, in name order
	subList  []*trieNode
	subNames []string // in the order of name+"/", as the paths sort
	nameAt   int      // where names start in the paths below it
	lo, hi   int      // range of the subtree in scanRun.explicit
}

// expand fills in t's files and subdirectories from list, checking each
// name. A subdirectory's run is skipped by binary search, so expanding
// every node of a tree costs about one look at each path.
func (t *trieNode) expand(list []explicitFile) error {
	for i := t.lo; i < t.hi; {
		p := list[i].path
		rest := p[t.nameAt:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			if !validName(rest) {
				return badPath(p)
			}
			t.fileList = append(t.fileList, list[i])
			i++
			continue
		}
		name := rest[:slash]
		if !validName(name) {
			return badPath(p)
		}
		prefix := p[:t.nameAt+slash+1]
		j := i + 1 + sort.Search(t.hi-i-1, func(k int) bool { return !strings.HasPrefix(list[i+1+k].path, prefix) })
		t.subList = append(t.subList, &trieNode{nameAt: len(prefix), lo: i, hi: j})
		t.subNames = append(t.subNames, name)
		i = j
	}
	return nil
}

// file returns the index in fileList of the file called name.
func (t *trieNode) file(name string) (int, bool) {
	return slices.BinarySearchFunc(t.fileList, name, func(e explicitFile, name string) int {
		return strings.Compare(e.path[t.nameAt:], name)
	})
}

// sub returns the index in subList of the subdirectory called name.
func (t *trieNode) sub(name string) (int, bool) {
	return slices.BinarySearchFunc(t.subNames, name, func(a, b string) int {
		return cmpKeys(sortKey{name: a, dir: true}, sortKey{name: b, dir: true})
	})
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
// symlink into it is not followed, its target string names the content.
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

	// outside is the run of the same scan for absolute paths, from "/".
	outside *scanRun

	realOnce sync.Once
	realRoot string // root with symlinks resolved, for loop checks
	realErr  error
}

func (s *Scanner) scanChunk(ctx context.Context, specs []Spec) ([]*Manifest, error) {
	if !filepath.IsAbs(s.Root) {
		return nil, fmt.Errorf("scanning %q: root is not an absolute path", s.Root)
	}
	// Paths outside the root are walked from "/" in a run of their own;
	// they never match the same paths as relative ones, so splitting a
	// spec's ordered patterns between the two runs keeps their meaning.
	inside, outside, hasOutside := splitOutside(specs)
	r, err := s.newRun(ctx, filepath.Clean(s.Root), inside, false)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	start := now()

	files, err := r.walk()
	if err != nil {
		return nil, err
	}
	unmatched := make([][]Unmatched, len(specs))
	r.unmatched(files, unmatched)
	if hasOutside {
		o, err := s.newRun(ctx, "/", outside, true)
		if err != nil {
			return nil, err
		}
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
	hashed, err := r.hashFiles(s.Cache, files, start.Add(-racyWindow).UnixNano())
	s.hashed = hashed
	if err != nil {
		return nil, err
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
		ms[i] = &Manifest{Entries: es, Digest: computeDigest(es), Unmatched: unmatched[i]}
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
func (s *Scanner) newRun(ctx context.Context, root string, specs []Spec, absolute bool) (*scanRun, error) {
	ss, err := compileSpecs(specs, absolute)
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	r := &scanRun{ctx: ctx, root: root, specs: ss, workers: s.workers, background: s.Background}
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

// buildExplicit collects the specs' Files, sorted and merged, under the
// root of a trie by directory that the walkers expand as they go. Files
// below ignored paths are dropped: state is never an input. A list that is
// already sorted (git's index is) is not sorted again.
func (r *scanRun) buildExplicit(specs []Spec) (*trieNode, error) {
	var lists [][]explicitFile
	for i, sp := range specs {
		if len(sp.Files) == 0 {
			continue
		}
		list := make([]explicitFile, 0, len(sp.Files))
		for _, p := range sp.Files {
			if len(r.ignored) == 0 || !r.isIgnored(p) {
				list = append(list, explicitFile{path: p, mask: 1 << i})
			}
		}
		cmp := func(a, b explicitFile) int { return strings.Compare(a.path, b.path) }
		if !slices.IsSortedFunc(list, cmp) {
			slices.SortFunc(list, cmp)
		}
		lists = append(lists, list)
	}
	merged := mergeExplicit(lists)
	if len(merged) == 0 {
		return nil, nil
	}
	r.explicit = merged
	return &trieNode{lo: 0, hi: len(merged)}, nil
}

// mergeExplicit merges sorted lists into one, joining the masks of a path
// listed more than once. One list is returned as it is.
func mergeExplicit(lists [][]explicitFile) []explicitFile {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return dedupExplicit(lists[0])
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]explicitFile, 0, n)
	for {
		best := -1
		for k, l := range lists {
			if len(l) > 0 && (best < 0 || l[0].path < lists[best][0].path) {
				best = k
			}
		}
		if best < 0 {
			return dedupExplicit(out)
		}
		out = append(out, lists[best][0])
		lists[best] = lists[best][1:]
	}
}

// dedupExplicit joins adjacent entries for the same path, in place.
func dedupExplicit(list []explicitFile) []explicitFile {
	out := list[:0]
	for _, e := range list {
		if n := len(out); n > 0 && out[n-1].path == e.path {
			out[n-1].mask |= e.mask
			continue
		}
		out = append(out, e)
	}
	return out
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

// lstat stats name relative to dirfd the way this scan does.
func (r *scanRun) lstat(dirfd int, name []byte, st *unix.Stat_t) error {
	if r.background {
		return statAtYielding(dirfd, name, st)
	}
	return statAt(dirfd, name, st)
}

// runWalk processes the job queue on r.workers goroutines until it drains or
// one fails.
func (r *scanRun) runWalk() error {
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() {
			w := &walker{r: r, dents: make([]byte, 32<<10), states: make([]patState, len(r.specs.patterns))}
			w.loop()
		})
	}
	wg.Wait()
	// After a failure, jobs left in the queue still hold their parents open.
	for _, j := range r.queue {
		if j.parent != nil {
			j.parent.release()
		}
	}
	r.queue = nil
	return r.err
}

func (w *walker) loop() {
	r := w.r
	for {
		r.mu.Lock()
		for len(r.queue) == 0 && r.pending > 0 && r.err == nil {
			r.cond.Wait()
		}
		if r.err != nil || len(r.queue) == 0 {
			r.mu.Unlock()
			return
		}
		j := r.queue[len(r.queue)-1]
		r.queue = r.queue[:len(r.queue)-1]
		r.mu.Unlock()

		err := r.ctx.Err()
		if err != nil {
			err = fmt.Errorf("scanning %s: %w", r.root, err)
			if j.parent != nil {
				j.parent.release()
			}
		} else {
			err = w.dir(j)
		}

		r.mu.Lock()
		r.pending += len(w.children) - 1
		if err != nil && r.err == nil {
			r.err = err
		}
		r.queue = append(r.queue, w.children...)
		done := r.pending == 0
		r.mu.Unlock()
		if err != nil || done || len(w.children) > 1 {
			r.cond.Broadcast()
		} else if len(w.children) == 1 {
			r.cond.Signal()
		}
		clear(w.children)
		w.children = w.children[:0]
	}
}

// walker is one walk goroutine with its reusable buffers.
type walker struct {
	r        *scanRun
	dents    []byte // getdents buffer
	path     []byte // current entry's relative path, NUL-terminated for statAt
	arena    []byte // backing store of kept paths; chunks are never reallocated
	self     *dirFD // the directory being processed
	via      *followed
	items    []item
	keys     []sortKey
	children []*dirJob
	states   []patState
}

// keep copies b into the arena and returns it as a string.
func (w *walker) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(w.arena)-len(w.arena) < len(b) {
		w.arena = make([]byte, 0, max(64<<10, len(b)))
	}
	start := len(w.arena)
	w.arena = append(w.arena, b...)
	return unsafe.String(&w.arena[start], len(b))
}

func isNotExist(err error) bool {
	return err == unix.ENOENT || err == unix.ENOTDIR
}

// dir processes one directory: lists it (walk) and/or stats its explicit
// names, keeping selected files and queueing subdirectories.
func (w *walker) dir(j *dirJob) error {
	r := w.r
	var fd int
	var err error
	for {
		if j.parent == nil {
			fd, err = unix.Open(r.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		} else {
			// O_NOFOLLOW: never through a symlink that replaced a directory,
			// unless the job follows that symlink. A directory only stat'ed
			// in, not listed, needs no read access.
			mode := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW
			switch {
			case j.followed:
				mode &^= unix.O_NOFOLLOW
			case !j.walk:
				mode = mode&^unix.O_RDONLY | statOnlyDir
			}
			fd, err = unix.Openat(j.parent.fd, j.rel[strings.LastIndexByte(j.rel, '/')+1:], mode, 0)
		}
		if err != unix.EINTR {
			break
		}
	}
	if j.parent != nil {
		j.parent.release()
	}
	if err != nil {
		if j.rel != "" && (isNotExist(err) || err == unix.ELOOP) {
			// Gone, or no longer a directory, since its parent listed it.
			if j.tri != nil {
				items, err := w.r.missingItems(j.tri)
				j.node.items = items
				return err
			}
			return nil
		}
		return fmt.Errorf("reading directory %s: %w", r.abs(j.rel), err)
	}
	self := &dirFD{fd: fd}
	self.refs.Store(1)
	defer self.release()
	w.self, w.via = self, j.via

	w.path = w.path[:0]
	if j.rel != "" {
		w.path = append(append(w.path, j.rel...), '/')
	}
	w.items = w.items[:0]
	var seenFiles, seenSubs []bool
	if j.tri != nil {
		if err := j.tri.expand(r.explicit); err != nil {
			return err
		}
		seenFiles = make([]bool, len(j.tri.fileList))
		seenSubs = make([]bool, len(j.tri.subList))
	}
	if j.walk {
		ignore := r.ignoreDir[j.rel]
		for c := j.via; c != nil; c = c.parent {
			for _, p := range c.ignore {
				if i := strings.LastIndexByte(p, '/'); p[:i] == j.rel {
					ignore = append(slices.Clip(ignore), p[i+1:])
				}
			}
		}
		plen := len(w.path)
		err := listDir(fd, w.dents, func(name []byte, dtype uint8) error {
			return w.entry(j, fd, plen, name, dtype, ignore, seenFiles, seenSubs)
		})
		if err != nil {
			return fmt.Errorf("reading directory %s: %w", r.abs(j.rel), err)
		}
	}
	if j.tri != nil {
		if err := w.explicitRest(j, fd, seenFiles, seenSubs); err != nil {
			return err
		}
	}
	j.node.items = w.sorted()
	r.nitems.Add(int64(len(w.items)))
	clear(w.items)
	return nil
}

// sortKey is what cmpKeys needs of an item, small enough to sort cheaply.
type sortKey struct {
	name string
	dir  bool
	idx  int32
}

// sorted returns a copy of w.items in path order.
func (w *walker) sorted() []item {
	w.keys = w.keys[:0]
	for i := range w.items {
		it := &w.items[i]
		w.keys = append(w.keys, sortKey{name: it.path[it.nameAt:], dir: it.child != nil, idx: int32(i)})
	}
	slices.SortFunc(w.keys, cmpKeys)
	out := make([]item, len(w.items))
	for i, k := range w.keys {
		out[i] = w.items[k.idx]
	}
	return out
}

// entry handles one listed directory entry.
func (w *walker) entry(j *dirJob, fd, plen int, name []byte, dtype uint8, ignore []string, seenFiles, seenSubs []bool) error {
	r := w.r
	sname := unsafe.String(&name[0], len(name))
	if len(ignore) > 0 && slices.Contains(ignore, sname) {
		return nil
	}
	var ust unix.Stat_t
	statted := false
	if dtype == unix.DT_UNKNOWN {
		if err := r.lstat(fd, name, &ust); err != nil {
			if isNotExist(err) {
				return nil
			}
			return fmt.Errorf("reading %s: %w", r.abs(string(w.path[:plen])+string(name)), err)
		}
		statted = true
		switch ust.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			dtype = unix.DT_DIR
		case unix.S_IFLNK:
			dtype = unix.DT_LNK
		default:
			dtype = unix.DT_REG
		}
	}
	var explicit uint64
	if j.tri != nil {
		if i, ok := j.tri.file(sname); ok {
			explicit = j.tri.fileList[i].mask
			seenFiles[i] = true
		}
	}
	w.path = append(w.path[:plen], name...)
	spath := unsafe.String(&w.path[0], len(w.path))
	if dtype == unix.DT_DIR {
		var sub *trieNode
		if j.tri != nil {
			if i, ok := j.tri.sub(sname); ok {
				sub = j.tri.subList[i]
				seenSubs[i] = true
			}
		}
		if explicit != 0 {
			if m := j.ctx.keep(sname, spath, explicit); m != 0 {
				w.items = append(w.items, item{path: w.keep(w.path), nameAt: int32(plen), kind: TypeDir, mask: m})
			}
		}
		walk := r.specs.childStates(j.ctx, sname, w.states, false)
		if walk || sub != nil {
			w.subdir(w.keep(w.path), plen, walk, sub)
		}
		return nil
	}
	if dtype == unix.DT_LNK && j.ctx.follows {
		if err := w.follow(j, fd, plen, name, sname, seenSubs); err != nil {
			return err
		}
		w.path = append(w.path[:plen], name...)
		spath = unsafe.String(&w.path[0], len(w.path))
	}
	mask := j.ctx.fileMask(sname, spath, explicit)
	if mask == 0 {
		return nil
	}
	if !statted {
		w.path = append(w.path, 0)
		err := r.lstat(fd, w.path[plen:], &ust)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			if !isNotExist(err) {
				return fmt.Errorf("reading %s: %w", r.abs(string(w.path)), err)
			}
			// Listed a moment ago, gone now (an editor's temp file, say).
			if explicit == 0 {
				return nil
			}
			w.items = append(w.items, item{path: w.keep(w.path), nameAt: int32(plen), kind: TypeMissing, mask: mask})
			return nil
		}
	}
	st := toFileStat(&ust)
	w.items = append(w.items, item{path: w.keep(w.path), nameAt: int32(plen), kind: kindOf(st.mode), mask: mask, st: st})
	return nil
}

// subdir queues the subdirectory whose path is rel, with the child states
// left in w.states by childStates.
func (w *walker) subdir(rel string, plen int, walk bool, sub *trieNode) {
	ctx := w.r.specs.newCtx(slices.Clone(w.states))
	child := &node{}
	w.self.refs.Add(1)
	w.children = append(w.children, &dirJob{parent: w.self, rel: rel, ctx: ctx, tri: sub, walk: walk && ctx.walk, node: child, via: w.via})
	w.items = append(w.items, item{path: rel, nameAt: int32(plen), child: child})
}

// follow queues, as a subdirectory, the target of the symlink name of
// directory j when it is a directory whose files a pattern may select.
// The path of the link is in w.path; cname is name, NUL-terminated.
func (w *walker) follow(j *dirJob, fd, plen int, cname []byte, name string, seenSubs []bool) error {
	r := w.r
	if !r.specs.childStates(j.ctx, name, w.states, true) {
		return nil
	}
	var st unix.Stat_t
	err := statAtFollow(fd, cname, &st)
	switch {
	case isNotExist(err) || err == unix.ELOOP:
		return nil // dangling, or links in a circle: the link alone is an entry
	case err != nil:
		return fmt.Errorf("following symlink %s: %w", r.abs(string(w.path)), err)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return nil
	}
	rel := w.keep(w.path)
	target, err := filepath.EvalSymlinks(r.abs(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // changed since the stat
	case err != nil:
		return fmt.Errorf("following symlink %s: %w", r.abs(rel), err)
	case strings.HasPrefix(target, nixStore):
		return nil
	}
	via, err := r.checkFollow(j, rel, target)
	if err != nil {
		return err
	}
	// State is never an input, even reached through a link.
	for _, ig := range r.ignoredReal {
		if _, ok := within(target, ig); ok {
			return nil
		}
		if below, ok := within(ig, target); ok {
			via.ignore = append(via.ignore, rel+"/"+below)
		}
	}
	child := &node{}
	if j.tri != nil {
		if i, ok := j.tri.sub(name); ok {
			seenSubs[i] = true
			if child.extra, err = r.missingItems(j.tri.subList[i]); err != nil {
				return err
			}
		}
	}
	ctx := r.specs.newCtx(slices.Clone(w.states))
	w.self.refs.Add(1)
	w.children = append(w.children, &dirJob{parent: w.self, rel: rel, ctx: ctx, walk: ctx.walk, node: child, via: via, followed: true})
	w.items = append(w.items, item{path: rel, nameAt: int32(plen), child: child})
	return nil
}

// checkFollow returns the chain of followed links for the symlink link in
// directory j, whose target is the directory target (symlinks resolved),
// or an error when following it would loop: when target is one of the
// directories the walk is inside of to get to link.
func (r *scanRun) checkFollow(j *dirJob, link, target string) (*followed, error) {
	r.realOnce.Do(func() { r.realRoot, r.realErr = filepath.EvalSymlinks(r.root) })
	if r.realErr != nil {
		return nil, fmt.Errorf("following symlink %s: %w", r.abs(link), r.realErr)
	}
	// The walk's directories are, from the innermost followed link out, the
	// link's target and the directories below it down to where the next
	// link was (or the directory holding link), then likewise for the
	// link before, and last the root and the directories below it.
	end := j.rel
	for c := j.via; ; c = c.parent {
		base, start := r.realRoot, ""
		if c != nil {
			base, start = c.real, c.link
		}
		below := end
		if start != "" {
			below = strings.TrimPrefix(strings.TrimPrefix(end, start), "/")
		}
		if rel, ok := within(target, base); ok && (rel == "" || below == rel || strings.HasPrefix(below, rel+"/")) {
			return nil, fmt.Errorf("following symlink %s: it leads to %s, a directory it is in, so it loops (the pattern %q leaves it out)", r.abs(link), target, "!"+r.patternPath(link))
		}
		if c == nil {
			break
		}
		end = ""
		if i := strings.LastIndexByte(c.link, '/'); i >= 0 {
			end = c.link[:i]
		}
	}
	f := &followed{link: link, real: target, parent: j.via, depth: 1}
	if j.via != nil {
		f.depth = j.via.depth + 1
	}
	if f.depth > maxFollowDepth {
		return nil, fmt.Errorf("following symlink %s: more than %d symlinks deep", r.abs(link), maxFollowDepth)
	}
	return f, nil
}

// patternPath is how a pattern names the relative path rel of this run.
func (r *scanRun) patternPath(rel string) string {
	if r.root == "/" {
		return "/" + rel
	}
	return rel
}

// within returns the path of p below dir, "" for dir itself, and whether
// p is dir or below it.
func within(p, dir string) (string, bool) {
	switch {
	case p == dir:
		return "", true
	case dir == "/":
		return p[1:], strings.HasPrefix(p, "/")
	case strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == '/':
		return p[len(dir)+1:], true
	}
	return "", false
}

// explicitRest stats the explicit names of j that the listing did not show
// (all of them when j is not walked).
func (w *walker) explicitRest(j *dirJob, fd int, seenFiles, seenSubs []bool) error {
	r := w.r
	plen := len(j.rel)
	if plen > 0 {
		plen++
	}
	var ust unix.Stat_t
	for i, e := range j.tri.fileList {
		if seenFiles[i] {
			continue
		}
		name := e.path[plen:]
		mask := j.ctx.keep(name, e.path, e.mask)
		if mask == 0 {
			continue
		}
		err := r.lstat(fd, w.nulName(name), &ust)
		switch {
		case err == nil:
			st := toFileStat(&ust)
			w.items = append(w.items, item{path: e.path, nameAt: int32(plen), kind: kindOf(st.mode), mask: mask, st: st})
		case isNotExist(err):
			w.items = append(w.items, item{path: e.path, nameAt: int32(plen), kind: TypeMissing, mask: mask})
		default:
			return fmt.Errorf("reading %s: %w", r.abs(e.path), err)
		}
	}
	for i, sub := range j.tri.subList {
		if seenSubs[i] {
			continue
		}
		name := j.tri.subNames[i]
		rel := name
		if j.rel != "" {
			rel = j.rel + "/" + name
		}
		err := r.lstat(fd, w.nulName(name), &ust)
		switch {
		case err == nil && ust.Mode&unix.S_IFMT == unix.S_IFDIR:
			walk := r.specs.childStates(j.ctx, name, w.states, false)
			w.subdir(rel, plen, walk && j.walk, sub)
		case err == nil || isNotExist(err):
			// Absent, or a file or symlink where a directory was listed:
			// everything listed below it is missing.
			items, err := r.missingItems(sub)
			if err != nil {
				return err
			}
			w.items = append(w.items, item{path: rel, nameAt: int32(plen), child: &node{items: items}})
		default:
			return fmt.Errorf("reading %s: %w", r.abs(rel), err)
		}
	}
	return nil
}

// nulName returns name followed by a NUL, in the walker's scratch buffer.
func (w *walker) nulName(name string) []byte {
	w.path = append(append(w.path[:0], name...), 0)
	return w.path[:len(name)]
}

// missingItems lists the explicit files of a subtree that cannot exist, in
// path order, minus excluded ones. The subtree was not expanded, so its
// paths are checked here.
func (r *scanRun) missingItems(t *trieNode) ([]item, error) {
	var items []item
	for _, e := range r.explicit[t.lo:t.hi] {
		if !validPath(e.path[t.nameAt:]) {
			return nil, badPath(e.path)
		}
		if m := e.mask & r.specs.decide(e.path, e.mask); m != 0 {
			items = append(items, item{path: e.path, nameAt: int32(strings.LastIndexByte(e.path, '/') + 1), kind: TypeMissing, mask: m})
		}
	}
	r.nitems.Add(int64(len(items)))
	return items, nil
}

// cmpKeys orders a directory's items so that a depth-first walk yields full
// paths in byte order: a subdirectory sorts as its name followed by "/", which
// is where its descendants' paths fall among its siblings'.
func cmpKeys(a, b sortKey) int {
	n := min(len(a.name), len(b.name))
	if c := strings.Compare(a.name[:n], b.name[:n]); c != 0 {
		return c
	}
	return nextKeyByte(a.name, n, a.dir) - nextKeyByte(b.name, n, b.dir)
}

func nextKeyByte(name string, n int, dir bool) int {
	switch {
	case len(name) > n:
		return int(name[n])
	case dir:
		return '/'
	}
	return -1
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

// hashFiles fills in the hash of every file and symlink in files (sorted by
// path): from cache when its stat key matches, else by reading it. It then
// updates the cache: entries for files this scan saw are replaced, entries
// for files in its scope that it did not see are dropped, and the rest (other
// specs' files) are kept. Hashes of files changed after racyBefore (ns) are
// not stored.
func (r *scanRun) hashFiles(c *Cache, files []*item, racyBefore int64) (hashed int, err error) {
	target := c
	if c == nil {
		c = &Cache{}
	}
	var misses []*item
	var keep []int // old records carried over unchanged, in order
	dropped := 0
	j := 0
	unseen := func(j int) {
		if r.inScope(c.path(j)) {
			dropped++
		} else {
			keep = append(keep, j)
		}
	}
	for _, it := range files {
		switch it.kind {
		case TypeFile, TypeExec, TypeSymlink:
		default:
			continue
		}
		for j < c.n && c.path(j) < it.path {
			unseen(j)
			j++
		}
		if j < c.n && c.path(j) == it.path {
			if c.stat(j) == it.st {
				it.hash, it.storable = c.hash(j), true
				j++
				continue
			}
			dropped++ // replaced by a fresh hash, or by nothing if racy
			j++
		}
		misses = append(misses, it)
	}
	for ; j < c.n; j++ {
		unseen(j)
	}
	if err := r.hashMisses(misses, racyBefore); err != nil {
		return len(misses), err
	}
	added := 0
	for _, it := range misses {
		if it.storable {
			added++
		}
	}
	// An entry whose file changed or went away can never hit again (its
	// ctime would have to go back), so a few of them are left in place
	// rather than paying for a rewrite of the whole cache: the common case
	// is one file just edited, too recent (racy) to store yet. The next
	// scan that stores a hash, or finds many stale entries, prunes them.
	if target == nil || added == 0 && dropped <= staleKept(c.n) {
		return len(misses), nil
	}
	b := cacheBuilder{recs: make([]byte, 0, (len(files)+len(keep))*recSize)}
	k := 0
	for _, it := range files {
		if !it.storable {
			continue
		}
		for k < len(keep) && c.path(keep[k]) < it.path {
			b.addOld(c, keep[k])
			k++
		}
		b.add(it.path, it.st, it.hash)
	}
	for ; k < len(keep); k++ {
		b.addOld(c, keep[k])
	}
	b.install(c)
	return len(misses), nil
}

// staleKept is how many stale entries a cache of n entries may keep
// without being rewritten.
func staleKept(n int) int { return max(8, n/64) }

// inScope reports whether this scan would have seen path had it existed as a
// file, so a cache entry for it that the scan did not see is stale.
func (r *scanRun) inScope(path string) bool {
	if path != "" && path[0] == '/' {
		return r.outside != nil && r.outside.inScope(path[1:])
	}
	if r.isIgnored(path) {
		return true // never needed again
	}
	if i := sort.Search(len(r.explicit), func(i int) bool { return r.explicit[i].path >= path }); i < len(r.explicit) && r.explicit[i].path == path {
		return true
	}
	return r.specs.decide(path, 0) != 0
}

// hashMisses hashes files on r.workers goroutines.
func (r *scanRun) hashMisses(misses []*item, racyBefore int64) error {
	if len(misses) == 0 {
		return nil
	}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(r.workers, len(misses)) {
		wg.Go(func() {
			buf := make([]byte, hashBufSize)
			for failed.Load() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(misses)) {
					return
				}
				err := r.ctx.Err()
				if err != nil {
					err = fmt.Errorf("scanning %s: %w", r.root, err)
				} else {
					err = r.hashItem(misses[i], buf, racyBefore)
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return *p
	}
	return nil
}

var errChanged = errors.New("changed while being scanned")

func (r *scanRun) hashItem(it *item, buf []byte, racyBefore int64) error {
	abs := r.abs(it.path)
	if it.kind == TypeSymlink {
		sum, st, err := hashSymlink(abs, buf[:4096])
		if isNotExist(err) {
			r.vanish(it)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading symlink %s: %w", abs, err)
		}
		if kindOf(st.mode) != TypeSymlink {
			return fmt.Errorf("reading symlink %s: %w", abs, errChanged)
		}
		it.storable = st == it.st && st.mtime < racyBefore && st.ctime < racyBefore
		it.hash, it.st = sum, st
		return nil
	}
	sum, st, n, err := hashRegular(abs, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, buf)
	if isNotExist(err) {
		r.vanish(it)
		return nil
	}
	if err != nil {
		if err == errNotRegular || err == unix.ELOOP {
			err = errChanged
		}
		return fmt.Errorf("hashing %s: %w", abs, err)
	}
	it.storable = n == st.size && st.mtime < racyBefore && st.ctime < racyBefore
	st.size = n
	it.hash, it.st, it.kind = sum, st, kindOf(st.mode)
	return nil
}

// vanish marks an item whose file was listed but is gone when it is
// read (a lock file git just removed, an editor's temp file): as if the
// listing had not seen it, it stays only in the specs that list it by
// name, as missing.
func (r *scanRun) vanish(it *item) {
	it.kind, it.gone, it.storable = TypeMissing, true, false
	r.vanished.Add(1)
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
