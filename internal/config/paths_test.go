package config

import "testing"

// TestCleanInsideWholeElement: only a ".." that is a whole element is
// dropped from the suggestion: in conf/..{a,b} (files ..a and ..b of conf)
// and conf/..,x it begins a name, and the suggestion was ".{a,b}", ".,x":
// other files than those the user meant.
func TestCleanInsideWholeElement(t *testing.T) {
	for _, pat := range []string{"conf/..{a,b}", "conf/..,x", "conf/..[ab]"} {
		if got, ok := cleanInside(pat); ok {
			t.Errorf("cleanInside(%q) = %q, a pattern for other files", pat, got)
		}
	}
	for pat, want := range map[string]string{"conf/../a": "a", "conf/..": ".", "a/..,b/../c": "a/c", "conf/../{a,b}": "{a,b}"} {
		if got, ok := cleanInside(pat); !ok || got != want {
			t.Errorf("cleanInside(%q) = %q, %v; want %q", pat, got, ok, want)
		}
	}
}
