// Package ui shows a run to a person or a program: a live block redrawn in
// place on a terminal (Live), stable plain lines for pipes and CI (Plain),
// and one JSON object per event (JSON). Each implements runner.Observer; none
// of them decides anything about the run, they only render its events.
package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/sysinit/sysinit/internal/command"
)

// Duration formats d the way sysinit shows durations everywhere:
// milliseconds under a second ("340ms"), one decimal under a minute
// ("12.3s"), then minutes and seconds ("1m05s"), then hours and minutes
// ("1h02m"). Each unit is rounded before the next is chosen, so 59.96s reads
// "1m00s", never "60.0s". Negative durations read as "0ms".
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if ms := d.Round(time.Millisecond); ms < time.Second {
		return fmt.Sprintf("%dms", ms/time.Millisecond)
	}
	return clock(d)
}

// clock is Duration without the millisecond form: a live elapsed column that
// ticks every 100ms reads calmer as "0.3s" → "1.2s" than "300ms" → "1.2s".
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if t := d.Round(100 * time.Millisecond); t < time.Minute {
		return fmt.Sprintf("%d.%ds", t/time.Second, t%time.Second/(100*time.Millisecond))
	}
	if s := d.Round(time.Second); s < time.Hour {
		return fmt.Sprintf("%dm%02ds", s/time.Minute, s%time.Minute/time.Second)
	}
	m := d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", m/time.Hour, m%time.Hour/time.Minute)
}

// approx formats an estimate in whole seconds, rounded up: an ETA shown to
// the tenth of a second would claim a precision the median does not have.
func approx(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := (d + time.Second - 1) / time.Second
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	if s < 3600 {
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	m := (s + 59) / 60
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}

// sanitize makes child or config text safe to print as one line of a view:
// ANSI escape sequences and control characters are removed, tabs become a
// space, within each line a carriage return keeps only what follows it (what
// a terminal would have left visible after a progress-bar redraw), several
// lines are joined with a space, invalid UTF-8 becomes U+FFFD, and trailing
// spaces are trimmed (leading ones are kept: indentation in a failure's tail
// carries meaning). A stray escape in a row of the live block would move
// the cursor and garble every later redraw.
func sanitize(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if b.Len() > 0 && line != "" {
			b.WriteByte(' ')
		}
		sanitizeLine(&b, line)
	}
	return strings.TrimRight(b.String(), " ")
}

func sanitizeLine(b *strings.Builder, s string) {
	s = command.StripANSI(s)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			// other control characters, including C1 (0x9b is a one-byte CSI)
		case r == 0x2028 || r == 0x2029 || r == 0x200e || r == 0x200f ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			// line separators and bidi controls break or reorder the row
		default:
			b.WriteRune(r)
		}
	}
}

// isClean reports whether s is printable ASCII without trailing spaces, the
// common case that sanitize returns as is without allocating.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return !strings.HasSuffix(s, " ")
}

// stringWidth is the number of terminal cells s takes, grapheme cluster by
// grapheme cluster as terminals draw them (uniseg follows Unicode's East
// Asian Width and emoji presentation data): "中" and "🚀" take two cells,
// a combining accent none, a family emoji joined with ZWJ two in all.
func stringWidth(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return uniseg.StringWidth(s)
}

// cutCells returns the longest prefix of s at most n cells wide, and whether
// that is shorter than s. It cuts between grapheme clusters only, so an
// emoji sequence or an accented letter is kept or left out whole.
func cutCells(s string, n int) (string, bool) {
	if isASCII(s) {
		if len(s) <= n {
			return s, false
		}
		return s[:max(n, 0)], true
	}
	w, state, rest := 0, -1, s
	for rest != "" {
		_, next, cw, st := uniseg.FirstGraphemeClusterInString(rest, state)
		if w+cw > n {
			return s[:len(s)-len(rest)], true
		}
		w, state, rest = w+cw, st, next
	}
	return s, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// UTF8Locale reports whether the locale in the environment encodes text as
// UTF-8, so the views may draw Unicode marks. The variable that decides is
// the first set of LC_ALL, LC_CTYPE and LANG, in the order POSIX gives them
// precedence; none set, "C" and "POSIX" mean the portable (ASCII) locale.
// Otherwise the codeset after the dot must be UTF-8 ("en_US.UTF-8",
// "C.utf8"); macOS terminals may set LC_CTYPE to just "UTF-8".
func UTF8Locale(getenv func(string) string) bool {
	var loc string
	for _, name := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if loc = getenv(name); loc != "" {
			break
		}
	}
	if loc == "" || loc == "C" || loc == "POSIX" {
		return false
	}
	codeset := loc
	if i := strings.IndexByte(codeset, '.'); i >= 0 {
		codeset = codeset[i+1:]
	}
	if i := strings.IndexByte(codeset, '@'); i >= 0 {
		codeset = codeset[:i] // a modifier: "de_DE.UTF-8@euro"
	}
	codeset = strings.ToLower(codeset)
	return codeset == "utf-8" || codeset == "utf8"
}
