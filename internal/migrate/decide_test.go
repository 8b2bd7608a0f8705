package migrate

import (
	"errors"
	"strings"
	"testing"
)

// TestDecide is the verdict table. In order, the first that applies wins:
//
//	kind tap / mas / vscode / go, cargo…            keep
//	alias says "no package"                          keep
//	no match: without an index                       check
//	          tap formula / else                     keep
//	verified: attribute missing                      keep
//	          evaluation threw / not a derivation    check
//	          platforms undecidable (patterns)       check
//	          not for the system / broken / insecure keep
//	          unfree without --allow-unfree          keep
//	          meta.available false (not for unfree)  keep
//	unverified alias target absent from the index    keep
//	matched, then "check" if any of: normalised or homepage match, cask
//	by exact name, tap formula not by alias, unverified (except formula
//	aliases), font cask, options, conditional, line not plain (on any
//	line merged into the entry);
//	otherwise                                        move
//
// Each verdict also says what it rests on: nix, the index, nothing (the
// alias table alone), or "" when there is nothing to verify.
func TestDecide(t *testing.T) {
	const sys = "aarch64-darwin"
	ok := func(mod func(*meta)) *meta {
		m := &meta{Found: true, Derivation: true, Version: "1.0", Available: ptr(true), Broken: ptr(false),
			Unfree: ptr(false), Unsupported: ptr(false), Insecure: ptr(false)}
		if mod != nil {
			mod(m)
		}
		return m
	}
	index, err := parseIndex([]byte(`{"legacyPackages.x86_64-linux.tool":{"pname":"tool"}}`))
	if err != nil {
		t.Fatal(err)
	}
	plain := func(kind, name string) entry { return entry{Kind: kind, Name: name, Line: 7, Plain: true} }
	alias := func(attr string) candidate {
		return candidate{Attr: attr, Match: MatchAlias, Why: "alias reason"}
	}
	exact := func(attr string) candidate {
		return candidate{Attr: attr, Match: MatchExact, Why: "same attribute name"}
	}
	merged := func(e entry, more ...entry) entry {
		for i := range more {
			more[i].Line = 9 + i
		}
		e.Merged = more
		return e
	}
	// What each verdict rests on; "" = nothing to verify.
	wantBy := map[string]string{
		"tap": "", "mas": "", "vscode": "", "cargo": "", "no-package alias": "",
		"no match, no index": NotVerified, "no match, tap": VerifiedByIndex, "no match": VerifiedByIndex,
		"by index metadata":        VerifiedByIndex,
		"unverified formula alias": NotVerified, "unverified cask alias": NotVerified, "unverified exact": NotVerified,
		"unverified alias absent from index": VerifiedByIndex, "unverified nested alias": NotVerified,
	}

	for _, tc := range []struct {
		name        string
		entry       entry
		cand        candidate
		meta        *meta // for the candidate's attribute; nil = none
		evalErr     error
		how         verification
		noIndex     bool
		allowUnfree bool
		verdict     string
		reasonHas   string
	}{
		{name: "tap", entry: plain("tap", "a/b"), verdict: Keep, reasonHas: "tap"},
		{name: "mas", entry: plain("mas", "Xcode"), verdict: Keep, reasonHas: "App Store"},
		{name: "vscode", entry: plain("vscode", "golang.go"), verdict: Keep, reasonHas: "VS Code extension"},
		{name: "cargo", entry: plain("cargo", "ripgrep"), verdict: Keep, reasonHas: "through cargo"},
		{name: "no-package alias", entry: plain("cask", "docker"), cand: candidate{Attr: noPackage, Match: MatchAlias, Why: "Docker Desktop is not in nixpkgs"},
			verdict: Keep, reasonHas: "Docker Desktop"},
		{name: "no match, no index", entry: plain("brew", "x"), noIndex: true, verdict: Check, reasonHas: "no package index"},
		{name: "no match, tap", entry: plain("brew", "u/t/x"), verdict: Keep, reasonHas: "from tap u/t"},
		{name: "no match", entry: plain("brew", "x"), verdict: Keep, reasonHas: "not in nixpkgs"},
		{name: "move", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(nil), how: byNix, verdict: Move, reasonHas: "available on aarch64-darwin (1.0)"},
		{name: "alias move", entry: plain("brew", "old"), cand: alias("tool"), meta: ok(nil), how: byNix, verdict: Move, reasonHas: "alias reason"},
		{name: "missing", entry: plain("brew", "old"), cand: alias("gone"), meta: &meta{}, how: byNix, verdict: Keep, reasonHas: "no attribute gone"},
		{name: "eval error", entry: plain("brew", "old"), cand: alias("gone"), meta: &meta{Found: true, EvalError: true}, how: byNix, verdict: Check, reasonHas: "throws"},
		{name: "eval failed alone", entry: plain("brew", "old"), cand: alias("gone"), evalErr: errors.New("nix: exit status 1"), how: byNix, verdict: Check, reasonHas: "could not evaluate gone: nix: exit status 1"},
		{name: "not a derivation", entry: plain("brew", "old"), cand: alias("set"), meta: &meta{Found: true}, how: byNix, verdict: Check, reasonHas: "not a package"},
		{name: "patterns", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Unsupported = nil; m.Platforms = []string{}; m.PlatformPatterns = true }),
			how: byNix, verdict: Check, reasonHas: "patterns"},
		{name: "unsupported", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Unsupported = ptr(true); m.Platforms = []string{"x86_64-linux"} }),
			how: byNix, verdict: Keep, reasonHas: "not available on aarch64-darwin (platforms: x86_64-linux)"},
		{name: "platforms without unsupported", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Unsupported = nil; m.Platforms = []string{"x86_64-linux"} }),
			how: byNix, verdict: Keep, reasonHas: "not available"},
		{name: "bad platform", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Unsupported = nil; m.BadPlatforms = []string{sys} }),
			how: byNix, verdict: Keep, reasonHas: "bad platforms"},
		{name: "broken", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Broken = ptr(true); m.Available = ptr(false) }),
			how: byNix, verdict: Keep, reasonHas: "broken"},
		{name: "insecure", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Insecure = ptr(true); m.Available = ptr(false) }),
			how: byNix, verdict: Keep, reasonHas: "insecure"},
		{name: "unfree", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Unfree = ptr(true); m.Available = ptr(false) }),
			how: byNix, verdict: Keep, reasonHas: "allowUnfree"},
		{name: "unfree allowed", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Unfree = ptr(true); m.Available = ptr(false) }),
			how: byNix, allowUnfree: true, verdict: Move, reasonHas: "unfree: needs allowUnfree"},
		{name: "unavailable", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Available = ptr(false) }),
			how: byNix, verdict: Keep, reasonHas: "meta.available is false"},
		{name: "by index metadata", entry: plain("brew", "tool"), cand: exact("tool"), meta: ok(func(m *meta) { m.Broken = ptr(true) }),
			how: byIndex, verdict: Keep, reasonHas: "per the package index"},
		{name: "normalised", entry: plain("brew", "tool@1"), cand: candidate{Attr: "tool", Match: MatchNormalised, Why: "normalised name tool"},
			meta: ok(nil), how: byNix, verdict: Check, reasonHas: "confirm it is the same software"},
		{name: "homepage", entry: plain("brew", "t"), cand: candidate{Attr: "tool", Match: MatchHomepage, Why: "same homepage x/y"},
			meta: ok(nil), how: byNix, verdict: Check, reasonHas: "same homepage"},
		{name: "cask by exact name", entry: plain("cask", "tool"), cand: exact("tool"), meta: ok(nil), how: byNix, verdict: Check, reasonHas: "a cask is an app"},
		{name: "cask by alias", entry: plain("cask", "tool-app"), cand: alias("tool"), meta: ok(nil), how: byNix, verdict: Move},
		{name: "tap formula", entry: plain("brew", "u/t/tool"), cand: exact("tool"), meta: ok(nil), how: byNix, verdict: Check, reasonHas: "from tap u/t"},
		{name: "font", entry: plain("cask", "font-tool"), cand: alias("tool"), meta: ok(nil), how: byNix, verdict: Check, reasonHas: "fonts.packages"},
		{name: "options", entry: entry{Kind: "brew", Name: "tool", Plain: false, Options: []string{"link", "restart_service"}}, cand: alias("tool"),
			meta: ok(nil), how: byNix, verdict: Check, reasonHas: "options link, restart_service"},
		{name: "conditional", entry: entry{Kind: "brew", Name: "tool", Line: 3, Conditional: true}, cand: alias("tool"),
			meta: ok(nil), how: byNix, verdict: Check, reasonHas: "conditionally (line 3"},
		{name: "not plain", entry: entry{Kind: "brew", Name: "tool", Line: 4}, cand: alias("tool"),
			meta: ok(nil), how: byNix, verdict: Check, reasonHas: "line 4 holds more"},
		{name: "unverified formula alias", entry: plain("brew", "old"), cand: alias("tool"), noIndex: true, verdict: Move, reasonHas: "not verified for aarch64-darwin: nix not found"},
		{name: "unverified cask alias", entry: plain("cask", "old"), cand: alias("tool"), noIndex: true, verdict: Check, reasonHas: "not verified"},
		{name: "unverified exact", entry: plain("brew", "tool"), cand: exact("tool"), verdict: Check, reasonHas: "not verified"},
		{name: "unverified alias absent from index", entry: plain("brew", "old"), cand: alias("absent"), verdict: Keep, reasonHas: "index has no attribute absent"},
		{name: "unverified nested alias", entry: plain("cask", "font-hack-nerd-font"), cand: alias("nerd-fonts.hack"), verdict: Check, reasonHas: "not verified"},
		{name: "merged lines move together", entry: merged(plain("brew", "gnupg"), plain("brew", "gpg")), cand: alias("tool"),
			meta: ok(nil), how: byNix, verdict: Move, reasonHas: `merged with line 9 (brew "gpg")`},
		{name: "merged line with options", entry: merged(plain("brew", "tool"), entry{Kind: "brew", Name: "tool", Line: 9, Options: []string{"args"}}),
			cand: alias("tool"), meta: ok(nil), how: byNix, verdict: Check, reasonHas: "options args"},
		{name: "merged line not plain", entry: merged(plain("brew", "tool"), entry{Kind: "brew", Name: "tool", Line: 9}),
			cand: alias("tool"), meta: ok(nil), how: byNix, verdict: Check, reasonHas: "line 9 holds more"},
		{name: "merged line conditional", entry: merged(plain("brew", "tool"), entry{Kind: "brew", Name: "tool", Line: 9, Plain: true, Conditional: true}),
			cand: alias("tool"), meta: ok(nil), how: byNix, verdict: Check, reasonHas: "conditionally (line 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &decider{system: sys, allowUnfree: tc.allowUnfree, index: index, indexBy: byIndex, how: tc.how, unverWhy: "nix not found"}
			if tc.noIndex {
				d.index = nil
			}
			if tc.how != unverified {
				d.metas = map[string]*meta{}
				if tc.meta != nil {
					d.metas[tc.cand.Attr] = tc.meta
				}
				if tc.evalErr != nil {
					d.evalErrs = map[string]error{tc.cand.Attr: tc.evalErr}
				}
			}
			r := d.decide(tc.entry, tc.cand)
			if r.Verdict != tc.verdict || !strings.Contains(r.Reason, tc.reasonHas) {
				t.Fatalf("got %s (%s), want %s with %q", r.Verdict, r.Reason, tc.verdict, tc.reasonHas)
			}
			if r.Verdict == Keep && r.Attr == noPackage {
				t.Error("the no-package marker leaked into the result's attribute")
			}
			by, ok := wantBy[tc.name]
			if !ok {
				by = VerifiedByNix // every other case has nix's metadata
			}
			if r.Verification != by {
				t.Errorf("verification %q, want %q", r.Verification, by)
			}
		})
	}
}
