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
	files, err := filepath.Glob(filepath.Join("testdata", "brewfiles", "*"))
	if err != nil {
		f.Fatal(err)
	}
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
			se, ok := err.(*SyntaxError)
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
		if bf.IsDynamic() {
			return
		}
		var b strings.Builder
		for _, e := range bf.Entries {
			if e.Conditional {
				t.Fatalf("conditional entry %s in a static file", e)
			}
			b.WriteString(e.String() + "\n")
		}
		if len(bf.CaskArgs) > 0 {
			var ps []Pair
			for _, k := range slices.Sorted(maps.Keys(bf.CaskArgs)) {
				ps = append(ps, Pair{Key: k, Value: bf.CaskArgs[k]})
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
