package config

import "strings"

// closest returns the candidate a user most likely meant by s, or "" when
// none is close enough to be worth suggesting. Case and '_' versus '-' are
// ignored first ("on_change", "BrewFile"); then the edit distance must be at
// most a third of the word (at least 1, at most 3), so short words do not
// suggest unrelated ones.
// maxSuggestLen bounds the words closest compares, so that a pathological
// file cannot make suggestions quadratic in its size.
const maxSuggestLen = 64

func closest(s string, candidates []string) string {
	norm := func(x string) string { return strings.ReplaceAll(strings.ToLower(x), "_", "-") }
	ns := norm(s)
	best, bestDist := "", 0
	limit := min(max(len(s)/3, 1), 3)
	for _, c := range candidates {
		nc := norm(c)
		if nc == ns {
			return c
		}
		// The length difference bounds the distance from below; checking it
		// first keeps long names (the fuzzer finds them) from costing
		// len(a)*len(b) each.
		if abs(len(nc)-len(ns)) > limit || len(ns) > maxSuggestLen {
			continue
		}
		d := editDistance(ns, nc)
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b, in
// bytes: Levenshtein plus swaps of adjacent bytes, the commonest typo
// ("kidn").
func editDistance(a, b string) int {
	pp := make([]int, len(b)+1) // row i-2
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

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
