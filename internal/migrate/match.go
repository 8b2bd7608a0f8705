package migrate

import (
	"slices"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// How an entry was matched to a nixpkgs attribute, most confident first.
const (
	MatchAlias      = "alias"      // the curated alias table
	MatchExact      = "exact"      // a top-level attribute of the same name
	MatchNormalised = "normalised" // a rewritten name, or the package name (pname)
	MatchHomepage   = "homepage"   // the same project homepage
)

// entry is one Brewfile line as migrate sees it.
type entry struct {
	Kind string // tap, brew, cask, mas, vscode, …
	Name string // as written: "ripgrep", "homebrew/cask/firefox", "user/tap/tool"
	Line int    // 1-based line in the Brewfile
	// Options are the keys of the entry's options (args, restart_service,
	// link, …), sorted. Nix package lists have no place for any of them.
	Options []string
	// Conditional is set when the Brewfile installs the entry only under a
	// condition or in a loop.
	Conditional bool
	// Plain is set when the entry's line holds that entry and nothing else
	// but a comment, so removing the line removes exactly the entry.
	Plain bool
	// Homepage is the project's homepage as Homebrew knows it, if given
	// (see LoadBrewInfo); it allows matching by homepage.
	Homepage string
	// Merged are later lines of the Brewfile naming the same package —
	// the same name again, or another name of it that matches the same
	// attribute — folded into this entry (see MergeDuplicates). A move
	// removes their lines too.
	Merged []entry
}

// candidate is the attribute an entry matched, and how.
type candidate struct {
	Attr  string // "" when nothing matched
	Match string // MatchAlias, …; "" when nothing matched
	// Why says more about the match: the alias's reason, the rewritten
	// name that matched, the shared homepage.
	Why string
}

// matcher finds the nixpkgs attribute for Brewfile entries.
type matcher struct {
	Aliases aliasTable
	Index   *index // nil: only the alias table matches
}

// Match finds the attribute for a brew or cask entry: the alias table,
// then in the index the exact name, normalised names, the package name
// and the homepage. Other kinds never match.
func (m *matcher) Match(e entry) candidate {
	if e.Kind != "brew" && e.Kind != "cask" {
		return candidate{}
	}
	tap, base := splitTap(e.Name)
	// A formula from a third-party tap is matched by alias on its full name
	// only: "someone/tap/node" is not Homebrew's node.
	if al, ok := m.Aliases.Lookup(e.Kind, e.Name); ok {
		return aliasCandidate(al)
	}
	if tap == "" && base != e.Name {
		if al, ok := m.Aliases.Lookup(e.Kind, base); ok {
			return aliasCandidate(al)
		}
	}
	x := m.Index
	if x == nil {
		return candidate{}
	}
	if p, ok := x.pkgs[base]; ok && !strings.Contains(p.Attr, ".") {
		return candidate{Attr: base, Match: MatchExact, Why: "same attribute name"}
	}
	for _, n := range normalisedNames(e.Kind, base) {
		if _, ok := x.pkgs[n]; ok {
			return candidate{Attr: n, Match: MatchNormalised, Why: "normalised name " + n}
		}
	}
	if attrs := x.lower[strings.ToLower(base)]; len(attrs) > 0 {
		a := preferred(attrs)
		return candidate{Attr: a, Match: MatchNormalised, Why: "name differs only in case"}
	}
	if attrs := x.pnames[base]; len(attrs) > 0 {
		a := preferred(attrs)
		return candidate{Attr: a, Match: MatchNormalised, Why: "package name (pname) " + base}
	}
	if h := normaliseHomepage(e.Homepage); h != "" {
		if attrs := x.homes[h]; len(attrs) > 0 {
			a := preferred(attrs)
			why := "same homepage " + h
			if len(attrs) > 1 {
				why += " (shared by " + strconv.Itoa(len(attrs)) + " attributes)"
			}
			return candidate{Attr: a, Match: MatchHomepage, Why: why}
		}
	}
	return candidate{}
}

func aliasCandidate(al alias) candidate {
	return candidate{Attr: al.Attr, Match: MatchAlias, Why: al.Reason}
}

// splitTap splits "user/tap/name" into the tap and the name. Homebrew's own
// taps (homebrew/core, homebrew/cask) count as no tap.
func splitTap(name string) (tap, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	tap, base = name[:i], name[i+1:]
	switch strings.ToLower(tap) {
	case "homebrew/core", "homebrew/cask", "homebrew/homebrew-core", "homebrew/homebrew-cask":
		return "", base
	}
	return tap, base
}

var versioned = lazyregexp.New(`^(.+)@([0-9][0-9.]*)$`)

// normalisedNames are the attribute names a Homebrew name is commonly
// rewritten to in nixpkgs, in the order they are tried:
//
//	python@3.12   → python_3_12, python312, python3_12
//	the_silver_searcher → the-silver-searcher
//	gnu-sed       → gnused, sed
//	speedtest-cli → speedtest, speedtest-cli-bin…
//	signal (cask) → signal-desktop, signal-bin, signal-app
func normalisedNames(kind, name string) []string {
	l := strings.ToLower(name)
	var out []string
	add := func(s string) {
		if s != "" && s != name && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if m := versioned().FindStringSubmatch(l); m != nil {
		base, ver := m[1], strings.Trim(m[2], ".")
		us := strings.ReplaceAll(ver, ".", "_")
		add(base + "_" + us)
		add(base + strings.ReplaceAll(ver, ".", ""))
		add(base + us)
		l = base
	}
	add(l)
	add(strings.ReplaceAll(l, "_", "-"))
	add(strings.ReplaceAll(l, ".", "-"))
	add(strings.ReplaceAll(l, ".", "_"))
	if rest, ok := strings.CutPrefix(l, "gnu-"); ok {
		add("gnu" + rest)
		add(rest)
	}
	for _, suf := range []string{"-cli", "-bin", "-app"} {
		add(strings.TrimSuffix(l, suf))
	}
	if kind == "cask" {
		for _, suf := range []string{"-desktop", "-bin", "-app"} {
			add(l + suf)
		}
	}
	return out
}

// preferred picks one of several attributes: a top-level one first, then
// the shortest, then the first in order, so the choice is stable.
func preferred(attrs []string) string {
	s := slices.Clone(attrs)
	slices.SortFunc(s, func(a, b string) int {
		da, db := strings.Count(a, "."), strings.Count(b, ".")
		if da != db {
			return da - db
		}
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return s[0]
}

var attrPart = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_'+-]*$`)

// validAttrPath reports whether s is a nixpkgs attribute path sysinit can
// write into a nix file and an eval expression without quoting trouble.
func validAttrPath(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range strings.Split(s, ".") {
		if !attrPart().MatchString(p) {
			return false
		}
	}
	return true
}
