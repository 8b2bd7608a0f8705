package state

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// The nix import graph's cache: the references found in each Nix file, by
// content hash (package nixgraph encodes it), so that a refresh in which
// nothing changed parses no file. Like the stat cache it only saves work:
// losing it costs a parse of the files, never a wrong decision.
var (
	bucketGraph = []byte("nixgraph")
	keyEdges    = []byte("edges")
)

// Caches returns the stored stat cache and nix graph cache, each nil when
// there is none, read in one transaction: the no-change path opens the
// store as few times as it can.
func (s *Store) Caches() (stat, graph []byte, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		if s.foreign(tx) != "" {
			return nil // another owner's caches
		}
		if b := tx.Bucket(bucketCache); b != nil {
			stat = clone(b.Get(keyStatCache))
		}
		if b := tx.Bucket(bucketGraph); b != nil {
			graph = clone(b.Get(keyEdges))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading caches: %w", err)
	}
	return stat, graph, nil
}

// GraphCache returns the stored nix graph cache, or nil if there is none.
func (s *Store) GraphCache() ([]byte, error) {
	return s.get(bucketGraph, keyEdges, "reading nix graph cache")
}

// PutGraphCache replaces the stored nix graph cache; nil removes it.
func (s *Store) PutGraphCache(blob []byte) error {
	err := s.update(true, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketGraph)
		if err != nil {
			return err
		}
		if blob == nil {
			return b.Delete(keyEdges)
		}
		return b.Put(keyEdges, blob)
	})
	if err != nil {
		return fmt.Errorf("writing nix graph cache: %w", err)
	}
	return nil
}
