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

	"github.com/bmatcuk/doublestar/v4"
)

// writeTree creates files below dir. A value starting with "->" makes a
// symlink to the rest; a key ending in "*" is made executable (the "*" is
// dropped); a key ending in "/" is an empty directory.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(name, "*")))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// laterClock makes every file on disk look old enough to cache, as if the
// scan ran an hour from now.
func laterClock(d time.Duration) func() time.Time {
	return func() time.Time { return time.Now().Add(d) }
}

func scanOne(t testing.TB, s *Scanner, spec Spec) *Manifest {
	t.Helper()
	ms, err := s.Scan(context.Background(), []Spec{spec})
	if err != nil {
		t.Fatalf("Scan(%+v): %v", spec, err)
	}
	checkSorted(t, ms[0])
	return ms[0]
}

// checkSorted fails unless the entries are in strictly increasing path order
// and the digest is the one the entries give.
func checkSorted(t testing.TB, m *Manifest) {
	t.Helper()
	for i := 1; i < len(m.Entries); i++ {
		if m.Entries[i-1].Path >= m.Entries[i].Path {
			t.Fatalf("entries out of order: %q before %q", m.Entries[i-1].Path, m.Entries[i].Path)
		}
	}
	if m.Digest != computeDigest(m.Entries) {
		t.Fatal("digest does not match entries")
	}
}

func paths(m *Manifest) []string {
	out := []string{}
	for _, e := range m.Entries {
		out = append(out, e.Path)
	}
	return out
}

// refSelect is an independent reference for pattern selection: every file
// or symlink below root (following symlinks to directories, each file
// named by its path through the link; skipping ignored relative paths),
// kept when the last pattern that matches it, by doublestar.Match, is an
// include. A pattern without wildcards also matches everything below the
// path it names, and an include may not reach through a ".git" directory
// that its literal leading segments do not name.
func refSelect(t testing.TB, root string, ignore []string, patterns []string) []string {
	t.Helper()
	var out []string
	var walk func(dir, rel string, stack []string)
	walk = func(dir, rel string, stack []string) {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(stack, real) {
			t.Fatalf("reference: symlink loop at %s", rel)
		}
		stack = append(stack, real)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := e.Name()
			if rel != "" {
				p = rel + "/" + p
			}
			if slices.Contains(ignore, p) {
				continue
			}
			full := filepath.Join(dir, e.Name())
			if e.IsDir() {
				walk(full, p, stack)
				continue
			}
			if refSelected(t, patterns, p) {
				out = append(out, p)
			}
			if e.Type()&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(full); err == nil && fi.IsDir() {
					walk(full, p, stack)
				}
			}
		}
	}
	walk(root, "", nil)
	slices.Sort(out)
	return out
}

func refSelected(t testing.TB, patterns []string, rel string) bool {
	for i := len(patterns) - 1; i >= 0; i-- {
		pat := patterns[i]
		ex := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(pat, "!")
		ok, err := doublestar.Match(pat, rel)
		if err != nil {
			t.Fatalf("bad pattern %q", pat)
		}
		if !ok && !strings.ContainsAny(pat, `*?[]{}\`) {
			ok = strings.HasPrefix(rel, pat+"/")
		}
		if !ok || !ex && refGitBlocked(pat, rel) {
			continue
		}
		return !ex
	}
	return false
}

// refGitBlocked: a directory segment ".git" of rel lies beyond the pattern's
// leading run of wildcard-free segments.
func refGitBlocked(pat, rel string) bool {
	psegs := strings.Split(pat, "/")
	segs := strings.Split(rel, "/")
	for i := 0; i < len(segs)-1; i++ {
		if segs[i] != ".git" {
			continue
		}
		literal := i < len(psegs)
		for k := 0; literal && k <= i; k++ {
			if strings.ContainsAny(psegs[k], `*?[]{}\`) {
				literal = false
			}
		}
		if !literal {
			return true
		}
	}
	return false
}

// roundTrip returns c as LoadCache reads it back from MarshalBinary, as
// the next sysinit run finds it in the store.
func roundTrip(t testing.TB, c *Cache) *Cache {
	t.Helper()
	data, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCache(data)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}
