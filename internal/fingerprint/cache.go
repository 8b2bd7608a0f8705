package fingerprint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// Cache is the stat cache: for each path, the (dev, inode, mode, size, mtime,
// ctime) it had when its content was hashed, and that hash. A Scan reuses a
// hash only when all six match, and stores a hash only when the file was last
// modified comfortably before the scan began (see racyWindow). It also
// keeps, under keys that start with a NUL and so sort before every path,
// whether each store path an input links to holds a way out of the store
// (store.go), keyed by that store path's stat.
//
// Beside the files it keeps directory listings (dirs.go): the entries of
// each directory a Scan listed, with the directory's stat when it was read.
//
// The encoding is the in-memory form: a header, fixed-size records sorted by
// path, a string table, the directory table, and a checksum. LoadCache checks
// it and reads records in place, so loading costs one pass over the bytes, not
// a decode per entry.
//
// A Cache is not safe for concurrent use. The zero value is an empty cache.
type Cache struct {
	n       int
	recs    []byte // n records of recSize bytes
	strs    []byte // paths, referenced by records
	dirs    dirTable
	changed bool
}

const (
	cacheMagic  = "SIFPC\x00\x00\x02" // last byte: format version
	cacheHeader = 24                  // magic, record count u32, string table length u32, directory count u32, directory data length u32
	cacheSum    = 8                   // xxh3-64 of everything before it
	// Record layout, little-endian: path offset u32, path length u32, dev u64,
	// ino u64, size i64, mtime i64, ctime i64, mode u32, reserved u32, hash [16].
	recSize = 72

	// Version 1 had no directory table (and a 16-byte header); it loads
	// as a cache with no listings.
	cacheMagicV1  = "SIFPC\x00\x00\x01"
	cacheHeaderV1 = 16
)

var errBadCache = errors.New("bad stat cache data")

// LoadCache reads a cache written by MarshalBinary. Empty data gives an empty
// cache; data that is truncated, corrupt or of another version gives an error,
// and the caller should start from an empty cache. The Cache keeps data and
// reads it in place: data must not be modified while the Cache is in use (copy
// it first if it lives in, say, a database page).
func LoadCache(data []byte) (*Cache, error) {
	if len(data) == 0 {
		return &Cache{}, nil
	}
	header := cacheHeader
	switch {
	case len(data) >= cacheHeaderV1+cacheSum && string(data[:8]) == cacheMagicV1:
		header = cacheHeaderV1
	case len(data) < cacheHeader+cacheSum || string(data[:8]) != cacheMagic:
		return nil, fmt.Errorf("loading stat cache: %w: unknown header", errBadCache)
	}
	n := uint64(binary.LittleEndian.Uint32(data[8:]))
	strLen := uint64(binary.LittleEndian.Uint32(data[12:]))
	var nd, dirLen uint64
	if header == cacheHeader {
		nd = uint64(binary.LittleEndian.Uint32(data[16:]))
		dirLen = uint64(binary.LittleEndian.Uint32(data[20:]))
	}
	if uint64(len(data)) != uint64(header)+n*recSize+strLen+nd*dirRecSize+dirLen+cacheSum {
		return nil, fmt.Errorf("loading stat cache: %w: size does not match header", errBadCache)
	}
	body := data[:len(data)-cacheSum]
	if xxh3.Hash(body) != binary.LittleEndian.Uint64(data[len(body):]) {
		return nil, fmt.Errorf("loading stat cache: %w: checksum mismatch", errBadCache)
	}
	at := uint64(header)
	c := &Cache{n: int(n), recs: body[at : at+n*recSize]}
	at += n * recSize
	c.strs = body[at : at+strLen]
	at += strLen
	c.dirs = dirTable{n: int(nd), recs: body[at : at+nd*dirRecSize], data: body[at+nd*dirRecSize:]}
	for i := 0; i < c.n; i++ {
		r := c.recs[i*recSize:]
		off, l := uint64(binary.LittleEndian.Uint32(r)), uint64(binary.LittleEndian.Uint32(r[4:]))
		if l == 0 || off+l > strLen {
			return nil, fmt.Errorf("loading stat cache: %w: record %d points outside the string table", errBadCache, i)
		}
	}
	if err := c.dirs.check(); err != nil {
		return nil, fmt.Errorf("loading stat cache: %w: %v", errBadCache, err)
	}
	return c, nil
}

