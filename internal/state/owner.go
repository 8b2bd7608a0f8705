package state

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.etcd.io/bbolt"
)

var keyOwner = []byte("owner")

// Owner names whose records a store holds: this machine, this user and
// this config. A store copied to another machine or home, or a file moved
// into another repository's slot, holds someone else's successes; matching
// them would skip work whose effect is not in place here.
type Owner struct {
	Machine string // LocalMachineID
	UID     int
	Config  string // the config's state key (its real directory or file)
}

// String is the stored form.
func (o Owner) String() string {
	return "machine=" + o.Machine + "\nuid=" + strconv.Itoa(o.UID) + "\nconfig=" + o.Config
}

// differs names what differs between the stored owner and o.
func (o Owner) differs(stored []byte) string {
	var what []string
	for _, line := range strings.Split(string(stored), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch {
		case k == "machine" && v != o.Machine:
			what = append(what, "another machine")
		case k == "uid" && v != strconv.Itoa(o.UID):
			what = append(what, "user "+v)
		case k == "config" && v != o.Config:
			what = append(what, "config "+v)
		}
	}
	if len(what) == 0 {
		return "another owner"
	}
	return strings.Join(what, ", ")
}

// LocalMachineID identifies this machine: systemd's machine id on Linux,
// the host UUID on macOS, the host name where neither exists. It reads a
// file or asks the kernel; it starts no process.
func LocalMachineID() string {
	if id := platformMachineID(); id != "" {
		return id
	}
	for _, f := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(f); err == nil {
			if id := string(bytes.TrimSpace(b)); id != "" {
				return id
			}
		}
	}
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return "host:" + h
}

// foreign reports why the records in tx are not this store's owner's, or
// "" when they are (or the store predates owners, and is adopted).
func (s *Store) foreign(tx *bbolt.Tx) string {
	if s.opts.Owner == nil {
		return ""
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return ""
	}
	stored := meta.Get(keyOwner)
	if stored == nil || string(stored) == s.opts.Owner.String() {
		return ""
	}
	return s.opts.Owner.differs(stored)
}

// claim makes tx's store this owner's before a write: the records,
// manifests, results and stat cache of another owner are dropped (history and
// durations are kept: they describe past runs, not the machine).
func (s *Store) claim(tx *bbolt.Tx) error {
	if s.opts.Owner == nil {
		return nil
	}
	if why := s.foreign(tx); why != "" {
		for _, b := range [][]byte{bucketSteps, bucketManifests, bucketCache, bucketUnfinished, bucketResults} {
			if tx.Bucket(b) == nil {
				continue
			}
			if err := tx.DeleteBucket(b); err != nil {
				return fmt.Errorf("dropping another owner's records: %w", err)
			}
		}
		s.warn(fmt.Sprintf("state store %s held the records of %s; dropped them", s.path, why))
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if bytes.Equal(meta.Get(keyOwner), []byte(s.opts.Owner.String())) {
		return nil
	}
	return meta.Put(keyOwner, []byte(s.opts.Owner.String()))
}

// warnForeign tells the user, once per Store, that records were ignored.
func (s *Store) warnForeign(why string) {
	if why != "" && !s.foreignWarned.Swap(true) {
		s.warn(fmt.Sprintf("state store %s holds the records of %s (copied or moved?); ignoring them: every step runs", s.path, why))
	}
}
