// Package migrate proposes moving Homebrew packages to nixpkgs: it matches
// each Brewfile entry to a nixpkgs attribute (a curated alias table, then a
// package index), verifies the attribute on the target system with nix,
// gives a verdict — move, keep or check — and, asked to, writes a nix
// package list and a Brewfile without the moved lines.
//
// Everything runs through command.Runner. Without nix, or when nix cannot
// reach the default nixpkgs (offline, no registry entry), matching falls
// back to the alias table, every entry says it is unverified, and --write
// holds unverified entries back unless told otherwise.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/sysinit/sysinit/internal/command"
)

// defaultNixpkgs is the flake reference verified against when none is given.
const defaultNixpkgs = "nixpkgs"

// Options are everything `sysinit migrate` takes.
type Options struct {
	Brewfile string // the Brewfile to read
	System   string // target system, e.g. aarch64-darwin; "" = this machine's
	Nixpkgs  string // flake reference of nixpkgs; "" = from FlakeLock, else DefaultNixpkgs
	// FlakeLock is the configuration's flake.lock: when Nixpkgs is "", its
	// "nixpkgs" input's locked revision is verified against, so verdicts
	// hold for what the configuration will build. "" = none.
	FlakeLock string
	// Index is a package index file (nix search --json output or
	// packages.json); "" = build one with nix search, cached in CacheDir.
	Index string
	// BrewInfo is the output of `brew info --json=v2 --installed` (or for
	// named packages); its homepages allow matching by homepage when the
	// index has homepages too (packages.json). "" = none.
	BrewInfo    string
	CacheDir    string // where built indexes are kept; "" = not cached
	AllowUnfree bool   // the user's nixpkgs config allows unfree packages
	JSON        bool   // print the JSON report instead of the table

	Write bool // write the nix list and the trimmed Brewfile
	// Unverified lets Write move entries nixpkgs did not confirm (the
	// alias table's word alone); without it they stay in the Brewfile and
	// the report lists them.
	Unverified bool
	// NixFile is where the nix list goes; "" = brew-migrated.nix beside
	// the Brewfile.
	NixFile string
	// Output is where the trimmed Brewfile goes; "" = the Brewfile itself,
	// rewritten after a backup copy is made.
	Output string
	Force  bool // replace an existing NixFile or Output (a backup is kept)

	Runner command.Runner   // nil = command.Exec{}
	Now    func() time.Time // nil = time.Now; names backups
}

// report is the outcome of an analysis.
type report struct {
	Brewfile string
	System   string
	Nixpkgs  string // the reference as given
	Revision string // its revision key, when nix resolved it
	Verified bool   // nix evaluated every proposed attribute
	// Unverified says why nixpkgs could not be consulted ("nix not found",
	// "nix could not resolve nixpkgs …"); "" when it was, by nix or an
	// index file.
	Unverified string
	// IndexSource says where the package index came from; "" = none.
	IndexSource string
	Results     []result
	Notes       []string // what the reader must know: missing nix, dynamic lines, …
	// Commands are the nix command lines run, in order.
	Commands []string
	Written  *written // set after a successful write
}

// summary counts the verdicts.
type summary struct {
	Move  int `json:"move"`
	Keep  int `json:"keep"`
	Check int `json:"check"`
	// Unverified counts the moves nixpkgs did not confirm: --write holds
	// them back unless given --unverified.
	Unverified int `json:"unverified"`
}

// Summary counts the report's verdicts.
func (r *report) Summary() summary {
	var s summary
	for _, res := range r.Results {
		switch res.Verdict {
		case Move:
			s.Move++
			if res.Verification == NotVerified {
				s.Unverified++
			}
		case Keep:
			s.Keep++
		default:
			s.Check++
		}
	}
	return s
}

