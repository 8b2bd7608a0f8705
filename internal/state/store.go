// Package state keeps what sysinit remembers between runs — the last success
// of each step, the run history and the stat cache — in one bbolt file per
// config directory, and provides the run lock that lets one refresh at a time
// write to it.
//
// The bbolt file is opened for one transaction at a time and closed again,
// never held for a Store's lifetime: bbolt flocks the file for as long as it
// is open (exclusively when writable), so a long refresh holding it would
// block `sysinit plan`. Reads take a shared flock, writes an exclusive one for
// the length of one transaction.
//
// A store that cannot be read is never a reason to skip work: a read-write
// Store moves it aside and starts empty, a read-only Store leaves it alone and
// behaves as empty; either way every step runs. The successes a read-write
// Store recorded before it found the damage are not lost with the old file:
// it writes them again into the fresh one.
//
// The files live in a directory of sysinit's own (see PrivateDir) and are
// never opened through a symbolic link; a new store file appears only once
// fully initialised, so a full disk leaves no half-written store behind.
package state

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the layout this code reads and writes. A store with any
// other version is unreadable to it.
const schemaVersion = 1

// openTimeout bounds the wait for another process's bbolt flock. Writers hold
// it for one transaction only, so expiring means something else holds the
// file open.
const openTimeout = 10 * time.Second

var (
	bucketMeta  = []byte("meta")
	bucketSteps = []byte("steps")
	// bucketUnfinished marks the steps a run started and did not finish
	// (see Store.Start).
	bucketUnfinished = []byte("unfinished")
	bucketManifests  = []byte("manifests")
	bucketDurations  = []byte("durations")
	bucketRuns       = []byte("runs")
	bucketCache      = []byte("cache")
	bucketResults    = []byte("results")

	keySchema    = []byte("schema")
	keyStatCache = []byte("stat")
)

// Path returns the store file of a config:
// <cache>/sysinit/config-<hash>.db, where cache is $XDG_CACHE_HOME or
// $HOME/.cache (read through getenv; see BaseDir for what root refuses) and
// hash a short digest of the config's identity (device, inode, file name)
// and of nothing else, not even the directory's name as reached (a bind
// mount or a case variant has its own): every path to one repo finds the
// same store, and two checkouts with the same name never share one.
func Path(getenv func(string) string, cfg ConfigID) (string, error) {
	cache, err := BaseDir(getenv, "XDG_CACHE_HOME", ".cache")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte("config " + cfg.Key()))
	return filepath.Join(cache, "sysinit", "config-"+hex.EncodeToString(sum[:6])+".db"), nil
}

// LegacyPath is where sysinit kept the store of a config before stores
// were named by the config's identity: by a digest of its path, configDir
// (a directory, or a file of another name than the usual), so that an
// upgrade can find it and move it to Path.
func LegacyPath(getenv func(string) string, configDir string) (string, error) {
	cache, err := BaseDir(getenv, "XDG_CACHE_HOME", ".cache")
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(configDir)
	if err != nil {
		return "", fmt.Errorf("resolving config directory %s: %w", configDir, err)
	}
	sum := sha256.Sum256([]byte(abs))
	base := filepath.Base(abs)
	if base == string(filepath.Separator) {
		base = "root"
	}
	return filepath.Join(cache, "sysinit", base+"-"+hex.EncodeToString(sum[:6])+".db"), nil
}

// Options configures Open.
type Options struct {
	// ReadOnly is for plan, why and history: the Store never creates, writes,
	// moves or write-locks anything, and its write methods return an error.
	ReadOnly bool
	// Warn is called with a lowercase message when an unreadable store is
	// moved aside (read-write) or ignored (read-only). It may be nil. It is
	// called with the Store busy, so it must not call the Store.
	Warn func(msg string)
	// Owner, when set, binds the records to this machine, user and config:
	// records written by another owner read as absent, and the first write
	// drops them. Nil reads and keeps whatever the store holds.
	Owner *Owner
}

// Store is the state of one config directory. Its methods are safe for
// concurrent use.
type Store struct {
	path    string
	opts    Options
	timeout time.Duration

	// mu orders this process's opens of the file: two opens in one process
	// conflict on flock like two processes do, and bbolt resolves that by
	// polling every 50ms.
	mu      sync.RWMutex
	asideMu sync.Mutex

	ignored       atomic.Bool // read-only: the file was unreadable, behave as empty
	closed        atomic.Bool
	foreignWarned atomic.Bool
	verdict       ownerVerdict
	dirOK         atomic.Bool // the store's directory passed CheckDir

	// puts are the successes this Store recorded, by step, to write again
	// into a fresh file if the old one turns out damaged (movedAside).
	putsMu     sync.Mutex
	puts       map[string]put
	movedAside atomic.Bool
}

