package nixgraph

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zeebo/xxh3"
)

// Sum is the xxh3-128 hash of a file's content, or of a symlink's target:
// the same value as fingerprint.Sum, so a caller can hand over the hashes
// its stat cache already holds.
type Sum [16]byte

// String returns the sum in hex.
func (s Sum) String() string { return hex.EncodeToString(s[:]) }

// SumOf hashes content the way Sum is defined.
func SumOf(content []byte) Sum { return Sum(xxh3.Hash128(content).Bytes()) }

// File is what a FileSource reads of a tracked file.
type File struct {
	Data    []byte // the content of a regular file
	Symlink bool   // the file is a symlink
	Target  string // a symlink's target, as stored in the link
}

// Stat is what the analysis asks of every file it reaches.
type Stat struct {
	Symlink bool // a symlink: the analysis follows it to its target
	// Sum is the file's content hash (a symlink's: its target's text) when
	// the caller already holds it, as a stat cache does; HaveSum says so.
	// It must describe the file as it is now: a stale one makes the
	// analysis use another content's references.
	Sum     Sum
	HaveSum bool
}

// FileSource gives the analysis the files of the tree. Paths are
// slash-separated and relative to the root of the source tree Nix copies
// (the top of the git work tree).
type FileSource interface {
	// Stat is called for every reached file; it should be cheap (an lstat,
	// or a look-up in what the caller already scanned).
	Stat(path string) (Stat, error)
	// Read returns the file. It is called only for Nix files whose
	// references are not in the cache under their Sum.
	Read(path string) (File, error)
}

// DirSource reads files from a directory on disk. It knows no sums, so
// every Nix file reached is read.
type DirSource struct {
	Root string
}

// Stat lstats root/path.
func (d DirSource) Stat(path string) (Stat, error) {
	fi, err := os.Lstat(filepath.Join(d.Root, filepath.FromSlash(path)))
	if err != nil {
		return Stat{}, err
	}
	return Stat{Symlink: fi.Mode()&fs.ModeSymlink != 0}, nil
}

// Read reads root/path without following a final symlink.
func (d DirSource) Read(path string) (File, error) {
	p := filepath.Join(d.Root, filepath.FromSlash(path))
	fi, err := os.Lstat(p)
	if err != nil {
		return File{}, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return File{}, err
		}
		return File{Symlink: true, Target: filepath.ToSlash(t)}, nil
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(p)
		if err != nil {
			return File{}, err
		}
		return File{Data: data}, nil
	}
	return File{}, fmt.Errorf("%s is not a regular file or a symlink", path)
}