// Run does the whole `sysinit migrate`: reads the Brewfile, analyses it,
// writes the files when asked, and prints the report (table or JSON) to
// stdout. Progress goes to stderr. The report is returned for callers that
// want the counts.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) (*report, error) {
	if opts.Brewfile == "" {
		return nil, errors.New("no Brewfile given")
	}
	src, err := os.ReadFile(opts.Brewfile)
	if err != nil {
		return nil, fmt.Errorf("reading Brewfile: %w", err)
	}
	entries, dynamic, err := parseBrewfile(filepath.Base(opts.Brewfile), src)
	if err != nil {
		return nil, err
	}
	rep, err := analyze(ctx, entries, opts, stderr)
	if err != nil {
		return nil, err
	}
	rep.Brewfile = opts.Brewfile
	rep.Notes = append(rep.Notes, dynamic...)

	var werr error
	if opts.Write {
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		rep.Written, werr = writeMigration(rep, src, writeOptions{
			Brewfile: opts.Brewfile, NixFile: opts.NixFile, Output: opts.Output, Force: opts.Force,
			Unverified: opts.Unverified, Now: now(),
		})
	}
	if opts.JSON {
		err = writeJSON(stdout, rep)
	} else {
		err = writeTable(stdout, rep)
	}
	if werr != nil {
		return rep, werr
	}
	if err != nil {
		return rep, fmt.Errorf("printing the report: %w", err)
	}
	return rep, nil
}

// analyze matches and verifies entries. Progress lines (the one-off index
// build) go to progress.
func analyze(ctx context.Context, entries []entry, opts Options, progress io.Writer) (*report, error) {
	aliases, err := defaultAliases()
	if err != nil {
		return nil, err
	}
	runner := opts.Runner
	if runner == nil {
		runner = command.Exec{}
	}
	if progress == nil {
		progress = io.Discard
	}
	system := opts.System
	if system == "" {
		if system, err = hostSystem(); err != nil {
			return nil, err
		}
	}
	if !systemName().MatchString(system) {
		return nil, fmt.Errorf("system %q: want something like aarch64-darwin", system)
	}
	ref, from := opts.Nixpkgs, ""
	if ref == "" && opts.FlakeLock != "" {
		if ref, err = nixpkgsFromLock(opts.FlakeLock, "nixpkgs"); err != nil {
			return nil, err
		}
		from = " (pinned in " + filepath.Base(opts.FlakeLock) + ")"
	}
	if ref == "" {
		ref, from = defaultNixpkgs, " (from the flake registry)"
	}
	rep := &report{System: system, Nixpkgs: ref}

	var idx *index
	if opts.Index != "" {
		if idx, err = loadIndex(opts.Index); err != nil {
			return nil, err
		}
		rep.IndexSource = fmt.Sprintf("%s (%s, %d packages)", opts.Index, idx.Format, idx.Len())
	}
	entries = slices.Clone(entries) // homepages are filled in below
	if opts.BrewInfo != "" {
		homes, err := loadBrewInfo(opts.BrewInfo)
		if err != nil {
			return nil, err
		}
		for i := range entries {
			entries[i].Homepage = homes[homeKey(entries[i].Kind, entries[i].Name)]
		}
	}

	rev, err := resolve(ctx, runner, ref, &rep.Commands)
	var nf *command.NotFoundError
	switch {
	case errors.As(err, &nf):
		rev = nil
		rep.Unverified = "nix not found"
		rep.Notes = append(rep.Notes, fmt.Sprintf("nix not found: nothing was verified for %s", system))
	case err != nil && (opts.Nixpkgs != "" || ctx.Err() != nil):
		// A nixpkgs asked for by name that nix cannot read is a mistake to
		// show, not a reason to verify nothing.
		return nil, &ResolveError{Ref: ref, Err: err}
	case err != nil:
		// The default nixpkgs out of reach (offline, no registry entry,
		// a pinned revision not fetched yet): report what the alias table
		// and an index file can tell, and say how to verify.
		rev = nil
		rep.Unverified = "nix could not resolve nixpkgs"
		rep.Notes = append(rep.Notes, fmt.Sprintf("nothing was verified for %s: nix could not resolve nixpkgs %q%s: %v",
			system, ref, from, errors.Unwrap(err)))
	default:
		rep.Revision = rev.Key
	}
	if idx == nil && rev != nil {
		var built bool
		if idx, built, err = cachedIndex(ctx, runner, rev, system, opts.CacheDir, progress, &rep.Commands); err != nil {
			return nil, err
		}
		how := "cached nix search"
		if built {
			how = "nix search"
		}
		rep.IndexSource = fmt.Sprintf("%s of %s (%d packages)", how, ref, idx.Len())
	}
	if idx == nil {
		rep.Notes = append(rep.Notes, "no package index (nixpkgs not listed and no --index): matched by the alias table alone; the rest is marked check")
	} else if opts.BrewInfo != "" && !idx.HasHomepages() {
		rep.Notes = append(rep.Notes, "the package index has no homepages (nix search lists none): no matching by homepage; use packages.json for that")
	}

	m := &matcher{Aliases: aliases, Index: idx}
	cands := make([]candidate, len(entries))
	for i, e := range entries {
		cands[i] = m.Match(e)
	}
	entries, cands, merged := mergeDuplicates(entries, cands)
	rep.Notes = append(rep.Notes, merged...)
	var attrs []string
	for _, c := range cands {
		if c.Attr != "" && c.Attr != noPackage {
			attrs = append(attrs, c.Attr)
		}
	}

	d := &decider{system: system, allowUnfree: opts.AllowUnfree, index: idx, indexBy: byNix}
	if opts.Index != "" {
		d.indexBy = byIndex
	}
	switch {
	case rev != nil:
		v := &verifier{Runner: runner, Nixpkgs: rev.Locked, System: system, Commands: &rep.Commands}
		d.metas, d.evalErrs, err = v.Verify(ctx, attrs)
		if err != nil {
			return nil, err
		}
		d.how = byNix
		rep.Verified = true
	case idx != nil && idx.Format == "packages.json":
		d.how = byIndex
		d.metas = map[string]*meta{}
		for _, a := range attrs {
			if p, ok := idx.Lookup(a); ok && p.Meta != nil {
				d.metas[a] = p.Meta
			}
		}
		d.unverWhy = rep.Unverified
		rep.Notes = append(rep.Notes, "verified from the index's metadata, not by evaluating nixpkgs for "+system)
	default:
		d.unverWhy = rep.Unverified
	}
	for i, e := range entries {
		rep.Results = append(rep.Results, d.decide(e, cands[i]))
	}
	if n := countVerification(rep.Results, NotVerified); n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d %s not verified for %s (%s): %s the alias table's word alone, and --write moves none of them without --unverified",
			n, plural(n, "entry was", "entries were"), system, rep.Unverified, plural(n, "its verdict is", "their verdicts are")))
		rep.Notes = append(rep.Notes, howToVerify(rep.Unverified == "nix not found"))
	}
	if n := countUnfree(rep.Results); n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d package(s) to move are unfree: the nixpkgs that installs them needs allowUnfree", n))
	}
	return rep, nil
}

