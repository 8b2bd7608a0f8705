package fingerprint

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/fingerprint/internal/treegen"
)

// selectionTree has the names that trip up matchers: hidden files and
// directories, .git at several depths, names that sort around "/" ("a",
// "a.b", "a-b", "a/…"), literal-looking directories, symlinks to files and
// directories, and an ignored state directory.
var selectionTree = map[string]string{
	"flake.nix":                  "{ }",
	"flake.lock":                 "{}",
	".envrc":                     "use flake",
	"README.md":                  "# hi",
	"a":                          "file a",
	"a.b":                        "file a.b",
	"a-b/c":                      "c",
	"a0/x.conf":                  "x",
	"modules/default.nix":        "m",
	"modules/.hidden.nix":        "h",
	"modules/sub/deep.nix":       "d",
	"modules/sub/theme.yaml":     "t",
	"modules/sub/init.lua":       "i",
	"modules/.cfg/inner.conf":    "c",
	"modules/x.nix/not-a-nix":    "n",
	"scripts/run.sh*":            "#!/bin/sh",
	"scripts/old.tmp":            "tmp",
	"scripts/keep/old.tmp":       "tmp",
	"scripts/link":               "->run.sh",
	"scripts/dirlink":            "->../modules",
	"etc/nix.conf":               "n",
	"etc/deep/er/than/you.conf":  "y",
	".git/config":                "[core]",
	".git/hooks/pre-commit*":     "#!/bin/sh",
	".git/objects/ab/cdef":       "obj",
	"vendor/.git/HEAD":           "ref",
	"vendor/lib.conf":            "v",
	".state/sysinit/cache":       "state",
	".state/other":               "other",
	"docs/a b/with space.md":     "s",
	"docs/[brackets].md":         "b",
	"modules/sub/.git/config":    "g",
	"modules/sub/.git":           "",
	"modules/sub/.gitignore":     "*.tmp",
	"modules/sub/.github/ci.yml": "ci",
	"lib/x/y":                    "y",
	"lib/x.txt":                  "x",
	"lib/x-y":                    "x",
	"lib/x0":                     "x",
	"lib/x/z/w":                  "w",
	"lib/x/z.md":                 "z",
}

func init() {
	// A file and a directory cannot share a name; keep the directory.
	delete(selectionTree, "modules/sub/.git")
}

var selectionPatterns = [][]string{
	{"**"},
	{"*"},
	{"**/*"},
	{"modules/**"},
	{"**/*.conf"},
	{"**/*.nix"},
	{"*.nix"},
	{"modules/*"},
	{"modules/*/*"},
	{"modules/**/*.nix"},
	{"scripts/**", "!scripts/*.tmp"},
	{"scripts/**", "!**/*.tmp"},
	{"**", "!modules/**"},
	{"**", "!modules/sub/**", "!**/.*"},
	{"a"},
	{"a/**"},
	{"a*"},
	{"a?b"},
	{"flake.lock", "flake.nix"},
	{".git/**"},
	{".git/hooks/*"},
	{"**/.git/**"},
	{".git/config", "modules/sub/.git/config"},
	{"**/config"},
	{"vendor/**"},
	{"etc/**/you.conf"},
	{"etc/*/er/**"},
	{"*/sub/*.{nix,lua}"},
	{"{modules/sub,etc}/*"},
	{"modules/{sub/deep,default}.nix"},
	{"docs/\\[brackets\\].md"},
	{"docs/[[]*"},
	{"docs/a b/*"},
	{".state/**"},
	{"**/cache"},
	{"nonexistent/**"},
	{"scripts/link", "scripts/dirlink"},
	{"!**"},
	{"**/sub/**", "!**/sub/*.yaml"},
}

// TestSelectionMatchesReference runs every pattern set in one Scan and
// compares each manifest with the reference selection, so the walk's pruning
// and fast paths must agree with doublestar.Match on every file.
func TestSelectionMatchesReference(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, selectionTree)
	s := &Scanner{Root: root, Ignore: []string{filepath.Join(root, ".state", "sysinit")}}
	var specs []Spec
	for _, p := range selectionPatterns {
		specs = append(specs, Spec{Patterns: p})
	}
	ms, err := s.Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range selectionPatterns {
		checkSorted(t, ms[i])
		want := refSelect(t, root, []string{".state/sysinit"}, p)
		if got := paths(ms[i]); !slices.Equal(got, want) {
			t.Errorf("patterns %q:\n got %q\nwant %q", p, got, want)
		}
	}
}

