// Package fingerprint turns a step's input files into a Manifest and one
// Digest: it selects files by pattern or explicit list, hashes their contents
// (reusing a stat cache for files that did not change), and diffs manifests so
// callers can say exactly which files changed.
//
// It is the hot path of a no-change refresh, so a Scan walks the tree once for
// all specs, stats files relative to open directory descriptors on parallel
// workers, and looks cached hashes up by merge-joining the sorted walk against
// a cache whose records are read in place rather than decoded.
package fingerprint

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// Sum is the xxh3-128 hash of a file's content, or of a symlink's target.
type Sum [16]byte

// String returns the sum in hex.
func (s Sum) String() string { return hex.EncodeToString(s[:]) }

// Digest identifies a whole Manifest: equal digests mean equal manifests.
type Digest [16]byte

// String returns the digest in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Entry types.
const (
	TypeFile    byte = 'f' // regular file, no exec bit
	TypeExec    byte = 'x' // regular file with any exec bit
	TypeSymlink byte = 'l' // symlink; Hash is the hash of its target string
	TypeMissing byte = '-' // an explicitly listed file that does not exist
	TypeDir     byte = 'd' // an explicitly listed path that is a directory (contents not included)
	TypeOther   byte = 'o' // a fifo, socket or device; present, but never read
)

// Entry is one input file.
type Entry struct {
	Path string // slash-separated, relative to the scan root
	Type byte   // one of the Type constants
	Size int64  // bytes; 0 for missing, directory and other entries
	Hash Sum    // zero for missing, directory and other entries
}

// Manifest is one spec's input set.
type Manifest struct {
	Entries []Entry // sorted by Path, no duplicates
	Digest  Digest
}

// Change is one difference between two manifests.
type Change struct {
	Path string
	Kind string // ChangeAdded, ChangeRemoved or ChangeModified
}

// Change kinds.
const (
	ChangeAdded    = "added"
	ChangeRemoved  = "removed"
	ChangeModified = "modified"
)

// Diff lists the paths that differ between old and new, sorted by path. A
// change of type (including the exec bit), size or content is "modified". A nil
// manifest counts as empty.
func Diff(old, new *Manifest) []Change {
	var a, b []Entry
	if old != nil {
		a = old.Entries
	}
	if new != nil {
		b = new.Entries
	}
	var out []Change
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Path < b[j].Path):
			out = append(out, Change{Path: a[i].Path, Kind: ChangeRemoved})
			i++
		case i == len(a) || b[j].Path < a[i].Path:
			out = append(out, Change{Path: b[j].Path, Kind: ChangeAdded})
			j++
		default:
			if a[i].Type != b[j].Type || a[i].Size != b[j].Size || a[i].Hash != b[j].Hash {
				out = append(out, Change{Path: a[i].Path, Kind: ChangeModified})
			}
			i++
			j++
		}
	}
	return out
}

// manifestMagic starts the canonical encoding. The version is in it, so a
// format change changes every digest and re-runs every step once, rather than
// comparing digests that mean different things.
const manifestMagic = "sysinit-manifest-v1\n"

// encodeManifest writes the canonical encoding of entries to emit in chunks:
// the magic, the entry count, then per entry the path length (uvarint), the
// path, the type byte, the size (8 bytes little-endian) and the 16-byte hash.
// The length prefix keeps paths unambiguous whatever bytes they hold.
func encodeManifest(entries []Entry, buf []byte, emit func([]byte)) {
	buf = append(buf[:0], manifestMagic...)
	buf = binary.AppendUvarint(buf, uint64(len(entries)))
	flushAt := cap(buf) - 64
	for i := range entries {
		e := &entries[i]
		if len(buf)+len(e.Path)+40 > flushAt && len(buf) > 0 {
			emit(buf)
			buf = buf[:0]
		}
		buf = binary.AppendUvarint(buf, uint64(len(e.Path)))
		if len(e.Path) > flushAt {
			// A path longer than the buffer goes out on its own.
			emit(buf)
			emit(unsafe.Slice(unsafe.StringData(e.Path), len(e.Path)))
			buf = buf[:0]
		} else {
			buf = append(buf, e.Path...)
		}
		buf = append(buf, e.Type)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.Size))
		buf = append(buf, e.Hash[:]...)
	}
	if len(buf) > 0 {
		emit(buf)
	}
}

// computeDigest hashes the canonical encoding without materialising it.
func computeDigest(entries []Entry) Digest {
	var scratch [16 << 10]byte
	h := xxh3.New()
	encodeManifest(entries, scratch[:0], func(p []byte) { _, _ = h.Write(p) })
	return Digest(h.Sum128().Bytes())
}

// MarshalBinary returns the canonical encoding of the entries followed by the
// digest, which UnmarshalManifest checks.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	size := len(manifestMagic) + binary.MaxVarintLen64 + 16
	for i := range m.Entries {
		size += len(m.Entries[i].Path) + binary.MaxVarintLen64 + 25
	}
	out := make([]byte, 0, size)
	encodeManifest(m.Entries, make([]byte, 0, 16<<10), func(p []byte) { out = append(out, p...) })
	d := computeDigest(m.Entries)
	return append(out, d[:]...), nil
}

var errBadManifest = errors.New("bad manifest data")

// UnmarshalManifest decodes what MarshalBinary wrote. It rejects truncated or
// corrupt data, unsorted or duplicate paths, unknown types and a digest that
// does not match the entries. The entries' paths share data's memory: data
// must not be modified afterwards.
func UnmarshalManifest(data []byte) (*Manifest, error) {
	if len(data) < len(manifestMagic)+17 || string(data[:len(manifestMagic)]) != manifestMagic {
		return nil, fmt.Errorf("decoding manifest: %w: no manifest header", errBadManifest)
	}
	body := data[:len(data)-16]
	p := body[len(manifestMagic):]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) { // every entry takes at least 25 bytes
		return nil, fmt.Errorf("decoding manifest: %w: bad entry count", errBadManifest)
	}
	p = p[k:]
	// The paths are substrings of data itself: no copy of the encoding.
	all := unsafe.String(unsafe.SliceData(p), len(p))
	base := len(body) - len(p)
	entries := make([]Entry, n)
	for i := range entries {
		l, k := binary.Uvarint(p)
		if k <= 0 || l == 0 || l > uint64(len(p)-k) || len(p)-k-int(l) < 25 {
			return nil, fmt.Errorf("decoding manifest: %w: entry %d truncated", errBadManifest, i)
		}
		off := len(body) - len(p) + k - base
		e := &entries[i]
		e.Path = all[off : off+int(l)]
		p = p[k+int(l):]
		e.Type = p[0]
		e.Size = int64(binary.LittleEndian.Uint64(p[1:9]))
		copy(e.Hash[:], p[9:25])
		p = p[25:]
		if !validType(e.Type) || e.Size < 0 {
			return nil, fmt.Errorf("decoding manifest: %w: entry %q has type %q, size %d", errBadManifest, e.Path, e.Type, e.Size)
		}
		if i > 0 && entries[i-1].Path >= e.Path {
			return nil, fmt.Errorf("decoding manifest: %w: %q out of order", errBadManifest, e.Path)
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("decoding manifest: %w: %d trailing bytes", errBadManifest, len(p))
	}
	m := &Manifest{Entries: entries, Digest: computeDigest(entries)}
	if string(m.Digest[:]) != string(data[len(body):]) {
		return nil, fmt.Errorf("decoding manifest: %w: digest does not match entries", errBadManifest)
	}
	return m, nil
}

func validType(t byte) bool {
	return strings.IndexByte("fxl-do", t) >= 0
}