// ResolveError is a nixpkgs given with --nixpkgs that nix could not
// resolve: migrate stops rather than verify nothing.
type ResolveError struct {
	Ref string
	Err error
}

func (e *ResolveError) Error() string { return e.Err.Error() }
func (e *ResolveError) Unwrap() error { return e.Err }

// howToVerify is the note that says how to get entries verified.
func howToVerify(noNix bool) string {
	first := "give a nixpkgs nix can read with --nixpkgs PATH (a nixpkgs checkout) or --nixpkgs FLAKEREF " +
		"(github:NixOS/nixpkgs/nixpkgs-unstable when online)"
	if noNix {
		first = "install nix"
	}
	return "to verify: " + first + ", or give a package index with --index FILE " +
		"(packages.json carries platforms and licences; `nix search nixpkgs --json ^` output only names)"
}

func countVerification(rs []result, v string) int {
	n := 0
	for _, r := range rs {
		if r.Verification == v {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func countUnfree(rs []result) int {
	n := 0
	for _, r := range rs {
		if r.Verdict == Move && r.Unfree {
			n++
		}
	}
	return n
}

// hostSystem is this machine's nix system name, from how sysinit was built.
func hostSystem() (string, error) {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64"}[runtime.GOARCH]
	if arch == "" || !slices.Contains([]string{"darwin", "linux"}, runtime.GOOS) {
		return "", fmt.Errorf("no nix system name for %s/%s: give one with --system", runtime.GOOS, runtime.GOARCH)
	}
	return arch + "-" + runtime.GOOS, nil
}
