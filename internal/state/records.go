package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// maxDurations is how many successful durations are kept per step for the
// progress ETA.
const maxDurations = 32

// Record is the last success of one step.
type Record struct {
	Step             string
	Definition       []string // the step's definition lines ("key=value"), so `why` can name what changed
	DefinitionDigest string
	InputsDigest     string
	Token            string        // the probe token recorded after success (an out path, a file hash)
	Started          time.Time     // start of the successful run
	Duration         time.Duration // how long the successful run took
	RunID            string
	// Due is when the step last did what its schedule asks (`every` counts
	// from here): the start of a success, except one that did only what
	// changed inputs needed (a flake-update that locked without updating),
	// which keeps the time of the one before. Zero in records written
	// before it existed: Started is then taken.
	Due time.Time
	// KeepResult also keeps Token among the step's results, by its inputs
	// and definition, for a later run with the same ones to go back to
	// (see Results). Label names it there ("generation 12").
	KeepResult bool
	Label      string
	// Export is what the run found for other steps of the config to take
	// (see step.Outcome.Export); kept with the result too.
	Export string
}

// DueBase is when the step's time-to-live counts from.
func (r Record) DueBase() time.Time {
	if r.Due.IsZero() {
		return r.Started
	}
	return r.Due
}

// storedRecord is Record as stored: the step name is the key.
type storedRecord struct {
	Definition       []string      `json:"def,omitempty"`
	DefinitionDigest string        `json:"defd"`
	InputsDigest     string        `json:"ind"`
	Token            string        `json:"tok,omitempty"`
	Started          time.Time     `json:"start"`
	Duration         time.Duration `json:"dur"`
	RunID            string        `json:"run,omitempty"`
	Due              time.Time     `json:"due,omitzero"`
	Export           string        `json:"exp,omitempty"`
}

func checkStep(step string) error {
	if step == "" {
		return errors.New("empty step name")
	}
	if len(step) > bbolt.MaxKeySize {
		return fmt.Errorf("step name of %d bytes is too long", len(step))
	}
	return nil
}

