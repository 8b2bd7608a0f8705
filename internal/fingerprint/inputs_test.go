package fingerprint

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Inputs mean what the user meant (false-skips.md, trap 14): a symlink to
// a directory, a bare directory name, a re-include after an exclude, a
// file outside the repository, a pattern with a typo.

// TestSymlinkedDirIsFollowed: a symlink to a directory among the inputs is
// recorded and followed, so an edit behind it, a file added behind it and
// the link pointed elsewhere are all changes, named by their path through
// the link.
func TestSymlinkedDirIsFollowed(t *testing.T) {
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			outside := t.TempDir() // a target outside the root, too
			writeTree(t, s.Root, map[string]string{
				"fonts/own.ttf":     "own",
				"fonts/shared":      "->../shared",
				"fonts/system":      "->" + outside,
				"shared/a.ttf":      "a",
				"other/a.ttf":       "A",
				"fonts/broken":      "->nowhere",
				"fonts/file-link":   "->own.ttf",
				"fonts/shared-copy": "->shared",
			})
			writeTree(t, outside, map[string]string{"b.ttf": "b"})
			spec := Spec{Patterns: []string{"fonts/**"}}
			before := scanOne(t, s, spec)
			want := []string{"fonts/broken", "fonts/file-link", "fonts/own.ttf", "fonts/shared", "fonts/shared-copy",
				"fonts/shared-copy/a.ttf", "fonts/shared/a.ttf", "fonts/system", "fonts/system/b.ttf"}
			if got := paths(before); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			writeTree(t, s.Root, map[string]string{"shared/a.ttf": "edited"})
			edited := scanOne(t, s, spec)
			requireChange(t, before, edited, Change{"fonts/shared-copy/a.ttf", ChangeModified}, Change{"fonts/shared/a.ttf", ChangeModified})

			writeTree(t, outside, map[string]string{"c.ttf": "c"})
			added := scanOne(t, s, spec)
			requireChange(t, edited, added, Change{"fonts/system/c.ttf", ChangeAdded})

			link := filepath.Join(s.Root, "fonts/shared")
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../other", link); err != nil {
				t.Fatal(err)
			}
			// fonts/shared-copy leads through fonts/shared: it moved too.
			requireChange(t, added, scanOne(t, s, spec), Change{"fonts/shared", ChangeModified},
				Change{"fonts/shared-copy/a.ttf", ChangeModified}, Change{"fonts/shared/a.ttf", ChangeModified})
		})
	}
}

// TestSymlinkedDirNamedBare: the input names a symlink to a directory by
// itself, as a bare path: it means the directory's files.
func TestSymlinkedDirNamedBare(t *testing.T) {
	s := &Scanner{Root: t.TempDir()}
	writeTree(t, s.Root, map[string]string{"real/x": "1", "nvim": "->real"})
	m := scanOne(t, s, Spec{Patterns: []string{"nvim"}})
	if got := paths(m); !slices.Equal(got, []string{"nvim", "nvim/x"}) {
		t.Errorf("got %q", got)
	}
}

