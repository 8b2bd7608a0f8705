package brew

import (
	"os"
	"path/filepath"
	"testing"
)

func TestManagedByNixDarwin(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		wantFile string
		wantLine int
	}{
		{"dotted", map[string]string{"flake.nix": "{\n  outputs = x;\n}\n", "modules/darwin/brew.nix": "{ ... }:\n{\n  homebrew.enable = true;\n}\n"},
			"modules/darwin/brew.nix", 3},
		{"block", map[string]string{"darwin.nix": "{\n  homebrew = {\n    onActivation = { cleanup = \"zap\"; };\n    enable = true;\n  };\n}\n"},
			"darwin.nix", 4},
		{"one-line block", map[string]string{"a.nix": "{ homebrew = { enable = true; brews = [ \"wget\" ]; }; }\n"}, "a.nix", 1},
		{"mkDefault", map[string]string{"a.nix": "homebrew.enable = lib.mkDefault true;\n"}, "a.nix", 1},
		{"mkIf block", map[string]string{"a.nix": "homebrew = lib.mkIf cfg.gui {\n  enable = true;\n};\n"}, "a.nix", 2},
		{"disabled", map[string]string{"a.nix": "homebrew.enable = false;\n"}, "", 0},
		{"commented out", map[string]string{"a.nix": "# homebrew.enable = true;\n/* homebrew.enable = true; */\n/*\nhomebrew.enable = true;\n*/\n"}, "", 0},
		{"nix-homebrew is another module", map[string]string{"a.nix": "nix-homebrew.enable = true;\nnix-homebrew = {\n  enable = true;\n};\n"}, "", 0},
		{"enable of a nested option", map[string]string{"a.nix": "homebrew = {\n  global = { enable = true; };\n  taps = [ ];\n};\n"}, "", 0},
		{"enable after the block", map[string]string{"a.nix": "homebrew = {\n  brews = [ ];\n};\nservices.x.enable = true;\nenable = true;\n"}, "", 0},
		{"not a nix file", map[string]string{"notes.md": "homebrew.enable = true;\n"}, "", 0},
		{"inside .git", map[string]string{".git/x.nix": "homebrew.enable = true;\n"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			file, line, ok := ManagedByNixDarwin(dir)
			if ok != (tt.wantFile != "") || file != filepath.FromSlash(tt.wantFile) || line != tt.wantLine {
				t.Errorf("got %q:%d %v, want %q:%d", file, line, ok, tt.wantFile, tt.wantLine)
			}
		})
	}
}
