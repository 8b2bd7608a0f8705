package fingerprint

import (
	"os"
	"sort"
	"strings"
)

// unmatched appends to out, per spec, the spec's include patterns that
// selected none of files (this run's, in path order): a typo, an empty
// directory, a path that moved. Each is tested against the files its spec
// kept, from where its literal prefix sorts, so on a tree where every
// pattern selects something this costs a search per pattern.
func (r *scanRun) unmatched(files []*item, out [][]Unmatched) {
	for _, p := range r.specs.patterns {
		if p.exclude || p.copy || r.selects(p, files) {
			continue
		}
		out[p.spec] = append(out[p.spec], Unmatched{Pattern: p.given, Closest: r.closest(p)})
	}
}

// selects reports whether some present file of files that p's spec kept
// matches p.
func (r *scanRun) selects(p *pattern, files []*item) bool {
	bit := uint64(1) << p.spec
	try := func(it *item) bool {
		if it.mask&bit == 0 || it.kind == TypeMissing {
			return false
		}
		if p.kind == kindBase && !p.base.match(it.path[strings.LastIndexByte(it.path, '/')+1:]) {
			return false
		}
		return p.matchFull(it.path)
	}
	if len(p.lit) == 0 {
		for _, it := range files {
			if try(it) {
				return true
			}
		}
		return false
	}
	// The paths at or below the prefix: the prefix itself, then (after
	// names such as "prefix.x" that sort between) those under "prefix/".
	prefix := strings.Join(p.lit, "/")
	if i := sort.Search(len(files), func(i int) bool { return files[i].path >= prefix }); i < len(files) && files[i].path == prefix && try(files[i]) {
		return true
	}
	prefix += "/"
	for i := sort.Search(len(files), func(i int) bool { return files[i].path >= prefix }); i < len(files) && strings.HasPrefix(files[i].path, prefix); i++ {
		if try(files[i]) {
			return true
		}
	}
	return false
}

// closest returns p with the first element of its literal prefix that
// names nothing replaced by the closest name in that directory, or "".
// It runs only for a pattern that selected nothing.
func (r *scanRun) closest(p *pattern) string {
	dir := r.root
	for k, name := range p.lit {
		path := dir + "/" + name
		if dir == "/" {
			path = "/" + name
		}
		fi, err := os.Stat(path) // patterns follow symlinks
		if err == nil {
			if k < len(p.lit)-1 && !fi.IsDir() {
				return ""
			}
			dir = path
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return ""
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		best := closestName(name, names)
		if best == "" {
			return ""
		}
		// Rebuild the pattern as given, with that element replaced.
		given, lead := p.given, ""
		if r.root == "/" {
			given, lead = given[1:], "/"
		}
		for strings.HasPrefix(given, "./") {
			given = given[2:]
		}
		segs := strings.SplitN(given, "/", k+2)
		segs[k] = escapeMeta(best)
		return lead + strings.Join(segs, "/")
	}
	return ""
}

// closestName returns the candidate a user most likely meant by s, or ""
// when none is close enough: case is ignored first ("Fonts"), then the
// edit distance (adjacent swaps counting one, the commonest typo) must be
// at most a third of the name, at least 1 and at most 3.
func closestName(s string, candidates []string) string {
	const maxLen = 64 // keeps a pathological name from costing len²
	ls := strings.ToLower(s)
	limit := min(max(len(s)/3, 1), 3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == ls {
			return c
		}
		if d := len(lc) - len(ls); d > limit || -d > limit || len(ls) > maxLen || len(lc) > maxLen {
			continue
		}
		if d := editDistance(ls, lc); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: Levenshtein plus swaps of adjacent bytes.
func editDistance(a, b string) int {
	pp := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(b)]
}
