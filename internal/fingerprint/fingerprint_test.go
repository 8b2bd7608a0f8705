package fingerprint

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"
)

func sum(s string) Sum { return Sum(xxh3.HashString128(s).Bytes()) }

func TestDigestCoversEveryField(t *testing.T) {
	base := []Entry{
		{Path: "src/a/z", Type: TypeFile, Size: 1, Hash: sum("z")},
		{Path: "src/b", Type: TypeExec, Size: 2, Hash: sum("b")},
	}
	tests := []struct {
		name   string
		change func([]Entry) []Entry
	}{
		{"path moved to another directory", func(e []Entry) []Entry { e[0].Path = "src/aa/z"; return e }},
		{"path renamed", func(e []Entry) []Entry { e[1].Path = "src/c"; return e }},
		{"exec bit", func(e []Entry) []Entry { e[1].Type = TypeFile; return e }},
		{"file became symlink", func(e []Entry) []Entry { e[0].Type = TypeSymlink; return e }},
		{"became missing", func(e []Entry) []Entry { e[0].Type = TypeMissing; return e }},
		{"size", func(e []Entry) []Entry { e[0].Size = 3; return e }},
		{"content", func(e []Entry) []Entry { e[0].Hash[15] ^= 1; return e }},
		{"entry removed", func(e []Entry) []Entry { return e[:1] }},
		{"entry added", func(e []Entry) []Entry { return append(e, Entry{Path: "src/c", Type: TypeFile}) }},
	}
	want := computeDigest(base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := computeDigest(tt.change(slices.Clone(base))); got == want {
				t.Errorf("digest unchanged: %s", got)
			}
		})
	}
	if computeDigest(slices.Clone(base)) != want {
		t.Error("digest is not deterministic")
	}
	if computeDigest(nil) == computeDigest([]Entry{{}}) {
		t.Error("empty manifest and one empty entry share a digest")
	}
}

// TestDigestLengthPrefix: two manifests whose fields concatenate to the same
// bytes (the first path swallows a byte that the second path loses) must not
// share a digest.
func TestDigestLengthPrefix(t *testing.T) {
	h1, h2 := sum("one"), sum("two")
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], 0x0102030405060708)
	a := []Entry{
		{Path: "ab", Type: 'f', Size: 0x0102030405060708, Hash: h1},
		{Path: "cd", Type: 'f', Size: 9, Hash: h2},
	}
	shifted := Entry{Path: "abf", Type: size[0]}
	shifted.Size = int64(binary.LittleEndian.Uint64(append(slices.Clone(size[1:]), h1[0])))
	copy(shifted.Hash[:], append(slices.Clone(h1[1:]), 'c'))
	b := []Entry{shifted, {Path: "d", Type: 'f', Size: 9, Hash: h2}}
	flat := func(es []Entry) []byte {
		var out []byte
		for _, e := range es {
			out = append(out, e.Path...)
			out = append(out, e.Type)
			out = binary.LittleEndian.AppendUint64(out, uint64(e.Size))
			out = append(out, e.Hash[:]...)
		}
		return out
	}
	if !bytes.Equal(flat(a), flat(b)) {
		t.Fatal("test setup: the two manifests should concatenate alike")
	}
	if computeDigest(a) == computeDigest(b) {
		t.Error("digest does not separate paths from the fields around them")
	}
}

