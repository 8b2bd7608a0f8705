package ui

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0ms"},
		{0, "0ms"},
		{400 * time.Microsecond, "0ms"},
		{340 * time.Millisecond, "340ms"},
		{999400 * time.Microsecond, "999ms"},
		{999600 * time.Microsecond, "1.0s"}, // rounds up into seconds, not "1000ms"
		{1234 * time.Millisecond, "1.2s"},
		{12345 * time.Millisecond, "12.3s"},
		{59940 * time.Millisecond, "59.9s"},
		{59960 * time.Millisecond, "1m00s"}, // not "60.0s"
		{65 * time.Second, "1m05s"},
		{59*time.Minute + 59600*time.Millisecond, "1h00m"},
		{time.Hour + 2*time.Minute + 20*time.Second, "1h02m"},
		{26 * time.Hour, "26h00m"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestClockAndApprox(t *testing.T) {
	tests := []struct {
		d             time.Duration
		clock, approx string
	}{
		{0, "0.0s", "0s"},
		{340 * time.Millisecond, "0.3s", "1s"},
		{time.Second, "1.0s", "1s"},
		{11100 * time.Millisecond, "11.1s", "12s"},
		{65 * time.Second, "1m05s", "1m05s"},
		{3599500 * time.Millisecond, "1h00m", "1h00m"},
		{3601 * time.Second, "1h00m", "1h01m"},
	}
	for _, tt := range tests {
		if got := clock(tt.d); got != tt.clock {
			t.Errorf("clock(%v) = %q, want %q", tt.d, got, tt.clock)
		}
		if got := approx(tt.d); got != tt.approx {
			t.Errorf("approx(%v) = %q, want %q", tt.d, got, tt.approx)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"trailing  ", "trailing"},
		{"  indented", "  indented"},
		{"\x1b[1;31mred\x1b[0m", "red"},
		{"\x1b]0;window title\x07after", "after"},
		{"\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"\x1b(Bcharset", "charset"},
		{"unterminated \x1b[12", "unterminated"},
		{"tab\there", "tab here"},
		{"bell\a and backspace\b", "bell and backspace"},
		{"10%\r50%\r100%", "100%"},
		{"done\r\n", "done"},
		{"first\nsecond\n", "first second"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"c1 \u009b31m csi", "c1 31m csi"},
		{"bidi \u202eevil", "bidi evil"},
		{"中文 ok", "中文 ok"},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStringWidth(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"abc", 3},
		{"✓ ⊘ ○ – ·", 9},
		{"中文", 4},
		{"e\u0301", 1}, // combining accent
		{"🚀", 2},
		{"한국어", 6},
		// What a per-rune table gets wrong: emoji outside the blocks it
		// lists, emoji presentation selectors and joined sequences.
		{"☕", 2},      // U+2615, wide since Unicode 9
		{"⚡ fast", 7}, // U+26A1
		{"✔️", 2},     // U+2714 + VS16: emoji presentation
		{"🧑‍💻", 2},    // ZWJ sequence: one glyph
		{"👍🏽", 2},     // skin-tone modifier
		{"🇩🇪", 2},     // a flag: two regional indicators
		{"🫠", 2},      // U+1FAE0, Unicode 14
	}
	for _, tt := range tests {
		if got := stringWidth(tt.s); got != tt.want {
			t.Errorf("stringWidth(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestCutCells(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
		cut  bool
	}{
		{"abc", 5, "abc", false},
		{"abc", 2, "ab", true},
		{"abc", 0, "", true},
		{"中文字", 5, "中文", true},
		{"中文字", 6, "中文字", false},
		{"a🧑‍💻b", 2, "a", true}, // the ZWJ sequence is kept whole or left out
		{"a🧑‍💻b", 3, "a🧑‍💻", true},
		{"éx", 1, "é", true}, // the accent stays with its letter
		{"☕☕", 3, "☕", true},
		{"🇩🇪🇫🇷", 2, "🇩🇪", true},
	}
	for _, tt := range tests {
		got, cut := cutCells(tt.s, tt.n)
		if got != tt.want || cut != tt.cut {
			t.Errorf("cutCells(%q, %d) = %q, %v; want %q, %v", tt.s, tt.n, got, cut, tt.want, tt.cut)
		}
	}
}

func TestPaintCutsToWidth(t *testing.T) {
	l := &Live{}
	segs := []seg{{"✓ ", styleGreen}, {"中文name", styleNone}, {" tail", styleDim}}
	tests := []struct {
		max  int
		want string
	}{
		{0, "✓ 中文name tail"},
		{20, "✓ 中文name tail"},
		{15, "✓ 中文name tail"},
		{14, "✓ 中文name ta…"},
		{5, "✓ 中…"},
		{4, "✓ …"}, // a wide rune that does not fit is left out whole
		{1, "…"},
	}
	for _, tt := range tests {
		got := l.paint(segs, tt.max)
		if got != tt.want {
			t.Errorf("paint(max %d) = %q, want %q", tt.max, got, tt.want)
		}
		if tt.max > 0 && stringWidth(got) > tt.max {
			t.Errorf("paint(max %d) is %d cells", tt.max, stringWidth(got))
		}
	}
}

func TestUTF8Locale(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"LANG": "C"}, false},
		{map[string]string{"LANG": "POSIX"}, false},
		{map[string]string{"LANG": "en_US.UTF-8"}, true},
		{map[string]string{"LANG": "en_US.utf8"}, true},
		{map[string]string{"LANG": "C.UTF-8"}, true},
		{map[string]string{"LANG": "de_DE.UTF-8@euro"}, true},
		{map[string]string{"LANG": "en_US"}, false},            // ISO-8859-1
		{map[string]string{"LANG": "en_US.ISO-8859-1"}, false}, //
		{map[string]string{"LC_CTYPE": "UTF-8"}, true},         // what macOS Terminal may set
		// LC_ALL overrides LC_CTYPE, which overrides LANG.
		{map[string]string{"LC_ALL": "C", "LANG": "en_US.UTF-8"}, false},
		{map[string]string{"LC_ALL": "en_US.UTF-8", "LANG": "C"}, true},
		{map[string]string{"LC_CTYPE": "POSIX", "LANG": "en_US.UTF-8"}, false},
		{map[string]string{"LC_CTYPE": "en_US.UTF-8", "LANG": "C"}, true},
		// An empty variable is unset.
		{map[string]string{"LC_ALL": "", "LC_CTYPE": "", "LANG": "en_US.UTF-8"}, true},
		// Other categories do not decide the character set.
		{map[string]string{"LC_MESSAGES": "en_US.UTF-8"}, false},
	}
	for _, tt := range tests {
		if got := UTF8Locale(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("UTF8Locale(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}
