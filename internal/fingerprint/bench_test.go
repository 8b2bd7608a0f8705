package fingerprint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/fingerprint/internal/treegen"
)

// benchSpecs are four typical specs: the whole tree, a subtree, a
// basename glob, and a subtree with an exclude.
var benchSpecs = []Spec{
	{Patterns: []string{"**"}},
	{Patterns: []string{"modules/**"}},
	{Patterns: []string{"**/*.conf"}},
	{Patterns: []string{"scripts/**", "!scripts/*.tmp"}},
}

// BenchmarkScan: cold is a first run (every file read and hashed, the cache
// built); warm is a no-change run against that cache.
func BenchmarkScan(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		root := b.TempDir()
		if err := treegen.Generate(root, n); err != nil {
			b.Fatal(err)
		}
		// Trust every file, as if the tree were older than racyWindow.
		later := laterClock(time.Hour)
		b.Run(fmt.Sprintf("%d/cold", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := &Scanner{Root: root, Cache: &Cache{}, now: later}
				if _, err := s.Scan(context.Background(), benchSpecs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/warm", n), func(b *testing.B) {
			c := &Cache{}
			s := &Scanner{Root: root, Cache: c, now: later}
			if _, err := s.Scan(context.Background(), benchSpecs); err != nil {
				b.Fatal(err)
			}
			c.changed = false
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Scan(context.Background(), benchSpecs); err != nil {
					b.Fatal(err)
				}
			}
			if s.hashed != 0 || c.Changed() {
				b.Fatalf("warm scan hashed %d files, changed cache %v", s.hashed, c.Changed())
			}
		})
	}
}

func syntheticCache(n int) []byte {
	var bld cacheBuilder
	for i := range n {
		p := fmt.Sprintf("modules/d%02d/s%04d/file%06d.nix", i%37, i/10, i)
		bld.add(p, fileStat{dev: 1, ino: uint64(i), mode: 0o100644, size: int64(i), mtime: int64(i) << 20, ctime: int64(i) << 20}, Sum{byte(i)})
	}
	var c Cache
	bld.install(&c)
	data, err := c.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return data
}

func BenchmarkLoadCache(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		data := syntheticCache(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := LoadCache(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDigest(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		entries := make([]Entry, n)
		for i := range entries {
			entries[i] = Entry{Path: fmt.Sprintf("modules/d%02d/s%04d/file%06d.nix", i%37, i/10, i), Type: TypeFile, Size: int64(i), Hash: Sum{byte(i)}}
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				computeDigest(entries)
			}
		})
	}
}

// BenchmarkStoredManifest is what a refresh after an edit does with the
// manifest of a large step: encode it to record the success (marshal), and
// list the changed files against the stored one (diff, one file changed).
func BenchmarkStoredManifest(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		entries := make([]Entry, n)
		for i := range entries {
			entries[i] = Entry{Path: fmt.Sprintf("home/config/d%02d/s%04d/file%06d.conf", i%37, i/10, i), Type: TypeFile, Size: int64(i), Hash: Sum{byte(i)}}
		}
		slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
		m := &Manifest{Entries: entries, Digest: computeDigest(entries)}
		stored, err := m.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		edited := slices.Clone(entries)
		edited[n/2].Hash = Sum{0xff}
		cur := &Manifest{Entries: edited}
		b.Run(fmt.Sprintf("%d/marshal", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(stored)))
			for b.Loop() {
				if _, err := m.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/diff", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if changes, err := DiffEncoded(stored, cur); err != nil || len(changes) != 1 {
					b.Fatalf("DiffEncoded: %v, %v", changes, err)
				}
			}
		})
	}
}