type put struct {
	rec      Record
	manifest []byte
}

// Open returns the store at path. It touches nothing on disk: the file is
// opened by each operation, and created by the first write.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("opening state store: empty path")
	}
	return &Store{path: path, opts: opts, timeout: openTimeout}, nil
}

// Close makes further operations fail. The file is not held open between
// operations, so there is nothing to release.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// corruptError marks a store as unreadable, as opposed to an error of the
// environment (permissions, a lock held, a full disk) that moving the file
// aside would not fix.
type corruptError struct {
	err  error
	info os.FileInfo // the file found unreadable, when known
}

func (e *corruptError) Error() string { return e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

func corrupt(format string, args ...any) error {
	return &corruptError{err: fmt.Errorf(format, args...)}
}

// view runs fn in a read transaction. It does not call fn when there is
// nothing to read: no file, an empty file, or an unreadable one (after
// handling it), so callers start from empty results and assign them only
// when fn completes. When a read-write Store moves a damaged file aside, it
// writes again what it recorded (see withReplay) and reads that instead.
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	if s.closed.Load() {
		return errors.New("reading state store: store is closed")
	}
	moved, err := s.viewOnce(fn)
	if err != nil || !moved {
		return err
	}
	s.putsMu.Lock()
	kept := len(s.puts)
	s.putsMu.Unlock()
	if kept == 0 {
		return nil
	}
	if err := s.update(true, func(*bbolt.Tx) error { return nil }); err != nil {
		return err
	}
	_, err = s.viewOnce(fn)
	return err
}

