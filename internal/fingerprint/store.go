package fingerprint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Links into the nix store. A store path (/nix/store/HASH-NAME) never
// changes once made, so a symlink to a directory in it is not followed:
// its target names its content. That holds only while nothing the
// directory holds leads out of the store: home-manager's home-files, for
// one, holds links to mkOutOfStoreSymlink paths, which are links to
// ~/dotfiles/…, and an edit there must be seen. So a store path is
// "sealed" — its name stands for all it reaches — only when every link in
// it stays in the store, every link of every chain from it lies in the
// store, and every other store path it leads to is sealed too. A store
// path that is not sealed is followed like any directory.
//
// Because store paths never change, the answer is worked out once per
// store path, by walking it, and kept in the stat cache (storeKeyPrefix),
// keyed by the path's own stat: a no-change scan costs one lstat per
// store path a link leads to, no walk.

// storeKeyPrefix starts the stat cache key of a store path's verdict:
// "\x00/nix/store/HASH-NAME". No input's path starts with a NUL, so the
// verdicts sort before every file and are never taken for one.
const storeKeyPrefix = "\x00"

// Verdicts, in the first byte of the cache record's hash.
const (
	storeSealed byte = 1 // no way out: not followed
	storeLeaks  byte = 2 // a link leads out: followed
	storeTooBig byte = 3 // too big to tell (maxStoreCheck): followed
)

// maxStoreCheck bounds the entries walked to tell whether one store path
// is sealed. A bigger one is followed (its files fingerprinted like any
// linked directory's) rather than walked at length: sound, if slower.
// 100,000 entries is more than most packages hold (a kernel source tree
// is about 80,000) and takes well under a second to list. A variable
// for tests.
var maxStoreCheck = 100_000

// maxStoreVerdicts bounds the verdicts the stat cache keeps: past it, the
// ones no scan used since they were loaded are dropped (a new generation
// of home-files, say, leaves the old one's verdict unused).
const maxStoreVerdicts = 1024

// storeChecker tells, for the runs of one Scan, which store paths are
// sealed, from the stat cache or by walking them.
type storeChecker struct {
	mu     sync.Mutex
	cache  *Cache // read only while the Scan walks; may be nil
	seen   map[string]*storeResult
	checks int // store paths walked, for tests
}

type storeResult struct {
	verdict byte
	// why, when the verdict is not sealed but no link out was found,
	// says why it could not be told, for a note.
	why string
	st  fileStat
	// fresh: worked out by this scan, to add to the cache.
	fresh bool
	// final: the verdict holds for good, to be cached (a sealed one
	// always does); not when the walk met what may change: a permission
	// error, a store path still being built or gone.
	final      bool
	inProgress bool
}

func newStoreChecker(c *Cache) *storeChecker {
	return &storeChecker{cache: c} // seen is made when a link leads into the store
}

// storeObject returns the store path that the absolute, clean path p is
// or lies in: /nix/store/HASH-NAME.
func storeObject(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, nixStore)
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	// HASH is 32 characters of nix's base32; ".links" and the like are
	// the store's own bookkeeping, which changes.
	if len(name) < 34 || name[32] != '-' || name[0] == '.' {
		return "", false
	}
	return p[:len(nixStore)+len(name)], true
}

// sealed reports whether the store path obj is sealed: whether a link to
// it may go unfollowed. When it is not though no link out of the store
// was found, why says what kept it from being told.
func (sc *storeChecker) sealed(obj string) (ok bool, why string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	res := sc.sealedLocked(obj)
	return res.verdict == storeSealed, res.why
}

func (sc *storeChecker) sealedLocked(obj string) *storeResult {
	if res, ok := sc.seen[obj]; ok {
		if res.inProgress {
			// Store paths that lead to each other in a circle are not
			// what nix makes: no telling, so followed.
			return &storeResult{verdict: storeLeaks, why: "store paths it links to lead back to it"}
		}
		return res
	}
	res := &storeResult{verdict: storeLeaks}
	if sc.seen == nil {
		sc.seen = map[string]*storeResult{}
	}
	sc.seen[obj] = res
	var ust unix.Stat_t
	if err := unix.Lstat(obj, &ust); err != nil {
		return res // gone: a link to it dangles, and the walk sees that
	}
	res.st = toFileStat(&ust)
	// Nix sets every file of a store path to mtime 1 once it is built
	// (canonicalisation, before the path is registered valid); a path
	// with another mtime is still being written, so its content is not
	// yet what its name stands for.
	if ust.Mtim.Sec != 1 {
		res.why = "it is still being built (its files do not yet have nix's mtime of 1)"
		return res
	}
	if v, ok := sc.lookup(obj, res.st); ok {
		res.verdict, res.final = v, true
		if v == storeTooBig {
			res.why = tooBigWhy()
		}
		return res
	}
	res.inProgress = true
	res.verdict, res.final, res.why = sc.check(obj, res.st)
	res.inProgress, res.fresh = false, true
	sc.checks++
	return res
}

