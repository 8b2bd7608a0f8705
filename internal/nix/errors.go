package nix

import (
	"errors"
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

// nixError turns a failed nix command into the error the user sees: the
// git-add advice when a file is untracked, else nix's own message.
func (r *runner) nixError(what, stderr string, err error) error {
	if ue := r.sys.untracked(stderr, err); ue != nil {
		return ue
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
