package fingerprint

import (
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The digest of a manifest is stored with every success and compared on
// every refresh; the stored manifest is read back to say which files
// changed. Both encodings, and the content hash under them, are pinned
// here byte for byte: a change to any of them that slipped in unnoticed
// would re-run every step after an upgrade (a new digest for the same
// files) or misread the files of an old store. A deliberate format change
// bumps its magic and updates these bytes, and keeps reading the old ones.

// goldenManifest has every entry type, paths that share prefixes, a size
// that needs several varint bytes, and a missing listed file.
func goldenManifest() *Manifest {
	es := []Entry{
		{Path: ".git/HEAD", Type: TypeFile, Size: 21, Hash: sum("ref: refs/heads/main\n")},
		{Path: "flake.lock", Type: TypeMissing},
		{Path: "flake.nix", Type: TypeFile, Size: 3, Hash: sum("{ }")},
		{Path: "modules", Type: TypeDir},
		{Path: "modules/big.bin", Type: TypeFile, Size: 1 << 33, Hash: sum("big")},
		{Path: "modules/run.sh", Type: TypeExec, Size: 9, Hash: sum("#!/bin/sh")},
		{Path: "modules/theme", Type: TypeSymlink, Size: 7, Hash: sum("../dark")},
		{Path: "sock", Type: TypeOther},
	}
	return &Manifest{Entries: es, Digest: computeDigest(es)}
}

const (
	// goldenDigest is what the state store keeps as a step's inputs digest.
	goldenDigest = "a09c80041d3d2c1133384682b8750915"
	// goldenCanonical is the encoding the digest hashes: "sysinit-manifest-v1\n",
	// the entry count, then per entry the path length, path, type, size
	// (8 bytes little-endian) and hash. Versions before the compact stored
	// form stored it, followed by the digest.
	goldenCanonical = "737973696e69742d6d616e69666573742d76310a" + "08" +
		"09" + "2e6769742f48454144" + "66" + "1500000000000000" + "7b32a47360586b5368092c0414582c70" +
		"0a" + "666c616b652e6c6f636b" + "2d" + "0000000000000000" + "00000000000000000000000000000000" +
		"09" + "666c616b652e6e6978" + "66" + "0300000000000000" + "56ed7306550e2559025ed4c9cb12c394" +
		"07" + "6d6f64756c6573" + "64" + "0000000000000000" + "00000000000000000000000000000000" +
		"0f" + "6d6f64756c65732f6269672e62696e" + "66" + "0000000002000000" + "24495710ff63776c7c660a1adea13c66" +
		"0e" + "6d6f64756c65732f72756e2e7368" + "78" + "0900000000000000" + "2061b24840f2e87af5162cf8441877bf" +
		"0d" + "6d6f64756c65732f7468656d65" + "6c" + "0700000000000000" + "051ac02be4e8e16e4504e79fc5caebf5" +
		"04" + "736f636b" + "6f" + "0000000000000000" + "00000000000000000000000000000000"
	// goldenStored is MarshalBinary's form: "sysinit-stored-manifest-2\n",
	// the entry count, then per entry the bytes shared with the previous
	// path, the length of the rest, the rest, the type, the size (uvarint)
	// and the hash; then the digest.
	goldenStored = "737973696e69742d73746f7265642d6d616e69666573742d320a" + "08" +
		"00" + "09" + "2e6769742f48454144" + "66" + "15" + "7b32a47360586b5368092c0414582c70" +
		"00" + "0a" + "666c616b652e6c6f636b" + "2d" + "00" + "00000000000000000000000000000000" +
		"06" + "03" + "6e6978" + "66" + "03" + "56ed7306550e2559025ed4c9cb12c394" +
		"00" + "07" + "6d6f64756c6573" + "64" + "00" + "00000000000000000000000000000000" +
		"07" + "08" + "2f6269672e62696e" + "66" + "8080808020" + "24495710ff63776c7c660a1adea13c66" +
		"08" + "06" + "72756e2e7368" + "78" + "09" + "2061b24840f2e87af5162cf8441877bf" +
		"08" + "05" + "7468656d65" + "6c" + "07" + "051ac02be4e8e16e4504e79fc5caebf5" +
		"00" + "04" + "736f636b" + "6f" + "00" + "00000000000000000000000000000000" +
		goldenDigest
)

func TestGoldenEncodings(t *testing.T) {
	m := goldenManifest()
	if got := m.Digest.String(); got != goldenDigest {
		t.Errorf("digest = %s, want %s", got, goldenDigest)
	}
	var canon []byte
	encodeManifest(m.Entries, make([]byte, 0, 1024), func(p []byte) { canon = append(canon, p...) })
	if got := hex.EncodeToString(canon); got != goldenCanonical {
		t.Errorf("canonical encoding\n got %s\nwant %s", got, goldenCanonical)
	}
	stored, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(stored); got != goldenStored {
		t.Errorf("stored form\n got %s\nwant %s", got, goldenStored)
	}
}

// TestGoldenStoredFormsRead: both stored forms, as bytes an earlier
// version wrote, decode to the same entries, and a diff against them
// names exactly the file that changed.
func TestGoldenStoredFormsRead(t *testing.T) {
	want := goldenManifest()
	forms := map[string]string{
		"stored-manifest-2": goldenStored,
		"manifest-v1":       goldenCanonical + goldenDigest,
	}
	for name, h := range forms {
		t.Run(name, func(t *testing.T) {
			data, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			got, err := unmarshalManifest(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != want.Digest || !slices.Equal(got.Entries, want.Entries) {
				t.Fatalf("decoded %+v", got.Entries)
			}
			cur := &Manifest{Entries: slices.Clone(want.Entries)}
			cur.Entries[2].Hash = sum("{ edited }")
			changes, err := DiffEncoded(data, cur)
			if err != nil || !slices.Equal(changes, []Change{{"flake.nix", ChangeModified}}) {
				t.Errorf("DiffEncoded = %v, %v", changes, err)
			}
		})
	}
}

// TestGoldenContentHash pins the hash of a file's content and of a
// symlink's target, which every stored manifest and stat cache holds.
func TestGoldenContentHash(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", hashBufSize/16*3+1) // streamed
	writeTree(t, dir, map[string]string{"small": "hello\n", "big": big, "link": "->small"})
	for name, want := range map[string]string{
		"small": "6bba86c7e069f56d5a10b435f1c8e49c",
		"big":   "9da10f9deeb066eb439c20e8d8c3f308",
	} {
		got, err := HashFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Errorf("HashFile(%s) = %s, want %s", name, got, want)
		}
	}
	m := scanOne(t, &Scanner{Root: dir}, Spec{Patterns: []string{"link"}})
	// The target string and the content it leads to (since links to
	// files are read through: b238588c… was the target string's alone).
	if got, want := m.Entries[0].Hash.String(), "e122fd4987a6732633c1d72b0accff82"; got != want {
		t.Errorf("hash of the symlink = %s, want %s", got, want)
	}
}

// FuzzStoredManifest: bytes read back from a store (an old version's, a
// corrupt page) never panic the reader; what decodes is sorted, and diffs
// against itself as no change.
func FuzzStoredManifest(f *testing.F) {
	for _, h := range []string{goldenStored, goldenCanonical + goldenDigest} {
		data, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		changes, diffErr := DiffEncoded(data, nil)
		m, err := unmarshalManifest(data)
		if err != nil {
			return
		}
		if diffErr != nil {
			t.Fatalf("decodes, but DiffEncoded fails: %v", diffErr)
		}
		checkSorted(t, m)
		for _, c := range changes {
			if c.Kind != ChangeRemoved {
				t.Fatalf("against nothing, %v", c)
			}
		}
		if again, err := DiffEncoded(data, m); err != nil || len(again) != 0 {
			t.Fatalf("against itself: %v, %v", again, err)
		}
	})
}
