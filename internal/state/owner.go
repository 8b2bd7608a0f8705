package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

var keyOwner = []byte("owner")

// ConfigID identifies a config by what it is, not by the path it was
// reached through: its directory's device and inode, and its file name
// when that is not the usual one (two configs in one directory never share
// records). A bind mount, a symlinked parent, a case variant of the path
// on a case-insensitive filesystem or a macOS firmlink all lead to one
// ConfigID, so every path to a repo reads and writes the same records.
type ConfigID struct {
	Dev, Ino uint64
	Name     string // the config file's name; "" for the usual one
	Path     string // the directory as reached, symlinks resolved
}

// IdentifyConfig stats dir, the directory of a config (name being its
// file's name, or "" for the usual one).
func IdentifyConfig(dir, name string) (ConfigID, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ConfigID{}, fmt.Errorf("identifying config directory: %w", &os.PathError{Op: "stat", Path: dir, Err: err})
	}
	return ConfigID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Name: name, Path: dir}, nil
}

// Key is the stored identity: "dev:ino", or "dev:ino/name".
func (c ConfigID) Key() string {
	k := strconv.FormatUint(c.Dev, 10) + ":" + strconv.FormatUint(c.Ino, 10)
	if c.Name != "" {
		k += "/" + c.Name
	}
	return k
}

// label is the config as a user knows it: its directory, or its file.
func (c ConfigID) label() string {
	if c.Name != "" {
		return filepath.Join(c.Path, c.Name)
	}
	return c.Path
}

// isAt reports whether dir is, now, the directory c identifies. It is
// what tells a second path to the same directory (true) from a directory
// that merely got its inode number after the one recorded was deleted, or
// a repo moved elsewhere (false).
func (c ConfigID) isAt(dir string) bool {
	if dir == c.Path {
		return true
	}
	var st unix.Stat_t
	return unix.Stat(dir, &st) == nil && uint64(st.Dev) == c.Dev && uint64(st.Ino) == c.Ino
}

// maxOwnerPaths bounds the paths a store remembers its config was reached by.
const maxOwnerPaths = 8

// Owner names whose records a store holds: this machine, this user with
// this HOME, and this config. A store copied to another machine, user or
// home, or a file moved into another repository's slot, holds someone
// else's successes; matching them would skip work whose effect is not in
// place here.
type Owner struct {
	Machine string // LocalMachineID
	UID     int
	// Home is $HOME: the same uid with another home (a second account
	// sharing a uid, a container, a store copied along with a home
	// directory) has other dotfiles, profiles and caches.
	Home string
	// User and Host name the owner in messages only: a renamed host or
	// account is still the same machine and uid.
	User, Host string
	Config     ConfigID
}

// LocalOwner is the owner a run here makes: this machine, the effective
// user, $HOME as getenv reads it, and cfg. It starts no process.
func LocalOwner(getenv func(string) string, cfg ConfigID) Owner {
	host, _ := os.Hostname()
	uid := os.Geteuid()
	name := getenv("USER")
	if name == "" {
		name = "uid " + strconv.Itoa(uid)
	}
	return Owner{Machine: LocalMachineID(), UID: uid, Home: getenv("HOME"), User: name, Host: host, Config: cfg}
}

// storedOwner is an owner as a store holds it. Stores written before
// owners held a HOME and a ConfigID have config=PATH instead of id= and
// path= lines (legacy), and no home, user or host.
type storedOwner struct {
	machine, uid, home, user, host string
	hasHome                        bool
	id                             string
	paths                          []string
	legacy                         string // config=PATH of the old form
}

func parseOwner(b []byte) storedOwner {
	var so storedOwner
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "machine":
			so.machine = v
		case "uid":
			so.uid = v
		case "home":
			so.home, so.hasHome = v, true
		case "user":
			so.user = v
		case "host":
			so.host = v
		case "id":
			so.id = v
		case "path":
			so.paths = append(so.paths, v)
		case "config":
			so.legacy = v
		}
	}
	return so
}

