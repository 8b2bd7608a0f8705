package fingerprint

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSpecRoot: a spec with its own root (a flake repository above the
// config directory) is scanned relative to that root, alongside the
// Scanner's own specs, and sees edits there; the stat cache is left to the
// Scanner's own files.
func TestSpecRoot(t *testing.T) {
	outer := t.TempDir()
	writeTree(t, outer, map[string]string{
		"flake.nix":           "{ }",
		"modules/a.nix":       "a",
		"config/sysinit.toml": "",
		"config/x":            "x",
	})
	root := filepath.Join(outer, "config")
	cache := &Cache{}
	s := &Scanner{Root: root, Cache: cache, now: laterClock(0)}
	specs := []Spec{
		{Patterns: []string{"**"}},
		{Root: outer, Files: []string{"flake.nix", "modules/a.nix"}},
	}
	ms, err := s.Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(ms[0]), []string{"sysinit.toml", "x"}; !slices.Equal(got, want) {
		t.Errorf("own spec: %v, want %v", got, want)
	}
	if got, want := paths(ms[1]), []string{"flake.nix", "modules/a.nix"}; !slices.Equal(got, want) {
		t.Errorf("outer spec: %v, want %v", got, want)
	}
	for i := 0; i < cache.Len(); i++ {
		if p := cache.path(i); p == "flake.nix" || p == "modules/a.nix" {
			t.Errorf("the cache holds %q, a path of another root", p)
		}
	}
	before := ms[1].Digest
	if err := os.WriteFile(filepath.Join(outer, "modules/a.nix"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err = s.Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	if ms[1].Digest == before {
		t.Error("an edit under the spec's own root did not change its digest")
	}
}

// TestAbsolutePatternUnderBangDir: an absolute pattern whose first
// directory starts with "!" names that directory. With the leading "/"
// taken off, "/!x/**" read as "!x/**", an exclude: the step never saw an
// edit under /!x.
func TestAbsolutePatternUnderBangDir(t *testing.T) {
	ss, err := compileSpecs([]Spec{{Patterns: []string{"/!x/**", "!/!y/a"}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	inc, exc := ss.patterns[0], ss.patterns[1]
	if inc.exclude || !slices.Equal(inc.lit, []string{"!x"}) {
		t.Errorf("/!x/**: exclude %v, lit %q; want an include under \"!x\"", inc.exclude, inc.lit)
	}
	if !exc.exclude || !slices.Equal(exc.lit, []string{"!y", "a"}) {
		t.Errorf("!/!y/a: exclude %v, lit %q; want an exclude of \"!y/a\"", exc.exclude, exc.lit)
	}
	if got := ss.decide("!x/f", 0); got != 1 {
		t.Errorf("decide(!x/f) = %b, want 1", got)
	}
}
