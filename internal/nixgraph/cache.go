package nixgraph

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/zeebo/xxh3"
)

// factsVersion names the rules that turn a file into references. Bump it
// whenever the lexer or extractor changes what it finds: a cache written
// under other rules is then dropped rather than trusted.
const factsVersion = 4

const cacheMagic = "nixgraph"

// cacheKey is a content hash and whether the content is a symlink target.
type cacheKey struct {
	sum     Sum
	symlink bool
}

type cacheEntry struct {
	refs []ref
	used bool
}

// Cache holds each file's references by content hash, so an unchanged file
// is neither parsed nor, when the FileSource knows its Sum, read. It is
// safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	hits    int
	misses  int
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{entries: map[cacheKey]*cacheEntry{}} }

func (c *Cache) get(k cacheKey) ([]ref, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	e.used = true
	return e.refs, true
}

func (c *Cache) put(k cacheKey, refs []ref) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[k] = &cacheEntry{refs: refs, used: true}
}

// Len returns the number of contents the cache knows.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Stats returns how many look-ups found their content and how many did not
// since the cache was made or loaded.
func (c *Cache) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Prune drops the contents no analysis used since the cache was made or
// loaded, so that old versions of files do not pile up. Call it after
// analysing every configuration that shares the cache.
func (c *Cache) Prune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if !e.used {
			delete(c.entries, k)
		}
	}
}

// Marshal encodes the cache: a header naming the format and the rules'
// version, the entries in a stable order, and a checksum.
func (c *Cache) Marshal() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]cacheKey, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if d := bytes.Compare(keys[i].sum[:], keys[j].sum[:]); d != 0 {
			return d < 0
		}
		return !keys[i].symlink && keys[j].symlink
	})
	out := append([]byte(nil), cacheMagic...)
	out = binary.LittleEndian.AppendUint32(out, factsVersion)
	out = binary.AppendUvarint(out, uint64(len(keys)))
	str := func(s string) {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	for _, k := range keys {
		out = append(out, k.sum[:]...)
		var flags byte
		if k.symlink {
			flags = 1
		}
		out = append(out, flags)
		refs := c.entries[k].refs
		out = binary.AppendUvarint(out, uint64(len(refs)))
		for _, r := range refs {
			var code byte
			if r.Code {
				code = 1
			}
			out = append(out, byte(r.Kind), code)
			out = binary.AppendUvarint(out, uint64(r.Line))
			str(r.Text)
			str(r.Suffix)
			str(r.Construct)
			str(r.Attr)
			str(r.Tail)
			str(r.Scope)
			str(r.Owner)
		}
	}
	return binary.LittleEndian.AppendUint64(out, xxh3.Hash(out))
}

// CacheError is cache data that cannot be decoded.
type CacheError struct{ Msg string }

func (e *CacheError) Error() string { return "decoding nix graph cache: " + e.Msg }

// UnmarshalCache decodes what Marshal wrote. Data written under other
// rules (another factsVersion) gives an empty cache and no error: the next
// analysis reads and parses every file again. Corrupt data is an error.
func UnmarshalCache(data []byte) (*Cache, error) {
	c := NewCache()
	if len(data) < len(cacheMagic)+4+8 || string(data[:len(cacheMagic)]) != cacheMagic {
		return nil, &CacheError{"not a nix graph cache"}
	}
	body := data[:len(data)-8]
	if xxh3.Hash(body) != binary.LittleEndian.Uint64(data[len(body):]) {
		return nil, &CacheError{"checksum mismatch"}
	}
	if binary.LittleEndian.Uint32(body[len(cacheMagic):]) != factsVersion {
		return c, nil
	}
	d := decoder{buf: body[len(cacheMagic)+4:]}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		var k cacheKey
		copy(k.sum[:], d.bytes(16))
		k.symlink = d.byte() == 1
		nr := d.uvarint()
		if nr > uint64(len(d.buf)) {
			d.fail("reference count %d beyond the data", nr)
			break
		}
		refs := make([]ref, 0, nr)
		for j := uint64(0); j < nr && d.err == nil; j++ {
			var r ref
			r.Kind = refKind(d.byte())
			r.Code = d.byte() == 1
			r.Line = int32(d.uvarint())
			r.Text = d.str()
			r.Suffix = d.str()
			r.Construct = d.str()
			r.Attr = d.str()
			r.Tail = d.str()
			r.Scope = d.str()
			r.Owner = d.str()
			if r.Kind > refLetUse {
				d.fail("unknown reference kind %d", r.Kind)
			}
			refs = append(refs, r)
		}
		c.entries[k] = &cacheEntry{refs: refs}
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d bytes after the last entry", len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &CacheError{fmt.Sprintf(format, args...)}
	}
	d.buf = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if len(d.buf) < n {
		d.fail("truncated")
		return make([]byte, n)
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) byte() byte { return d.bytes(1)[0] }

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("string of %d bytes beyond the data", n)
		return ""
	}
	return string(d.bytes(int(n)))
}

var errTooBig = errors.New("file too large to analyse")
