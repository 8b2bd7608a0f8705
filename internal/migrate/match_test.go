package migrate

import (
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	aliases, err := defaultAliases()
	if err != nil {
		t.Fatal(err)
	}
	search, err := loadIndex("testdata/nix-search.json")
	if err != nil {
		t.Fatal(err)
	}
	pkgsJSON, err := loadIndex("testdata/packages.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		index    *index
		entry    entry
		attr     string
		match    string
		whyHas   string
		noAnswer bool
		noAlias  bool // match without the alias table
	}{
		{name: "alias", index: search, entry: entry{Kind: "brew", Name: "node"}, attr: "nodejs", match: MatchAlias},
		{name: "alias without index", entry: entry{Kind: "brew", Name: "git-delta"}, attr: "delta", match: MatchAlias},
		{name: "alias before exact", index: search, entry: entry{Kind: "brew", Name: "ripgrep"}, attr: "ripgrep", match: MatchAlias},
		{name: "alias on core-qualified name", entry: entry{Kind: "brew", Name: "homebrew/core/yq"}, attr: "yq-go", match: MatchAlias},
		{name: "alias on full tap name", entry: entry{Kind: "brew", Name: "nikitabobko/tap/aerospace"}, attr: "aerospace", match: MatchAlias},
		{name: "third-party tap is not the core alias", entry: entry{Kind: "brew", Name: "someone/tap/node"}, noAnswer: true},
		{name: "cask alias is per kind", entry: entry{Kind: "cask", Name: "node"}, noAnswer: true},
		{name: "no-package alias", entry: entry{Kind: "cask", Name: "docker"}, attr: noPackage, match: MatchAlias},
		{name: "no index, no alias", entry: entry{Kind: "brew", Name: "tokei"}, noAnswer: true},
		{name: "cask alias on full tap name", entry: entry{Kind: "cask", Name: "nikitabobko/tap/aerospace"}, attr: "aerospace", match: MatchAlias},
		{name: "cask alias on short name", entry: entry{Kind: "cask", Name: "aerospace"}, attr: "aerospace", match: MatchAlias},
		{name: "Homebrew's other name", entry: entry{Kind: "brew", Name: "gpg"}, attr: "gnupg", match: MatchAlias},
		{name: "exact", index: search, entry: entry{Kind: "brew", Name: "gnused"}, attr: "gnused", match: MatchExact},
		{name: "exact through tap", index: search, entry: entry{Kind: "brew", Name: "someone/tap/gnused"}, attr: "gnused", match: MatchExact},
		{name: "versioned", index: search, entry: entry{Kind: "brew", Name: "lua@5.4"}, attr: "lua5_4", match: MatchNormalised, whyHas: "lua5_4"},
		{name: "case", index: search, entry: entry{Kind: "brew", Name: "r-lang"}, noAnswer: true},
		{name: "case only", index: search, entry: entry{Kind: "brew", Name: "r"}, attr: "R", match: MatchNormalised, whyHas: "case", noAlias: true},
		{name: "suffix stripped", index: search, entry: entry{Kind: "brew", Name: "speedtest-cli"}, attr: "speedtest", match: MatchNormalised},
		{name: "cask suffix added", index: search, entry: entry{Kind: "cask", Name: "signal"}, attr: "signal-desktop", match: MatchNormalised, noAlias: true},
		{name: "formula gets no app suffix", index: search, entry: entry{Kind: "brew", Name: "signal"}, noAnswer: true},
		{name: "pname", index: search, entry: entry{Kind: "brew", Name: "hello"}, attr: "hello-unwrapped", match: MatchNormalised, whyHas: "pname"},
		{name: "nested attr is not exact", index: search, entry: entry{Kind: "brew", Name: "hack"}, noAnswer: true},
		{name: "homepage", index: pkgsJSON, entry: entry{Kind: "brew", Name: "dust", Homepage: "https://github.com/bootandy/dust"},
			attr: "du-dust", match: MatchHomepage, whyHas: "github.com/bootandy/dust"},
		{name: "bare-domain homepage never matches", index: pkgsJSON, entry: entry{Kind: "brew", Name: "ff", Homepage: "https://www.mozilla.org/"}, noAnswer: true},
		{name: "no homepage", index: pkgsJSON, entry: entry{Kind: "brew", Name: "dust"}, noAnswer: true},
		{name: "nothing", index: search, entry: entry{Kind: "brew", Name: "nosuchtool"}, noAnswer: true},
		{name: "mas never matches", index: search, entry: entry{Kind: "mas", Name: "ripgrep"}, noAnswer: true},
		{name: "tap never matches", index: search, entry: entry{Kind: "tap", Name: "ripgrep"}, noAnswer: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &matcher{Aliases: aliases, Index: tc.index}
			if tc.noAlias {
				m.Aliases = aliasTable{}
			}
			c := m.Match(tc.entry)
			if tc.noAnswer {
				if c.Attr != "" || c.Match != "" {
					t.Fatalf("matched %q by %q, want nothing", c.Attr, c.Match)
				}
				return
			}
			if c.Attr != tc.attr || c.Match != tc.match {
				t.Fatalf("got %q by %q (%s), want %q by %q", c.Attr, c.Match, c.Why, tc.attr, tc.match)
			}
			if tc.whyHas != "" && !strings.Contains(c.Why, tc.whyHas) {
				t.Errorf("why %q does not mention %q", c.Why, tc.whyHas)
			}
		})
	}
}

func TestNormalisedNames(t *testing.T) {
	for _, tc := range []struct {
		kind, name string
		want       []string // must appear, in this order
	}{
		{"brew", "python@3.12", []string{"python_3_12", "python312", "python3_12", "python"}},
		{"brew", "postgresql@16", []string{"postgresql_16", "postgresql16"}},
		{"brew", "the_silver_searcher", []string{"the-silver-searcher"}},
		{"brew", "gnu-sed", []string{"gnused", "sed"}},
		{"brew", "llama.cpp", []string{"llama-cpp", "llama_cpp"}},
		{"brew", "speedtest-cli", []string{"speedtest"}},
		{"brew", "MacVim", []string{"macvim"}},
		{"cask", "signal", []string{"signal-desktop", "signal-bin", "signal-app"}},
	} {
		got := normalisedNames(tc.kind, tc.name)
		i := 0
		for _, g := range got {
			if i < len(tc.want) && g == tc.want[i] {
				i++
			}
		}
		if i != len(tc.want) {
			t.Errorf("normalisedNames(%s %q) = %v, want %v in that order", tc.kind, tc.name, got, tc.want)
		}
		if slices.Contains(got, tc.name) {
			t.Errorf("normalisedNames(%q) repeats the name itself", tc.name)
		}
	}
}

func TestValidAttrPath(t *testing.T) {
	for s, want := range map[string]bool{
		"ripgrep": true, "nerd-fonts.hack": true, "_1password-gui": true, "R": true, "gtk+3": true, "_7zz": true,
		"": false, "a..b": false, ".a": false, "a b": false, `a"b`: false, "a${b}": false, "a\nb": false,
	} {
		if got := validAttrPath(s); got != want {
			t.Errorf("validAttrPath(%q) = %v, want %v", s, got, want)
		}
	}
}