// Records returns the last success of every step that has one. It reads no
// manifests, so it stays cheap on the no-change path.
func (s *Store) Records() (map[string]Record, error) {
	var out map[string]Record
	err := s.view(func(tx *bbolt.Tx) error {
		m := make(map[string]Record)
		if why := s.foreign(tx); why != "" {
			s.warnForeign(why)
			out = m
			return nil
		}
		if b := tx.Bucket(bucketSteps); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				var sr storedRecord
				// Unmarshal copies strings out of v.
				if err := json.Unmarshal(v, &sr); err != nil {
					return corrupt("decoding record of step %q: %v", k, err)
				}
				m[string(k)] = Record{
					Step:             string(k),
					Definition:       sr.Definition,
					DefinitionDigest: sr.DefinitionDigest,
					InputsDigest:     sr.InputsDigest,
					Token:            sr.Token,
					Started:          sr.Started,
					Duration:         sr.Duration,
					RunID:            sr.RunID,
					Due:              sr.Due,
					Export:           sr.Export,
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		out = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading step records: %w", err)
	}
	if out == nil {
		out = map[string]Record{}
	}
	return out, nil
}

// Manifest returns the encoded input manifest stored with the last success
// of step, or nil if there is none.
func (s *Store) Manifest(step string) ([]byte, error) {
	return s.get(bucketManifests, []byte(step), "reading manifest of step "+step)
}

// Retire removes the records of steps the config no longer declares (of
// those loaded by Records, the names keep rejects), so that a name that
// comes back starts afresh rather than with a success of long ago. It
// writes only when there is something to remove.
func (s *Store) Retire(records map[string]Record, keep func(step string) bool) error {
	var gone []string
	for name := range records {
		if !keep(name) {
			gone = append(gone, name)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return s.Forget(gone...)
}

// Put records a success of r.Step with its input manifest, replacing the
// previous one, and adds r.Duration to the step's durations — all in one
// transaction. A nil manifest removes the stored one, so a stale manifest is
// never paired with a newer record. The Store keeps what it put, to write it
// again should the file be found damaged later in the run.
func (s *Store) Put(r Record, manifest []byte) error {
	if err := checkStep(r.Step); err != nil {
		return fmt.Errorf("recording success: %w", err)
	}
	err := s.update(true, func(tx *bbolt.Tx) error {
		if err := putRecord(tx, r, manifest); err != nil {
			return err
		}
		// Kept as the commit lands, with the store still held, so that no
		// other write can move the file aside between the two.
		tx.OnCommit(func() {
			s.putsMu.Lock()
			defer s.putsMu.Unlock()
			if s.puts == nil {
				s.puts = map[string]put{}
			}
			s.puts[r.Step] = put{rec: r, manifest: manifest}
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording success of step %s: %w", r.Step, err)
	}
	return nil
}

func putRecord(tx *bbolt.Tx, r Record, manifest []byte) error {
	v, err := json.Marshal(storedRecord{
		Definition:       r.Definition,
		DefinitionDigest: r.DefinitionDigest,
		InputsDigest:     r.InputsDigest,
		Token:            r.Token,
		Started:          r.Started,
		Duration:         r.Duration,
		RunID:            r.RunID,
		Due:              r.Due,
		Export:           r.Export,
	})
	if err != nil {
		return err
	}
	key := []byte(r.Step)
	// The run that started the step has finished it.
	if b := tx.Bucket(bucketUnfinished); b != nil {
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	steps, err := tx.CreateBucketIfNotExists(bucketSteps)
	if err != nil {
		return err
	}
	if err := steps.Put(key, v); err != nil {
		return err
	}
	manifests, err := tx.CreateBucketIfNotExists(bucketManifests)
	if err != nil {
		return err
	}
	if manifest == nil {
		err = manifests.Delete(key)
	} else {
		err = manifests.Put(key, manifest)
	}
	if err != nil {
		return err
	}
	if r.KeepResult && r.InputsDigest != "" && r.Token != "" {
		if err := putResult(tx, r); err != nil {
			return err
		}
	}
	durations, err := tx.CreateBucketIfNotExists(bucketDurations)
	if err != nil {
		return err
	}
	list, err := decodeDurations(durations.Get(key))
	if err != nil {
		return corrupt("decoding durations of step %s: %v", r.Step, err)
	}
	list = append(list, max(r.Duration, 0))
	if len(list) > maxDurations {
		list = list[len(list)-maxDurations:]
	}
	return durations.Put(key, encodeDurations(list))
}

// Forget removes the last success (and manifest and results) of each step,
// so each runs next time, in full. Durations are history and stay.
func (s *Store) Forget(steps ...string) error {
	for _, step := range steps {
		if err := checkStep(step); err != nil {
			return fmt.Errorf("forgetting steps: %w", err)
		}
	}
	err := s.update(false, func(tx *bbolt.Tx) error {
		for _, name := range []([]byte){bucketSteps, bucketManifests, bucketUnfinished, bucketResults} {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			for _, step := range steps {
				if err := b.Delete([]byte(step)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forgetting steps: %w", err)
	}
	s.putsMu.Lock()
	for _, step := range steps {
		delete(s.puts, step)
	}
	s.putsMu.Unlock()
	return nil
}

// ForgetAll removes every step's last success, manifest and results.
// History, durations and the stat cache stay.
func (s *Store) ForgetAll() error {
	err := s.update(false, func(tx *bbolt.Tx) error {
		for _, name := range []([]byte){bucketSteps, bucketManifests, bucketUnfinished, bucketResults} {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forgetting all steps: %w", err)
	}
	s.putsMu.Lock()
	s.puts = nil
	s.putsMu.Unlock()
	return nil
}

// StatCache returns the stored stat cache, or nil if there is none.
func (s *Store) StatCache() ([]byte, error) {
	return s.get(bucketCache, keyStatCache, "reading stat cache")
}

// PutStatCache replaces the stored stat cache; nil removes it.
func (s *Store) PutStatCache(blob []byte) error {
	err := s.update(true, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCache)
		if err != nil {
			return err
		}
		if blob == nil {
			return b.Delete(keyStatCache)
		}
		return b.Put(keyStatCache, blob)
	})
	if err != nil {
		return fmt.Errorf("writing stat cache: %w", err)
	}
	return nil
}

// get returns a copy of one value, or nil.
func (s *Store) get(bucket, key []byte, doing string) ([]byte, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("%s: empty key", doing)
	}
	var out []byte
	err := s.view(func(tx *bbolt.Tx) error {
		if s.foreign(tx) != "" {
			return nil // another owner's manifests and stat cache
		}
		if b := tx.Bucket(bucket); b != nil {
			out = clone(b.Get(key))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return out, nil
}

// Durations returns up to n of the most recent successful durations of
// step, newest first (all kept ones when n <= 0).
func (s *Store) Durations(step string, n int) ([]time.Duration, error) {
	var out []time.Duration
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDurations)
		if b == nil {
			return nil
		}
		list, err := decodeDurations(b.Get([]byte(step)))
		if err != nil {
			return corrupt("decoding durations of step %s: %v", step, err)
		}
		if n > 0 && len(list) > n {
			list = list[len(list)-n:]
		}
		for i := len(list) - 1; i >= 0; i-- {
			out = append(out, list[i])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading durations of step %s: %w", step, err)
	}
	return out, nil
}

// encodeDurations packs durations, oldest first, as uvarint nanoseconds.
func encodeDurations(list []time.Duration) []byte {
	buf := make([]byte, 0, len(list)*binary.MaxVarintLen64)
	for _, d := range list {
		buf = binary.AppendUvarint(buf, uint64(d))
	}
	return buf
}

func decodeDurations(b []byte) ([]time.Duration, error) {
	var list []time.Duration
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<63-1 {
			return nil, errors.New("bad varint")
		}
		list = append(list, time.Duration(v))
		b = b[n:]
	}
	return list, nil
}

// Start marks step as started by run, before it runs: until a success of
// it is recorded (Put clears the mark), its last record cannot be trusted
// to describe the machine — the run may have changed it half way and then
// failed, or been killed, and its inputs may go back to what the record
// holds. Records' second map holds the marks.
func (s *Store) Start(step, run string) error {
	if err := checkStep(step); err != nil {
		return fmt.Errorf("marking a run: %w", err)
	}
	err := s.update(true, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUnfinished)
		if err != nil {
			return err
		}
		return b.Put([]byte(step), []byte(run))
	})
	if err != nil {
		return fmt.Errorf("marking step %s as started: %w", step, err)
	}
	return nil
}

// Unfinished returns, by step, the run that started it and did not record
// a success: it failed, was interrupted or was killed.
func (s *Store) Unfinished() (map[string]string, error) {
	out := map[string]string{}
	err := s.view(func(tx *bbolt.Tx) error {
		if s.foreign(tx) != "" {
			return nil
		}
		if b := tx.Bucket(bucketUnfinished); b != nil {
			return b.ForEach(func(k, v []byte) error {
				out[string(k)] = string(v)
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading unfinished runs: %w", err)
	}
	return out, nil
}
