package step

import (
	"slices"
	"strings"
	"testing"
)

func TestFileSpec(t *testing.T) {
	tests := []struct {
		name, file   string
		patterns     []string
		wantFiles    []string
		wantRoot     string
		wantErr      string
		wantPatterns []string // default: patterns
	}{
		// With patterns, the file is included last: no exclude of theirs
		// can leave it out.
		{"inside", "/repo/Brewfile", []string{"x/**"}, []string{"Brewfile"}, "", "", []string{"x/**", "Brewfile"}},
		{"nested", "/repo/etc/nix.conf", nil, []string{"etc/nix.conf"}, "", "", nil},
		{"outside", "/shared/Brewfile", nil, []string{"Brewfile"}, "/shared", "", nil},
		{"outside with patterns", "/shared/Brewfile", []string{"x/**", "!/shared/*"}, []string{"/shared/Brewfile"}, "", "", []string{"x/**", "!/shared/*", "/shared/Brewfile"}},
		{"dotdot-named file inside", "/repo/..hidden", nil, []string{"..hidden"}, "", "", nil},
		{"glob characters in the name", "/repo/a[1]*.conf", []string{"!**"}, []string{"a[1]*.conf"}, "", "", []string{"!**", `a\[1\]\*.conf`}},
		// A leading "!" would make the pattern an exclude.
		{"a name starting with !", "/repo/!app.conf", []string{"**", "!*.conf"}, []string{"!app.conf"}, "", "", []string{"**", "!*.conf", `\!app.conf`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := FileSpec("/repo", tt.file, tt.patterns)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantPatterns := tt.wantPatterns
			if wantPatterns == nil {
				wantPatterns = tt.patterns
			}
			if !slices.Equal(spec.Files, tt.wantFiles) || spec.Root != tt.wantRoot || !slices.Equal(spec.Patterns, wantPatterns) {
				t.Errorf("spec = %+v", spec)
			}
		})
	}
}

func TestLinesSortedKeepsRepeatedKeysInOrder(t *testing.T) {
	var l Lines
	l.Add("run", "x")
	l.Add("env", "B=2")
	l.Add("env", "A=1")
	l.Add("dir", "")
	want := []string{"dir=", "env=B=2", "env=A=1", "run=x"}
	if got := l.Sorted(); !slices.Equal(got, want) {
		t.Errorf("Sorted() = %v, want %v", got, want)
	}
}
