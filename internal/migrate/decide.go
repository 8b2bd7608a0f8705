package migrate

import (
	"fmt"
	"slices"
	"strings"
)

// The verdicts.
const (
	Move  = "move"  // nixpkgs has it for the system: drop it from the Brewfile
	Keep  = "keep"  // it stays in Homebrew; the reason says why
	Check = "check" // a person should look: the match or its verification is uncertain
)

// result is the proposal for one Brewfile entry.
type result struct {
	entry
	Attr    string // proposed nixpkgs attribute; "" when none
	Match   string // MatchAlias, …; "" when nothing matched
	Verdict string // Move, Keep or Check
	Reason  string
	Version string // the nixpkgs version, when known
	Unfree  bool   // moving it needs allowUnfree
	// Verification says what the verdict's nixpkgs facts rest on:
	// VerifiedByNix, VerifiedByIndex, NotVerified, or "" when there was
	// nothing to verify (a tap, an App Store app, an alias saying nixpkgs
	// has no such package).
	Verification string
}

// What a verdict's nixpkgs facts rest on (Result.Verification).
const (
	// VerifiedByNix: nix evaluated the attribute for the system, or nix
	// listed the pinned nixpkgs and it has no such package.
	VerifiedByNix = "nix"
	// VerifiedByIndex: a package index file (--index), its metadata or
	// its list of attributes.
	VerifiedByIndex = "index"
	// NotVerified: nothing from nixpkgs; the alias table alone.
	NotVerified = "none"
)

// verification is how an attribute's metadata was learnt.
type verification int

const (
	unverified verification = iota
	byNix                   // nix evaluated it for the system
	byIndex                 // the index's recorded metadata (packages.json)
)

func (v verification) String() string {
	switch v {
	case byNix:
		return VerifiedByNix
	case byIndex:
		return VerifiedByIndex
	}
	return NotVerified
}

// decider turns a match and what nixpkgs says into a verdict.
type decider struct {
	system      string
	allowUnfree bool
	index       *index       // nil without one
	indexBy     verification // where index came from: nix search (byNix) or a file (byIndex)
	how         verification
	metas       map[string]*meta // by attribute, when how != unverified
	evalErrs    map[string]error // attributes whose evaluation failed alone
	unverWhy    string           // why nothing was verified, for reasons
}

// decide gives the verdict on an entry and the entries merged into it
// (see MergeDuplicates): one package, so one verdict, which must hold for
// every line a move would remove.
func (d *decider) decide(e entry, c candidate) result {
	r := d.verdict(e, c)
	if len(e.Merged) > 0 {
		r.Reason += "; " + mergedText(e)
	}
	return r
}

