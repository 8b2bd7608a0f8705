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

// refSelect is an independent reference for pattern selection: every file or
// symlink below root (not following symlinks, skipping ignored relative
// paths), kept when doublestar.Match says so for an include and for no
// exclude, where an include may not reach through a ".git" directory that its
// literal leading segments do not name.
func refSelect(t testing.TB, root string, ignore []string, patterns []string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if slices.Contains(ignore, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		inc := false
		for _, pat := range patterns {
			ex := strings.HasPrefix(pat, "!")
			pat = strings.TrimPrefix(pat, "!")
			ok, err := doublestar.Match(pat, rel)
			if err != nil {
				t.Fatalf("bad pattern %q", pat)
			}
			if !ok {
				continue
			}
			if ex {
				inc = false
				break
			}
			if !refGitBlocked(pat, rel) {
				inc = true
			}
		}
		// Excludes win regardless of order: re-check them.
		for _, pat := range patterns {
			if ex, ok := strings.CutPrefix(pat, "!"); ok {
				if m, _ := doublestar.Match(ex, rel); m {
					inc = false
				}
			}
		}
		if inc {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
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
