package command

import (
	"slices"
	"testing"
)

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"nothing", nil, nil},
		{"lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split across writes", []string{"he", "llo\nwo", "rld\n"}, []string{"hello", "world"}},
		{"crlf", []string{"a\r\n"}, []string{"a"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"unterminated last line", []string{"a\nrest"}, []string{"a", "rest"}},
		{"carriage return inside a line", []string{"50%\r100%\n"}, []string{"50%\r100%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := &LineWriter{Emit: func(s string) { got = append(got, s) }}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			w.Flush()
			w.Flush() // a second flush emits nothing more
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
		})
	}
}
