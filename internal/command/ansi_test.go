package command

import "testing"

func TestStripANSI(t *testing.T) {
	tests := map[string]string{
		"":                          "",
		"plain":                     "plain",
		"\x1b[31;1merror:\x1b[0m x": "error: x",
		"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\": "link",
		"bell \x1b]0;title\x07done":                "bell done",
		"trailing \x1b":                            "trailing ",
		"\x1b[":                                    "",
		"\x1bc reset":                              " reset",
		"\x1b(Bcharset":                            "charset",
		"\x1b7saved\x1b8":                          "saved",
		"dcs \x1bPq#0\x1b\\end":                    "dcs end",
		"unterminated \x1b]0;title":                "unterminated ",
		"==> Fetching \x1b[32mwget\x1b[0m":         "==> Fetching wget",
		"中文\x1b[1m🚀\x1b[0m":                        "中文🚀",
	}
	for in, want := range tests {
		if got := StripANSI(in); got != want {
			t.Errorf("StripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}