// TestSymlinkLoops: links that lead back into a directory the walk is in
// are reported, naming the link, and never walked round; the scan ends.
// Excluding the link stops sysinit following it.
func TestSymlinkLoops(t *testing.T) {
	tests := []struct {
		name  string
		tree  map[string]string
		spec  Spec
		link  string
		clean Spec // the spec with the link excluded
	}{
		{"to the root", map[string]string{"a/x": "x", "a/up": "->.."}, Spec{Patterns: []string{"**"}}, "a/up",
			Spec{Patterns: []string{"**", "!a/up"}}},
		{"to itself", map[string]string{"a/x": "x", "a/self": "->."}, Spec{Patterns: []string{"a/**"}}, "a/self",
			Spec{Patterns: []string{"a/**", "!a/self"}}},
		{"to a directory above the pattern", map[string]string{"a/b/c/x": "x", "a/b/c/up": "->../.."}, Spec{Patterns: []string{"a/b/**"}}, "a/b/c/up",
			Spec{Patterns: []string{"a/b/**", "!a/b/c/up"}}},
		{"through two links", map[string]string{"a/x": "x", "b/y": "y", "a/tob": "->../b", "b/toa": "->../a"}, Spec{Patterns: []string{"a/**"}}, "a/tob/toa",
			Spec{Patterns: []string{"a/**", "!a/tob/toa"}}},
		{"by absolute path", map[string]string{"a/x": "x", "a/abs": "->@ROOT@/a"}, Spec{Patterns: []string{"**/x"}}, "a/abs",
			Spec{Patterns: []string{"**/x", "!a/abs"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tree := map[string]string{}
			for k, v := range tt.tree {
				tree[k] = strings.ReplaceAll(v, "@ROOT@", root)
			}
			writeTree(t, root, tree)
			// A deadline, not a wait: a walk that loops fails here
			// instead of hanging the test binary.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := (&Scanner{Root: root}).Scan(ctx, []Spec{tt.spec})
			if err == nil || !strings.Contains(err.Error(), "symlink "+filepath.Join(root, tt.link)) || !strings.Contains(err.Error(), "loop") ||
				!strings.Contains(err.Error(), `"!`+tt.link+`"`) {
				t.Fatalf("got %v, want an error naming the loop at %s", err, tt.link)
			}
			if _, err := (&Scanner{Root: root}).Scan(ctx, []Spec{tt.clean}); err != nil {
				t.Errorf("with the link excluded: %v", err)
			}
		})
	}
}

// TestStateThroughSymlink: the state directory is never an input, even
// reached through a followed symlink, to it or to a directory holding it.
func TestStateThroughSymlink(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	state := filepath.Join(elsewhere, "cache", "sysinit")
	writeTree(t, elsewhere, map[string]string{"cache/sysinit/db": "state", "cache/other": "o"})
	writeTree(t, root, map[string]string{"a": "a", "tostate": "->" + state, "tocache": "->" + filepath.Join(elsewhere, "cache")})
	m := scanOne(t, &Scanner{Root: root, Ignore: []string{state}}, Spec{Patterns: []string{"**"}})
	if got, want := paths(m), []string{"a", "tocache", "tocache/other", "tostate"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSymlinkIntoNixStoreNotFollowed: a store path never changes once
// made, so a link into the store (a `result` link) is recorded by its
// target alone, not walked. The target is a store directory holding no
// links at all (other tests add store paths that link out, which are
// followed).
func TestSymlinkIntoNixStoreNotFollowed(t *testing.T) {
	ents, err := os.ReadDir("/nix/store")
	var target string
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join("/nix/store", e.Name())
		links := false
		_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink != 0 {
				links = true
				return filepath.SkipAll
			}
			return err
		})
		if !links {
			target = dir
			break
		}
	}
	if target == "" {
		t.Skipf("no directory in /nix/store to link to (%v)", err)
	}
	s := &Scanner{Root: t.TempDir()}
	writeTree(t, s.Root, map[string]string{"result": "->" + target, "flake.nix": "{}"})
	if got := paths(scanOne(t, s, Spec{Patterns: []string{"**"}})); !slices.Equal(got, []string{"flake.nix", "result"}) {
		t.Errorf("got %q, want the link alone", got)
	}
}

// TestListedFilesBelowFollowedLink: a path listed in Files below a symlink
// is missing (Files never follow links), while a pattern of another spec
// follows the link: in one scan, each spec gets what it gets alone, in
// order and without duplicates.
func TestListedFilesBelowFollowedLink(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"real/a": "a", "real/b": "b", "m/link": "->../real", "m/z": "z"})
	specs := []Spec{
		{Files: []string{"m/link/a", "m/link/c", "m/z"}},
		{Patterns: []string{"m/**"}},
		{Patterns: []string{"m/**"}, Files: []string{"m/link/a", "m/link/c"}},
	}
	ms, err := (&Scanner{Root: root}).Scan(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, sp := range specs {
		alone := scanOne(t, &Scanner{Root: root}, sp)
		checkSorted(t, ms[i])
		if ms[i].Digest != alone.Digest || !slices.Equal(ms[i].Entries, alone.Entries) {
			t.Errorf("spec %d: together %q, alone %q", i, paths(ms[i]), paths(alone))
		}
	}
	want := [][]string{
		{"m/link/a", "m/link/c", "m/z"},
		{"m/link", "m/link/a", "m/link/b", "m/z"},
		{"m/link", "m/link/a", "m/link/b", "m/link/c", "m/z"},
	}
	for i := range specs {
		if got := paths(ms[i]); !slices.Equal(got, want[i]) {
			t.Errorf("spec %d: got %q, want %q", i, got, want[i])
		}
	}
	if e := ms[0].Entries[0]; e.Type != TypeMissing {
		t.Errorf("listed m/link/a has type %q, want missing", e.Type)
	}
	if e := ms[2].Entries[1]; e.Path != "m/link/a" || e.Type != TypeFile {
		t.Errorf("m/link/a, also selected through the link: %+v", e)
	}
}