// TestSelectionTable pins the rules by example, independent of the reference.
func TestSelectionTable(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, selectionTree)
	ignore := []string{filepath.Join(root, ".state", "sysinit")}
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"hidden files are included by wildcards", Spec{Patterns: []string{"modules/*"}},
			[]string{"modules/.hidden.nix", "modules/default.nix"}},
		{"wildcards skip .git at any depth", Spec{Patterns: []string{"**/config"}},
			[]string{}},
		{"a literal .git prefix matches inside it", Spec{Patterns: []string{".git/hooks/**"}},
			[]string{".git/hooks/pre-commit"}},
		{"a later exclude wins", Spec{Patterns: []string{"scripts/**", "!scripts/*.tmp", "!scripts/dirlink/*/**"}},
			[]string{"scripts/dirlink", "scripts/keep/old.tmp", "scripts/link", "scripts/run.sh"}},
		{"dir/** names dir itself too", Spec{Patterns: []string{"scripts/**", "!scripts/dirlink/**"}},
			[]string{"scripts/keep/old.tmp", "scripts/link", "scripts/old.tmp", "scripts/run.sh"}},
		{"a later include wins", Spec{Patterns: []string{"lib/**", "!lib/x/**", "lib/x/z/w", "lib/x/y"}},
			[]string{"lib/x-y", "lib/x.txt", "lib/x/y", "lib/x/z/w", "lib/x0"}},
		{"an earlier include loses", Spec{Patterns: []string{"lib/x/y", "!lib/x/**"}},
			[]string{}},
		{"a bare directory is its subtree", Spec{Patterns: []string{"lib/x", "etc"}},
			[]string{"etc/deep/er/than/you.conf", "etc/nix.conf", "lib/x/y", "lib/x/z.md", "lib/x/z/w"}},
		{"a bare exclude is a subtree too", Spec{Patterns: []string{"lib/**", "!lib/x"}},
			[]string{"lib/x-y", "lib/x.txt", "lib/x0"}},
		{"a bare file is the file", Spec{Patterns: []string{"lib/x.txt", "./lib/x0"}},
			[]string{"lib/x.txt", "lib/x0"}},
		{"an escaped bare name", Spec{Patterns: []string{"docs/\\[brackets\\].md"}},
			[]string{"docs/[brackets].md"}},
		{"a later exclude drops a listed file", Spec{Patterns: []string{"!flake.*"}, Files: []string{"flake.nix", "README.md"}},
			[]string{"README.md"}},
		{"a later include keeps a listed file", Spec{Patterns: []string{"!flake.*", "flake.nix"}, Files: []string{"flake.nix"}},
			[]string{"flake.nix"}},
		{"a tree enters .git at any depth, not links", Spec{Trees: []string{"modules"}, Patterns: []string{"!modules/*.nix"}},
			[]string{"modules/.cfg/inner.conf", "modules/sub/.git/config", "modules/sub/.github/ci.yml", "modules/sub/.gitignore",
				"modules/sub/deep.nix", "modules/sub/init.lua", "modules/sub/theme.yaml", "modules/x.nix/not-a-nix"}},
		{"a tree of the root", Spec{Trees: []string{"."}, Patterns: []string{"!*", "!{a*,docs,etc,lib,modules,scripts,vendor,.state}/**"}},
			[]string{".git/config", ".git/hooks/pre-commit", ".git/objects/ab/cdef"}},
		{"a tree does not follow links", Spec{Trees: []string{"scripts"}},
			[]string{"scripts/dirlink", "scripts/keep/old.tmp", "scripts/link", "scripts/old.tmp", "scripts/run.sh"}},
		{"patterns follow links in a tree", Spec{Trees: []string{"scripts"}, Patterns: []string{"scripts/dirlink/*.nix"}},
			[]string{"scripts/dirlink", "scripts/dirlink/.hidden.nix", "scripts/dirlink/default.nix", "scripts/keep/old.tmp", "scripts/link", "scripts/old.tmp", "scripts/run.sh"}},
		{"ignored dir is never an input", Spec{Patterns: []string{".state/**"}},
			[]string{".state/other"}},
		{"ignored dir even when listed", Spec{Files: []string{".state/sysinit/cache", "flake.lock"}},
			[]string{"flake.lock"}},
		{"symlinked dir is an entry, and followed", Spec{Patterns: []string{"scripts/dirlink/**", "!**/sub/**", "!**/.cfg/**"}},
			[]string{"scripts/dirlink", "scripts/dirlink/.hidden.nix", "scripts/dirlink/default.nix", "scripts/dirlink/x.nix/not-a-nix"}},
		{"explicit files with missing ones", Spec{Files: []string{"flake.nix", "gone.nix", "modules/nope/x", "modules/sub/deep.nix"}},
			[]string{"flake.nix", "gone.nix", "modules/nope/x", "modules/sub/deep.nix"}},
		{"explicit files and patterns merge", Spec{Patterns: []string{"etc/*.conf"}, Files: []string{"flake.lock", "etc/nix.conf"}},
			[]string{"etc/nix.conf", "flake.lock"}},
		{"excludes apply to explicit files", Spec{Patterns: []string{"!**/*.md"}, Files: []string{"README.md", "flake.nix"}},
			[]string{"flake.nix"}},
		{"explicit path below a symlink is missing", Spec{Files: []string{"scripts/dirlink/default.nix"}},
			[]string{"scripts/dirlink/default.nix"}},
		{"explicit directory", Spec{Files: []string{"modules/sub"}},
			[]string{"modules/sub"}},
		{"prefix order around slash", Spec{Patterns: []string{"a*/**", "a", "a.b"}},
			[]string{"a", "a-b/c", "a.b", "a0/x.conf"}},
		{"no patterns, no files", Spec{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scanner{Root: root, Ignore: ignore}
			m := scanOne(t, s, tt.spec)
			if got := paths(m); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEntryTypes(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, selectionTree)
	m := scanOne(t, &Scanner{Root: root}, Spec{
		Patterns: []string{"scripts/**", "!scripts/dirlink/?*/**", "scripts/dirlink/default.nix"},
		Files:    []string{"missing", "modules/sub", "modules/nope/x"},
	})
	want := map[string]byte{
		"missing":                     TypeMissing,
		"modules/nope/x":              TypeMissing,
		"modules/sub":                 TypeDir,
		"scripts/dirlink":             TypeSymlink,
		"scripts/dirlink/default.nix": TypeFile,
		"scripts/keep/old.tmp":        TypeFile,
		"scripts/link":                TypeSymlink,
		"scripts/old.tmp":             TypeFile,
		"scripts/run.sh":              TypeExec,
	}
	if len(m.Entries) != len(want) {
		t.Fatalf("got %d entries %q, want %d", len(m.Entries), paths(m), len(want))
	}
	for _, e := range m.Entries {
		if want[e.Path] != e.Type {
			t.Errorf("%s: type %q, want %q", e.Path, e.Type, want[e.Path])
		}
		switch e.Type {
		case TypeSymlink:
			if e.Size != int64(len(strings.TrimPrefix(selectionTree[e.Path], "->"))) || e.Hash == (Sum{}) {
				t.Errorf("%s: symlink size %d hash %v", e.Path, e.Size, e.Hash)
			}
		case TypeMissing, TypeDir:
			if e.Size != 0 || e.Hash != (Sum{}) {
				t.Errorf("%s: want zero size and hash, got %d %v", e.Path, e.Size, e.Hash)
			}
		}
	}
}

func TestGeneratedTreeMatchesReference(t *testing.T) {
	root := t.TempDir()
	if err := treegen.Generate(root, 1000); err != nil {
		t.Fatal(err)
	}
	patterns := [][]string{{"**"}, {"modules/**"}, {"**/*.conf"}, {"scripts/**", "!scripts/**/*.tmp"}, {"*/d0?/**", "!**/.*"}}
	var specs []Spec
	for _, p := range patterns {
		specs = append(specs, Spec{Patterns: p})
	}
	for _, workers := range []int{1, 2, 7} {
		s := &Scanner{Root: root, workers: workers}
		ms, err := s.Scan(context.Background(), specs)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range patterns {
			want := refSelect(t, root, nil, p)
			if got := paths(ms[i]); !slices.Equal(got, want) {
				t.Errorf("workers %d, patterns %q: got %d paths, want %d", workers, p, len(got), len(want))
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": "a", "d/f": "f"})
	tests := []struct {
		name string
		s    Scanner
		spec Spec
	}{
		{"dot below a directory", Scanner{Root: root}, Spec{Files: []string{"d/f", "d/./f"}}},
		{"dot-dot below a directory", Scanner{Root: root}, Spec{Files: []string{"d/../a"}}},
		{"empty element below a directory", Scanner{Root: root}, Spec{Files: []string{"d//f"}}},
		{"dot below a missing directory", Scanner{Root: root}, Spec{Files: []string{"nope/./x"}}},
		{"deep bad path below a missing directory", Scanner{Root: root}, Spec{Files: []string{"nope/x/../y"}}},
		{"invalid glob", Scanner{Root: root}, Spec{Patterns: []string{"a/[b"}}},
		{"unclosed brace", Scanner{Root: root}, Spec{Patterns: []string{"{a,b"}}},
		{"absolute pattern naming no directory", Scanner{Root: root}, Spec{Patterns: []string{"/**"}}},
		{"absolute pattern with dot-dot", Scanner{Root: root}, Spec{Patterns: []string{"/etc/../**"}}},
		{"absolute pattern with an empty segment", Scanner{Root: root}, Spec{Patterns: []string{"//etc/**"}}},
		{"tree of the whole file system", Scanner{Root: root}, Spec{Trees: []string{"/"}}},
		{"tree with dot-dot", Scanner{Root: root}, Spec{Trees: []string{"../x"}}},
		{"dot-dot pattern", Scanner{Root: root}, Spec{Patterns: []string{"../**"}}},
		{"trailing slash", Scanner{Root: root}, Spec{Patterns: []string{"modules/"}}},
		{"empty pattern", Scanner{Root: root}, Spec{Patterns: []string{""}}},
		{"bare bang", Scanner{Root: root}, Spec{Patterns: []string{"!"}}},
		{"absolute file with dot-dot", Scanner{Root: root}, Spec{Files: []string{"/etc/../etc/passwd"}}},
		{"absolute file with an empty segment", Scanner{Root: root}, Spec{Files: []string{"//etc/passwd"}}},
		{"dot-dot file", Scanner{Root: root}, Spec{Files: []string{"../x"}}},
		{"unclean file", Scanner{Root: root}, Spec{Files: []string{"a//b"}}},
		{"dot file", Scanner{Root: root}, Spec{Files: []string{"."}}},
		{"dot element", Scanner{Root: root}, Spec{Files: []string{"a/./b"}}},
		{"dot-dot element", Scanner{Root: root}, Spec{Files: []string{"a/../a"}}},
		{"trailing slash file", Scanner{Root: root}, Spec{Files: []string{"a/"}}},
		{"empty file", Scanner{Root: root}, Spec{Files: []string{""}}},
		{"NUL in a file", Scanner{Root: root}, Spec{Files: []string{"a\x00b"}}},
		{"bad file among good ones", Scanner{Root: root}, Spec{Files: []string{"a", "b/c", "b/../a", "d"}}},
		{"relative root", Scanner{Root: "rel"}, Spec{Patterns: []string{"**"}}},
		{"missing root", Scanner{Root: filepath.Join(root, "nope")}, Spec{Patterns: []string{"**"}}},
		{"root is ignored", Scanner{Root: root, Ignore: []string{root}}, Spec{Patterns: []string{"**"}}},
		{"root inside ignored", Scanner{Root: root, Ignore: []string{filepath.Dir(root)}}, Spec{Patterns: []string{"**"}}},
		{"relative ignore", Scanner{Root: root, Ignore: []string{"state"}}, Spec{Patterns: []string{"**"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := tt.s.Scan(context.Background(), []Spec{tt.spec})
			if err == nil {
				t.Fatalf("Scan succeeded with %d entries, want an error", len(ms[0].Entries))
			}
			t.Log(err)
		})
	}
}

func TestCancelledContext(t *testing.T) {
	root := t.TempDir()
	if err := treegen.Generate(root, 60); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, spec := range []Spec{{Patterns: []string{"**"}}, {Files: []string{"flake.lock"}}} {
		_, err := (&Scanner{Root: root}).Scan(ctx, []Spec{spec})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%+v: got %v, want context.Canceled", spec, err)
		}
	}
}

// TestManySpecs: more than 64 specs take several walks; each still gets its own
// manifest, in order.
func TestManySpecs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	var specs []Spec
	for i := range 150 {
		name := filepath.Join("d", strings.Repeat("x", i%7+1), string(rune('a'+i%26))+strings.Repeat("y", i))
		files[filepath.ToSlash(name)] = name
		specs = append(specs, Spec{Files: []string{filepath.ToSlash(name)}})
	}
	writeTree(t, root, files)
	ms, err := (&Scanner{Root: root}).Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if len(m.Entries) != 1 || m.Entries[0].Path != specs[i].Files[0] || m.Entries[0].Type != TypeFile {
			t.Fatalf("spec %d: got %+v", i, m.Entries)
		}
	}
}

// TestIgnoreThroughSymlinkedRoot: the state dir named through a symlink to the
// root is still recognised.
func TestIgnoreThroughSymlinkedRoot(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	writeTree(t, real, map[string]string{"src/a": "a", "state/cache": "c"})
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ root, ignore string }{
		{link, filepath.Join(real, "state")},
		{real, filepath.Join(link, "state")},
		{link, filepath.Join(link, "state")},
	} {
		m := scanOne(t, &Scanner{Root: tc.root, Ignore: []string{tc.ignore}}, Spec{Patterns: []string{"**"}})
		if got := paths(m); !slices.Equal(got, []string{"src/a"}) {
			t.Errorf("root %s ignore %s: got %q", tc.root, tc.ignore, got)
		}
	}
}

// TestRandomPatternsMatchReference builds patterns from segments that exercise
// every fast path (literal prefixes, "**" in each position, basename globs,
// braces, classes, .git) and holds the walk to the reference on each.
func TestRandomPatternsMatchReference(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, selectionTree)
	segs := []string{"**", "**", "**", "**", "*", "*", "modules", "sub", "scripts", "etc", "lib", "x", ".git", "a", "a*", "*.conf",
		"*.nix", "?", "x.*", "{sub,keep}", "[a-m]*", "deep*", "*er", ".*", "d?ep.nix", "{a,a-b,a0}", "hooks", "*-*"}
	rng := rand.New(rand.NewPCG(1, 2))
	var pats [][]string
	for range 400 {
		var p []string
		for range 1 + rng.IntN(3) {
			n := 1 + rng.IntN(3)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = segs[rng.IntN(len(segs))]
			}
			s := strings.Join(parts, "/")
			if len(p) > 0 && rng.IntN(3) == 0 {
				s = "!" + s
			}
			p = append(p, s)
		}
		pats = append(pats, p)
	}
	var specs []Spec
	for _, p := range pats {
		specs = append(specs, Spec{Patterns: p})
	}
	ms, err := (&Scanner{Root: root}).Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	nonEmpty := 0
	for i, p := range pats {
		want := refSelect(t, root, nil, p)
		if got := paths(ms[i]); !slices.Equal(got, want) {
			t.Errorf("patterns %q:\n got %q\nwant %q", p, got, want)
		}
		if len(want) > 0 {
			nonEmpty++
		}
	}
	// The test means little if most patterns select nothing.
	if nonEmpty < len(pats)/3 {
		t.Errorf("only %d of %d random pattern sets select anything", nonEmpty, len(pats))
	}
}