// viewOnce is view without the replay; moved reports that the file was
// found unreadable and is gone (read-write Stores only).
func (s *Store) viewOnce(fn func(*bbolt.Tx) error) (moved bool, err error) {
	if s.ignored.Load() {
		return false, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkDir(false); err != nil {
		return false, err
	}
	info, err := os.Lstat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading state store: %w", err)
	}
	if !info.Mode().IsRegular() {
		return false, notAFile(s.path, info)
	}
	// A zero-length file was created but never initialised (a crash inside
	// the first write). It holds nothing, and bbolt would have to write to
	// open it.
	if info.Size() == 0 {
		return false, nil
	}
	err = s.transact(true, fn)
	var ce *corruptError
	if errors.As(err, &ce) {
		if ce.info == nil {
			ce.info = info
		}
		return !s.opts.ReadOnly, s.unreadable(ce)
	}
	// Moved aside by a read-write Store since the Stat: as good as missing.
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// update runs fn in a write transaction. With create false, a missing store
// is left missing and fn is not called.
func (s *Store) update(create bool, fn func(*bbolt.Tx) error) error {
	if s.closed.Load() {
		return errors.New("writing state store: store is closed")
	}
	if s.opts.ReadOnly {
		return errors.New("writing state store: opened read-only")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !create {
		if _, err := os.Lstat(s.path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	if err := s.checkDir(true); err != nil {
		return err
	}
	if err := s.initFile(); err != nil {
		return err
	}
	fn = s.claimed(fn)
	err := s.transact(false, s.withReplay(fn))
	var ce *corruptError
	if !errors.As(err, &ce) {
		return err
	}
	if err := s.unreadable(ce); err != nil {
		return err
	}
	if err := s.initFile(); err != nil {
		return err
	}
	// The store is fresh now; a second failure is not the old file's fault.
	err = s.transact(false, s.withReplay(fn))
	if errors.As(err, &ce) {
		return fmt.Errorf("writing fresh state store %s: %w", s.path, err)
	}
	return err
}

// claimed makes fn's writes the owner's: see claim.
func (s *Store) claimed(fn func(*bbolt.Tx) error) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		if err := s.claim(tx); err != nil {
			return err
		}
		return fn(tx)
	}
}

// checkDir checks the store's directory once per Store (see CheckDir); with
// create, it makes it first if missing. Without, a missing one is fine.
func (s *Store) checkDir(create bool) error {
	if s.dirOK.Load() {
		return nil
	}
	dir := filepath.Dir(s.path)
	var err error
	if create {
		err = PrivateDir(filepath.Dir(dir), dir)
	} else if err = CheckDir(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	s.dirOK.Store(true)
	return nil
}

// initFile makes sure the store file exists, initialised: a missing or empty
// one is replaced by a new store built under a temporary name and renamed
// into place, so no reader or later run ever finds one half written (a full
// disk during bbolt's first write would otherwise leave a file that faults
// when read, and is then taken for damage).
func (s *Store) initFile() error {
	info, err := os.Lstat(s.path)
	switch {
	case err == nil && !info.Mode().IsRegular():
		return notAFile(s.path, info)
	case err == nil && info.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("creating state store: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("creating state store: %w", err)
	}
	tmp := s.path + ".new-" + hex.EncodeToString(b[:])
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{
		Timeout: s.timeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag|os.O_EXCL|syscall.O_NOFOLLOW, perm)
		},
	})
	if err == nil {
		err = db.Update(func(tx *bbolt.Tx) error { return checkStore(tx, nil, true) })
		if closeErr := db.Close(); err == nil {
			err = closeErr
		}
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("creating state store %s: %w", s.path, err)
	}
	return nil
}

func notAFile(path string, info fs.FileInfo) error {
	what := "not a regular file"
	if info.Mode()&fs.ModeSymlink != 0 {
		what = "a symbolic link"
	}
	return fmt.Errorf("refusing state store %s: it is %s; remove it and sysinit starts a new one", path, what)
}

// withReplay wraps fn so that, once the Store has moved a damaged file
// aside, the first write into the fresh one also writes again every
// success this Store had recorded.
func (s *Store) withReplay(fn func(*bbolt.Tx) error) func(*bbolt.Tx) error {
	if !s.movedAside.Load() {
		return fn
	}
	return func(tx *bbolt.Tx) error {
		s.putsMu.Lock()
		puts := make([]put, 0, len(s.puts))
		for _, p := range s.puts {
			puts = append(puts, p)
		}
		s.putsMu.Unlock()
		for _, p := range puts {
			if err := putRecord(tx, p.rec, p.manifest); err != nil {
				return fmt.Errorf("recording again the success of step %s: %w", p.rec.Step, err)
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		// Only this goroutine writes (s.mu is held), so no one sets it
		// meanwhile; if the commit fails the next write replays again.
		tx.OnCommit(func() { s.movedAside.Store(false) })
		return nil
	}
}

// transact opens the file, runs fn in one transaction after checking the
// schema, and closes the file. Damage bbolt reports or panics on (including
// faults on the memory map of a truncated file) comes back as a
// *corruptError.
func (s *Store) transact(readOnly bool, fn func(*bbolt.Tx) error) (err error) {
	var (
		file     *os.File
		db       *bbolt.DB
		panicked bool
	)
	opts := &bbolt.Options{
		Timeout:  s.timeout,
		ReadOnly: readOnly,
		// Record the file so it can be closed, releasing its flock, when
		// bbolt panics and db cannot be trusted to close itself.
		// Never through a link, and never creating: initFile does that.
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag&^os.O_CREATE|syscall.O_NOFOLLOW, perm)
			file = f
			return f, err
		},
	}
	err = func() (err error) {
		// A truncated or scribbled file makes bbolt read outside the file
		// through its memory map (SIGBUS) or trip its own assertions.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				panicked = true
				err = corrupt("bbolt panicked: %v", r)
			}
		}()
		db, err = bbolt.Open(s.path, 0o600, opts)
		if err != nil {
			return s.openError(err)
		}
		checked := func(tx *bbolt.Tx) error {
			if err := checkStore(tx, file, !readOnly); err != nil {
				return err
			}
			return fn(tx)
		}
		if readOnly {
			return db.View(checked)
		}
		err = db.Update(checked)
		switch {
		case errors.Is(err, syscall.EFBIG):
			// A scribbled page id makes bbolt write a page far past any
			// real end of file: the file is bad, not the disk.
			return corrupt("writing a page beyond the largest file: %v", err)
		case errors.Is(err, berrors.ErrIncompatibleValue):
			// sysinit never puts a value where it made a bucket, nor
			// the reverse: a flipped flag in a page did.
			return corrupt("a value where a bucket is, or the reverse: %v", err)
		}
		return err
	}()

	var ce *corruptError
	if errors.As(err, &ce) && file != nil {
		if info, statErr := file.Stat(); statErr == nil {
			ce.info = info
		}
	}
	switch {
	case panicked:
		// bbolt's locks may be held by the frame that panicked, so
		// db.Close could deadlock; closing the file drops the flock and
		// leaves the mapping to the process's exit.
		if file != nil {
			if closeErr := file.Close(); closeErr != nil {
				err = errors.Join(err, fmt.Errorf("closing state store: %w", closeErr))
			}
		}
	case db != nil:
		if closeErr := db.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("closing state store %s: %w", s.path, closeErr)
		}
	}
	return err
}

// openError sorts bbolt.Open's errors into "the file is bad" and "the
// environment is".
func (s *Store) openError(err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("opening state store %s: still locked after %s; is another sysinit running?", s.path, s.timeout)
	}
	var pathErr *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pathErr) || errors.As(err, &errno) {
		return notYours("state store", s.path, fmt.Errorf("opening state store: %w", err))
	}
	// ErrInvalid, ErrVersionMismatch, ErrChecksum, "file size too small", …
	return &corruptError{err: err}
}

