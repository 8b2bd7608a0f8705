package nix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// nixError is a nix command that failed, with nix's own error message.
type nixError struct {
	Op  string // what sysinit was doing: "building /repo#attr"
	Msg string // nix's error message on one line, without "error: "
	Err error  // the failure, wrapping the *command.ExitError
}

func (e *nixError) Error() string { return e.Op + ": " + e.Msg }
func (e *nixError) Unwrap() error { return e.Err }

// untrackedError is a file the flake imports that git does not track: nix
// copies only tracked files, so it does not exist for nix.
type untrackedError struct {
	Path string // relative to the config directory
	Err  error  // the nix failure
}

func (e *untrackedError) Error() string {
	return e.Path + " is imported by the flake but not tracked by git (nix sees only tracked files): run `git add " + e.Path + "`"
}

func (e *untrackedError) Unwrap() error { return e.Err }

// The forms nix uses for a file missing from the copied source, oldest first.
var (
	// 2.8–2.13: getting status of '/nix/store/…-source/x': No such file or directory
	// 2.14–2.19: path '/nix/store/…-source/x' does not exist
	missingInSourceRE = lazyregexp.New(`(?:getting status of|path) '/[^']*/[0-9a-z]{32}-source/([^']+)'(?:: No such file or directory| does not exist)`)
	// 2.20+: Path 'x' in the repository "/repo" is not tracked by Git.
	notTrackedRE = lazyregexp.New(`[Pp]ath '([^']+)' in the repository "([^"]+)" is not tracked by Git`)
	// 2.20+: access to path '/repo/x' is forbidden because it is not under Git control
	notUnderGitRE = lazyregexp.New(`access to (?:absolute )?path '(/[^']+)' is forbidden because it is not under Git control`)
)

// untrackedPath finds, in nix's stderr, a file missing from the flake's
// source copy, and returns it relative to the repository root.
func untrackedPath(stderr, root string) (string, bool) {
	stderr = command.StripANSI(stderr)
	if m := missingInSourceRE().FindStringSubmatch(stderr); m != nil {
		return m[1], true
	}
	if m := notTrackedRE().FindStringSubmatch(stderr); m != nil {
		rel := m[1]
		if r, err := filepath.Rel(root, filepath.Join(m[2], rel)); err == nil {
			rel = filepath.ToSlash(r)
		}
		return rel, true
	}
	if m := notUnderGitRE().FindStringSubmatch(stderr); m != nil {
		if r, err := filepath.Rel(root, m[1]); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r), true
		}
	}
	return "", false
}

// The forms nix uses for a flake.lock it cannot read because a newer Nix
// wrote it.
var (
	// every version: lock file '/nix/store/…-source//flake.lock' has unsupported version 8
	lockVersionRE = lazyregexp.New(`lock file '([^']*)' has unsupported version (\d+)`)
	// 2.8, of a relative path input as Nix 2.26 and later lock it (no
	// narHash, a "parent"): lockfile contains mutable lock '{"path":"./sub","type":"path"}'
	mutableLockRE = lazyregexp.New(`lockfile contains mutable lock '([^']*)'`)
	// 2.8, whose tarball scheme takes only type, url, narHash and name, of
	// a tarball input locked as newer Nix locks one served by the lockable
	// tarball protocol (FlakeHub, nixos.org's channel tarballs), with
	// lastModified, rev and revCount: unsupported tarball input attribute
	// 'lastModified'. Another name is a URL's own query, which nix's
	// message describes well enough.
	tarballAttrRE = lazyregexp.New(`unsupported tarball input attribute '(lastModified|rev|revCount)'`)
)

// newerLockError is a flake.lock the nix that runs cannot read because a
// newer Nix wrote it: nix's words alone ("unsupported version 8",
// "mutable lock") say neither that nor what to do.
type newerLockError struct {
	Op   string // what sysinit was doing
	What string // what in flake.lock this nix cannot read
	Nix  string // the nix that ran: "Nix 2.8.0, /usr/bin/nix"
	Msg  string // nix's message
	Err  error
}

func (e *newerLockError) Error() string {
	return fmt.Sprintf("%s: flake.lock was written by a newer Nix than this one (%s): %s, which this nix cannot read; upgrade nix, or put the nix that wrote it first on the PATH sysinit runs with (re-locking with this one would move every pin); nix said: %s",
		e.Op, e.Nix, e.What, e.Msg)
}

func (e *newerLockError) Unwrap() error { return e.Err }

