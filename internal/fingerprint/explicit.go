package fingerprint

import (
	"slices"
	"sort"
	"strings"
)

// The explicit-file trie: the paths specs list by name (a flake's tracked
// files), merged and sorted, expanded by directory as the walkers enter them.

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
