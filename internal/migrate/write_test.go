package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const writeSrc = "# tools\nbrew \"ripgrep\"\nbrew \"keep\" # stays\ncask \"iterm2\"\n"

var writeNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func writeReport() *report {
	return &report{Results: []result{
		{entry: entry{Kind: "brew", Name: "ripgrep", Line: 2, Plain: true}, Attr: "ripgrep", Match: MatchAlias, Verdict: Move},
		{entry: entry{Kind: "brew", Name: "keep", Line: 3, Plain: true}, Verdict: Keep},
		{entry: entry{Kind: "cask", Name: "iterm2", Line: 4, Plain: true}, Attr: "iterm2", Match: MatchAlias, Verdict: Move, Unfree: true},
	}}
}

func writeFixture(t *testing.T) (dir, brewfile string) {
	t.Helper()
	dir = t.TempDir()
	brewfile = filepath.Join(dir, "Brewfile")
	if err := os.WriteFile(brewfile, []byte(writeSrc), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir, brewfile
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteInPlace(t *testing.T) {
	dir, bf := writeFixture(t)
	w, err := writeMigration(writeReport(), []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow})
	if err != nil {
		t.Fatal(err)
	}
	wantBackup := bf + ".bak-20250304-050607"
	if w.Backup != wantBackup || w.NixFile != filepath.Join(dir, nixFileName) || w.Brewfile != bf ||
		w.Packages != 2 || w.LinesRemoved != 2 || w.NixBackup != "" {
		t.Errorf("written %+v", w)
	}
	if got := readFile(t, wantBackup); got != writeSrc {
		t.Errorf("backup %q, want the original", got)
	}
	if got := readFile(t, bf); got != "# tools\nbrew \"keep\" # stays\n" {
		t.Errorf("trimmed Brewfile %q", got)
	}
	for _, p := range []string{bf, wantBackup} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v (%v), want the original's 0640", p, fi.Mode().Perm(), err)
		}
	}
	nix := readFile(t, w.NixFile)
	for _, want := range []string{"{ pkgs, ... }:\n[\n", "  pkgs.ripgrep # brew \"ripgrep\" (line 2, alias table)\n",
		"  pkgs.iterm2 # cask \"iterm2\" (line 4, alias table)\n", "allowUnfreePredicate naming them): iterm2\n"} {
		if !strings.Contains(nix, want) {
			t.Errorf("nix file lacks %q:\n%s", want, nix)
		}
	}
	// A second backup in the same second does not replace the first.
	if err := os.WriteFile(bf, []byte(writeSrc), 0o640); err != nil {
		t.Fatal(err)
	}
	w2, err := writeMigration(writeReport(), []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if w2.Backup != wantBackup+"-2" || w2.NixBackup != w.NixFile+".bak-20250304-050607" {
		t.Errorf("second run: %+v", w2)
	}
	if got := readFile(t, w2.NixBackup); got != nix {
		t.Errorf("nix backup differs from the replaced file")
	}
}

