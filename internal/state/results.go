package state

import (
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// maxResults is how many results are kept per step: enough to go back a
// few edits, or to a few branches, without the store growing with every
// success.
const maxResults = 16

// Result is one success of a step kept by its inputs: a later run whose
// inputs and definition are these again may go back to Token instead of
// doing the work (a revert, a branch built before).
type Result struct {
	InputsDigest     string
	DefinitionDigest string
	Token            string
	Label            string // what the step called it: "generation 12"
	Started          time.Time
	RunID            string
	Export           string // the success's step.Outcome.Export
}

// storedResult is Result as stored, in a list per step, oldest first.
type storedResult struct {
	InputsDigest     string    `json:"ind"`
	DefinitionDigest string    `json:"defd"`
	Token            string    `json:"tok"`
	Label            string    `json:"label,omitempty"`
	Started          time.Time `json:"start"`
	RunID            string    `json:"run,omitempty"`
	Export           string    `json:"exp,omitempty"`
}

// Results returns the kept results of step, oldest first. It is read only
// when a step's inputs changed, never on the no-change path.
func (s *Store) Results(step string) ([]Result, error) {
	if err := checkStep(step); err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	var out []Result
	err := s.view(func(tx *bbolt.Tx) error {
		if s.foreign(tx) != "" {
			return nil
		}
		b := tx.Bucket(bucketResults)
		if b == nil {
			return nil
		}
		list, err := decodeResults(b.Get([]byte(step)))
		if err != nil {
			return corrupt("decoding results of step %q: %v", step, err)
		}
		for _, r := range list {
			out = append(out, Result(r))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading results of step %s: %w", step, err)
	}
	return out, nil
}

func decodeResults(v []byte) ([]storedResult, error) {
	if v == nil {
		return nil, nil
	}
	var list []storedResult
	// Unmarshal copies strings out of v.
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// putResult adds r's result to its step's list: a result of the same
// inputs and definition is replaced, and only the newest maxResults stay.
func putResult(tx *bbolt.Tx, r Record) error {
	b, err := tx.CreateBucketIfNotExists(bucketResults)
	if err != nil {
		return err
	}
	key := []byte(r.Step)
	list, err := decodeResults(b.Get(key))
	if err != nil {
		return corrupt("decoding results of step %s: %v", r.Step, err)
	}
	kept := list[:0]
	for _, e := range list {
		if e.InputsDigest != r.InputsDigest || e.DefinitionDigest != r.DefinitionDigest {
			kept = append(kept, e)
		}
	}
	kept = append(kept, storedResult{
		InputsDigest:     r.InputsDigest,
		DefinitionDigest: r.DefinitionDigest,
		Token:            r.Token,
		Label:            r.Label,
		Started:          r.Started,
		RunID:            r.RunID,
		Export:           r.Export,
	})
	if len(kept) > maxResults {
		kept = kept[len(kept)-maxResults:]
	}
	v, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}
