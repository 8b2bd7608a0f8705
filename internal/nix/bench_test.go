package nix

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// synthIndex writes a git index of version 2 or 4 holding paths, the way
// git lays it out (v4 paths are prefix-compressed against the previous).
func synthIndex(version uint32, paths []string) []byte {
	var b bytes.Buffer
	b.WriteString("DIRC")
	binary.Write(&b, binary.BigEndian, version)
	binary.Write(&b, binary.BigEndian, uint32(len(paths)))
	prev := ""
	for _, p := range paths {
		start := b.Len()
		var stat [40]byte
		binary.BigEndian.PutUint32(stat[24:], 0o100644)
		b.Write(stat[:])
		b.Write(make([]byte, 20)) // object id
		binary.Write(&b, binary.BigEndian, uint16(min(len(p), 0xfff)))
		if version == 4 {
			common := 0
			for common < len(p) && common < len(prev) && p[common] == prev[common] {
				common++
			}
			b.Write(encodeVarint(uint64(len(prev) - common)))
			b.WriteString(p[common:])
			b.WriteByte(0)
			prev = p
			continue
		}
		b.WriteString(p)
		pad := 8 - (b.Len()-start)%8
		b.Write(make([]byte, pad))
	}
	b.Write(make([]byte, 20)) // checksum (not verified)
	return b.Bytes()
}

func encodeVarint(v uint64) []byte {
	var buf [16]byte
	pos := len(buf) - 1
	buf[pos] = byte(v & 127)
	for v >>= 7; v != 0; v >>= 7 {
		v--
		pos--
		buf[pos] = 128 | byte(v&127)
	}
	return buf[pos:]
}

func synthPaths(n int) []string {
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("modules/group-%03d/sub/file-%05d.nix", i/100, i)
	}
	slices.Sort(paths)
	return paths
}

// TestSynthIndexRoundTrip checks the benchmark's index writer against the
// parser (and the parser against long v4 prefix strips).
func TestSynthIndexRoundTrip(t *testing.T) {
	paths := append(synthPaths(300), "zz/"+string(bytes.Repeat([]byte("y"), 5000)))
	for _, v := range []uint32{2, 4} {
		entries, err := parseIndex(synthIndex(v, paths), 20)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Path)
		}
		if !slices.Equal(got, paths) {
			t.Errorf("v%d: paths differ", v)
		}
	}
}

func BenchmarkParseIndex(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		for _, v := range []uint32{2, 4} {
			data := synthIndex(v, synthPaths(n))
			b.Run(fmt.Sprintf("v%d/%d", v, n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := parseIndex(data, 20); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFlakeInputs is the nix step's share of a no-change plan: find
// the repository, read its index, list the files. No process starts.
func BenchmarkFlakeInputs(b *testing.B) {
	requireGit(b)
	gitEnv(b)
	for _, n := range []int{100, 2000} {
		dir := b.TempDir()
		git(b, dir, "init", "-q")
		writeFile(b, filepath.Join(dir, "flake.nix"), "{}")
		for i := range n {
			writeFile(b, filepath.Join(dir, fmt.Sprintf("modules/m%02d/f%04d.nix", i%50, i)), "{}")
		}
		git(b, dir, "add", "-A")
		ref, err := parseFlakeRef(".#x", dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				spec, err := flakeInputs(dir, ref, nil)
				// the modules, flake.nix, flake.lock, and HEAD with its ref
				if err != nil || len(spec.Files) != n+4 {
					b.Fatalf("%d files, %v", len(spec.Files), err)
				}
			}
		})
	}
}

func BenchmarkMonitor(b *testing.B) {
	data, err := os.ReadFile("testdata/build-ok.log")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("build-log", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			m := newMonitor(nil, func(string) {})
			m.Write(data)
			m.Flush()
		}
	})
}

func BenchmarkProbe(b *testing.B) {
	dir := b.TempDir()
	store := filepath.Join(dir, "store")
	out := filepath.Join(store, "abc-system")
	if err := os.MkdirAll(out, 0o755); err != nil {
		b.Fatal(err)
	}
	os.Symlink(out, filepath.Join(dir, "system-7-link"))
	os.Symlink("system-7-link", filepath.Join(dir, "system"))
	os.Symlink(filepath.Join(dir, "system"), filepath.Join(dir, "current-system"))
	b.Run("three-links", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p, err := activePath(filepath.Join(dir, "current-system"), store); err != nil || p != out {
				b.Fatal(p, err)
			}
		}
	})
}
