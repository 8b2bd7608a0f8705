package fingerprint

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"
)

// The hashing phase: content hashes from the stat cache where a file's
// stat signature is unchanged and not racy, read afresh otherwise.

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
		if it.kind == TypeSymlink {
			// The one stat a symlink costs beyond the walk's lstat: what
			// its chain ends at, whose content is part of the input.
			if err := r.statTarget(it); err != nil {
				return 0, err
			}
		}
		for j < c.n && c.path(j) < it.path {
			unseen(j)
			j++
		}
		hit := false
		if j < c.n && c.path(j) == it.path {
			if c.stat(j) == it.st {
				it.hash, hit = c.hash(j), true
			} else {
				dropped++ // replaced by a fresh hash, or by nothing if racy
			}
			j++
		}
		if it.kind == TypeSymlink {
			// Right after the link's entry comes its target's, if any:
			// the content hash of the file the chain ended at, keyed by
			// that file's stat (not the link's).
			if j < c.n && isTargetKey(c.path(j), it.path) {
				if t := it.link; hit && t != nil && c.stat(j) == t.st {
					t.sum, t.storable = c.hash(j), true
				} else {
					dropped++
				}
				j++
			}
			hit = hit && (it.link == nil || it.link.storable)
		}
		if hit {
			it.storable = true
			continue
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
		if t := it.link; t != nil && t.kind != 0 {
			b.add(it.path+targetKeySuffix, t.st, t.sum)
		}
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
	if strings.HasPrefix(path, storeKeyPrefix) {
		return false // a store path's verdict (store.go), not a file
	}
	path = strings.TrimSuffix(path, targetKeySuffix) // a link's target goes with the link
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
		if t := it.link; t != nil && t.kind != 0 {
			// Through the link, as whatever uses it reads it.
			tsum, tst, n, err := hashRegular(abs, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, buf)
			if isNotExist(err) || err == errNotRegular || err == unix.ELOOP {
				return fmt.Errorf("reading %s through symlink %s: %w", t.path(abs), abs, errChanged)
			}
			if err != nil {
				return fmt.Errorf("reading %s through symlink %s: %w", t.path(abs), abs, err)
			}
			// Stored only when the file read is the one stat'ed (the chain
			// did not move meanwhile) and not modified just now.
			t.storable = tst == t.st && n == tst.size && tst.mtime < racyBefore && tst.ctime < racyBefore
			it.storable = it.storable && t.storable
			t.sum, t.st, t.kind = tsum, tst, kindOf(tst.mode)
		}
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

// linkTarget is what a symlinked input's chain of links ends at. Whatever
// uses the input (a script, an impure evaluation) reads through the link,
// so the content there is part of the input as much as the link's target
// string is: an edit of that file, or any link of the chain pointed
// elsewhere (a home-manager profile link moved to a new generation), is a
// change even though the link in the repo stays as it is.
type linkTarget struct {
	st       fileStat // stat through the link: of the file the chain ends at
	kind     byte     // TypeFile or TypeExec; 0 when the chain ends at no regular file
	sum      Sum      // its content hash, when kind is set
	storable bool     // sum is the content of the file st describes, safe to cache
	// store, for a link to a sealed store directory reached through
	// other links, is that directory (symlinks resolved); the walk sets
	// it, and the entry's hash holds it.
	store string
}

// targetKeySuffix marks a stat cache entry holding the content hash of the
// file a symlink leads to, keyed by that file's stat: the entry for path
// "a/link" is followed by one for "a/link\x00", the least path after it.
const targetKeySuffix = "\x00"

// isTargetKey reports whether cache path key is the target entry of path.
func isTargetKey(key, path string) bool {
	return len(key) == len(path)+1 && key[len(path)] == 0 && key[:len(path)] == path
}

// statTarget stats what symlink it leads to, following every link of the
// chain. A chain that ends nowhere (a dangling link, a loop) or at a
// directory (whose files a pattern follows on its own) or a device has no
// content of its own; any other failure to tell is an error, never a
// silent "unchanged".
func (r *scanRun) statTarget(it *item) error {
	if it.link != nil && it.link.store != "" {
		return nil // a directory in the store, resolved by the walk
	}
	it.link = nil // none but a file's: most links in a tree dangle or lead to directories
	var ust unix.Stat_t
	abs := r.abs(it.path)
	var err error
	for {
		err = unix.Stat(abs, &ust)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP:
		return nil
	case err != nil:
		return fmt.Errorf("following symlink %s: %w", abs, err)
	}
	st := toFileStat(&ust)
	if k := kindOf(st.mode); k == TypeFile || k == TypeExec {
		it.link = &linkTarget{st: st, kind: k}
	}
	return nil
}

// combine is the hash of a symlink entry whose chain ends at a file: its
// target string's hash with the file's type and content.
func (t *linkTarget) combine(linkSum Sum) Sum {
	var b [33]byte
	copy(b[:], linkSum[:])
	b[16] = t.kind
	copy(b[17:], t.sum[:])
	return Sum(xxh3.Hash128(b[:]).Bytes())
}

// combineStore is the hash of a symlink entry whose chain of links ends at
// a sealed store directory: its target string's hash with that
// directory's path.
func (t *linkTarget) combineStore(linkSum Sum) Sum {
	b := make([]byte, 0, 17+len(t.store))
	b = append(append(append(b, linkSum[:]...), 'd'), t.store...)
	return Sum(xxh3.Hash128(b).Bytes())
}

// path names, for an error, where the chain of the link at abs ends.
func (t *linkTarget) path(abs string) string {
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if target, err := os.Readlink(abs); err == nil {
		return target
	}
	return "its target"
}
