package brew

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mkBrew(t *testing.T, prefix string) string {
	t.Helper()
	p := filepath.Join(prefix, "bin", "brew")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLocate(t *testing.T) {
	root := t.TempDir()
	arm := filepath.Join(root, "opt-homebrew")
	intel := filepath.Join(root, "usr-local")
	linux := filepath.Join(root, "linuxbrew")
	custom := filepath.Join(root, "custom")
	onPath := filepath.Join(root, "elsewhere")
	for _, p := range []string{arm, intel, linux, custom, onPath} {
		mkBrew(t, p)
	}
	// Intel and Linux keep the repository in <prefix>/Homebrew.
	for _, p := range []string{intel, linux} {
		if err := os.MkdirAll(filepath.Join(p, "Homebrew", ".git"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	notExec := filepath.Join(root, "not-exec")
	if err := os.MkdirAll(filepath.Join(notExec, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notExec, "bin", "brew"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(root, "missing")

	lookPath := func(found string) func(string) (string, error) {
		return func(string) (string, error) {
			if found == "" {
				return "", errors.New("not found")
			}
			return found, nil
		}
	}
	tests := []struct {
		name       string
		cfgPrefix  string
		envPrefix  string
		standard   []string
		path       string
		wantPrefix string
		wantRepo   string
		wantErr    string
	}{
		{"config prefix wins", custom, arm, []string{arm}, "", custom, custom, ""},
		{"config prefix without brew is an error", missing, arm, []string{arm}, "", "", "", "prefix = "},
		{"config prefix with a non-executable brew", notExec, "", nil, "", "", "", "no executable"},
		{"HOMEBREW_PREFIX", "", custom, []string{arm}, "", custom, custom, ""},
		{"stale HOMEBREW_PREFIX falls through", "", missing, []string{arm}, "", arm, arm, ""},
		{"standard order", "", "", []string{missing, intel, arm}, "", intel, filepath.Join(intel, "Homebrew"), ""},
		{"linux", "", "", []string{missing, linux}, "", linux, filepath.Join(linux, "Homebrew"), ""},
		{"PATH last", "", "", []string{missing}, filepath.Join(onPath, "bin", "brew"), onPath, onPath, ""},
		{"nowhere", "", "", []string{missing}, "", "", "", "no brew on PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "HOMEBREW_PREFIX" {
					return tt.envPrefix
				}
				return ""
			}
			in, err := locate(tt.cfgPrefix, getenv, lookPath(tt.path), tt.standard)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errNotFound) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrNotFound with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.prefix != tt.wantPrefix || in.repo != tt.wantRepo || in.brew != filepath.Join(tt.wantPrefix, "bin", "brew") {
				t.Errorf("got prefix %s repo %s brew %s", in.prefix, in.repo, in.brew)
			}
			if in.cellar != filepath.Join(tt.wantPrefix, "Cellar") {
				t.Errorf("cellar %s", in.cellar)
			}
			if in.fetchHead() != filepath.Join(tt.wantRepo, ".git", "FETCH_HEAD") {
				t.Errorf("FETCH_HEAD %s", in.fetchHead())
			}
		})
	}
}

func TestCellarInRepository(t *testing.T) {
	// brew.sh: a Cellar inside the repository wins over <prefix>/Cellar.
	prefix := t.TempDir()
	mkBrew(t, prefix)
	if err := os.MkdirAll(filepath.Join(prefix, "Homebrew", "Cellar"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(prefix, "Homebrew", "Library"), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := locate(prefix, func(string) string { return "" }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.cellar != filepath.Join(prefix, "Homebrew", "Cellar") || in.taps() != filepath.Join(prefix, "Homebrew", "Library", "Taps") {
		t.Errorf("cellar %s, taps %s", in.cellar, in.taps())
	}
}

func TestUpdateDue(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		every   time.Duration
		age     time.Duration // -1: no FETCH_HEAD
		wantDue bool
		wantWhy string
	}{
		{"off", 0, -1, false, ""},
		{"never fetched", time.Hour, -1, true, "brew update due: never fetched"},
		{"fresh", 24 * time.Hour, time.Hour, false, ""},
		{"just under", 24 * time.Hour, 24*time.Hour - time.Second, false, ""},
		{"exactly", 24 * time.Hour, 24 * time.Hour, true, "brew update due: last fetched 1d ago"},
		{"days", 24 * time.Hour, 3*24*time.Hour + 5*time.Hour, true, "brew update due: last fetched 3d ago"},
		{"hours", time.Hour, 5*time.Hour + 59*time.Minute, true, "brew update due: last fetched 5h ago"},
		{"minutes", time.Minute, 12 * time.Minute, true, "brew update due: last fetched 12m ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &install{repo: t.TempDir()}
			if tt.age >= 0 {
				if err := os.MkdirAll(filepath.Join(in.repo, ".git"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(in.fetchHead(), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				at := now.Add(-tt.age)
				if err := os.Chtimes(in.fetchHead(), at, at); err != nil {
					t.Fatal(err)
				}
			}
			due, why, err := in.updateDue(tt.every, now)
			if err != nil {
				t.Fatal(err)
			}
			if due != tt.wantDue || !strings.HasPrefix(why, tt.wantWhy) || (tt.wantWhy == "") != (why == "") {
				t.Errorf("due %v %q, want %v %q", due, why, tt.wantDue, tt.wantWhy)
			}
		})
	}
}

func TestDescribeChange(t *testing.T) {
	l := func(lines ...string) string {
		return tokenHeader + strings.Join(lines, "\n") + "\n"
	}
	tests := []struct {
		name, old, cur, want string
	}{
		{"no token", "", l("formula a 1"), unknownChange},
		{"old format", "brew-installed/0\nx", l("formula a 1"), unknownChange},
		{"added", l("formula a 1"), l("formula a 1", "formula b 2"), unknownChange + " (1 added, 0 removed: +formula b)"},
		{"removed", l("cask c 1", "formula a 1"), l("formula a 1"), unknownChange + " (0 added, 1 removed: -cask c)"},
		{"changed", l("formula a 1"), l("formula a 2"), unknownChange + " (0 added, 0 removed, 1 changed: ~formula a)"},
		{"tap", l("tap u/r"), l("tap u/s"), unknownChange + " (1 added, 1 removed: +tap u/s, -tap u/r)"},
		{"many", l(), l("formula a 1", "formula b 1", "formula c 1", "formula d 1", "formula e 1", "formula f 1", "formula g 1"),
			unknownChange + " (7 added, 0 removed: +formula a, +formula b, +formula c, +formula d, +formula e, and 2 more)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeChange(tt.old, tt.cur); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestListing(t *testing.T) {
	prefix := t.TempDir()
	in := newInstall(prefix, filepath.Join(prefix, "bin", "brew"))
	empty, err := in.listing()
	if err != nil {
		t.Fatal(err)
	}
	if empty != tokenHeader {
		t.Errorf("listing of an empty prefix: %q", empty)
	}
	for _, d := range []string{"Cellar/wget/1.0", "Cellar/.hidden", "Caskroom/firefox/2.0", "Library/Taps/user/homebrew-tools", "Library/Taps/user/.git"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Unix(1700000000, 5)
	for _, d := range []string{"Cellar/wget", "Caskroom/firefox"} {
		if err := os.Chtimes(filepath.Join(prefix, d), at, at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := in.listing()
	if err != nil {
		t.Fatal(err)
	}
	want := tokenHeader + "cask firefox 1700000000000000005\nformula wget 1700000000000000005\ntap user/tools\n"
	if got != want {
		t.Errorf("listing\n%s\nwant\n%s", got, want)
	}
}