// TestWriteNeverOverwrites: an existing nix list or output Brewfile stops
// everything before any file is touched.
func TestWriteNeverOverwrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) writeOptions
	}{
		{"nix file exists", func(dir string) writeOptions {
			must(t, os.WriteFile(filepath.Join(dir, nixFileName), []byte("mine"), 0o644))
			return writeOptions{}
		}},
		{"named nix file exists", func(dir string) writeOptions {
			must(t, os.WriteFile(filepath.Join(dir, "pkgs.nix"), []byte("mine"), 0o644))
			return writeOptions{NixFile: filepath.Join(dir, "pkgs.nix")}
		}},
		{"output exists", func(dir string) writeOptions {
			must(t, os.WriteFile(filepath.Join(dir, "Brewfile.new"), []byte("mine"), 0o644))
			return writeOptions{Output: filepath.Join(dir, "Brewfile.new")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, bf := writeFixture(t)
			o := tc.setup(dir)
			o.Brewfile, o.Now = bf, writeNow
			before := listDir(t, dir)
			_, err := writeMigration(writeReport(), []byte(writeSrc), o)
			if err == nil || !strings.Contains(err.Error(), "exists: pass --force") {
				t.Fatalf("got %v, want a refusal", err)
			}
			if after := listDir(t, dir); after != before {
				t.Errorf("files changed:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

func TestWriteOutputElsewhere(t *testing.T) {
	dir, bf := writeFixture(t)
	out := filepath.Join(dir, "Brewfile.migrated")
	w, err := writeMigration(writeReport(), []byte(writeSrc), writeOptions{Brewfile: bf, Output: out, Now: writeNow})
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, bf) != writeSrc || w.Backup != "" || w.Brewfile != out {
		t.Errorf("original changed or a backup was made: %+v", w)
	}
	if got := readFile(t, out); got != "# tools\nbrew \"keep\" # stays\n" {
		t.Errorf("output %q", got)
	}
	// With --force, the replaced output is backed up.
	must(t, os.WriteFile(out, []byte("mine"), 0o644))
	w, err = writeMigration(writeReport(), []byte(writeSrc), writeOptions{Brewfile: bf, Output: out, Force: true, Now: writeNow})
	if err != nil {
		t.Fatal(err)
	}
	if w.Backup == "" || readFile(t, w.Backup) != "mine" {
		t.Errorf("replaced output not backed up: %+v", w)
	}
}

func TestWriteThroughSymlink(t *testing.T) {
	_, bf := writeFixture(t)
	link := filepath.Join(t.TempDir(), "Brewfile")
	must(t, os.Symlink(bf, link))
	w, err := writeMigration(writeReport(), []byte(writeSrc), writeOptions{Brewfile: link, Now: writeNow})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	if readFile(t, bf) != "# tools\nbrew \"keep\" # stays\n" || w.Backup != bf+".bak-20250304-050607" {
		t.Errorf("target not trimmed or backup misplaced: %+v", w)
	}
	if filepath.Dir(w.NixFile) != filepath.Dir(link) {
		t.Errorf("nix file %s, want it beside the Brewfile as named", w.NixFile)
	}
}

func TestWriteRefusesChangedBrewfile(t *testing.T) {
	dir, bf := writeFixture(t)
	must(t, os.WriteFile(bf, []byte(writeSrc+"brew \"new\"\n"), 0o640))
	before := listDir(t, dir)
	_, err := writeMigration(writeReport(), []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow})
	if err == nil || !strings.Contains(err.Error(), "changed while migrate ran") {
		t.Fatalf("got %v", err)
	}
	if listDir(t, dir) != before {
		t.Error("files changed")
	}
}

func TestWriteNothingToMove(t *testing.T) {
	dir, bf := writeFixture(t)
	r := &report{Results: []result{{entry: entry{Kind: "brew", Name: "keep", Line: 3}, Verdict: Keep}}}
	before := listDir(t, dir)
	w, err := writeMigration(r, []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow})
	if err != nil || w.Packages != 0 {
		t.Fatalf("got %+v, %v", w, err)
	}
	if listDir(t, dir) != before {
		t.Error("files changed")
	}
}

// TestWriteHoldsBackUnverified: a move nixpkgs did not confirm stays in
// the Brewfile and is listed, unless Unverified; then it moves, is listed
// as such, and its line in the nix list says so.
func TestWriteHoldsBackUnverified(t *testing.T) {
	report := func() *report {
		r := writeReport()
		r.Results[0].Verification = NotVerified // ripgrep: the alias table's word alone
		r.Results[2].Verification = VerifiedByNix
		return r
	}
	_, bf := writeFixture(t)
	w, err := writeMigration(report(), []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow})
	if err != nil {
		t.Fatal(err)
	}
	if w.Packages != 1 || w.LinesRemoved != 1 || len(w.HeldBack) != 1 || w.HeldBack[0] != `brew "ripgrep" (line 2) → ripgrep` ||
		len(w.MovedUnverified) != 0 {
		t.Errorf("written %+v, want iterm2 moved and ripgrep held back", w)
	}
	if got := readFile(t, bf); got != "# tools\nbrew \"ripgrep\"\nbrew \"keep\" # stays\n" {
		t.Errorf("trimmed Brewfile %q: ripgrep must stay", got)
	}
	if nix := readFile(t, w.NixFile); strings.Contains(nix, "ripgrep") {
		t.Errorf("nix list names an unverified package:\n%s", nix)
	}
	if lines := strings.Join(w.lines(), "\n"); !strings.Contains(lines, "not moved, not verified (--unverified moves them anyway): 1\n  brew \"ripgrep\" (line 2) → ripgrep") {
		t.Errorf("report lines do not list the held-back entry:\n%s", lines)
	}

	_, bf = writeFixture(t)
	w, err = writeMigration(report(), []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow, Unverified: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Packages != 2 || len(w.HeldBack) != 0 || len(w.MovedUnverified) != 1 {
		t.Errorf("written %+v, want both moved, ripgrep listed as unverified", w)
	}
	if nix := readFile(t, w.NixFile); !strings.Contains(nix, "pkgs.ripgrep # brew \"ripgrep\" (line 2, alias table, not verified)") {
		t.Errorf("nix list does not mark ripgrep unverified:\n%s", nix)
	}
	if lines := strings.Join(w.lines(), "\n"); !strings.Contains(lines, "moved without verification (--unverified): 1\n  brew \"ripgrep\"") {
		t.Errorf("report lines do not list the unverified move:\n%s", lines)
	}

	// Only unverified moves: nothing is written, and each is still listed.
	dir, bf := writeFixture(t)
	r := report()
	r.Results = r.Results[:2]
	before := listDir(t, dir)
	w, err = writeMigration(r, []byte(writeSrc), writeOptions{Brewfile: bf, Now: writeNow})
	if err != nil || w.Packages != 0 || len(w.HeldBack) != 1 {
		t.Fatalf("got %+v, %v", w, err)
	}
	if listDir(t, dir) != before {
		t.Error("files changed")
	}
	if lines := strings.Join(w.lines(), "\n"); !strings.Contains(lines, `brew "ripgrep" (line 2)`) || !strings.Contains(lines, "wrote nothing") {
		t.Errorf("report lines:\n%s", lines)
	}
}

func TestNixAttrRef(t *testing.T) {
	for in, want := range map[string]string{
		"ripgrep":         "pkgs.ripgrep",
		"nerd-fonts.hack": "pkgs.nerd-fonts.hack",
		"_7zz":            "pkgs._7zz",
		"R":               "pkgs.R",
		"gtk+3":           `pkgs."gtk+3"`,
		"3proxy":          `pkgs."3proxy"`,
		"or":              `pkgs."or"`,
		"x.in":            `pkgs.x."in"`,
	} {
		if got := nixAttrRef(in); got != want {
			t.Errorf("nixAttrRef(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestNixListDeduplicates(t *testing.T) {
	moved := []result{
		{entry: entry{Kind: "brew", Name: "node", Line: 1}, Attr: "nodejs", Match: MatchAlias, Verdict: Move},
		{entry: entry{Kind: "brew", Name: "nodejs", Line: 2}, Attr: "nodejs", Match: MatchExact, Verdict: Move},
	}
	got := string(nixList(moved, "Brewfile"))
	if strings.Count(got, "pkgs.nodejs #") != 1 ||
		!strings.Contains(got, `pkgs.nodejs # brew "node" (line 1, alias table); brew "nodejs" (line 2, exact name)`) {
		t.Errorf("got:\n%s", got)
	}
	if strings.Contains(got, "allowUnfree (") {
		t.Error("unfree note without unfree packages")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listDir describes every file in dir with its content, to show nothing
// changed.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		b.WriteString(e.Name() + ": " + readFile(t, filepath.Join(dir, e.Name())) + "\n")
	}
	return b.String()
}
