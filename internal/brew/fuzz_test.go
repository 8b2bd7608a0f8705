package brew

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it reports stays
// within the file, and that a static Brewfile survives a round trip
// through Entry.String: rendering what was parsed and parsing it again
// gives the same entries.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "brewfiles", "*.Brewfile"))
	if err != nil {
		f.Fatal(err)
	}
	real, err := filepath.Glob(filepath.Join("testdata", "brewfiles", "real", "*.Brewfile"))
	if err != nil {
		f.Fatal(err)
	}
	files = append(files, real...)
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		`brew "a#{"`, "x = <<~EOS\n", "=begin\n", `brew "\u{D800}"`, `mas "x", id: -1`,
		`brew "x", a: %w[`, `tap "a", nil, b: :"c d"`, "brew \"a\",\n", `cask "x", args: { "k": 1.5e3 }`,
		"brew \"a\" if x =~ /[/\n", `brew "\x00\xff"`, "%w(a (b) c)", `brew("x", a: [{b: nil}],)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		bf, err := Parse("Brewfile", strings.NewReader(src))
		if err != nil {
			se, ok := err.(*syntaxError)
			if !ok {
				t.Fatalf("error %v is a %T, not a *SyntaxError", err, err)
			}
			if se.Line < 1 || se.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("error on line %d of a %d-line file: %v", se.Line, strings.Count(src, "\n")+1, err)
			}
			return
		}
		lines := strings.Count(src, "\n") + 1
		for _, e := range bf.Entries {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %s on line %d of %d", e, e.Line, lines)
			}
			if e.Name == "" {
				t.Fatalf("entry with an empty name on line %d", e.Line)
			}
		}
		for _, d := range bf.Dynamic {
			if d.Line < 1 || d.Line > lines || d.Why == "" {
				t.Fatalf("dynamic %+v in a %d-line file", d, lines)
			}
		}
		// On a platform where nothing computes, every guard is decided.
		for _, p := range platforms {
			entries, dyn := bf.On(p)
			if len(entries) > len(bf.Entries) {
				t.Fatalf("on %s: %d entries of %d", p, len(entries), len(bf.Entries))
			}
			if len(dyn) > 0 {
				continue
			}
			for _, e := range bf.Entries {
				if _, u := e.Guard.Eval(p); u != nil {
					t.Fatalf("on %s nothing computes, but the guard of %s reaches %s", p, e, u)
				}
			}
		}
		if bf.IsDynamic() {
			return
		}
		var b strings.Builder
		for _, e := range bf.Entries {
			if e.Conditional != (e.Guard != nil) || e.Guard.HasUnknown() {
				t.Fatalf("entry %s in a static file: conditional %v, guard %s", e, e.Conditional, e.Guard)
			}
			b.WriteString(e.String() + "\n")
		}
		if len(bf.CaskArgs) > 0 {
			var ps []pair
			for _, k := range slices.Sorted(maps.Keys(bf.CaskArgs)) {
				ps = append(ps, pair{Key: k, Value: bf.CaskArgs[k]})
			}
			var cb strings.Builder
			writePairs(&cb, ps)
			b.WriteString("cask_args " + cb.String() + "\n")
		}
		again, err := Parse("Brewfile", strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\n%s", err, b.String())
		}
		if again.IsDynamic() {
			t.Fatalf("rendered file is dynamic: %v\n%s", again.Dynamic, b.String())
		}
		if len(again.Entries) != len(bf.Entries) {
			t.Fatalf("%d entries, %d after a round trip\n%s", len(bf.Entries), len(again.Entries), b.String())
		}
		for i, e := range bf.Entries {
			a := again.Entries[i]
			if a.Type != e.Type || a.Name != e.Name || !reflect.DeepEqual(a.Options, e.Options) {
				t.Fatalf("round trip changed\n\t%s\nto\n\t%s", e, a)
			}
		}
		if !reflect.DeepEqual(again.CaskArgs, bf.CaskArgs) {
			t.Fatalf("round trip changed cask_args %v to %v", bf.CaskArgs, again.CaskArgs)
		}
	})
}

// FuzzCond checks that parseCond never panics, and that a condition
// sysinit decides everywhere reads back from its String to the same
// values.
func FuzzCond(f *testing.F) {
	for _, s := range []string{
		"OS.mac?", "!OS.linux? && Hardware::CPU.arm?", "not OS.mac? or (Hardware::CPU.intel? && true)",
		`OS.mac? && ENV["X"]`, "(OS.mac?", "a ? b : c", "!!!nil", "OS.linux? ||", "::OS.mac? and ::Hardware::CPU.arm?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c := parseCond(src)
		got := evalAll(c)
		if c.HasUnknown() {
			return
		}
		if strings.Contains(got, "?") {
			t.Fatalf("%q has no unknown leaf but evaluates to %s", src, got)
		}
		again := parseCond(c.String())
		if again.HasUnknown() || evalAll(again) != got {
			t.Fatalf("%q = %s (%s) reads back from %q as %s", src, c, got, c.String(), evalAll(again))
		}
	})
}
