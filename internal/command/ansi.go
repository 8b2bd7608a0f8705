package command

import "strings"

// StripANSI removes the terminal escape sequences programs print (colours,
// cursor movement, window titles, hyperlinks) and leaves everything else,
// so their output can be parsed and shown. It is the one such function in
// sysinit: nix and brew parse with it, and the views clean every line with
// it before printing. Text without ESC is returned as is, without copying.
func StripANSI(s string) string {
	i := strings.IndexByte(s, 0x1b)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[skipEscape(s, i):]
		i = strings.IndexByte(s, 0x1b)
	}
	b.WriteString(s)
	return b.String()
}

// skipEscape returns the index after the escape sequence that starts at
// s[i] == ESC: CSI (ESC [ ... final byte), OSC/DCS/APC/PM/SOS strings (ended
// by BEL or ESC \), or a short escape such as ESC 7 or ESC ( B. An
// unterminated sequence runs to the end of s.
func skipEscape(s string, i int) int {
	i++ // ESC
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		for i++; i < len(s); i++ {
			if c := s[i]; c >= 0x40 && c <= 0x7e {
				return i + 1
			}
		}
		return i
	case ']', 'P', '_', '^', 'X':
		for i++; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	default:
		// ESC, intermediate bytes (0x20-0x2f, as in ESC ( B), one final byte
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		return min(i+1, len(s))
	}
}
