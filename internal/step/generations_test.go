package step

import (
	"slices"
	"testing"
	"time"
)

func TestExpired(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// gen makes generation n, made ago before now.
	gen := func(n int, ago time.Duration, current bool) Generation {
		return Generation{Number: n, Time: now.Add(-ago), Current: current}
	}
	// Ten generations a day apart, the newest (10) current.
	ten := func(current int) []Generation {
		var gs []Generation
		for n := 1; n <= 10; n++ {
			gs = append(gs, gen(n, time.Duration(10-n)*day, n == current))
		}
		return gs
	}
	tests := []struct {
		name      string
		gens      []Generation
		keep      int
		keepSince time.Duration
		want      []int
	}{
		{"keep 3, nothing by age", ten(10), 3, 0, []int{1, 2, 3, 4, 5, 6, 7}},
		{"keep 3 or 4 days: age keeps more", ten(10), 3, 4 * day, []int{1, 2, 3, 4, 5}},
		{"keep 5 or 1 day: count keeps more", ten(10), 5, day, []int{1, 2, 3, 4, 5}},
		{"exactly keepSince old is kept", ten(10), 0, 2 * day, []int{1, 2, 3, 4, 5, 6, 7}},
		{"keep 0 still keeps the current", ten(10), 0, 0, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"after a rollback the current is older than the kept", ten(4), 2, 0, []int{1, 2, 3, 5, 6, 7, 8}},
		{"keep more than there are", ten(10), 20, 0, nil},
		{"unsorted input, numbers not contiguous", []Generation{gen(9, 3*day, false), gen(2, 9*day, false), gen(12, 0, true), gen(5, 5*day, false)}, 2, 0, []int{2, 5}},
		{"made after now (clock moved back) is young", []Generation{gen(1, -day, false), gen(2, 0, true)}, 0, 0, nil},
		{"none", nil, 3, day, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, g := range Expired(tt.gens, tt.keep, tt.keepSince, now) {
				got = append(got, g.Number)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Expired = %v, want %v", got, tt.want)
			}
		})
	}
}
