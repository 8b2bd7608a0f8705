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
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
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
	TypeSymlink byte = 'l' // symlink; Hash is of its target string and, when its chain of links ends at a file, that file's type and content
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
	// Unmatched are the spec's include patterns that selected no file:
	// a typo, most likely, and the files the user meant are not watched.
	// They are not part of the digest or the stored form.
	Unmatched []Unmatched
	// Notes say where the scan read more than it would have liked, and
	// why: a link to a store path that could not be told free of links
	// out of the store (too big to check, still being built), whose files
	// were read one by one. Not part of the digest or the stored form.
	Notes []string
}

// Unmatched is an include pattern that selected no file.
type Unmatched struct {
	Pattern string // as the spec gave it
	// Closest is the pattern with its first path element that names
	// nothing replaced by the closest name that exists there ("fonts/**"
	// for "fonst/**"); "" when there is none.
	Closest string
}

// String says what is wrong, for a warning.
func (u Unmatched) String() string {
	s := fmt.Sprintf("input pattern %q selects no file", u.Pattern)
	if u.Closest != "" {
		s += fmt.Sprintf("; did you mean %q?", u.Closest)
	}
	return s
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

// storedMagic starts the stored form, which is not the canonical one: it
// is written on every success of a step and read to say which files
// changed, so it is kept small — each path stored as the length it shares
// with the one before and the rest, sizes as varints. At 20,000 files
// that halves it, and with it the write.
const storedMagic = "sysinit-stored-manifest-2\n"

// MarshalBinary returns the stored form of the manifest: the entries, then
// the digest, which UnmarshalManifest checks.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	size := len(storedMagic) + binary.MaxVarintLen64 + 16
	for i := range m.Entries {
		size += len(m.Entries[i].Path) + 3*binary.MaxVarintLen64 + 17
	}
	out := make([]byte, 0, size)
	out = append(out, storedMagic...)
	out = binary.AppendUvarint(out, uint64(len(m.Entries)))
	prev := ""
	for i := range m.Entries {
		e := &m.Entries[i]
		shared := 0
		for shared < len(prev) && shared < len(e.Path) && prev[shared] == e.Path[shared] {
			shared++
		}
		out = binary.AppendUvarint(out, uint64(shared))
		out = binary.AppendUvarint(out, uint64(len(e.Path)-shared))
		out = append(out, e.Path[shared:]...)
		out = append(out, e.Type)
		out = binary.AppendUvarint(out, uint64(e.Size))
		out = append(out, e.Hash[:]...)
		prev = e.Path
	}
	d := computeDigest(m.Entries)
	return append(out, d[:]...), nil
}

var errBadManifest = errors.New("bad manifest data")

