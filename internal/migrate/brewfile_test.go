package migrate

import (
	"slices"
	"strings"
	"testing"
)

func TestPlainLine(t *testing.T) {
	for _, tc := range []struct {
		line, kind, name string
		want             bool
	}{
		{`brew "ripgrep"`, "brew", "ripgrep", true},
		{`  brew 'ripgrep'   # fast grep`, "brew", "ripgrep", true},
		{`brew("ripgrep")`, "brew", "ripgrep", true},
		{`brew ( "ripgrep" ) # c`, "brew", "ripgrep", true},
		{"brew \"ripgrep\"\r", "brew", "ripgrep", true},
		{`cask "visual-studio-code"`, "cask", "visual-studio-code", true},
		{`brew "python@3.12"`, "brew", "python@3.12", true},
		{`brew "ripgrep", link: true`, "brew", "ripgrep", false},
		{`brew "ripgrep",`, "brew", "ripgrep", false},
		{`brew "ripgrep" if OS.mac?`, "brew", "ripgrep", false},
		{`brew "fd"; brew "ripgrep"`, "brew", "ripgrep", false},
		{`brew "ripgrep"; brew "fd"`, "brew", "ripgrep", false},
		{`brew("ripgrep"`, "brew", "ripgrep", false},
		{`brew "ripgrep")`, "brew", "ripgrep", false},
		{`brew "rip.grep"`, "brew", "ripXgrep", false},
		{`brew "ripgrep'`, "brew", "ripgrep", false},
		{`cask "ripgrep"`, "brew", "ripgrep", false},
		{`brewx "ripgrep"`, "brew", "ripgrep", false},
	} {
		if got := plainLine(tc.line, tc.kind, tc.name); got != tc.want {
			t.Errorf("plainLine(%q, %s %q) = %v, want %v", tc.line, tc.kind, tc.name, got, tc.want)
		}
	}
}

func TestParseBrewfile(t *testing.T) {
	src := "tap \"homebrew/bundle\"\n" +
		"brew \"fd\"; brew \"bat\"\n" +
		"brew \"jq\" if OS.linux?\n" +
		"if OS.mac?\n" +
		"  cask \"iterm2\"\n" +
		"end\n" +
		"brew \"x\",\n  restart_service: true, link: false\n" +
		"%w[a b].each { |f| brew f }\n" +
		"brew(\"y\") # c\n"
	entries, notes, err := parseBrewfile("Brewfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		kind, name  string
		line        int
		plain, cond bool
		options     string
	}
	var got []row
	for _, e := range entries {
		got = append(got, row{e.Kind, e.Name, e.Line, e.Plain, e.Conditional, strings.Join(e.Options, ",")})
	}
	want := []row{
		{"tap", "homebrew/bundle", 1, true, false, ""},
		{"brew", "fd", 2, false, false, ""},
		{"brew", "bat", 2, false, false, ""},
		{"brew", "jq", 3, false, true, ""},
		{"cask", "iterm2", 5, true, true, ""},
		{"brew", "x", 7, false, false, "link,restart_service"},
		{"brew", "y", 10, true, false, ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n got %v\nwant %v", got, want)
	}
	// The loop makes entries nobody can list without Ruby; the conditions
	// do not need a note, their entries are marked.
	if len(notes) != 1 || !strings.Contains(notes[0], "line 9") || !strings.Contains(notes[0], "loop") {
		t.Errorf("notes %q, want one about the loop on line 9", notes)
	}
}

func TestParseBrewfileError(t *testing.T) {
	_, _, err := parseBrewfile("Brewfile", []byte("brew \"unterminated\n"))
	if err == nil || !strings.Contains(err.Error(), "reading Brewfile: Brewfile:1") {
		t.Fatalf("got %v", err)
	}
}

func TestTrimBrewfile(t *testing.T) {
	mergedWith := func(rs []result, more ...entry) []result {
		rs[0].Merged = more
		return rs
	}
	moved := func(lines ...int) []result {
		var rs []result
		for _, l := range lines {
			rs = append(rs, result{entry: entry{Kind: "brew", Name: "n" + string(rune('0'+l)), Line: l}})
		}
		return rs
	}
	for _, tc := range []struct {
		name, src, want string
		moved           []result
		removed         int
		err             string
	}{
		{name: "keeps everything else byte for byte",
			src:  "# my tools\n\nbrew \"n3\"   # moved\nbrew \"keep\"\t# tab\n  brew 'n5'\ncask \"app\"\n",
			want: "# my tools\n\nbrew \"keep\"\t# tab\ncask \"app\"\n", moved: moved(3, 5), removed: 2},
		{name: "CRLF", src: "brew \"n1\"\r\nbrew \"keep\"\r\n", want: "brew \"keep\"\r\n", moved: moved(1), removed: 1},
		{name: "no final newline", src: "brew \"keep\"\nbrew \"n2\"", want: "brew \"keep\"\n", moved: moved(2), removed: 1},
		{name: "last line kept without newline", src: "brew \"n1\"\nbrew \"keep\"", want: "brew \"keep\"", moved: moved(1), removed: 1},
		{name: "nothing moved", src: "brew \"keep\"\n", want: "brew \"keep\"\n", removed: 0},
		{name: "refuses a line that is not the entry", src: "brew \"other\"\n", moved: moved(1), err: "line 1 is not"},
		{name: "refuses a line past the end", src: "brew \"keep\"\n", moved: moved(4), err: "line 4 is not"},
		{name: "merged lines go too", src: "brew \"n1\"\nbrew \"keep\"\nbrew \"n3\"\nbrew \"gpg\"\n",
			want: "brew \"keep\"\n", moved: mergedWith(moved(1), entry{Kind: "brew", Name: "n3", Line: 3}, entry{Kind: "brew", Name: "gpg", Line: 4}), removed: 3},
		{name: "refuses a merged line that is not the entry", src: "brew \"n1\"\nbrew \"other\"\n",
			moved: mergedWith(moved(1), entry{Kind: "brew", Name: "n2", Line: 2}), err: "line 2 is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := trimBrewfile([]byte(tc.src), tc.moved)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || n != tc.removed {
				t.Errorf("got %q (%d removed), want %q (%d)", got, n, tc.want, tc.removed)
			}
		})
	}
}

func TestLoadBrewInfo(t *testing.T) {
	h, err := loadBrewInfo("testdata/brew-info.json")
	if err != nil {
		t.Fatal(err)
	}
	if h[homeKey("brew", "dust")] != "https://github.com/bootandy/dust" || h[homeKey("cask", "firefox")] != "https://www.mozilla.org/firefox/" {
		t.Errorf("homepages %v", h)
	}
	if h[homeKey("cask", "dust")] != "" {
		t.Error("a formula's homepage answered for a cask")
	}
	if _, err := loadBrewInfo("testdata/Brewfile.all"); err == nil || !strings.Contains(err.Error(), "brew info --json=v2") {
		t.Errorf("non-JSON brew info: got %v", err)
	}
}
