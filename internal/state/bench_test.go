package state

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// benchStore writes a store with steps records, each with a manifest of
// manifestSize bytes, and returns its path.
func benchStore(b *testing.B, steps, manifestSize int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "sysinit", "dots-0123.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range steps {
		r := sampleRecord(fmt.Sprintf("step-%02d", i))
		r.Definition = append(r.Definition, "env.NIXPKGS_ALLOW_UNFREE=1", "flake=.#lv426", "impure=true")
		if err := s.Put(r, bytes.Repeat([]byte{byte(i)}, manifestSize)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.PutStatCache(make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkRecords is the no-change fast path: open the store and read every
// step's last success.
func BenchmarkRecords(b *testing.B) {
	cases := []struct {
		name         string
		steps        int
		manifestSize int
		readOnly     bool
	}{
		{"steps=0/read-only", 0, 4 << 10, true},
		{"steps=10/read-only", 10, 4 << 10, true},
		{"steps=10/read-write", 10, 4 << 10, false},
		{"steps=10/manifests=256KB/read-only", 10, 256 << 10, true},
		{"steps=100/read-only", 100, 4 << 10, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			path := benchStore(b, c.steps, c.manifestSize)
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open(path, Options{ReadOnly: c.readOnly})
				if err != nil {
					b.Fatal(err)
				}
				recs, err := s.Records()
				if err != nil || len(recs) != c.steps {
					b.Fatalf("Records() = %d records, %v", len(recs), err)
				}
				s.Close()
			}
		})
	}
}

// BenchmarkPut is recording one step's success: one durable write
// transaction, including opening and closing the file.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("manifest=%dKB", size>>10), func(b *testing.B) {
			s, err := Open(benchStore(b, 10, size), Options{})
			if err != nil {
				b.Fatal(err)
			}
			manifest := bytes.Repeat([]byte("m"), size)
			r := sampleRecord("step-03")
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := s.Put(r, manifest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStatCache reads and writes a 1 MB stat cache blob.
func BenchmarkStatCache(b *testing.B) {
	const size = 1 << 20
	b.Run("read/1MB", func(b *testing.B) {
		s, err := Open(benchStore(b, 10, 4<<10), Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			blob, err := s.StatCache()
			if err != nil || len(blob) != size {
				b.Fatalf("StatCache() = %d bytes, %v", len(blob), err)
			}
		}
	})
	b.Run("write/1MB", func(b *testing.B) {
		s, err := Open(benchStore(b, 10, 4<<10), Options{})
		if err != nil {
			b.Fatal(err)
		}
		blob := bytes.Repeat([]byte{7}, size)
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			if err := s.PutStatCache(blob); err != nil {
				b.Fatal(err)
			}
		}
	})
}