func TestDiff(t *testing.T) {
	a := Entry{Path: "a", Type: TypeFile, Size: 1, Hash: sum("a")}
	b := Entry{Path: "b", Type: TypeFile, Size: 1, Hash: sum("b")}
	bx := b
	bx.Type = TypeExec
	bsize := b
	bsize.Size = 9
	bhash := b
	bhash.Hash = sum("B")
	bmissing := Entry{Path: "b", Type: TypeMissing}
	c := Entry{Path: "c", Type: TypeSymlink, Size: 1, Hash: sum("c")}
	m := func(es ...Entry) *Manifest { return &Manifest{Entries: es} }
	tests := []struct {
		name     string
		old, new *Manifest
		want     []Change
	}{
		{"same", m(a, b), m(a, b), nil},
		{"nil old", nil, m(a), []Change{{"a", ChangeAdded}}},
		{"nil new", m(a), nil, []Change{{"a", ChangeRemoved}}},
		{"both nil", nil, nil, nil},
		{"added in middle", m(a, c), m(a, b, c), []Change{{"b", ChangeAdded}}},
		{"removed at end", m(a, b, c), m(a, b), []Change{{"c", ChangeRemoved}}},
		{"exec bit", m(a, b), m(a, bx), []Change{{"b", ChangeModified}}},
		{"size", m(b), m(bsize), []Change{{"b", ChangeModified}}},
		{"hash", m(b), m(bhash), []Change{{"b", ChangeModified}}},
		{"mixed, sorted", m(b, c), m(a, bx), []Change{{"a", ChangeAdded}, {"b", ChangeModified}, {"c", ChangeRemoved}}},
		{"listed file deleted", m(a, b), m(a, bmissing), []Change{{"b", ChangeRemoved}}},
		{"listed file appeared", m(bmissing, c), m(b, c), []Change{{"b", ChangeAdded}}},
		{"still missing", m(a, bmissing), m(a, bmissing), nil},
		{"missing and unlisted are both absent", m(a, bmissing), m(a), nil},
		{"newly listed, missing", m(a), m(a, bmissing, c), []Change{{"c", ChangeAdded}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diff(tt.old, tt.new); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			old := tt.old
			if old == nil {
				old = &Manifest{}
			}
			got, err := DiffEncoded(mustMarshal(t, old), tt.new)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("DiffEncoded: got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestDiffEncodedMatchesDiff: on random pairs of manifests, diffing the
// encoded old one gives what Diff gives; corrupt encodings are errors.
func TestDiffEncodedMatchesDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() *Manifest {
		var es []Entry
		for i := range 40 {
			if rng.IntN(3) == 0 {
				continue
			}
			typ := TypeFile
			if rng.IntN(4) == 0 {
				typ = TypeMissing
			}
			es = append(es, Entry{Path: fmt.Sprintf("d%d/f%02d", i%3, i), Type: typ, Size: int64(rng.IntN(2)), Hash: sum(fmt.Sprint(rng.IntN(2)))})
		}
		slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
		return &Manifest{Entries: es}
	}
	for range 500 {
		a, b := random(), random()
		data := mustMarshal(t, a)
		got, err := DiffEncoded(data, b)
		if want := diff(a, b); err != nil || !slices.Equal(got, want) {
			t.Fatalf("DiffEncoded = %v, %v; Diff = %v", got, err, want)
		}
		if len(data) > 40 {
			if _, err := DiffEncoded(data[:len(data)-20], b); err == nil {
				t.Fatal("DiffEncoded accepted a truncated manifest")
			}
		}
	}
	unsorted := mustMarshal(t, &Manifest{Entries: []Entry{{Path: "b", Type: TypeFile}, {Path: "a", Type: TypeFile}}})
	if _, err := DiffEncoded(unsorted, nil); err == nil {
		t.Error("DiffEncoded accepted unsorted entries")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	long := string(bytes.Repeat([]byte("p"), 40<<10)) // longer than the encoder's buffer
	m := &Manifest{Entries: []Entry{
		{Path: "a", Type: TypeFile, Size: 5, Hash: sum("a")},
		{Path: "b/" + long, Type: TypeExec, Size: 1 << 40, Hash: sum("b")},
		{Path: "c", Type: TypeSymlink, Size: 3, Hash: sum("c")},
		{Path: "d", Type: TypeMissing},
		{Path: "e", Type: TypeDir},
		{Path: "f", Type: TypeOther},
	}}
	m.Digest = computeDigest(m.Entries)
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != m.Digest || !slices.Equal(got.Entries, m.Entries) {
		t.Fatal("manifest changed in a round trip")
	}
	empty, err := unmarshalManifest(mustMarshal(t, &Manifest{}))
	if err != nil || len(empty.Entries) != 0 || empty.Digest != computeDigest(nil) {
		t.Errorf("empty manifest round trip: %v, %v", empty, err)
	}

	bad := map[string][]byte{
		"nil":       nil,
		"truncated": data[:len(data)-1],
		"extra":     append(slices.Clone(data), 0),
		"magic":     append([]byte("x"), data[1:]...),
	}
	for i := len(manifestMagic); i < len(data); i += 97 {
		flipped := slices.Clone(data)
		flipped[i] ^= 0x01
		bad["flip"+string(rune('a'+i%26))+string(rune('0'+i%10))] = flipped
	}
	unsorted := &Manifest{Entries: []Entry{{Path: "b", Type: TypeFile}, {Path: "a", Type: TypeFile}}}
	bad["unsorted"] = mustMarshal(t, unsorted)
	dup := &Manifest{Entries: []Entry{{Path: "a", Type: TypeFile}, {Path: "a", Type: TypeFile}}}
	bad["duplicate"] = mustMarshal(t, dup)
	badType := &Manifest{Entries: []Entry{{Path: "a", Type: 'q'}}}
	bad["type"] = mustMarshal(t, badType)
	for name, d := range bad {
		if _, err := unmarshalManifest(d); err == nil {
			t.Errorf("%s: UnmarshalManifest accepted bad data", name)
		}
	}
}

func mustMarshal(t *testing.T, m *Manifest) []byte {
	t.Helper()
	d, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStreamingHashMatchesOneShot: files larger than the read buffer are
// hashed in a stream; the sum must not depend on that.
func TestStreamingHashMatchesOneShot(t *testing.T) {
	root := t.TempDir()
	for _, size := range []int{0, 1, hashBufSize - 1, hashBufSize, hashBufSize + 1, 3*hashBufSize + 17} {
		content := bytes.Repeat([]byte{byte(size), 'x', 'y'}, size/3+1)[:size]
		p := filepath.Join(root, "f")
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		want := Sum(xxh3.Hash128(content).Bytes())
		m := scanOne(t, &Scanner{Root: root}, Spec{Files: []string{"f"}})
		if m.Entries[0].Hash != want || m.Entries[0].Size != int64(size) {
			t.Errorf("size %d: scan gave %v/%d, want %v", size, m.Entries[0].Hash, m.Entries[0].Size, want)
		}
		got, err := HashFile(p)
		if err != nil || got != want {
			t.Errorf("size %d: HashFile = %v, %v; want %v", size, got, err, want)
		}
	}
}

func TestHashFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"f": "content", "l": "->f"})
	want := sum("content")
	for _, name := range []string{"f", "l"} { // a probe follows symlinks
		if got, err := HashFile(filepath.Join(root, name)); err != nil || got != want {
			t.Errorf("HashFile(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := HashFile(filepath.Join(root, "missing")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("HashFile(missing) error = %v, want not-exist", err)
	}
	if _, err := HashFile(root); err == nil {
		t.Error("HashFile(directory) succeeded")
	}
	// The scan's symlink hash is of the target string and of the content
	// the link leads to (what a reader through it sees).
	m := scanOne(t, &Scanner{Root: root}, Spec{Files: []string{"l"}})
	if want := (&linkTarget{kind: TypeFile, sum: sum("content")}).combine(sum("f")); m.Entries[0].Hash != want {
		t.Errorf("symlink entry hash = %v, want %v (target %q, content %q)", m.Entries[0].Hash, want, "f", "content")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestDigestString(t *testing.T) {
	var d Digest
	d[0], d[15] = 0xab, 0x01
	if got := d.String(); got != "ab000000000000000000000000000001" {
		t.Errorf("Digest.String() = %q", got)
	}
	if got := (Sum{0xff}).String(); len(got) != 32 || got[:2] != "ff" {
		t.Errorf("Sum.String() = %q", got)
	}
}

// TestOtherFileTypes: a fifo matched by a pattern is an entry, and is never
// opened (which would block).
func TestOtherFileTypes(t *testing.T) {
	root := t.TempDir()
	if err := mkfifo(filepath.Join(root, "pipe")); err != nil {
		t.Fatal(err)
	}
	ms, err := (&Scanner{Root: root}).Scan(context.Background(), []Spec{{Patterns: []string{"**"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms[0].Entries) != 1 || ms[0].Entries[0].Type != TypeOther {
		t.Errorf("got %+v, want one %q entry", ms[0].Entries, TypeOther)
	}
}

func mkfifo(p string) error { return unix.Mkfifo(p, 0o644) }

// TestStoredFormOfEarlierVersions: a manifest stored by an earlier
// version (the canonical encoding and the digest) is still read, so the
// first refresh after an upgrade can still say which files changed; the
// current stored form is the smaller one.
func TestStoredFormOfEarlierVersions(t *testing.T) {
	var es []Entry
	for i := range 300 {
		es = append(es, Entry{Path: fmt.Sprintf("home/config/d%02d/file%04d.conf", i/10, i), Type: TypeFile, Size: int64(i), Hash: sum(fmt.Sprint(i))})
	}
	m := &Manifest{Entries: es, Digest: computeDigest(es)}
	var old []byte
	encodeManifest(es, make([]byte, 0, 1024), func(p []byte) { old = append(old, p...) })
	old = append(old, m.Digest[:]...)

	got, err := unmarshalManifest(old)
	if err != nil || got.Digest != m.Digest || !slices.Equal(got.Entries, es) {
		t.Fatalf("earlier stored form: %v", err)
	}
	changed := slices.Clone(es)
	changed[7].Hash = sum("edited")
	if diff, err := DiffEncoded(old, &Manifest{Entries: changed}); err != nil || !slices.Equal(diff, []Change{{es[7].Path, ChangeModified}}) {
		t.Errorf("DiffEncoded of the earlier form: %v, %v", diff, err)
	}
	cur := mustMarshal(t, m)
	if len(cur)*10 > len(old)*6 {
		t.Errorf("stored form is %d bytes, the canonical encoding %d: want under 60%%", len(cur), len(old))
	}
}
