package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// nixFileName is the nix list's name when none is given.
const nixFileName = "brew-migrated.nix"

// writeOptions say where WriteMigration writes.
type writeOptions struct {
	Brewfile string // the Brewfile the report was made from
	NixFile  string // "" = NixFileName beside the Brewfile
	Output   string // trimmed Brewfile; "" = the Brewfile itself, after a backup
	Force    bool   // replace an existing NixFile or Output, after a backup
	// Unverified moves entries whose verdict nixpkgs did not confirm
	// (Verification NotVerified); without it they are held back.
	Unverified bool
	Now        time.Time
}

// written says what WriteMigration wrote.
type written struct {
	NixFile      string `json:"nixFile,omitempty"`
	NixBackup    string `json:"nixBackup,omitempty"` // the replaced nix file (--force)
	Brewfile     string `json:"brewfile,omitempty"`  // the trimmed Brewfile
	Backup       string `json:"backup,omitempty"`    // the Brewfile before trimming (or the replaced Output)
	Packages     int    `json:"packages"`
	LinesRemoved int    `json:"linesRemoved"`
	// HeldBack are the moves left in the Brewfile because nixpkgs did not
	// confirm them (no --unverified); MovedUnverified those moved anyway
	// (--unverified). Each is `kind "name" (line N) → attribute`.
	HeldBack        []string `json:"heldBack,omitempty"`
	MovedUnverified []string `json:"movedUnverified,omitempty"`
}

func (w *written) lines() []string {
	var out []string
	if len(w.HeldBack) > 0 {
		out = append(out, fmt.Sprintf("not moved, not verified (--unverified moves them anyway): %d", len(w.HeldBack)))
		for _, h := range w.HeldBack {
			out = append(out, "  "+h)
		}
	}
	if len(w.MovedUnverified) > 0 {
		out = append(out, fmt.Sprintf("moved without verification (--unverified): %d", len(w.MovedUnverified)))
		for _, h := range w.MovedUnverified {
			out = append(out, "  "+h)
		}
	}
	if w.Packages == 0 {
		return append(out, "nothing to move: wrote nothing")
	}
	out = append(out, fmt.Sprintf("wrote %s: %d packages", w.NixFile, w.Packages))
	if w.NixBackup != "" {
		out = append(out, fmt.Sprintf("  (the previous one is in %s)", w.NixBackup))
	}
	out = append(out, fmt.Sprintf("wrote %s: %d lines removed", w.Brewfile, w.LinesRemoved))
	if w.Backup != "" {
		out = append(out, "  (backup: "+w.Backup+")")
	}
	out = append(out,
		"next: add the list to your configuration (see the top of "+filepath.Base(w.NixFile)+"), `git add` it —",
		"      flakes see only tracked files — then `sysinit plan` shows the brew and nix steps the change runs")
	return out
}

// writeMigration writes the entries to move as a nix list and the Brewfile
// without their lines. Moves nixpkgs did not confirm are held back, and
// listed, unless o.Unverified. It never replaces an existing file it was
// not told to (the Brewfile itself, or NixFile/Output with Force), and
// copies every file it replaces to a backup first. src is the Brewfile the
// report was made from; if the file changed since, nothing is written.
func writeMigration(r *report, src []byte, o writeOptions) (*written, error) {
	var moved []result
	var held, anyway []string
	for _, res := range r.Results {
		if res.Verdict != Move {
			continue
		}
		if res.Verification == NotVerified {
			what := fmt.Sprintf("%s %q (line %d) → %s", res.Kind, res.Name, res.Line, res.Attr)
			if !o.Unverified {
				held = append(held, what)
				continue
			}
			anyway = append(anyway, what)
		}
		moved = append(moved, res)
	}
	if len(moved) == 0 {
		return &written{HeldBack: held}, nil
	}
	trimmed, removed, err := trimBrewfile(src, moved)
	if err != nil {
		return nil, err
	}
	// Write through a symlinked Brewfile to the file it points at: renaming
	// over the link would replace the link with a file.
	brewfile, err := filepath.EvalSymlinks(o.Brewfile)
	if err != nil {
		return nil, fmt.Errorf("resolving Brewfile: %w", err)
	}
	info, err := os.Stat(brewfile)
	if err != nil {
		return nil, fmt.Errorf("reading Brewfile: %w", err)
	}
	now, err := os.ReadFile(brewfile)
	if err != nil {
		return nil, fmt.Errorf("reading Brewfile: %w", err)
	}
	if !bytes.Equal(now, src) {
		return nil, fmt.Errorf("%s changed while migrate ran: run it again", o.Brewfile)
	}
	nixFile := o.NixFile
	if nixFile == "" {
		nixFile = filepath.Join(filepath.Dir(o.Brewfile), nixFileName)
	}
	out := o.Output
	inPlace := out == ""
	if inPlace {
		out = brewfile
	}
	for _, p := range []string{nixFile, o.Output} {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); err == nil && !o.Force {
			return nil, fmt.Errorf("%s exists: pass --force to replace it (a backup is kept)", p)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("checking %s: %w", p, err)
		}
	}
	if same, err := samePath(nixFile, out); err != nil {
		return nil, err
	} else if same {
		return nil, fmt.Errorf("the nix list and the Brewfile would both be %s", out)
	}

	w := &written{NixFile: nixFile, Brewfile: out, Packages: len(uniqueAttrs(moved)), LinesRemoved: removed,
		HeldBack: held, MovedUnverified: anyway}
	stamp := o.Now.Format("20060102-150405")
	if inPlace {
		if w.Backup, err = backup(brewfile, src, info.Mode().Perm(), stamp); err != nil {
			return nil, err
		}
	} else if old, err := os.ReadFile(out); err == nil {
		if w.Backup, err = backup(out, old, info.Mode().Perm(), stamp); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", out, err)
	}
	if old, err := os.ReadFile(nixFile); err == nil {
		if w.NixBackup, err = backup(nixFile, old, 0o644, stamp); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", nixFile, err)
	}
	if err := writeFileAtomic(nixFile, nixList(moved, filepath.Base(o.Brewfile)), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", nixFile, err)
	}
	if err := writeFileAtomic(out, trimmed, info.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("writing %s (the nix list %s is written): %w", out, nixFile, err)
	}
	return w, nil
}

