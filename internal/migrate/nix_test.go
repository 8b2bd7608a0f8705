package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
)

// needNix skips a test that evaluates the fixture nixpkgs when nix is not
// installed, unless SYSINIT_REQUIRE_NIX=1 makes that a failure. It points
// nix at an empty flake registry and no binary cache, so nothing touches
// the network or /etc/nix.
func needNix(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("nix"); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix is not on PATH and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skipf("nix is not on PATH (%v): skipping a test that evaluates the fixture nixpkgs with real nix; SYSINIT_REQUIRE_NIX=1 makes this a failure", err)
	}
	reg := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(reg, []byte(`{"flakes":[],"version":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NIX_CONFIG", strings.Join([]string{
		"experimental-features = nix-command flakes",
		"substituters =",
		"flake-registry = " + reg,
		"warn-dirty = false",
	}, "\n"))
}

// fixtureRef is the stand-in nixpkgs flake as a path: reference.
func fixtureRef(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs("testdata/nixpkgs")
	if err != nil {
		t.Fatal(err)
	}
	return "path:" + abs
}

func TestVerifyFixture(t *testing.T) {
	needNix(t)
	var cmds []string
	v := &verifier{Runner: command.Exec{}, Nixpkgs: fixtureRef(t), System: "aarch64-darwin", Commands: &cmds}
	attrs := []string{"ripgrep", "iterm2", "firefox", "cowsay", "vscode", "openssl_1_1", "mpv", "wezterm",
		"neofetch", "nerd-fonts", "nerd-fonts.hack", "nosuch", "ripgrep"}
	metas, errs, err := v.Verify(context.Background(), attrs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 1 || len(errs) != 0 {
		t.Errorf("want one batched nix eval and no per-attribute errors, got %q, %v", cmds, errs)
	}
	if len(metas) != 12 {
		t.Errorf("%d results, want 12 (ripgrep asked twice)", len(metas))
	}
	check := func(attr string, f func(m *meta) bool) {
		t.Helper()
		m := metas[attr]
		if m == nil || !f(m) {
			t.Errorf("%s: unexpected %+v", attr, m)
		}
	}
	check("ripgrep", func(m *meta) bool {
		ok, known := m.Supports("aarch64-darwin")
		return m.Found && m.Derivation && m.Pname == "ripgrep" && m.Version == "14.1.0" && ok && known &&
			m.Homepage == "https://github.com/BurntSushi/ripgrep" && isFalse(m.Unfree) && isTrue(m.Available)
	})
	check("iterm2", func(m *meta) bool { // no check-meta fields: decided from platforms
		ok, known := m.Supports("aarch64-darwin")
		return m.Unsupported == nil && m.Available == nil && ok && known
	})
	check("firefox", func(m *meta) bool {
		ok, _ := m.Supports("aarch64-darwin")
		return isTrue(m.Unsupported) && !ok && slices.Equal(m.Platforms, []string{"x86_64-linux", "aarch64-linux"})
	})
	check("cowsay", func(m *meta) bool { return isTrue(m.Broken) })
	check("vscode", func(m *meta) bool { return isTrue(m.Unfree) && isFalse(m.Available) })
	check("openssl_1_1", func(m *meta) bool { return isTrue(m.Insecure) })
	check("mpv", func(m *meta) bool { return isFalse(m.Available) && isFalse(m.Broken) })
	check("wezterm", func(m *meta) bool {
		_, known := m.Supports("aarch64-darwin")
		return m.PlatformPatterns && !known
	})
	check("neofetch", func(m *meta) bool { return m.Found && m.EvalError })
	check("nerd-fonts", func(m *meta) bool { return m.Found && !m.Derivation })
	check("nerd-fonts.hack", func(m *meta) bool { return m.Derivation && m.Pname == "nerd-fonts-hack" })
	check("nosuch", func(m *meta) bool { return !m.Found })
}

func isFalse(b *bool) bool { return b != nil && !*b }

// TestVerifyIsolatesHardErrors: abort escapes tryEval and fails the whole
// batch; each attribute is then tried alone.
func TestVerifyIsolatesHardErrors(t *testing.T) {
	needNix(t)
	var cmds []string
	v := &verifier{Runner: command.Exec{}, Nixpkgs: fixtureRef(t), System: "x86_64-linux", Commands: &cmds}
	metas, errs, err := v.Verify(context.Background(), []string{"ripgrep", "broken-set.hardfail"})
	if err != nil {
		t.Fatal(err)
	}
	if metas["ripgrep"] == nil || !metas["ripgrep"].Derivation {
		t.Errorf("ripgrep lost: %+v", metas["ripgrep"])
	}
	if e := errs["broken-set.hardfail"]; e == nil || !strings.Contains(e.Error(), "fixture: this package cannot be evaluated") {
		t.Errorf("hardfail error %v, want nix's message", e)
	}
	if len(cmds) != 3 {
		t.Errorf("commands %q, want the batch then one per attribute", cmds)
	}
	// When nothing evaluates even alone, the problem is nixpkgs: an error.
	v.Nixpkgs = "path:" + t.TempDir()
	if _, _, err := v.Verify(context.Background(), []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "evaluating nixpkgs metadata") {
		t.Errorf("bad nixpkgs: got %v", err)
	}
}

func TestCachedIndex(t *testing.T) {
	needNix(t)
	ctx := context.Background()
	var cmds []string
	rev, err := resolve(ctx, command.Exec{}, fixtureRef(t), &cmds)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Key == "" || strings.ContainsAny(rev.Key, "/+=") || !strings.Contains(rev.Locked, "narHash=") {
		t.Errorf("revision %+v: want a file-safe key from the NAR hash and a locked URL", rev)
	}
	cache := filepath.Join(t.TempDir(), "sysinit")
	x, built, err := cachedIndex(ctx, command.Exec{}, rev, "aarch64-darwin", cache, nil, &cmds)
	if err != nil || !built {
		t.Fatalf("first build: built %v, %v", built, err)
	}
	if _, ok := x.Lookup("iterm2"); !ok || x.Len() < 20 || !slices.Equal(x.Systems, []string{"aarch64-darwin"}) {
		t.Errorf("index %d packages, systems %v", x.Len(), x.Systems)
	}
	if _, ok := x.Lookup("neofetch"); ok {
		t.Error("nix search listed a package that throws")
	}
	file := filepath.Join(cache, "nixpkgs-index-"+rev.Key+"-aarch64-darwin.json")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("no cache file: %v", err)
	}
	x2, built, err := cachedIndex(ctx, command.Exec{}, rev, "aarch64-darwin", cache, nil, &cmds)
	if err != nil || built || x2.Len() != x.Len() {
		t.Errorf("second call: built %v (want the cache), %v", built, err)
	}
	// Another system is another index.
	if _, built, err := cachedIndex(ctx, command.Exec{}, rev, "x86_64-linux", cache, nil, &cmds); err != nil || !built {
		t.Errorf("other system: built %v, %v", built, err)
	}
	// A cache file that does not parse is rebuilt, not trusted.
	must(t, os.WriteFile(file, []byte("{truncated"), 0o644))
	if _, built, err := cachedIndex(ctx, command.Exec{}, rev, "aarch64-darwin", cache, nil, &cmds); err != nil || !built {
		t.Errorf("corrupt cache: built %v, %v", built, err)
	}
	searches := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, "nix search") {
			searches++
		}
	}
	if searches != 3 {
		t.Errorf("%d nix search runs, want 3: %q", searches, cmds)
	}
}

// allVerdicts is what testdata/Brewfile.all gets against the fixture on
// aarch64-darwin: name → attr, match, verdict.
var allVerdicts = map[string][3]string{
	"homebrew/bundle":               {"", "", Keep},
	"jesseduffield/lazygit":         {"", "", Keep},
	"ripgrep":                       {"ripgrep", MatchAlias, Move},
	"node":                          {"nodejs", MatchAlias, Move},
	"git-delta":                     {"delta", MatchAlias, Move},
	"yq":                            {"yq-go", MatchAlias, Move},
	"python@3.12":                   {"python312", MatchAlias, Move},
	"tokei":                         {"tokei", MatchExact, Move},
	"lua@5.4":                       {"lua5_4", MatchNormalised, Check},
	"hello":                         {"hello-unwrapped", MatchNormalised, Check},
	"cowsay":                        {"cowsay", MatchExact, Keep},
	"openssl@1.1":                   {"openssl_1_1", MatchNormalised, Keep},
	"mpv":                           {"mpv", MatchExact, Keep},
	"postgresql@17":                 {"postgresql_17", MatchAlias, Keep},
	"nosuchtool":                    {"", "", Keep},
	"someone/tap/sometool":          {"", "", Keep},
	"jesseduffield/lazygit/lazygit": {"lazygit", MatchExact, Check},
	"hashicorp/tap/terraform":       {"terraform", MatchExact, Keep},
	"postgresql@16":                 {"postgresql_16", MatchAlias, Check},
	"jq":                            {"jq", MatchAlias, Check},
	"fd":                            {"fd", MatchAlias, Check},
	"neofetch":                      {"", "", Keep},
	"iterm2":                        {"iterm2", MatchAlias, Move},
	"firefox":                       {"firefox", MatchAlias, Keep},
	"visual-studio-code":            {"vscode", MatchAlias, Keep},
	"wezterm":                       {"wezterm", MatchAlias, Check},
	"ghostty":                       {"ghostty-bin", MatchAlias, Move},
	"font-fira-code":                {"fira-code", MatchAlias, Check},
	"docker":                        {"", MatchAlias, Keep},
	"Xcode":                         {"", "", Keep},
	"golang.go":                     {"", "", Keep},
}

type jsonOut struct {
	Entries []struct {
		Name, Kind, Attr, Match, Verdict, Reason string
		Line                                     int
	} `json:"entries"`
	Summary  summary  `json:"summary"`
	System   string   `json:"system"`
	Verified bool     `json:"verified"`
	Notes    []string `json:"notes"`
	Written  *written `json:"written"`
}

func runJSON(t *testing.T, o Options) jsonOut {
	t.Helper()
	o.JSON = true
	var out, errb bytes.Buffer
	if _, err := Run(context.Background(), o, &out, &errb); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, errb.String())
	}
	var got jsonOut
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not the JSON contract: %v\n%s", err, out.String())
	}
	return got
}

func TestRunAllVerdicts(t *testing.T) {
	needNix(t)
	cache := t.TempDir()
	got := runJSON(t, Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin", Nixpkgs: fixtureRef(t), CacheDir: cache})
	if !got.Verified || got.System != "aarch64-darwin" {
		t.Errorf("verified %v system %q", got.Verified, got.System)
	}
	seen := map[string]bool{}
	var sum summary
	for _, e := range got.Entries {
		seen[e.Name] = true
		want, ok := allVerdicts[e.Name]
		if !ok {
			t.Errorf("unexpected entry %q", e.Name)
			continue
		}
		if e.Attr != want[0] || e.Match != want[1] || e.Verdict != want[2] {
			t.Errorf("%s: got %q by %q → %s (%s); want %q by %q → %s", e.Name, e.Attr, e.Match, e.Verdict, e.Reason, want[0], want[1], want[2])
		}
		if e.Reason == "" || e.Line == 0 {
			t.Errorf("%s: no reason or line: %+v", e.Name, e)
		}
		switch e.Verdict {
		case Move:
			sum.Move++
		case Keep:
			sum.Keep++
		case Check:
			sum.Check++
		}
	}
	if len(seen) != len(allVerdicts) {
		t.Errorf("%d entries, want %d", len(seen), len(allVerdicts))
	}
	if got.Summary != sum {
		t.Errorf("summary %+v, entries say %+v", got.Summary, sum)
	}

	// Another system, and unfree allowed, change exactly what they should.
	linux := runJSON(t, Options{Brewfile: "testdata/Brewfile.all", System: "x86_64-linux", Nixpkgs: fixtureRef(t), CacheDir: cache, AllowUnfree: true})
	changed := map[string]string{}
	for _, e := range linux.Entries {
		if e.Verdict != allVerdicts[e.Name][2] {
			changed[e.Name] = e.Verdict
		}
	}
	want := map[string]string{"cowsay": Move, "iterm2": Keep, "ghostty": Keep, "firefox": Move, "visual-studio-code": Move,
		"hashicorp/tap/terraform": Check} // unfree allowed, still a tap formula
	if !mapsEqual(changed, want) {
		t.Errorf("on x86_64-linux with unfree allowed, changed %v; want %v", changed, want)
	}
}

func TestRunTable(t *testing.T) {
	needNix(t)
	var out, errb bytes.Buffer
	_, err := Run(context.Background(), Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin",
		Nixpkgs: fixtureRef(t), CacheDir: t.TempDir()}, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"ENTRY  ", "VERDICT  REASON\n",
		"\nnode  ", " nodejs ", " alias table ", " move ",
		"31 entries: 8 move, 15 keep, 8 check — aarch64-darwin, verified with nix against " + fixtureRef(t),
		"package index: nix search of",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(errb.String(), "with nix search (once per revision)") {
		t.Errorf("stderr %q: want the index-building progress line", errb.String())
	}
}

func TestRunWithoutNix(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no nix here, whatever the machine has
	got := runJSON(t, Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin", CacheDir: t.TempDir()})
	if got.Verified || len(got.Notes) < 2 || !strings.Contains(strings.Join(got.Notes, "\n"), "nix not found") ||
		!strings.Contains(strings.Join(got.Notes, "\n"), "alias table alone") {
		t.Errorf("verified %v, notes %q: want both said", got.Verified, got.Notes)
	}
	for _, e := range got.Entries {
		want := Check
		switch {
		case e.Kind == "tap" || e.Kind == "mas" || e.Kind == "vscode" || e.Name == "docker":
			want = Keep
		case e.Match == MatchAlias && e.Kind == "brew" && !slices.Contains([]string{"postgresql@16", "jq", "fd"}, e.Name):
			want = Move // alias, plain line, no options: moves unverified, and says so
			if !strings.Contains(e.Reason, "not verified") {
				t.Errorf("%s: reason %q does not say it is unverified", e.Name, e.Reason)
			}
		}
		if e.Verdict != want {
			t.Errorf("%s (%s, match %q): %s (%s), want %s", e.Name, e.Kind, e.Match, e.Verdict, e.Reason, want)
		}
	}
}

// TestRunWithIndexFile: packages.json plus brew info allow homepage
// matching; nix still verifies, and a package that throws is "check".
func TestRunWithIndexFile(t *testing.T) {
	needNix(t)
	dir := t.TempDir()
	bf := filepath.Join(dir, "Brewfile")
	must(t, os.WriteFile(bf, []byte("brew \"dust\"\nbrew \"neofetch\"\nbrew \"ripgrep\"\n"), 0o644))
	got := runJSON(t, Options{Brewfile: bf, System: "aarch64-darwin", Nixpkgs: fixtureRef(t),
		Index: "testdata/packages.json", BrewInfo: "testdata/brew-info.json"})
	byName := map[string]string{}
	for _, e := range got.Entries {
		byName[e.Name] = e.Match + " " + e.Verdict + " " + e.Reason
	}
	// du-dust is in the index but not in the fixture flake: nix says so.
	if s := byName["dust"]; !strings.HasPrefix(s, "homepage keep") || !strings.Contains(s, "no attribute du-dust") {
		t.Errorf("dust: %s", s)
	}
	if s := byName["neofetch"]; !strings.HasPrefix(s, "exact check") || !strings.Contains(s, "throws") {
		t.Errorf("neofetch: %s", s)
	}
	if s := byName["ripgrep"]; !strings.HasPrefix(s, "alias move") {
		t.Errorf("ripgrep: %s", s)
	}
}

// TestRunIndexMetadataWithoutNix: a packages.json index verifies from its
// own metadata when nix is absent, and says so.
func TestRunIndexMetadataWithoutNix(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	bf := filepath.Join(dir, "Brewfile")
	must(t, os.WriteFile(bf, []byte("brew \"ripgrep\"\nbrew \"cowsay\"\ncask \"firefox\"\nbrew \"dust\"\nbrew \"node\"\n"), 0o644))
	got := runJSON(t, Options{Brewfile: bf, System: "aarch64-darwin", Index: "testdata/packages.json", BrewInfo: "testdata/brew-info.json"})
	want := map[string]string{"ripgrep": Move, "cowsay": Keep, "firefox": Keep, "dust": Check, "node": Keep}
	for _, e := range got.Entries {
		if e.Verdict != want[e.Name] {
			t.Errorf("%s: %s (%s), want %s", e.Name, e.Verdict, e.Reason, want[e.Name])
		}
	}
	if !strings.Contains(strings.Join(got.Notes, "\n"), "index's metadata") {
		t.Errorf("notes %q do not say how it was verified", got.Notes)
	}
}

func TestRunBadNixpkgs(t *testing.T) {
	needNix(t)
	var out bytes.Buffer
	_, err := Run(context.Background(), Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin",
		Nixpkgs: "path:" + filepath.Join(t.TempDir(), "none")}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "resolving nixpkgs") || !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("got %v, want nix's failure", err)
	}
}

// TestWriteEvaluatesWithNix writes the migration and evaluates the nix
// list with real nix against the fixture: the list must be valid nix, a
// list of the moved packages.
func TestWriteEvaluatesWithNix(t *testing.T) {
	needNix(t)
	dir := t.TempDir()
	orig, err := os.ReadFile("testdata/Brewfile.all")
	if err != nil {
		t.Fatal(err)
	}
	bf := filepath.Join(dir, "Brewfile")
	must(t, os.WriteFile(bf, orig, 0o644))
	now := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	got := runJSON(t, Options{Brewfile: bf, System: "x86_64-linux", Nixpkgs: fixtureRef(t), AllowUnfree: true, Write: true, Now: now})
	w := got.Written
	if w == nil || w.Packages != 9 || w.LinesRemoved != 9 {
		t.Fatalf("written %+v, want 9 packages from 9 lines", w)
	}

	expr := `map (p: p.name) (import ` + filepath.Join(dir, nixFileName) +
		` { pkgs = (builtins.getFlake "` + fixtureRef(t) + `").legacyPackages.x86_64-linux; })`
	var out bytes.Buffer
	argv := []string{"nix", "eval", "--json", "--impure", "--expr", expr}
	if err := (command.Exec{}).Run(context.Background(), &command.Cmd{Argv: argv, Stdout: &out}); err != nil {
		t.Fatalf("%s: %v", command.Join(argv), (&tailError{err.(*command.ExitError)}).Error())
	}
	var names []string
	must(t, json.Unmarshal(out.Bytes(), &names))
	want := []string{"ripgrep-14.1.0", "nodejs-22.11.0", "delta-0.18.2", "yq-go-4.44.3", "python3-3.12.7",
		"tokei-12.1.2", "cowsay-3.8.3", "firefox-132.0", "vscode-1.95.3"}
	if !slices.Equal(names, want) {
		t.Errorf("nix list evaluates to %q, want %q", names, want)
	}

	// The Brewfile lost exactly the moved lines; the backup is the original.
	if b := readFile(t, w.Backup); b != string(orig) || w.Backup != bf+".bak-20250102-030405" {
		t.Errorf("backup %s differs from the original", w.Backup)
	}
	var keep []string
	movedLines := map[int]bool{}
	for _, e := range got.Entries {
		if e.Verdict == Move {
			movedLines[e.Line] = true
		}
	}
	for i, l := range strings.SplitAfter(string(orig), "\n") {
		if !movedLines[i+1] {
			keep = append(keep, l)
		}
	}
	if trimmed := readFile(t, bf); trimmed != strings.Join(keep, "") {
		t.Errorf("trimmed Brewfile:\n%s\nwant:\n%s", trimmed, strings.Join(keep, ""))
	}
	// The trimmed Brewfile still parses, and has nothing left to move.
	again := runJSON(t, Options{Brewfile: bf, System: "x86_64-linux", Nixpkgs: fixtureRef(t), AllowUnfree: true})
	if again.Summary.Move != 0 {
		t.Errorf("after the write, %d entries still move", again.Summary.Move)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRunFlakeLock: without --nixpkgs, the configuration's flake.lock
// names the nixpkgs to verify against.
func TestRunFlakeLock(t *testing.T) {
	needNix(t)
	abs, err := filepath.Abs("testdata/nixpkgs")
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(t.TempDir(), "flake.lock")
	must(t, os.WriteFile(lock, []byte(`{"nodes":{"root":{"inputs":{"nixpkgs":"nixpkgs"}},`+
		`"nixpkgs":{"locked":{"type":"path","path":"`+abs+`"}}},"root":"root","version":7}`), 0o644))
	var out bytes.Buffer
	rep, err := Run(context.Background(), Options{Brewfile: "testdata/Brewfile.all", System: "aarch64-darwin", FlakeLock: lock}, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Nixpkgs != "path:"+abs || !rep.Verified || rep.Summary().Move != 8 {
		t.Errorf("nixpkgs %q verified %v summary %+v", rep.Nixpkgs, rep.Verified, rep.Summary())
	}
}