// DiffEncoded lists the paths that differ between the manifest old, as
// MarshalBinary wrote it, and cur, sorted by path: a change of type
// (including the exec bit), size or content is "modified"; a nil cur counts
// as empty. A listed file that does not exist (TypeMissing) counts as
// absent, so a listed file that disappears is "removed" and one that
// appears is "added", as for files a pattern selects. The changes are
// found while reading old, allocating nothing but them, which on a large
// tree is most of the cost of saying which files changed. It checks the
// encoding's structure but not its digest: the result names files, it
// decides nothing.
func DiffEncoded(old []byte, cur *Manifest) ([]Change, error) {
	r, err := newManifestReader(old)
	if err != nil {
		return nil, err
	}
	var b []Entry
	if cur != nil {
		b = cur.Entries
	}
	var out []Change
	j := 0
	added := func(e *Entry) {
		if e.Type != TypeMissing {
			out = append(out, Change{Path: e.Path, Kind: ChangeAdded})
		}
	}
	for range r.n {
		a, err := r.next()
		if err != nil {
			return nil, err
		}
		// a.path is only valid until the next entry is read.
		path := unsafe.String(unsafe.SliceData(a.path), len(a.path))
		for j < len(b) && b[j].Path < path {
			added(&b[j])
			j++
		}
		switch {
		case j == len(b) || path < b[j].Path:
			if a.typ != TypeMissing {
				out = append(out, Change{Path: string(a.path), Kind: ChangeRemoved})
			}
		default:
			switch {
			case a.typ == TypeMissing:
				added(&b[j])
			case b[j].Type == TypeMissing:
				out = append(out, Change{Path: b[j].Path, Kind: ChangeRemoved})
			case a.typ != b[j].Type || a.size != b[j].Size || a.hash != b[j].Hash:
				out = append(out, Change{Path: b[j].Path, Kind: ChangeModified})
			}
			j++
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	for ; j < len(b); j++ {
		added(&b[j])
	}
	return out, nil
}

// manifestReader decodes a stored manifest one entry at a time: the
// current form, or the canonical encoding earlier versions stored.
type manifestReader struct {
	p       []byte // what is left of the entries
	n       uint64 // entry count
	read    uint64
	compact bool   // the current stored form
	cur     []byte // the current path (compact form)
	prev    []byte // the previous path, to check the order
	digest  []byte // the trailing digest
}

// rawEntry is one decoded entry; path is valid until the next is read.
type rawEntry struct {
	path []byte
	typ  byte
	size int64
	hash Sum
}

func newManifestReader(data []byte) (*manifestReader, error) {
	r := &manifestReader{}
	var magic string
	switch {
	case len(data) >= len(storedMagic)+17 && string(data[:len(storedMagic)]) == storedMagic:
		magic, r.compact = storedMagic, true
	case len(data) >= len(manifestMagic)+17 && string(data[:len(manifestMagic)]) == manifestMagic:
		magic = manifestMagic
	default:
		return nil, fmt.Errorf("decoding manifest: %w: no manifest header", errBadManifest)
	}
	body := data[:len(data)-16]
	p := body[len(magic):]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) { // every entry takes at least 17 bytes
		return nil, fmt.Errorf("decoding manifest: %w: bad entry count", errBadManifest)
	}
	r.p, r.n, r.digest = p[k:], n, data[len(body):]
	return r, nil
}

func (r *manifestReader) next() (rawEntry, error) {
	if r.compact {
		return r.nextCompact()
	}
	var e rawEntry
	p := r.p
	l, k := binary.Uvarint(p)
	if k <= 0 || l == 0 || l > uint64(len(p)-k) || len(p)-k-int(l) < 25 {
		return e, fmt.Errorf("decoding manifest: %w: entry %d truncated", errBadManifest, r.read)
	}
	e.path = p[k : k+int(l)]
	p = p[k+int(l):]
	e.typ = p[0]
	e.size = int64(binary.LittleEndian.Uint64(p[1:9]))
	copy(e.hash[:], p[9:25])
	r.p = p[25:]
	if !validType(e.typ) || e.size < 0 {
		return e, fmt.Errorf("decoding manifest: %w: entry %q has type %q, size %d", errBadManifest, e.path, e.typ, e.size)
	}
	if r.read > 0 && string(r.prev) >= string(e.path) {
		return e, fmt.Errorf("decoding manifest: %w: %q out of order", errBadManifest, e.path)
	}
	r.prev = e.path
	r.read++
	return e, nil
}

func (r *manifestReader) nextCompact() (rawEntry, error) {
	var e rawEntry
	truncated := func() error {
		return fmt.Errorf("decoding manifest: %w: entry %d truncated", errBadManifest, r.read)
	}
	p := r.p
	shared, k := binary.Uvarint(p)
	if k <= 0 || shared > uint64(len(r.cur)) {
		return e, truncated()
	}
	p = p[k:]
	l, k := binary.Uvarint(p)
	if k <= 0 || l > uint64(len(p)-k) {
		return e, truncated()
	}
	suffix := p[k : k+int(l)]
	p = p[k+int(l):]
	// Sorted and no duplicates: the new path is greater than the old one,
	// which it shares its first bytes with.
	if r.read > 0 && bytes.Compare(suffix, r.cur[shared:]) <= 0 || shared+l == 0 {
		return e, fmt.Errorf("decoding manifest: %w: entry %d out of order", errBadManifest, r.read)
	}
	r.cur = append(r.cur[:shared], suffix...)
	if len(p) < 1 {
		return e, truncated()
	}
	e.typ = p[0]
	size, k := binary.Uvarint(p[1:])
	if k <= 0 || len(p)-1-k < 16 || size > math.MaxInt64 {
		return e, truncated()
	}
	e.size = int64(size)
	copy(e.hash[:], p[1+k:1+k+16])
	r.p = p[1+k+16:]
	e.path = r.cur
	if !validType(e.typ) {
		return e, fmt.Errorf("decoding manifest: %w: entry %q has type %q", errBadManifest, e.path, e.typ)
	}
	r.read++
	return e, nil
}

// end checks that the entries filled the encoding exactly.
func (r *manifestReader) end() error {
	if len(r.p) != 0 {
		return fmt.Errorf("decoding manifest: %w: %d trailing bytes", errBadManifest, len(r.p))
	}
	return nil
}

func validType(t byte) bool {
	return strings.IndexByte("fxl-do", t) >= 0
}
