package scaffold

import (
	"strings"
	"testing"
)

// TestWrapEven: a comment that does not fit on one line is broken into
// lines of even length, as few as the width allows, rather than full
// lines and a last line holding one word ("build;").
func TestWrapEven(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{
			text:  "Homebrew as modules/darwin/homebrew.nix:7 declares it, run by sysinit in parallel with the nix build;",
			width: 98,
			want: []string{
				"Homebrew as modules/darwin/homebrew.nix:7 declares",
				"it, run by sysinit in parallel with the nix build;",
			},
		},
		{
			text:  "Read from: flake.nix (configurations from a static read of flake.nix), Taskfile.yml task nix:refresh, nix.custom.conf.",
			width: 98,
			want: []string{
				"Read from: flake.nix (configurations from a static read of",
				"flake.nix), Taskfile.yml task nix:refresh, nix.custom.conf.",
			},
		},
		{text: "fits on one line", width: 98, want: []string{"fits on one line"}},
		{text: "code stays whole: `brew bundle --file x`", width: 30, want: []string{"code stays whole:", "`brew bundle --file x`"}},
		{text: "  indented text that wraps", width: 12, want: []string{"  indented", "  text that", "  wraps"}},
		{text: "a verylongwordthatdoesnotfit b", width: 8, want: []string{"a", "verylongwordthatdoesnotfit", "b"}},
	}
	for _, tt := range tests {
		got := wrap(tt.text, tt.width)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("wrap(%q, %d):\n got %q\nwant %q", tt.text, tt.width, got, tt.want)
		}
	}
}

// TestWrapNoOrphan: over many lengths of text, wrapping keeps every line
// within the width, uses no more lines than filling each line would, and
// never leaves one short word alone on the last line.
func TestWrapNoOrphan(t *testing.T) {
	words := strings.Fields("the nix build runs beside brew; sysinit decides by content checksums which refresh steps of a declaratively configured machine must run, and says why each one does")
	for n := 2; n <= len(words); n++ {
		for _, width := range []int{30, 50, 98} {
			text := strings.Join(words[:n], " ")
			got := wrap(text, width)
			greedy := wrapGreedy(text, width)
			if len(got) != len(greedy) {
				t.Errorf("wrap(%q, %d) takes %d lines, filling them takes %d", text, width, len(got), len(greedy))
			}
			for _, l := range got {
				if len(l) > width {
					t.Errorf("wrap(%q, %d): line %q is longer than the width", text, width, l)
				}
			}
			if last := got[len(got)-1]; len(got) > 1 && !strings.Contains(last, " ") && len(last) < width/4 {
				t.Errorf("wrap(%q, %d): one short word alone on the last line: %q", text, width, got)
			}
		}
	}
}

// A name read from flake.nix may hold control characters, which TOML does
// not allow in a comment: init's output must still load.
func TestCommentEscapesControlCharacters(t *testing.T) {
	var b strings.Builder
	comment(&b, "", []string{"nixosConfigurations.a\x01b\x7f (flake.nix:1)\tok"}, commentWidth)
	if got, want := b.String(), "# nixosConfigurations.a\\x01b\\x7f (flake.nix:1) ok\n"; got != want {
		t.Errorf("comment = %q, want %q", got, want)
	}
}
