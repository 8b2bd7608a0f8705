package fingerprint

import "testing"

// TestSelects: Selects reads patterns as a Spec does: the last match
// wins, a bare directory means everything under it.
func TestSelects(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		path     string
		want     bool
	}{
		{[]string{"dotfiles/**"}, "dotfiles/env.sh", true},
		{[]string{"dotfiles"}, "dotfiles/env.sh", true},
		{[]string{"dotfiles/**", "!dotfiles/*.sh"}, "dotfiles/env.sh", false},
		{[]string{"!dotfiles/*.sh", "dotfiles/**"}, "dotfiles/env.sh", true},
		{[]string{"scripts/**"}, "dotfiles/env.sh", false},
		{nil, "dotfiles/env.sh", false},
		{[]string{"[bad"}, "dotfiles/env.sh", false},
	} {
		if got := Selects(c.patterns, c.path); got != c.want {
			t.Errorf("Selects(%q, %q) = %v, want %v", c.patterns, c.path, got, c.want)
		}
	}
}
