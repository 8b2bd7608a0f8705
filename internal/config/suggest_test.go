package config

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"source", "dest", "mode", "on-change", "kind", "inputs", "env", "after", "check", "every", "dir", "timeout", "sudo", "os", "requires"}
	kindNames := []string{"command", "file", "nix-darwin", "nixos", "home-manager", "nix-profile", "flake-update", "brew-bundle"}
	tests := []struct {
		in         string
		candidates []string
		want       string
	}{
		{"on_change", keys, "on-change"},
		{"On-Change", keys, "on-change"},
		{"sorce", keys, "source"},
		{"desti", keys, "dest"},
		{"kidn", keys, "kind"},
		{"timout", keys, "timeout"},
		{"xyz", keys, ""},
		{"frobnicate", keys, ""},
		{"", keys, ""},
		{"a", []string{"b"}, "b"},
		{"ab", []string{"cd"}, ""},
		{"nix-darwn", kindNames, "nix-darwin"},
		{"brew", kindNames, ""},
		{"flake-updat", []string{"flake-update", "fonts"}, "flake-update"},
		{"anything", nil, ""},
	}
	for _, tt := range tests {
		if got := closest(tt.in, tt.candidates); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kind", "kind", 0},
		{"kidn", "kind", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