// encode is the stored form of o, remembering the paths in seen as well
// as o's own (most recent last, at most maxOwnerPaths).
func (o Owner) encode(seen []string) []byte {
	paths := slices.DeleteFunc(slices.Clone(seen), func(p string) bool { return p == o.Config.Path })
	paths = append(paths, o.Config.Path)
	if len(paths) > maxOwnerPaths {
		paths = paths[len(paths)-maxOwnerPaths:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "machine=%s\nuid=%d\nhome=%s\nuser=%s\nhost=%s\nid=%s", o.Machine, o.UID, o.Home, o.User, o.Host, o.Config.Key())
	for _, p := range paths {
		b.WriteString("\npath=" + p)
	}
	return []byte(b.String())
}

// String is the stored form of a store this owner writes first.
func (o Owner) String() string { return string(o.encode(nil)) }

// sameHome reports whether two HOME values name one directory: equal once
// cleaned, or both there and the same inode (/home/me and a symlink to it).
func sameHome(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// differs says why the stored owner is not o ("" when it is o), as the
// user should read it: "the state store belongs to alice@lv426 (HOME
// /Users/alice): another machine, HOME /Users/alice".
func (o Owner) differs(stored []byte) string {
	so := parseOwner(stored)
	var what []string
	if so.machine != o.Machine {
		what = append(what, "another machine")
	}
	if so.uid != strconv.Itoa(o.UID) {
		what = append(what, "uid "+so.uid)
	}
	// A store written before owners held a HOME is adopted on this point
	// (the upgrade keeps its records); it then gets this HOME.
	if so.hasHome && !sameHome(so.home, o.Home) {
		what = append(what, "HOME "+so.home)
	}
	if c := o.configDiffers(so); c != "" {
		what = append(what, c)
	}
	if len(what) == 0 {
		return ""
	}
	who := so.user
	if who == "" {
		who = "uid " + so.uid
	}
	if so.host != "" {
		who += "@" + so.host
	}
	if so.hasHome {
		who += " (HOME " + so.home + ")"
	}
	return "the state store belongs to " + who + ": " + strings.Join(what, ", ")
}

// configDiffers says why the stored owner's config is not o's, or "".
// The stored ConfigID must be o's, and one of the paths it was reached by
// must still lead to it: an inode number alone could be a new directory's
// after the recorded one was deleted.
func (o Owner) configDiffers(so storedOwner) string {
	c := o.Config
	if so.id == "" {
		// The old form: config=DIR, or DIR/NAME for another file name.
		dir, name := so.legacy, ""
		if c.Name != "" {
			dir, name = filepath.Dir(so.legacy), filepath.Base(so.legacy)
		}
		if so.legacy != "" && name == c.Name && c.isAt(dir) {
			return ""
		}
		return "config " + so.legacy
	}
	if so.id != c.Key() {
		if len(so.paths) > 0 {
			return "config " + so.paths[len(so.paths)-1]
		}
		return "another config"
	}
	if slices.Contains(so.paths, c.Path) {
		return ""
	}
	for _, p := range so.paths {
		if c.isAt(p) {
			return ""
		}
	}
	last := "its old path"
	if len(so.paths) > 0 {
		last = so.paths[len(so.paths)-1]
	}
	return "config " + last + ", which is no longer " + c.label() + " (moved, or deleted and its inode reused)"
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

// ownerVerdict remembers the last stored owner judged, as every read of
// the store asks and the answer may cost a stat.
type ownerVerdict struct {
	mu     sync.Mutex
	stored []byte
	why    string
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
	if stored == nil {
		return ""
	}
	v := &s.verdict
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stored == nil || !bytes.Equal(v.stored, stored) {
		v.stored, v.why = clone(stored), s.opts.Owner.differs(stored)
	}
	return v.why
}

// claim makes tx's store this owner's before a write: the records,
// manifests, results and stat cache of another owner are dropped (history and
// durations are kept: they describe past runs, not the machine).
func (s *Store) claim(tx *bbolt.Tx) error {
	if s.opts.Owner == nil {
		return nil
	}
	var seen []string
	if why := s.foreign(tx); why != "" {
		for _, b := range [][]byte{bucketSteps, bucketManifests, bucketCache, bucketUnfinished, bucketResults} {
			if tx.Bucket(b) == nil {
				continue
			}
			if err := tx.DeleteBucket(b); err != nil {
				return fmt.Errorf("dropping another owner's records: %w", err)
			}
		}
		s.warn(fmt.Sprintf("state store %s: %s; dropped its records", s.path, why))
	} else if meta := tx.Bucket(bucketMeta); meta != nil {
		seen = parseOwner(meta.Get(keyOwner)).paths
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	want := s.opts.Owner.encode(seen)
	if bytes.Equal(meta.Get(keyOwner), want) {
		return nil
	}
	return meta.Put(keyOwner, want)
}

// warnForeign tells the user, once per Store, that records were ignored.
func (s *Store) warnForeign(why string) {
	if why != "" && !s.foreignWarned.Swap(true) {
		s.warn(fmt.Sprintf("state store %s: %s; ignoring its records: every step runs", s.path, why))
	}
}