// TestExplicitSiblingsThatSortApart: directory names that are prefixes of
// their siblings' ("b", "b-c", "b0", and a file "b.txt") sort differently
// as names and as paths. Listed in any order, by two specs, and in a
// directory that is also walked, each must be stat'ed and kept exactly
// once, in path order.
func TestExplicitSiblingsThatSortApart(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"m/b/x": "1", "m/b-c/y": "2", "m/b.txt": "3", "m/b0/z": "4", "m/bb": "5"})
	files := []string{"m/b0/z", "m/b/x", "m/b/gone", "m/b.txt", "m/b-c/y", "m/b/x"}
	specs := []Spec{
		{Files: files},
		{Files: []string{"m/b-c/y", "m/b/x", "m/bb"}},
		{Patterns: []string{"m/**"}, Files: files},
	}
	ms, err := (&Scanner{Root: root}).Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"m/b-c/y", "m/b.txt", "m/b/gone", "m/b/x", "m/b0/z"},
		{"m/b-c/y", "m/b/x", "m/bb"},
		{"m/b-c/y", "m/b.txt", "m/b/gone", "m/b/x", "m/b0/z", "m/bb"},
	}
	for i, m := range ms {
		checkSorted(t, m)
		if got := paths(m); !slices.Equal(got, want[i]) {
			t.Errorf("spec %d: got %q, want %q", i, got, want[i])
		}
		for _, e := range m.Entries {
			if wantType := map[bool]byte{true: TypeMissing, false: TypeFile}[e.Path == "m/b/gone"]; e.Type != wantType {
				t.Errorf("spec %d: %s has type %d, want %d", i, e.Path, e.Type, wantType)
			}
		}
	}
}
