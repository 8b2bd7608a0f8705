package brew

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// standardPrefixes are where Homebrew installs itself: Apple Silicon,
// Intel macOS, Linux.
var standardPrefixes = []string{"/opt/homebrew", "/usr/local", "/home/linuxbrew/.linuxbrew"}

// install is one Homebrew installation, found from the filesystem alone.
type install struct {
	prefix string // HOMEBREW_PREFIX
	brew   string // the brew executable
	// repo is HOMEBREW_REPOSITORY, the git checkout of Homebrew/brew:
	// the prefix itself on Apple Silicon, <prefix>/Homebrew on Intel
	// macOS and Linux. Taps and FETCH_HEAD live there.
	repo   string
	cellar string
}

// errNotFound is returned when no Homebrew installation can be found.
var errNotFound = errors.New("homebrew not found")

// locate finds Homebrew without running it: the configured prefix if one
// is set (and then only there), else $HOMEBREW_PREFIX, the standard
// prefixes, and last brew on PATH.
func locate(cfgPrefix string, getenv func(string) string, lookPath func(string) (string, error), standard []string) (*install, error) {
	if cfgPrefix != "" {
		brew := filepath.Join(cfgPrefix, "bin", "brew")
		if !isExecutable(brew) {
			return nil, fmt.Errorf("%w: prefix = %q, but there is no executable %s", errNotFound, cfgPrefix, brew)
		}
		return newInstall(cfgPrefix, brew), nil
	}
	var tried []string
	candidates := standard
	if p := getenv("HOMEBREW_PREFIX"); p != "" {
		candidates = append([]string{p}, standard...)
	}
	for _, p := range candidates {
		brew := filepath.Join(p, "bin", "brew")
		if isExecutable(brew) {
			return newInstall(p, brew), nil
		}
		tried = append(tried, brew)
	}
	if lookPath != nil {
		if brew, err := lookPath("brew"); err == nil {
			if abs, err := filepath.Abs(brew); err == nil {
				brew = abs
			}
			// Not through symlinks: /usr/local/bin/brew points into the
			// repository, /usr/local/Homebrew, but the prefix is /usr/local.
			return newInstall(filepath.Dir(filepath.Dir(brew)), brew), nil
		}
	}
	return nil, fmt.Errorf("%w: no %s, and no brew on PATH (set prefix in the step, or HOMEBREW_PREFIX)", errNotFound, strings.Join(tried, ", "))
}

func newInstall(prefix, brew string) *install {
	in := &install{prefix: prefix, brew: brew, repo: prefix}
	if isDir(filepath.Join(prefix, "Homebrew", ".git")) || isDir(filepath.Join(prefix, "Homebrew", "Library")) {
		in.repo = filepath.Join(prefix, "Homebrew")
	}
	// As brew.sh decides: a Cellar in the repository wins.
	in.cellar = filepath.Join(prefix, "Cellar")
	if in.repo != prefix && isDir(filepath.Join(in.repo, "Cellar")) {
		in.cellar = filepath.Join(in.repo, "Cellar")
	}
	return in
}

func (in *install) caskroom() string { return filepath.Join(in.prefix, "Caskroom") }
func (in *install) taps() string     { return filepath.Join(in.repo, "Library", "Taps") }

// fetchHead is the file whose age brew itself uses to decide whether its
// metadata is stale (HOMEBREW_AUTO_UPDATE_SECS in brew.sh).
func (in *install) fetchHead() string { return filepath.Join(in.repo, ".git", "FETCH_HEAD") }

// updateDue reports whether `brew update` is due: the last fetch is at
// least every old, or there never was one.
func (in *install) updateDue(every time.Duration, now time.Time) (due bool, why string, err error) {
	if every <= 0 {
		return false, "", nil
	}
	fi, err := os.Stat(in.fetchHead())
	if errors.Is(err, os.ErrNotExist) {
		return true, "brew update due: never fetched (no " + in.fetchHead() + ")", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("reading the age of brew's last update: %w", err)
	}
	age := now.Sub(fi.ModTime())
	if age < -time.Minute {
		// A fetch "in the future" says the clock was stepped back since:
		// its age tells nothing, as a success in the future does for every.
		return true, "brew update due: " + in.fetchHead() + " is dated in the future (" + roundAge(-age) + " ahead): the clock moved back", nil
	}
	if age < every {
		return false, "", nil
	}
	return true, "brew update due: last fetched " + roundAge(age) + " ago", nil
}

// roundAge says how long ago in the largest whole unit: 3d, 5h, 12m, 40s.
func roundAge(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 0:
		return "0s"
	}
	return fmt.Sprintf("%ds", int(d/time.Second))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