// newerLock recognises, in nix's stderr, a flake.lock written by a newer
// Nix; nil when that is not what failed. nixDesc names the nix that ran.
func newerLock(op, stderr, nixDesc string, err error) *newerLockError {
	stderr = command.StripANSI(stderr)
	e := &newerLockError{Op: op, Nix: nixDesc, Err: err}
	if m := lockVersionRE().FindStringSubmatch(stderr); m != nil {
		e.What, e.Msg = "it has lock file version "+m[2], m[0]
		return e
	}
	if m := mutableLockRE().FindStringSubmatch(stderr); m != nil {
		e.What, e.Msg = "it locks "+m[1]+" without a hash, as newer Nix locks a relative path input", m[0]
		return e
	}
	if m := tarballAttrRE().FindStringSubmatch(stderr); m != nil {
		e.What, e.Msg = "it locks a tarball input with '"+m[1]+"', as newer Nix locks a tarball served with its revision (FlakeHub's, nixos.org's channels)", m[0]
		return e
	}
	return nil
}

// NewerLock recognises, in nix's stderr, a flake.lock written by a newer
// Nix than the one that ran, for callers outside this package (init's nix
// eval): what in flake.lock that nix cannot read, or "" when that is not
// what failed.
func NewerLock(stderr string) string {
	if e := newerLock("", stderr, "", nil); e != nil {
		return e.What
	}
	return ""
}

// describeNix names the nix that runs, for a message about what it cannot
// do: its version (asked only on this failure path) and its path.
func (r *runner) describeNix() string {
	if v, err := nixVersion(context.Background(), r.sys.env.Exec, r.sys.nix); err == nil {
		return v.String() + ", " + r.sys.nix
	}
	return r.sys.nix
}

// nixError turns a failed nix command into the error the user sees: the
// git-add advice when a file is untracked, what a flake.lock from a newer
// Nix means, else nix's own message.
func (r *runner) nixError(what, stderr string, err error) error {
	if ue := r.sys.untracked(stderr, err); ue != nil {
		return ue
	}
	if le := newerLock(what, stderr, "", err); le != nil {
		le.Nix = r.describeNix()
		return le
	}
	if msg := firstError(stderr); msg != "" {
		return &nixError{Op: what, Msg: msg, Err: err}
	}
	return err
}

func (sy *system) untracked(stderr string, err error) *untrackedError {
	return untrackedIn(sy.cfgDir, sy.ref, stderr, err)
}

func untrackedIn(cfgDir string, ref flakeRef, stderr string, err error) *untrackedError {
	if !ref.gitFiltered || !ref.local() {
		return nil
	}
	repo, ok, rerr := findRepo(ref.dir)
	if rerr != nil || !ok {
		return nil
	}
	rel, ok := untrackedPath(stderr, repo.root)
	if !ok {
		return nil
	}
	abs := filepath.Join(repo.root, filepath.FromSlash(rel))
	// Only when the file is really there: otherwise the import is simply
	// wrong, and nix's own message says so.
	if _, serr := os.Lstat(abs); errors.Is(serr, fs.ErrNotExist) {
		return nil
	}
	show := rel
	if r, rerr := filepath.Rel(cfgDir, abs); rerr == nil {
		show = filepath.ToSlash(r)
	}
	return &untrackedError{Path: path.Clean(show), Err: err}
}

// firstError is the first "error: …" line of nix's output, without the
// prefix; nix's detail follows in the log.
func firstError(out string) string {
	for _, line := range strings.Split(command.StripANSI(out), "\n") {
		if msg, ok := strings.CutPrefix(strings.TrimSpace(line), "error:"); ok {
			if msg = strings.TrimSpace(msg); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// drvRE finds the derivations a nix error message names.
var drvRE = lazyregexp.New(`'(/[^'\s]+\.drv)'`)

// buildFailure is the message for a build whose builder failed: nix's
// error about that derivation, on one line, and the last line the builder
// printed. Nix 2.8–2.28 say "builder for '…drv' failed with exit code 1";
// from 2.29 "Cannot build '…drv'. Reason: builder failed with exit code 1."
// and that error comes after the build's stop. With -v, which sysinit
// passes, neither carries the builder's output, so without its own words
// the user would not see why. tail gives a derivation's last log lines.
// "" when no error names a derivation whose builder printed anything (an
// evaluation error, a builder that died silently).
func buildFailure(errs []string, tail func(drv string) []string) string {
	for _, e := range errs {
		e = command.StripANSI(e)
		for _, m := range drvRE().FindAllStringSubmatch(e, -1) {
			if last := lastNonEmpty(tail(m[1])); last != "" {
				return oneLine(e) + "; last log line: " + last
			}
		}
	}
	return ""
}

// oneLine joins a multi-line nix message ("Cannot build '…'.\nReason: …")
// into one line, without the "error:" prefix, the list of output paths or
// a log excerpt.
func oneLine(msg string) string {
	msg = strings.TrimSpace(msg)
	msg = strings.TrimPrefix(msg, "error:")
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		low := strings.ToLower(l)
		if strings.HasPrefix(low, "output paths:") || strings.HasPrefix(low, "for full logs") ||
			strings.HasPrefix(low, "last ") && strings.HasSuffix(low, "log lines:") {
			break
		}
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.TrimSuffix(strings.Join(parts, " "), ".")
}

func lastNonEmpty(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}