// checkStore rejects a file this code cannot trust: truncated below what its
// meta page claims (reading it would fault), or of another schema. With
// write set, it stamps the schema into a store that has none yet.
func checkStore(tx *bbolt.Tx, file *os.File, write bool) error {
	if file != nil {
		info, err := file.Stat()
		if err != nil {
			return fmt.Errorf("reading state store: %w", err)
		}
		if info.Size() < tx.Size() {
			return corrupt("truncated: %d bytes, expected at least %d", info.Size(), tx.Size())
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return corrupt("no schema version")
		}
		// Freshly initialised by bbolt: nothing recorded yet.
		if !write {
			return nil
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return fmt.Errorf("creating meta bucket: %w", err)
		}
		return meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
	}
	raw := meta.Get(keySchema)
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return corrupt("bad schema version %q", raw)
	}
	if v > schemaVersion {
		return corrupt("written by a newer sysinit: schema %d, this one reads %d", v, schemaVersion)
	}
	if v != schemaVersion {
		return corrupt("schema %d, this sysinit reads %d", v, schemaVersion)
	}
	return nil
}

// unreadable handles a store found unreadable. Read-only, it warns and
// behaves as empty from now on. Read-write, it moves the file aside (unless
// someone already replaced it) and warns, so the next write starts fresh.
func (s *Store) unreadable(ce *corruptError) error {
	if s.opts.ReadOnly {
		if !s.ignored.Swap(true) {
			s.warn(fmt.Sprintf("state store %s is unreadable (%v); ignoring it: every step will run", s.path, ce.err))
		}
		return nil
	}
	s.asideMu.Lock()
	defer s.asideMu.Unlock()
	// Another Store (or process) may have moved it aside and written a
	// fresh one since we looked: that one is not ours to move.
	if cur, err := os.Stat(s.path); err != nil || (ce.info != nil && !os.SameFile(cur, ce.info)) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checking unreadable state store: %w", err)
		}
		// Gone all the same: what this Store recorded must be written again.
		s.movedAside.Store(true)
		return nil
	}
	aside := fmt.Sprintf("%s.corrupt-%d", s.path, time.Now().Unix())
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s.corrupt-%d-%d", s.path, time.Now().Unix(), i)
	}
	if err := os.Rename(s.path, aside); err != nil {
		return fmt.Errorf("moving aside unreadable state store (%v): %w", ce.err, err)
	}
	s.movedAside.Store(true)
	s.putsMu.Lock()
	kept := len(s.puts)
	s.putsMu.Unlock()
	what := "every step will run"
	if kept > 0 {
		what = fmt.Sprintf("kept what this run recorded (%d steps); every other step will run", kept)
		if kept == 1 {
			what = "kept what this run recorded (1 step); every other step will run"
		}
	}
	if n, err := pruneCorrupt(s.path); err != nil {
		what += fmt.Sprintf("; removing older copies: %v", err)
	} else if n > 0 {
		what += fmt.Sprintf("; removed %d older %s", n, plural(n, "copy", "copies"))
	}
	s.warn(fmt.Sprintf("state store %s was unreadable (%v); moved it to %s; %s", s.path, ce.err, aside, what))
	return nil
}

// keepCorrupt is how many unreadable stores moved aside are kept, newest
// first, for a look at what broke them: a store that keeps breaking (a
// failing disk) must not fill the cache directory run after run.
const keepCorrupt = 3

// pruneCorrupt removes all but the newest keepCorrupt of path's copies
// moved aside (path.corrupt-SECONDS or path.corrupt-SECONDS-N), ordered by
// the time in their names, and returns how many it removed.
func pruneCorrupt(path string) (int, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return 0, err
	}
	type aside struct {
		name     string
		sec, seq int64
	}
	prefix := filepath.Base(path) + ".corrupt-"
	var asides []aside
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		secs, seqs, _ := strings.Cut(stamp, "-")
		sec, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			continue // not a name unreadable() gives
		}
		var seq int64
		if seqs != "" {
			if seq, err = strconv.ParseInt(seqs, 10, 64); err != nil {
				continue
			}
		}
		asides = append(asides, aside{e.Name(), sec, seq})
	}
	if len(asides) <= keepCorrupt {
		return 0, nil
	}
	slices.SortFunc(asides, func(a, b aside) int {
		return cmp.Or(cmp.Compare(b.sec, a.sec), cmp.Compare(b.seq, a.seq))
	})
	var errs []error
	removed := 0
	for _, a := range asides[keepCorrupt:] {
		if err := os.Remove(filepath.Join(filepath.Dir(path), a.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (s *Store) warn(msg string) {
	if s.opts.Warn != nil {
		s.opts.Warn(msg)
	}
}

// clone copies b out of a transaction: bbolt's slices point into its memory
// map, which is gone once the transaction ends.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
