package migrate

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadIndexNixSearch(t *testing.T) {
	x, err := loadIndex("testdata/nix-search.json")
	if err != nil {
		t.Fatal(err)
	}
	if x.Format != "nix-search" {
		t.Errorf("format %q, want nix-search", x.Format)
	}
	if want := []string{"aarch64-darwin", "x86_64-linux"}; !slices.Equal(x.Systems, want) {
		t.Errorf("systems %v, want %v", x.Systems, want)
	}
	if x.Len() != 9 {
		t.Errorf("%d packages, want 9 (ripgrep once for two systems)", x.Len())
	}
	p, ok := x.Lookup("nerd-fonts.hack")
	if !ok || p.Pname != "nerd-fonts-hack" || p.Version != "3.2.1" {
		t.Errorf("nerd-fonts.hack: %+v, %v", p, ok)
	}
	if p, _ := x.Lookup("ripgrep"); p.Meta != nil || p.Homepage != "" {
		t.Errorf("nix search has no meta or homepage, got %+v", p)
	}
	if x.HasHomepages() {
		t.Error("nix search index claims homepages")
	}
}

func TestLoadIndexPackagesJSON(t *testing.T) {
	x, err := loadIndex("testdata/packages.json")
	if err != nil {
		t.Fatal(err)
	}
	if x.Format != "packages.json" || x.Len() != 7 || !slices.Equal(x.Systems, []string{"x86_64-linux"}) {
		t.Fatalf("format %q, %d packages, systems %v", x.Format, x.Len(), x.Systems)
	}
	if !x.HasHomepages() {
		t.Error("packages.json index has no homepages")
	}
	for _, tc := range []struct {
		attr             string
		homepage         string
		unfree, broken   *bool
		platforms        []string
		patterns         bool
		supportsDarwinOK bool
		supportsKnown    bool
	}{
		{"ripgrep", "https://github.com/BurntSushi/ripgrep", ptr(false), ptr(false),
			[]string{"x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"}, false, true, true},
		{"du-dust", "https://github.com/bootandy/dust/", ptr(false), nil,
			[]string{"x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"}, false, true, true},
		{"vscode", "https://code.visualstudio.com/", ptr(true), nil, []string{"x86_64-linux", "aarch64-darwin"}, false, true, true},
		{"firefox", "https://www.mozilla.org/firefox/", ptr(false), nil, []string{"x86_64-linux", "aarch64-linux"}, false, false, true},
		{"cowsay", "https://github.com/cowsay-org/cowsay", nil, ptr(true), nil, false, true, true},
		{"wezterm", "", nil, nil, []string{"x86_64-linux"}, true, false, false},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			p, ok := x.Lookup(tc.attr)
			if !ok || p.Meta == nil {
				t.Fatalf("missing, or no meta: %+v", p)
			}
			m := p.Meta
			if p.Homepage != tc.homepage || !eqBool(m.Unfree, tc.unfree) || !eqBool(m.Broken, tc.broken) ||
				!slices.Equal(m.Platforms, tc.platforms) || m.PlatformPatterns != tc.patterns {
				t.Errorf("got homepage %q unfree %v broken %v platforms %v patterns %v", p.Homepage,
					show(m.Unfree), show(m.Broken), m.Platforms, m.PlatformPatterns)
			}
			ok, known := m.Supports("aarch64-darwin")
			if ok != tc.supportsDarwinOK || known != tc.supportsKnown {
				t.Errorf("Supports(aarch64-darwin) = %v, %v; want %v, %v", ok, known, tc.supportsDarwinOK, tc.supportsKnown)
			}
		})
	}
}

func TestParseIndexRejects(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"not json", "nope", "not a nix search or packages.json index"},
		{"a list", "[]", "not a nix search or packages.json index"},
		{"foreign key", `{"ripgrep":{"pname":"ripgrep"}}`, `key "ripgrep"`},
		{"no attribute", `{"legacyPackages.x86_64-linux":{}}`, "legacyPackages.<system>.<attribute>"},
		{"bad entry", `{"legacyPackages.x86_64-linux.a":"x"}`, "cannot unmarshal string"},
		{"bad packages", `{"packages":{"a":[]}}`, "packages.json"},
		{"empty attr", `{"packages":{"":{}}}`, "empty attribute name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseIndex([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseIndexEmptySearch(t *testing.T) {
	// nix search with no results prints {}; that is an empty index, not an
	// error.
	x, err := parseIndex([]byte("{}"))
	if err != nil || x.Len() != 0 || x.Format != "nix-search" {
		t.Fatalf("got %v, %+v", err, x)
	}
}

func TestLoadIndexMissingFile(t *testing.T) {
	_, err := loadIndex(filepath.Join(t.TempDir(), "none.json"))
	if err == nil || !strings.Contains(err.Error(), "reading package index") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestNormaliseHomepage(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/BurntSushi/ripgrep":      "github.com/burntsushi/ripgrep",
		"http://www.github.com/BurntSushi/ripgrep/":  "github.com/burntsushi/ripgrep",
		"https://github.com/BurntSushi/ripgrep.git":  "github.com/burntsushi/ripgrep",
		"https://example.org/x?utm=1#top":            "example.org/x",
		"https://www.mozilla.org/":                   "", // a bare domain says too little
		"":                                           "",
		"  https://gitlab.com/a/b/  ":                "gitlab.com/a/b",
		"https://www.gnu.org/software/coreutils/":    "gnu.org/software/coreutils",
		"https://www.gnu.org/software/coreutils.git": "gnu.org/software/coreutils",
	} {
		if got := normaliseHomepage(in); got != want {
			t.Errorf("normaliseHomepage(%q) = %q, want %q", in, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func eqBool(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(b *bool) string {
	if b == nil {
		return "nil"
	}
	if *b {
		return "true"
	}
	return "false"
}