// lookup returns the cached verdict of store path obj, whose stat is st.
func (sc *storeChecker) lookup(obj string, st fileStat) (byte, bool) {
	c := sc.cache
	if c == nil {
		return 0, false
	}
	key := storeKeyPrefix + obj
	i := sort.Search(c.n, func(i int) bool { return c.path(i) >= key })
	if i == c.n || c.path(i) != key || c.stat(i) != st {
		return 0, false
	}
	switch v := c.hash(i)[0]; v {
	case storeSealed, storeLeaks, storeTooBig:
		return v, true
	}
	return 0, false
}

// check walks store path obj (whose stat is st) and every store path its
// links lead to, and returns its verdict, whether it may be cached, and
// why it could not be told, if so.
func (sc *storeChecker) check(obj string, st fileStat) (verdict byte, final bool, why string) {
	verdict, final = storeSealed, true
	// link tells whether the link at p is a way out, or one that cannot
	// be told (then verdict, final and why say so).
	link := func(p string) bool {
		dest, ok := storeResolve(p)
		if !ok {
			verdict = storeLeaks
			return true
		}
		to, _ := storeObject(dest)
		if to == obj {
			return false
		}
		res := sc.sealedLocked(to)
		switch res.verdict {
		case storeSealed:
			return false
		case storeTooBig:
			verdict = storeTooBig
		default:
			verdict = storeLeaks
		}
		// Through a path still being built, say: no verdict to keep.
		final = res.final
		if res.why != "" {
			why = "it links to " + to + ", and " + res.why
			if res.verdict == storeTooBig {
				why = res.why
			}
		}
		return true
	}
	if st.mode&unix.S_IFMT == unix.S_IFLNK {
		link(obj)
		return verdict, final, why
	}
	if st.mode&unix.S_IFMT != unix.S_IFDIR {
		return storeSealed, true, ""
	}
	n := 0
	dirs := []string{obj}
	for len(dirs) > 0 {
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		ents, err := os.ReadDir(dir)
		if err != nil {
			// Unreadable now, maybe not later: followed, not cached.
			return storeLeaks, false, "checking it for links out of the store: " + err.Error()
		}
		for _, e := range ents {
			if n++; n > maxStoreCheck {
				return storeTooBig, true, tooBigWhy()
			}
			p := dir + "/" + e.Name()
			switch {
			case e.Type()&os.ModeSymlink != 0:
				if link(p) {
					return verdict, final, why
				}
			case e.IsDir():
				dirs = append(dirs, p)
			}
		}
	}
	return storeSealed, true, ""
}

func tooBigWhy() string {
	return fmt.Sprintf("it, or a store path it links to, holds more than %d entries to check for links out of the store", maxStoreCheck)
}

// maxStoreHops bounds the links resolved in one path, as the kernel does.
const maxStoreHops = 40

// storeResolve resolves the symlinks in the absolute path p as the kernel
// would, and reports whether every link on the way lies in a store path
// (so that none can be repointed) and where it ends is in one (so it
// cannot change). ok is false when the path leads nowhere.
func storeResolve(p string) (dest string, ok bool) {
	dest = "/"
	rest := p
	hops := 0
	for rest != "" {
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		switch comp {
		case "", ".":
			continue
		case "..":
			dest = filepath.Dir(dest)
			continue
		}
		next := filepath.Join(dest, comp)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", false
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			dest = next
			continue
		}
		if _, in := storeObject(next); !in {
			return "", false
		}
		if hops++; hops > maxStoreHops {
			return "", false
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", false
		}
		if filepath.IsAbs(target) {
			dest = "/"
		}
		if rest != "" {
			target += "/" + rest
		}
		rest = target
	}
	_, in := storeObject(dest)
	return dest, in
}

// save adds this scan's cacheable verdicts to c, dropping, past
// maxStoreVerdicts, the old ones this scan did not use.
func (sc *storeChecker) save(c *Cache) {
	if c == nil {
		return
	}
	type rec struct {
		key string
		st  fileStat
		sum Sum
	}
	var fresh []rec
	for obj, res := range sc.seen {
		if res.fresh && res.final {
			var s Sum
			s[0] = res.verdict
			fresh = append(fresh, rec{storeKeyPrefix + obj, res.st, s})
		}
	}
	if len(fresh) == 0 {
		return
	}
	nOld := 0
	for nOld < c.n && strings.HasPrefix(c.path(nOld), storeKeyPrefix) {
		nOld++
	}
	var old []rec
	for i := range nOld {
		key := c.path(i)
		if res, ok := sc.seen[key[len(storeKeyPrefix):]]; ok && res.fresh {
			continue // replaced
		} else if !ok && nOld+len(fresh) > maxStoreVerdicts {
			continue // unused this scan, and there are too many
		}
		old = append(old, rec{key, c.stat(i), c.hash(i)})
	}
	all := append(old, fresh...)
	slices.SortFunc(all, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	b := cacheBuilder{recs: make([]byte, 0, (c.n-nOld+len(all))*recSize)}
	for _, r := range all {
		b.add(r.key, r.st, r.sum)
	}
	for i := nOld; i < c.n; i++ {
		b.addOld(c, i)
	}
	b.install(c)
}
