package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// offlineJSON is the JSON report with the fields the offline tests read.
type offlineJSON struct {
	Entries []struct {
		Name, Kind, Attr, Match, Verification, Verdict, Reason string
		Line                                                   int
		Merged                                                 []struct {
			Name string
			Line int
		}
	} `json:"entries"`
	Summary    summary  `json:"summary"`
	Verified   bool     `json:"verified"`
	Unverified string   `json:"unverified"`
	Notes      []string `json:"notes"`
}

func runOffline(t *testing.T, o Options) (offlineJSON, error) {
	t.Helper()
	o.JSON = true
	var out, errb bytes.Buffer
	_, err := Run(context.Background(), o, &out, &errb)
	var got offlineJSON
	if err == nil {
		if jerr := json.Unmarshal(out.Bytes(), &got); jerr != nil {
			t.Fatalf("output is not the JSON contract: %v\n%s", jerr, out.String())
		}
	}
	return got, err
}

// checkUnverified asserts what every offline report must say: nothing
// verified, why, how to verify, and no entry claiming more.
func checkUnverified(t *testing.T, got offlineJSON, why string) {
	t.Helper()
	notes := strings.Join(got.Notes, "\n")
	if got.Verified || got.Unverified != why {
		t.Errorf("verified %v, unverified %q; want false, %q", got.Verified, got.Unverified, why)
	}
	for _, want := range []string{"to verify:", "--index FILE"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not say %q:\n%s", want, notes)
		}
	}
	moves := 0
	for _, e := range got.Entries {
		switch e.Kind {
		case "brew", "cask":
			if e.Verification != NotVerified && e.Attr != "" {
				t.Errorf("%s %s: verification %q with nothing verified", e.Kind, e.Name, e.Verification)
			}
			if e.Verification == NotVerified && !strings.Contains(e.Reason, "not verified") && e.Verdict != Check {
				t.Errorf("%s %s: %s without saying it is unverified: %s", e.Kind, e.Name, e.Verdict, e.Reason)
			}
		default:
			if e.Verification != "" {
				t.Errorf("%s %s: verification %q for an entry with nothing to verify", e.Kind, e.Name, e.Verification)
			}
		}
		if e.Verdict == Move {
			moves++
		}
	}
	if got.Summary.Unverified != moves || got.Summary.Move != moves {
		t.Errorf("summary %+v: want all %d moves unverified", got.Summary, moves)
	}
}

// TestRunNixpkgsUnreachable: nix is installed but the default nixpkgs is
// out of reach (needNix leaves an empty flake registry, as on an offline
// machine): the report comes from the alias table, says nothing was
// verified, why (nix's own words) and how to verify.
func TestRunNixpkgsUnreachable(t *testing.T) {
	needNix(t)
	got, err := runOffline(t, Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	checkUnverified(t, got, "nix could not resolve nixpkgs")
	notes := strings.Join(got.Notes, "\n")
	for _, want := range []string{`nix could not resolve nixpkgs "nixpkgs" (from the flake registry)`, "flake:nixpkgs", "--nixpkgs PATH"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not say %q:\n%s", want, notes)
		}
	}
	if len(got.Entries) != 31 || got.Summary.Move == 0 {
		t.Errorf("%d entries, summary %+v", len(got.Entries), got.Summary)
	}
}

