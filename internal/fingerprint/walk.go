package fingerprint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The walk: parallel walkers over directory descriptors, matching
// patterns, following linked directories and stat'ing listed files.

// runWalk processes the job queue on r.workers goroutines until it drains or
// one fails.
func (r *scanRun) runWalk() error {
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() {
			w := &walker{r: r, dents: make([]byte, 32<<10), states: make([]patState, len(r.specs.patterns))}
			w.loop()
			r.dirs.collect(w)
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
	// What the walker did with the cache's directory listings (dirs.go).
	rec       []byte // the listing being read
	dirsUsed  []string
	dirsRead  []string
	dirsFresh []dirListing
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
	// A directory only stat'ed in, not listed, needs no read access; nor
	// does one whose listing the cache may hold: walker.list opens it for
	// reading when it must read it.
	mode := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !j.walk || r.dirs != nil {
		mode = statOnlyDir | unix.O_DIRECTORY | unix.O_CLOEXEC
	}
	for {
		if j.parent == nil {
			fd, err = unix.Open(r.root, mode, 0)
		} else {
			// O_NOFOLLOW: never through a symlink that replaced a directory,
			// unless the job follows that symlink.
			m := mode | unix.O_NOFOLLOW
			if j.followed {
				m = mode
			}
			fd, err = unix.Openat(j.parent.fd, j.rel[strings.LastIndexByte(j.rel, '/')+1:], m, 0)
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
		err := w.list(r.dirs, r.patternPath(j.rel), fd, func(name []byte, dtype uint8) error {
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
	var store *linkTarget
	if dtype == unix.DT_LNK && j.ctx.follows {
		var err error
		if store, err = w.follow(j, fd, plen, name, sname, seenSubs); err != nil {
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
	w.items = append(w.items, item{path: w.keep(w.path), nameAt: int32(plen), kind: kindOf(st.mode), mask: mask, st: st, link: store})
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
// A link to a sealed store path is not followed; for it, follow returns
// what the link's entry holds beside its target string: the store path
// the chain of links ends at, when that is not the target string itself.
func (w *walker) follow(j *dirJob, fd, plen int, cname []byte, name string, seenSubs []bool) (*linkTarget, error) {
	r := w.r
	if !r.specs.childStates(j.ctx, name, w.states, true) {
		return nil, nil
	}
	var st unix.Stat_t
	err := statAtFollow(fd, cname, &st)
	switch {
	case isNotExist(err) || err == unix.ELOOP:
		return nil, nil // dangling, or links in a circle: the link alone is an entry
	case err != nil:
		return nil, fmt.Errorf("following symlink %s: %w", r.abs(string(w.path)), err)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return nil, nil
	}
	rel := w.keep(w.path)
	target, err := filepath.EvalSymlinks(r.abs(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil // changed since the stat
	case err != nil:
		return nil, fmt.Errorf("following symlink %s: %w", r.abs(rel), err)
	}
	if obj, ok := storeObject(target); ok {
		sealed, why := r.stores.sealed(obj)
		if sealed {
			// The link's entry is its target string; when the chain goes
			// through other links (a profile), where it ends too, so a
			// hop repointed at another store path is a change.
			if lt, err := os.Readlink(r.abs(rel)); err != nil || lt != target {
				return &linkTarget{store: target, storable: true}, nil
			}
			return nil, nil
		}
		if why != "" {
			r.note(r.specs.needMask(w.states), fmt.Sprintf("input %s links to store path %s, whose files are read one by one rather than taken as unchanging: %s", r.patternPath(rel), obj, why))
		}
	}
	via, err := r.checkFollow(j, rel, target)
	if err != nil {
		return nil, err
	}
	// State is never an input, even reached through a link.
	for _, ig := range r.ignoredReal {
		if _, ok := within(target, ig); ok {
			return nil, nil
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
				return nil, err
			}
		}
	}
	ctx := r.specs.newCtx(slices.Clone(w.states))
	w.self.refs.Add(1)
	w.children = append(w.children, &dirJob{parent: w.self, rel: rel, ctx: ctx, walk: ctx.walk, node: child, via: via, followed: true})
	w.items = append(w.items, item{path: rel, nameAt: int32(plen), child: child})
	return nil, nil
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

// lstat stats name relative to dirfd the way this scan does.
func (r *scanRun) lstat(dirfd int, name []byte, st *unix.Stat_t) error {
	if r.background {
		return statAtYielding(dirfd, name, st)
	}
	return statAt(dirfd, name, st)
}
