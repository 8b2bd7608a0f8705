package migrate

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestMergeDuplicates(t *testing.T) {
	alias := func(a string) candidate { return candidate{Attr: a, Match: MatchAlias} }
	exact := func(a string) candidate { return candidate{Attr: a, Match: MatchExact} }
	norm := func(a string) candidate { return candidate{Attr: a, Match: MatchNormalised} }
	e := func(kind, name string, line int) entry { return entry{Kind: kind, Name: name, Line: line, Plain: true} }
	type in struct {
		e entry
		c candidate
	}
	for _, tc := range []struct {
		name  string
		in    []in
		want  []string // "line:merged lines" of the entries left
		notes []string // one per merge, each containing this
	}{
		{name: "nothing to merge", in: []in{{e("brew", "git", 1), alias("git")}, {e("brew", "jq", 2), alias("jq")}},
			want: []string{"1:", "2:"}},
		{name: "same name twice", in: []in{{e("brew", "node", 3), alias("nodejs")}, {e("brew", "jq", 4), alias("jq")}, {e("brew", "node", 9), alias("nodejs")}},
			want: []string{"3:9", "4:"}, notes: []string{`brew "node" is listed on lines 3 and 9`}},
		{name: "same name, nothing matched", in: []in{{e("brew", "odd", 1), candidate{}}, {e("brew", "Odd", 2), candidate{}}},
			want: []string{"1:2"}, notes: []string{"lines 1 and 2"}},
		{name: "core-qualified name", in: []in{{e("brew", "homebrew/core/wget", 1), candidate{}}, {e("brew", "wget", 2), candidate{}}},
			want: []string{"1:2"}, notes: []string{"lines 1 and 2"}},
		{name: "another name of the same package", in: []in{{e("brew", "gnupg", 2), alias("gnupg")}, {e("brew", "gpg", 7), alias("gnupg")}},
			want: []string{"2:7"}, notes: []string{`brew "gnupg" (line 2) and brew "gpg" (line 7) are one nixpkgs package, gnupg`}},
		{name: "alias and exact name", in: []in{{e("brew", "python3", 1), exact("python3")}, {e("brew", "python", 5), alias("python3")}},
			want: []string{"1:5"}, notes: []string{"one nixpkgs package, python3"}},
		{name: "a guess does not merge", in: []in{{e("brew", "tool", 1), alias("tool")}, {e("brew", "tool-cli", 2), norm("tool")}},
			want: []string{"1:", "2:"}},
		{name: "a third-party tap does not merge by attribute", in: []in{{e("brew", "terraform", 1), exact("terraform")}, {e("brew", "hashicorp/tap/terraform", 2), exact("terraform")}},
			want: []string{"1:", "2:"}},
		{name: "the same tap formula twice", in: []in{{e("brew", "a/b/tool", 1), candidate{}}, {e("brew", "a/b/tool", 2), candidate{}}},
			want: []string{"1:2"}, notes: []string{"lines 1 and 2"}},
		{name: "formula and cask stay apart", in: []in{{e("brew", "wezterm", 1), alias("wezterm")}, {e("cask", "wezterm", 2), alias("wezterm")}},
			want: []string{"1:", "2:"}},
		{name: "no-package aliases stay apart", in: []in{{e("cask", "docker", 1), alias(noPackage)}, {e("cask", "docker-desktop", 2), alias(noPackage)}},
			want: []string{"1:", "2:"}},
		{name: "an App Store app twice", in: []in{{e("mas", "Xcode", 1), candidate{}}, {e("mas", "Xcode", 8), candidate{}}},
			want: []string{"1:8"}, notes: []string{`mas "Xcode" is listed on lines 1 and 8`}},
		{name: "three times", in: []in{{e("brew", "wget", 1), alias("wget")}, {e("brew", "wget", 2), alias("wget")}, {e("brew", "wget", 3), alias("wget")}},
			want: []string{"1:2,3"}, notes: []string{"lines 1, 2 and 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var es []entry
			var cs []candidate
			for _, i := range tc.in {
				es = append(es, i.e)
				cs = append(cs, i.c)
			}
			out, outCands, notes := mergeDuplicates(es, cs)
			var got []string
			for i, o := range out {
				var ls []string
				for _, m := range o.Merged {
					ls = append(ls, strconv.Itoa(m.Line))
				}
				got = append(got, strconv.Itoa(o.Line)+":"+strings.Join(ls, ","))
				if outCands[i] != cs[slices.IndexFunc(es, func(x entry) bool { return x.Line == o.Line })] {
					t.Errorf("entry on line %d got another entry's candidate", o.Line)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %d", notes, len(tc.notes))
			}
			for i, n := range tc.notes {
				if !strings.Contains(notes[i], n) || !strings.Contains(notes[i], "merged into one row") {
					t.Errorf("note %q does not say %q", notes[i], n)
				}
			}
		})
	}
}
