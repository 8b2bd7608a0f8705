package ui

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// screen is a tiny terminal model: it interprets the bytes a view wrote so a
// test can check what a user would see, not the byte soup. It knows exactly
// the sequences the live view may emit (and SGR); anything else is recorded
// as a problem. Like xterm it autowraps: writing the last column leaves the
// cursor there with a wrap pending (so a clear-line then erases that last
// character), and the next character goes to the next row. A wrap is a
// problem unless allowWrap is set: inside the redrawn block it garbles the
// next redraw, while the final frame may wrap.
type screen struct {
	width     int // 0: no limit
	allowWrap bool
	lines     [][]string   // one grapheme cluster per cell; "" is the right half of a wide one
	wrapped   map[int]bool // rows that continue the row above (a soft wrap)
	row, col  int
	pending   bool // the last column was written: the next character wraps
	cursorOn  bool
	problems  []string
}

func newScreen(width int) *screen { return &screen{width: width, cursorOn: true} }

func (s *screen) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf("row %d col %d: ", s.row, s.col)+fmt.Sprintf(format, args...))
}

func (s *screen) line(r int) []string {
	for len(s.lines) <= r {
		s.lines = append(s.lines, nil)
	}
	return s.lines[r]
}

func (s *screen) wrap(c string) {
	if !s.allowWrap {
		s.problem("%q written past width %d (would wrap)", c, s.width)
	}
	s.row, s.col, s.pending = s.row+1, 0, false
	s.line(s.row)
	if s.wrapped == nil {
		s.wrapped = map[int]bool{}
	}
	s.wrapped[s.row] = true
}

func (s *screen) put(c string, w int) {
	if s.width > 0 && (s.pending || s.col+w > s.width) {
		s.wrap(c)
	}
	l := s.line(s.row)
	for len(l) < s.col+w {
		l = append(l, " ")
	}
	l[s.col] = c
	for i := 1; i < w; i++ {
		l[s.col+i] = "" // the right half of a wide character
	}
	s.lines[s.row] = l
	s.col += w
	if s.width > 0 && s.col >= s.width {
		s.col, s.pending = s.width-1, true
	}
}

// Write interprets p. Sequences must not be split across calls; tests feed
// the whole output at once.
func (s *screen) Write(p []byte) (int, error) {
	str := string(p)
	for i := 0; i < len(str); {
		c := str[i]
		switch {
		case c == 0x1b:
			n := s.escape(str[i:])
			i += n
			continue
		case c == '\r':
			s.col, s.pending = 0, false
		case c == '\n':
			s.row, s.pending = s.row+1, false
			s.line(s.row)
		case c < 0x20 || c == 0x7f:
			s.problem("control byte %#x", c)
		default:
			r, _ := utf8.DecodeRuneInString(str[i:])
			if r >= 0x80 && r < 0xa0 {
				s.problem("C1 control %U", r)
				i += utf8.RuneLen(r)
				continue
			}
			cluster, _, w, _ := uniseg.FirstGraphemeClusterInString(str[i:], -1)
			s.put(cluster, w)
			i += len(cluster)
			continue
		}
		i++
	}
	return len(p), nil
}

// escape interprets the sequence at the start of str and returns its length.
func (s *screen) escape(str string) int {
	if len(str) < 2 || str[1] != '[' {
		s.problem("unknown escape %q", str[:min(len(str), 4)])
		return 1
	}
	end := 2
	for end < len(str) && (str[end] < 0x40 || str[end] > 0x7e) {
		end++
	}
	if end == len(str) {
		s.problem("unterminated CSI %q", str)
		return len(str)
	}
	params, final := str[2:end], str[end]
	n := 1
	if params != "" && params[0] != '?' && final != 'm' {
		v, err := strconv.Atoi(params)
		if err != nil {
			s.problem("CSI params %q", params)
		}
		n = v
	}
	switch {
	case final == 'm':
	case params == "?25" && final == 'l':
		s.cursorOn = false
	case params == "?25" && final == 'h':
		s.cursorOn = true
	case final == 'A':
		s.row, s.pending = s.row-n, false
		if s.row < 0 {
			s.problem("cursor up past the top")
			s.row = 0
		}
	case final == 'K' && (params == "" || params == "0"):
		l := s.line(s.row)
		if s.col < len(l) {
			s.lines[s.row] = l[:s.col]
		}
	case final == 'J' && (params == "" || params == "0"):
		l := s.line(s.row)
		if s.col < len(l) {
			s.lines[s.row] = l[:s.col]
		}
		s.lines = s.lines[:s.row+1]
	default:
		s.problem("unexpected CSI %q", str[:end+1])
	}
	return end + 1
}

// rows returns the visible lines, right-trimmed, without trailing empty ones.
func (s *screen) rows() []string {
	var out []string
	for _, l := range s.lines {
		var b strings.Builder
		for _, c := range l {
			b.WriteString(c)
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func (s *screen) text() string { return strings.Join(s.rows(), "\n") }

// joined is text with soft-wrapped rows joined to the row they continue, as
// `tmux capture-pane -J` gives them: the lines as written.
func (s *screen) joined() string {
	var out []string
	for i, l := range s.lines {
		var b strings.Builder
		for _, c := range l {
			b.WriteString(c)
		}
		if i > 0 && s.wrapped[i] && len(out) > 0 {
			out[len(out)-1] += b.String()
			continue
		}
		out = append(out, b.String())
	}
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}
