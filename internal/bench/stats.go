package bench

import (
	"slices"
	"sort"
	"time"
)

// Stats summarises repeated timings.
type Stats struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median_ns"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
}

// NewStats summarises ds; the median of an even count is the mean of the
// middle two.
func NewStats(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stats{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// Ratio is a's median over b's: how many times slower a is than b. It is
// 0 when either is unknown.
func Ratio(a, b Stats) float64 {
	if a.N == 0 || b.N == 0 || b.Median <= 0 {
		return 0
	}
	return float64(a.Median) / float64(b.Median)
}

// interval is a span of time in Unix ns.
type interval struct{ start, end int64 }

// unionLength is the time covered by at least one of the intervals.
func unionLength(ivs []interval) time.Duration {
	if len(ivs) == 0 {
		return 0
	}
	s := slices.Clone(ivs)
	sort.Slice(s, func(i, j int) bool { return s[i].start < s[j].start })
	var total int64
	cur := s[0]
	for _, iv := range s[1:] {
		if iv.start > cur.end {
			total += cur.end - cur.start
			cur = iv
			continue
		}
		if iv.end > cur.end {
			cur.end = iv.end
		}
	}
	total += cur.end - cur.start
	return time.Duration(total)
}

// criticalPath is the longest chain of step durations through the DAG
// after (step → the steps it runs after). Steps missing from dur count 0.
func criticalPath(dur map[string]time.Duration, after map[string][]string) time.Duration {
	memo := map[string]time.Duration{}
	var finish func(string, int) time.Duration
	finish = func(s string, depth int) time.Duration {
		if v, ok := memo[s]; ok {
			return v
		}
		var longest time.Duration
		if depth < 64 { // a cycle cannot be in a valid config; never loop on one
			for _, a := range after[s] {
				longest = max(longest, finish(a, depth+1))
			}
		}
		memo[s] = longest + dur[s]
		return memo[s]
	}
	var cp time.Duration
	names := make([]string, 0, len(dur))
	for s := range dur {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		cp = max(cp, finish(s, 0))
	}
	return cp
}
