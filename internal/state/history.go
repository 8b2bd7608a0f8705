package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// MaxRuns is how many runs the history keeps; older ones are pruned.
const MaxRuns = 200

// Run is one invocation of sysinit that ran steps, for `sysinit history`.
type Run struct {
	ID          string        `json:"id"`
	Command     string        `json:"cmd"`
	Start       time.Time     `json:"start"`
	Wall        time.Duration `json:"wall"`
	Interrupted bool          `json:"intr,omitempty"`
	Steps       []RunStep     `json:"steps,omitempty"`
}

// RunStep is what became of one step in a Run.
type RunStep struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"dur"`
	// Reasons are the plan's reasons for the step (kind and detail), kept
	// so `history --json` gives them in the shape `plan --json` does.
	// Runs recorded before they were kept have only Reason.
	Reasons []RunReason `json:"why,omitempty"`
	// End is when the step ended: a failure's time. Zero for a step that
	// did not start, and in runs recorded before it was kept (the run's
	// Start stands in).
	End time.Time `json:"end,omitzero"`
}

// RunReason is one reason of the plan's (plan.Reason without its files).
type RunReason struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// AddRun appends r to the history and prunes it to the last MaxRuns runs.
func (s *Store) AddRun(r Run) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("recording run %s: %w", r.ID, err)
	}
	err = s.update(true, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRuns)
		if err != nil {
			return err
		}
		// Keys are a big-endian sequence, so cursor order is run order
		// whatever the clock did between runs.
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		// Count with a cursor: Bucket.Stats does not see this
		// transaction's own writes.
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		if n <= MaxRuns {
			return nil
		}
		// Collect first: deleting under a moving cursor skips keys.
		var old [][]byte
		for k, _ := c.First(); k != nil && len(old) < n-MaxRuns; k, _ = c.Next() {
			old = append(old, clone(k))
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording run %s: %w", r.ID, err)
	}
	return nil
}

// Runs returns up to limit runs, newest first (all of them when limit <= 0).
func (s *Store) Runs(limit int) ([]Run, error) {
	var out []Run
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		var runs []Run
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(runs) < limit); k, v = c.Prev() {
			var r Run
			if err := json.Unmarshal(v, &r); err != nil {
				return corrupt("decoding run %x: %v", k, err)
			}
			runs = append(runs, r)
		}
		out = runs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading run history: %w", err)
	}
	return out, nil
}

// EachRun calls fn with each run, newest first, until fn returns false: a
// reader that needs only the latest runs decodes no more than those. fn
// runs inside the read and must not call the Store.
func (s *Store) EachRun(fn func(Run) bool) error {
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r Run
			if err := json.Unmarshal(v, &r); err != nil {
				return corrupt("decoding run %x: %v", k, err)
			}
			if !fn(r) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading run history: %w", err)
	}
	return nil
}