// TestOutsideRoot: absolute patterns and files select files outside the
// root, named by their absolute paths, sorted among the others, cached
// like them (a warm scan reads nothing) and diffed like them.
func TestOutsideRoot(t *testing.T) {
	home := t.TempDir()
	writeTree(t, home, map[string]string{".config/tool/a.conf": "a", ".config/tool/b.tmp": "b", ".gitconfig": "g"})
	for name, s := range scanners(t) {
		t.Run(name, func(t *testing.T) {
			writeTree(t, s.Root, map[string]string{"run.sh": "x", ".envrc": "e"})
			spec := Spec{
				Patterns: []string{"*", home + "/.config/tool/**", "!" + home + "/**/*.tmp"},
				Files:    []string{home + "/.gitconfig", home + "/.missing"},
			}
			before := scanOne(t, s, spec)
			want := []string{home + "/.config/tool/a.conf", home + "/.gitconfig", home + "/.missing", ".envrc", "run.sh"}
			slices.Sort(want)
			if got := paths(before); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if s.Cache != nil {
				again := scanOne(t, s, spec)
				if s.hashed != 0 || again.Digest != before.Digest {
					t.Errorf("warm scan hashed %d files; digest %s, was %s", s.hashed, again.Digest, before.Digest)
				}
				// A scan of other specs keeps the outside entries.
				scanOne(t, s, Spec{Patterns: []string{"run.sh"}})
				scanOne(t, s, spec)
				if s.hashed != 0 {
					t.Errorf("outside entries were dropped by a scan of other specs: hashed %d", s.hashed)
				}
			}
			writeTree(t, home, map[string]string{".config/tool/a.conf": "edited", ".missing": "now"})
			after := scanOne(t, s, spec)
			requireChange(t, before, after,
				Change{home + "/.config/tool/a.conf", ChangeModified}, Change{home + "/.missing", ChangeAdded})
			if err := os.WriteFile(filepath.Join(home, ".config/tool/a.conf"), []byte("a"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(home, ".missing")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUnmatchedPatterns: an include pattern that selects no file is
// reported with the closest path that exists; one that selects something,
// even only files a later pattern also takes, is not; excludes never are.
func TestUnmatchedPatterns(t *testing.T) {
	root := t.TempDir()
	home := t.TempDir()
	writeTree(t, root, map[string]string{"fonts/a.ttf": "a", "Brewfile": "b", "scripts/x.sh": "x", "scripts/x.tmp": "t", "empty/": ""})
	writeTree(t, home, map[string]string{".config/nvim/init.lua": "i"})
	tests := []struct {
		pattern string
		closest string // "" when it selects something or has no suggestion
		ok      bool
	}{
		{"fonst/**", "fonts/**", false},
		{"./fonst/*.ttf", "fonts/*.ttf", false},
		{"Brewfil", "Brewfile", false},
		{"brewfile", "Brewfile", false},
		{"fonts/**", "", true},
		{"fonts/*.otf", "", false}, // the directory exists: nothing to suggest
		{"**/*.otf", "", false},    // no literal part
		{"completely/different", "", false},
		{"empty", "", false},         // an empty directory selects nothing
		{"scripts/*.tmp", "", false}, // everything it selects, a later exclude drops
		{"scripts/x.sh", "", true},   // a later pattern takes it too: still selected
		{home + "/.confg/nvim/**", home + "/.config/nvim/**", false},
		{home + "/.config/nvim", "", true},
	}
	var pats []string
	for _, tt := range tests {
		pats = append(pats, tt.pattern)
	}
	pats = append(pats, "scripts/**", "!**/*.tmp", "!nothing/**")
	m := scanOne(t, &Scanner{Root: root}, Spec{Patterns: pats})
	got := map[string]Unmatched{}
	for _, u := range m.Unmatched {
		got[u.Pattern] = u
	}
	for _, tt := range tests {
		u, reported := got[tt.pattern]
		switch {
		case tt.ok && reported:
			t.Errorf("%q selects files, but is reported: %v", tt.pattern, u)
		case !tt.ok && !reported:
			t.Errorf("%q selects nothing, but is not reported", tt.pattern)
		case !tt.ok && u.Closest != tt.closest:
			t.Errorf("%q: closest %q, want %q", tt.pattern, u.Closest, tt.closest)
		}
	}
	if len(got) != 10 {
		t.Errorf("reported %d patterns, want 10: %v", len(got), m.Unmatched)
	}
	if s := (Unmatched{Pattern: "fonst/**", Closest: "fonts/**"}).String(); s != `input pattern "fonst/**" selects no file; did you mean "fonts/**"?` {
		t.Errorf("message %q", s)
	}
}
