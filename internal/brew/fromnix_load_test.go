package brew_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// TestNixDarwinKeyLoads: nix-darwin = "STEP" names a nix-darwin step of
// the config for this machine, comes instead of brewfile, cleanup and
// upgrade (onActivation decides those), and puts that step in the brew
// step's after, and its os where the brew step sets none; anything else is
// a config error at the key's line.
func TestNixDarwinKeyLoads(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Brewfile"), []byte("brew \"jq\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const system = "[steps.system]\nkind = \"nix-darwin\"\n"
	tests := []struct {
		name, toml, want string
	}{
		{"ok", system + "[steps.brew]\nkind = \"brew-bundle\"\nnix-darwin = \"system\"\n", ""},
		{"with brewfile", system + "[steps.brew]\nkind = \"brew-bundle\"\nbrewfile = \"Brewfile\"\nnix-darwin = \"system\"\n",
			`sysinit.toml:5: step "brew" sets both brewfile and nix-darwin (keep one`},
		{"with cleanup", system + "[steps.brew]\nkind = \"brew-bundle\"\ncleanup = \"zap\"\nnix-darwin = \"system\"\n",
			`sysinit.toml:5: step "brew" sets both cleanup and nix-darwin (onActivation in the nix-darwin configuration decides it`},
		{"no such step", "[steps.brew]\nkind = \"brew-bundle\"\nnix-darwin = \"sytem\"\n",
			`sysinit.toml:3: step "brew": no step named "sytem"`},
		{"not nix-darwin", "[steps.system]\nkind = \"nixos\"\n[steps.brew]\nkind = \"brew-bundle\"\nnix-darwin = \"system\"\n",
			`step "system" is a nixos step, not nix-darwin`},
		{"a cycle", "[steps.system]\nkind = \"nix-darwin\"\nafter = [\"brew\"]\n[steps.brew]\nkind = \"brew-bundle\"\nnix-darwin = \"system\"\n",
			`step "brew" takes its Brewfile from step "system", which comes after it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(filepath.Join(dir, config.FileName), []byte(tt.toml), kinds.Decls())
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b := cfg.Step("brew"); !slices.Equal(b.After, []string{"system"}) || !slices.Equal(b.OS, []string{"darwin"}) {
					t.Errorf("after = %q, os = %q; want [system], system's [darwin]", b.After, b.OS)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