// MarshalBinary encodes the cache for LoadCache.
func (c *Cache) MarshalBinary() ([]byte, error) {
	if c.n == 0 && c.dirs.n == 0 {
		return nil, nil
	}
	if uint64(len(c.strs)) > math.MaxUint32 || uint64(c.n) > math.MaxUint32 ||
		uint64(len(c.dirs.data)) > math.MaxUint32 || uint64(c.dirs.n) > math.MaxUint32 {
		return nil, fmt.Errorf("encoding stat cache: %d entries, %d bytes of paths, %d bytes of listings: too large", c.n, len(c.strs), len(c.dirs.data))
	}
	out := make([]byte, cacheHeader, cacheHeader+len(c.recs)+len(c.strs)+len(c.dirs.recs)+len(c.dirs.data)+cacheSum)
	copy(out, cacheMagic)
	binary.LittleEndian.PutUint32(out[8:], uint32(c.n))
	binary.LittleEndian.PutUint32(out[12:], uint32(len(c.strs)))
	binary.LittleEndian.PutUint32(out[16:], uint32(c.dirs.n))
	binary.LittleEndian.PutUint32(out[20:], uint32(len(c.dirs.data)))
	out = append(out, c.recs...)
	out = append(out, c.strs...)
	out = append(out, c.dirs.recs...)
	out = append(out, c.dirs.data...)
	return binary.LittleEndian.AppendUint64(out, xxh3.Hash(out)), nil
}

// Changed reports whether a Scan added, updated or dropped entries since the
// cache was loaded, i.e. whether it is worth writing back.
func (c *Cache) Changed() bool { return c.changed }

// Len returns the number of entries.
func (c *Cache) Len() int { return c.n }

func (c *Cache) path(i int) string {
	r := c.recs[i*recSize:]
	off, l := binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:])
	return unsafe.String(&c.strs[off], int(l))
}

func (c *Cache) stat(i int) fileStat {
	return getStat(c.recs[i*recSize+8 : (i+1)*recSize])
}

func (c *Cache) hash(i int) (s Sum) {
	copy(s[:], c.recs[i*recSize+56:(i+1)*recSize])
	return s
}

// cacheBuilder accumulates a new cache in path order.
type cacheBuilder struct {
	recs, strs []byte
	n          int
}

func (b *cacheBuilder) add(path string, st fileStat, sum Sum) {
	var r [recSize]byte
	binary.LittleEndian.PutUint32(r[0:], uint32(len(b.strs)))
	binary.LittleEndian.PutUint32(r[4:], uint32(len(path)))
	putStat(r[8:], st)
	copy(r[56:], sum[:])
	b.recs = append(b.recs, r[:]...)
	b.strs = append(b.strs, path...)
	b.n++
}

// addOld copies record i of c.
func (b *cacheBuilder) addOld(c *Cache, i int) {
	b.add(c.path(i), c.stat(i), c.hash(i))
}

func (b *cacheBuilder) install(c *Cache) {
	c.n, c.recs, c.strs, c.changed = b.n, b.recs, b.strs, true
}

// putStat writes st at r in the records' layout: dev, ino, size, mtime,
// ctime, mode.
func putStat(r []byte, st fileStat) {
	binary.LittleEndian.PutUint64(r[0:], st.dev)
	binary.LittleEndian.PutUint64(r[8:], st.ino)
	binary.LittleEndian.PutUint64(r[16:], uint64(st.size))
	binary.LittleEndian.PutUint64(r[24:], uint64(st.mtime))
	binary.LittleEndian.PutUint64(r[32:], uint64(st.ctime))
	binary.LittleEndian.PutUint32(r[40:], st.mode)
}

// getStat reads what putStat wrote.
func getStat(r []byte) fileStat {
	return fileStat{
		dev:   binary.LittleEndian.Uint64(r[0:]),
		ino:   binary.LittleEndian.Uint64(r[8:]),
		size:  int64(binary.LittleEndian.Uint64(r[16:])),
		mtime: int64(binary.LittleEndian.Uint64(r[24:])),
		ctime: int64(binary.LittleEndian.Uint64(r[32:])),
		mode:  binary.LittleEndian.Uint32(r[40:]),
	}
}
