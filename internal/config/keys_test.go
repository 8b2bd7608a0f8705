package config

import (
	"slices"
	"testing"
)

// TestKeyTables guards the tables the loader derives from Kinds and
// CommonKeys: a key added to a kind without docs would be "unknown".
func TestKeyTables(t *testing.T) {
	var kinds []string
	for k := range Kinds {
		kinds = append(kinds, k)
	}
	if !sameSet(kinds, kindNames) {
		t.Errorf("kindNames %v does not match Kinds %v", kindNames, kinds)
	}
	want := slices.Clone(CommonKeys)
	for _, keys := range Kinds {
		want = append(want, keys...)
	}
	if got := allKeys(); !sameSet(got, want) {
		t.Errorf("keyDocs has %v, kinds use %v", got, want)
	}
	for k, d := range keyDocs {
		if d.example == "" {
			t.Errorf("key %q has no example", k)
		}
	}
	for kind, keys := range required {
		for _, k := range keys {
			if !allowed(kind, k) {
				t.Errorf("%s requires %q, which it does not accept", kind, k)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