func (d *decider) verdict(e entry, c candidate) result {
	r := result{entry: e, Attr: c.Attr, Match: c.Match}
	set := func(v, why string, args ...any) result {
		r.Verdict, r.Reason = v, fmt.Sprintf(why, args...)
		return r
	}
	// by names what the verdict about to be set rests on.
	by := func(v verification) { r.Verification = v.String() }
	switch e.Kind {
	case "brew", "cask":
	case "tap":
		return set(Keep, "tap: a source of Homebrew packages, not a package")
	case "mas":
		return set(Keep, "Mac App Store app: only the App Store installs it")
	case "vscode":
		return set(Keep, "VS Code extension: not a Homebrew package")
	default:
		return set(Keep, "%s package: Homebrew installs it through %s, not migrated", e.Kind, e.Kind)
	}
	tap, _ := splitTap(e.Name)
	if c.Attr == noPackage {
		r.Attr = ""
		return set(Keep, "%s", c.Why)
	}
	if c.Attr == "" {
		if d.index == nil {
			by(unverified)
			return set(Check, "no alias, and no package index to look it up in")
		}
		by(d.indexBy)
		if tap != "" {
			return set(Keep, "formula from tap %s; nixpkgs has nothing by that name", tap)
		}
		return set(Keep, "not in nixpkgs")
	}

	meta, how := d.metas[c.Attr], d.how
	if how != unverified && meta == nil {
		if err := d.evalErrs[c.Attr]; err != nil {
			by(how)
			return set(Check, "could not evaluate %s: %v", c.Attr, err)
		}
		// The index knew nothing of an alias target and nix did not run.
		how = unverified
	}
	by(how)
	if meta != nil {
		r.Version = meta.Version
		where := ""
		if how == byIndex {
			where = " (per the package index's metadata)"
		}
		switch {
		case !meta.Found:
			return set(Keep, "nixpkgs has no attribute %s", c.Attr)
		case meta.EvalError:
			return set(Check, "%s throws when evaluated: removed or renamed in this nixpkgs?", c.Attr)
		case !meta.Derivation:
			return set(Check, "%s is not a package (a set of packages or a function)", c.Attr)
		}
		ok, known := meta.Supports(d.system)
		switch {
		case !known:
			return set(Check, "could not tell whether %s builds for %s: its platforms are patterns%s", c.Attr, d.system, where)
		case !ok:
			return set(Keep, "not available on %s (%s)%s", d.system, platformsText(meta), where)
		case isTrue(meta.Broken):
			return set(Keep, "marked broken on %s%s", d.system, where)
		case isTrue(meta.Insecure):
			return set(Keep, "marked insecure (known vulnerabilities)%s", where)
		case isTrue(meta.Unfree) && !d.allowUnfree:
			return set(Keep, "unfree: needs allowUnfree (pass --allow-unfree if your nixpkgs config sets it); not in the binary cache%s", where)
		case meta.Available != nil && !*meta.Available && !isTrue(meta.Unfree):
			return set(Keep, "nixpkgs marks it unavailable on %s (meta.available is false)%s", d.system, where)
		}
		r.Unfree = isTrue(meta.Unfree)
	}

	// It exists and, as far as is known, builds for the system. How sure
	// is the match, and can the line be moved as it is?
	var cautions []string
	verdict := Move
	caution := func(why string, args ...any) {
		verdict = Check
		cautions = append(cautions, fmt.Sprintf(why, args...))
	}
	why := c.Why
	switch c.Match {
	case MatchNormalised, MatchHomepage:
		caution("matched by %s: confirm it is the same software", c.Why)
		why = ""
	case MatchExact:
		if e.Kind == "cask" {
			caution("a cask is an app; nixpkgs %s may be something else by the same name", c.Attr)
			why = ""
		}
	}
	if tap != "" && c.Match != MatchAlias {
		caution("formula from tap %s: confirm nixpkgs %s is the same software", tap, c.Attr)
	}
	if meta == nil && d.index != nil && !strings.Contains(c.Attr, ".") {
		if _, ok := d.index.Lookup(c.Attr); !ok {
			// Only an alias gets here; nix search lists every top-level
			// package whatever its platforms, so absence means absence.
			by(d.indexBy)
			return set(Keep, "the package index has no attribute %s", c.Attr)
		}
	}
	if meta == nil {
		if c.Match != MatchAlias || e.Kind == "cask" {
			caution("not verified for %s: %s", d.system, d.unverWhy)
		} else {
			cautions = append(cautions, fmt.Sprintf("not verified for %s: %s", d.system, d.unverWhy))
		}
	}
	if e.Kind == "cask" && strings.HasPrefix(nameOf(e.Name), "font-") {
		caution("font: add it to fonts.packages, not a package list")
	}
	lines := append([]entry{e}, e.Merged...)
	if opts := optionsOf(lines); len(opts) > 0 {
		caution("options %s have no nix equivalent", strings.Join(opts, ", "))
	}
	for _, l := range lines {
		if l.Conditional {
			caution("installed only conditionally (line %d sits in a condition or loop)", l.Line)
			break
		}
	}
	for _, l := range lines {
		if !l.Plain && verdict == Move {
			caution("line %d holds more than this entry: move it by hand", l.Line)
			break
		}
	}
	if r.Unfree {
		cautions = append(cautions, "unfree: needs allowUnfree; not in the binary cache")
	}
	parts := cautions
	if verdict == Move {
		var lead []string
		if meta != nil {
			avail := "available on " + d.system
			if meta.Version != "" {
				avail += " (" + meta.Version + ")"
			}
			lead = append(lead, avail)
		}
		if why != "" {
			lead = append(lead, why)
		}
		parts = append(lead, cautions...)
	}
	if len(parts) == 0 {
		parts = []string{"matched by " + matchLabels[c.Match]}
	}
	r.Verdict, r.Reason = verdict, strings.Join(parts, "; ")
	return r
}

// optionsOf is the sorted union of the lines' option names.
func optionsOf(lines []entry) []string {
	var out []string
	for _, l := range lines {
		for _, o := range l.Options {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	slices.Sort(out)
	return out
}

func nameOf(full string) string {
	_, base := splitTap(full)
	return base
}

func isTrue(b *bool) bool { return b != nil && *b }

func platformsText(m *meta) string {
	if len(m.Platforms) == 0 {
		if len(m.BadPlatforms) > 0 {
			return "bad platforms: " + strings.Join(m.BadPlatforms, ", ")
		}
		return "nixpkgs marks it unsupported"
	}
	const show = 4
	ps := m.Platforms
	s := strings.Join(ps[:min(show, len(ps))], ", ")
	if len(ps) > show {
		s += fmt.Sprintf(", +%d more", len(ps)-show)
	}
	return "platforms: " + s
}