// TestRunPinnedNixpkgsUnreachable: the nixpkgs flake.lock pins is not
// there either; the note names where the reference came from.
func TestRunPinnedNixpkgsUnreachable(t *testing.T) {
	needNix(t)
	gone := filepath.Join(t.TempDir(), "gone")
	lock := filepath.Join(t.TempDir(), "flake.lock")
	must(t, os.WriteFile(lock, []byte(`{"nodes":{"root":{"inputs":{"nixpkgs":"nixpkgs"}},`+
		`"nixpkgs":{"locked":{"type":"path","path":"`+gone+`"}}},"root":"root","version":7}`), 0o644))
	got, err := runOffline(t, Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin", FlakeLock: lock})
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	checkUnverified(t, got, "nix could not resolve nixpkgs")
	if notes := strings.Join(got.Notes, "\n"); !strings.Contains(notes, `"path:`+gone+`" (pinned in flake.lock)`) {
		t.Errorf("notes do not name the pinned nixpkgs:\n%s", notes)
	}
}

// TestRunExplicitNixpkgsUnreachable: a --nixpkgs nix cannot resolve stops
// migrate with a ResolveError, which the CLI turns into a hint.
func TestRunExplicitNixpkgsUnreachable(t *testing.T) {
	needNix(t)
	_, err := runOffline(t, Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin", Nixpkgs: "path:" + filepath.Join(t.TempDir(), "gone")})
	var re *ResolveError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "resolving nixpkgs") {
		t.Fatalf("got %v, want a ResolveError", err)
	}
}

// realBrewfiles are the public Brewfiles kept in testdata/brewfiles, with
// what migrate must find in each.
var realBrewfiles = map[string]struct {
	err    string            // the Brewfile is malformed: the error says this
	attrs  map[string]string // entry name → attribute
	merged map[string]string // entry name → a name merged into it
	notes  []string
}{
	"123rand456-dotfiles-Brewfile": {attrs: map[string]string{"node": "nodejs", "python@3.13": "python313", "postgresql": "postgresql_16", "docker": "docker-client"},
		merged: map[string]string{"node": "node", "wget": "wget"}, notes: []string{`brew "node" is listed on lines 28 and 60`}},
	"srbongers-dotfiles-Brewfile": {attrs: map[string]string{"python": "python3", "gnupg": "gnupg", "zsh": "zsh"},
		merged: map[string]string{"python": "python3"}, notes: []string{"are one nixpkgs package, python3"}},
	"brev-dotfiles-Brewfile":             {attrs: map[string]string{"gpg": "gnupg", "aerospace": "aerospace", "postgresql@14": "postgresql_14"}},
	"0xfederama-dotfiles-Brewfile":       {attrs: map[string]string{"python@3.10": "python310", "postgresql@14": "postgresql_14"}},
	"bravely-dotfiles-Brewfile":          {attrs: map[string]string{"docker-desktop": "", "gnupg": "gnupg", "python@3.11": "python311"}},
	"0xGurg-dotfiles-Brewfile":           {attrs: map[string]string{"nikitabobko/tap/aerospace": "aerospace"}},
	"sensuikan1973-dotfiles-Brewfile":    {notes: []string{"computes something (loads Ruby code)"}},
	"0xRichardH-dotfiles-Brewfile-macOS": {err: "Brewfile-macOS:19: unterminated string"},
}

// TestRealBrewfiles runs migrate offline on real Brewfiles: without nix,
// and with nix but no nixpkgs. Each gives a report (or, for the malformed
// one, an error naming the line), every entry marked unverified.
func TestRealBrewfiles(t *testing.T) {
	files, err := filepath.Glob("testdata/brewfiles/*-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(realBrewfiles) {
		t.Fatalf("%d fixtures, %d described", len(files), len(realBrewfiles))
	}
	for _, mode := range []string{"nix not found", "nix could not resolve nixpkgs"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "nix not found" {
				t.Setenv("PATH", t.TempDir())
			} else {
				needNix(t)
			}
			for _, f := range files {
				want, ok := realBrewfiles[filepath.Base(f)]
				if !ok {
					t.Fatalf("%s: not described in realBrewfiles", f)
				}
				t.Run(filepath.Base(f), func(t *testing.T) {
					got, err := runOffline(t, Options{Brewfile: f, System: "aarch64-darwin"})
					if want.err != "" {
						if err == nil || !strings.Contains(err.Error(), want.err) {
							t.Fatalf("got %v, want an error with %q", err, want.err)
						}
						return
					}
					if err != nil {
						t.Fatalf("no report: %v", err)
					}
					checkUnverified(t, got, mode)
					byName := map[string]int{}
					for i, e := range got.Entries {
						byName[e.Name] = i
					}
					for name, attr := range want.attrs {
						i, ok := byName[name]
						if !ok || got.Entries[i].Attr != attr || got.Entries[i].Match != MatchAlias {
							t.Errorf("%s: got %+v, want %q by the alias table", name, got.Entries[i], attr)
						}
					}
					for name, m := range want.merged {
						i, ok := byName[name]
						if !ok || len(got.Entries[i].Merged) != 1 || got.Entries[i].Merged[0].Name != m {
							t.Errorf("%s: merged %+v, want %s", name, got.Entries[i].Merged, m)
						}
					}
					notes := strings.Join(got.Notes, "\n")
					for _, n := range want.notes {
						if !strings.Contains(notes, n) {
							t.Errorf("notes do not say %q:\n%s", n, notes)
						}
					}
				})
			}
		})
	}
}