func samePath(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, fmt.Errorf("resolving %s: %w", a, err)
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, fmt.Errorf("resolving %s: %w", b, err)
	}
	return aa == bb, nil
}

// backup copies data to path.bak-STAMP (then -2, -3, … if taken), never
// replacing a file, and returns the backup's path.
func backup(path string, data []byte, mode fs.FileMode, stamp string) (string, error) {
	base := path + ".bak-" + stamp
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name += "-" + strconv.Itoa(i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("backing up %s: %w", path, err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(name)
			return "", fmt.Errorf("backing up %s: %w", path, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("backing up %s: %s-2 … -100 all exist", path, base)
}

// trimBrewfile removes the lines of the moved entries, and of the entries
// merged into them, and keeps every other byte as it was: comments, blank
// lines, line endings, a missing final newline. Only plain lines are moved
// (see Entry.Plain), so a removed line never takes anything else with it.
func trimBrewfile(src []byte, moved []result) ([]byte, int, error) {
	lines := bytes.SplitAfter(src, []byte("\n"))
	drop := map[int]bool{}
	for _, r := range moved {
		for _, e := range append([]entry{r.entry}, r.Merged...) {
			if e.Line < 1 || e.Line > len(lines) || !plainLine(strings.TrimRight(string(lines[e.Line-1]), "\n"), e.Kind, e.Name) {
				return nil, 0, fmt.Errorf("line %d is not `%s %q` alone: not removing it", e.Line, e.Kind, e.Name)
			}
			drop[e.Line] = true
		}
	}
	var out bytes.Buffer
	out.Grow(len(src))
	for i, l := range lines {
		if !drop[i+1] {
			out.Write(l)
		}
	}
	return out.Bytes(), len(drop), nil
}

func uniqueAttrs(rs []result) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if !seen[r.Attr] {
			seen[r.Attr] = true
			out = append(out, r.Attr)
		}
	}
	return out
}

// nixList renders the moved entries as a nix file: a function of pkgs
// returning a list, one attribute per line with the Brewfile entry it
// replaces as a comment. from names the Brewfile in comments.
//
// The list names pkgs.<attr> rather than using `with pkgs;`, so no
// attribute can be shadowed and a reader sees where each comes from.
func nixList(moved []result, from string) []byte {
	var b strings.Builder
	b.WriteString(`# Homebrew packages moved to nixpkgs by ` + "`sysinit migrate`" + ` from ` + oneLine(from) + `.
#
# This file is a function returning a list of packages; use it where a
# package list goes:
#   environment.systemPackages = import ./` + nixFileName + ` { inherit pkgs; };  # nix-darwin, NixOS
#   home.packages = import ./` + nixFileName + ` { inherit pkgs; };                # home-manager
# or append it to a list you already have:
#   environment.systemPackages = [ pkgs.git ] ++ import ./` + nixFileName + ` { inherit pkgs; };
# It is not a module: it does not go in imports. Flakes only see files git
# tracks: git add it.
`)
	var unfree []string
	for _, a := range uniqueAttrs(moved) {
		for _, r := range moved {
			if r.Attr == a && r.Unfree {
				unfree = append(unfree, a)
				break
			}
		}
	}
	if len(unfree) > 0 {
		b.WriteString("#\n# Unfree, so the nixpkgs that installs them needs allowUnfree (or an\n# allowUnfreePredicate naming them): " + strings.Join(unfree, ", ") + "\n")
	}
	b.WriteString("{ pkgs, ... }:\n[\n")
	for _, a := range uniqueAttrs(moved) {
		var from []string
		for _, r := range moved {
			if r.Attr != a {
				continue
			}
			how := matchLabels[r.Match]
			if r.Verification == NotVerified {
				how += ", not verified"
			}
			from = append(from, fmt.Sprintf("%s %q (line %d, %s)", r.Kind, r.Name, r.Line, how))
			for _, m := range r.Merged {
				from = append(from, fmt.Sprintf("%s %q (line %d, the same package)", m.Kind, m.Name, m.Line))
			}
		}
		b.WriteString("  " + nixAttrRef(a) + " # " + oneLine(strings.Join(from, "; ")) + "\n")
	}
	b.WriteString("]\n")
	return []byte(b.String())
}

// nixAttrRef writes pkgs.<path>, quoting parts that are not plain
// identifiers (or are keywords).
func nixAttrRef(path string) string {
	var b strings.Builder
	b.WriteString("pkgs")
	for _, p := range strings.Split(path, ".") {
		b.WriteByte('.')
		if nixIdent(p) {
			b.WriteString(p)
		} else {
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`).Replace(p) + `"`)
		}
	}
	return b.String()
}

var nixKeywords = map[string]bool{"if": true, "then": true, "else": true, "assert": true, "with": true,
	"let": true, "in": true, "rec": true, "inherit": true, "or": true}

func nixIdent(s string) bool {
	if s == "" || nixKeywords[s] {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '\'' || c == '-'):
		default:
			return false
		}
	}
	return true
}
