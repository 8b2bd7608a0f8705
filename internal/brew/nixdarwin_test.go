package brew

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestNixDarwinAdviceRecorded: a success records what the nix-darwin check
// found with the signature of the .nix files, and Advice trusts it while
// no .nix file changes — it does not read them — and checks again when
// one does. The recorded check never counts as drift.
func TestNixDarwinAdviceRecorded(t *testing.T) {
	f := newFixture(t, "brew \"wget\"\n", "", nil)
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(f.dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// Written a while ago: a check of a file modified just now is
		// not recorded, as a second edit in the same clock tick could
		// not be told apart.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	write("flake.nix", "{ outputs = { ... }: { }; }\n")
	write("modules/darwin.nix", "{ ... }:\n{\n  homebrew.enable = false;\n}\n")
	o := f.mustRun(false)
	sig, _ := nixSignature(nixFiles(f.dir))
	c, ok := recordedNixCheck(o.Token)
	if !ok || c.file != "" || c.sig != sig {
		t.Fatalf("recorded check %+v, %v in token %q", c, ok, o.Token)
	}
	if got := f.b.Advice(o.Token); got != nil {
		t.Errorf("advice %q", got)
	}
	if d := f.probe(o.Token); d != "" {
		t.Errorf("drift %q with the check recorded", d)
	}

	// A recorded finding is used as is while the files stay as they were:
	// no file says so, so the advice can only come from the token.
	recorded := withoutNixCheck(o.Token) + nixCheck{sig: sig, file: "old.nix", line: 7}.String()
	got := f.b.Advice(recorded)
	if len(got) != 1 || !strings.HasPrefix(got[0], "old.nix:7 enables nix-darwin's Homebrew module") {
		t.Errorf("advice %q from a recorded finding", got)
	}
	// Edited, the file is checked again.
	write("modules/darwin.nix", "{ ... }:\n{\n  homebrew.enable = false; # for now\n}\n")
	if got := f.b.Advice(recorded); got != nil {
		t.Errorf("advice %q after the file changed", got)
	}
	// Turned on, and a token from before: found.
	write("modules/darwin.nix", "{ ... }:\n{\n  homebrew.enable = true;\n}\n")
	got = f.b.Advice(o.Token)
	if len(got) != 1 || !strings.HasPrefix(got[0], filepath.FromSlash("modules/darwin.nix")+":3 enables") {
		t.Errorf("advice %q", got)
	}
	// A new file counts as a change too, and a token from an older
	// sysinit (no check) or none at all means checking.
	o = f.mustRun(false)
	write("hosts/new.nix", "{ }\n")
	if c, ok := recordedNixCheck(o.Token); !ok || c.file == "" {
		t.Errorf("recorded %+v, %v", c, ok)
	}
	for _, tok := range []string{o.Token, withoutNixCheck(o.Token), ""} {
		if got := f.b.Advice(tok); len(got) != 1 {
			t.Errorf("advice %q for token %q", got, tok)
		}
	}
}

func TestRecordedNixCheck(t *testing.T) {
	for _, c := range []nixCheck{{sig: "abc"}, {sig: "abc", file: "a b/x:y.nix", line: 12}, {sig: "abc", file: `q"uote.nix`, line: 1}} {
		tok := tokenHeader + "formula wget 1\n" + c.String()
		got, ok := recordedNixCheck(tok)
		if !ok || got != c {
			t.Errorf("%+v read back as %+v, %v", c, got, ok)
		}
		if withoutNixCheck(tok) != tokenHeader+"formula wget 1\n" {
			t.Errorf("withoutNixCheck(%q) = %q", tok, withoutNixCheck(tok))
		}
	}
	for _, tok := range []string{"", tokenHeader, tokenHeader + nixCheckPrefix + "\n", tokenHeader + "x\n" + nixCheckPrefix + "abc \"f:x\n", tokenHeader + "x\n" + nixCheckPrefix + "abc f.nix:1\n"} {
		if c, ok := recordedNixCheck(tok); ok {
			t.Errorf("recordedNixCheck(%q) = %+v", tok, c)
		}
	}
}

// TestNixCheckRacy: a check made right after a .nix file was modified is
// recorded without its signature, so it is not trusted next time.
func TestNixCheckRacy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.nix")
	if err := os.WriteFile(p, []byte("{ homebrew.enable = true; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	modified := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(p, modified, modified); err != nil {
		t.Fatal(err)
	}
	now := modified.Add(racyWindow - time.Millisecond)
	c := checkNixDarwin(nixFiles(dir), now)
	if c.sig != "" || c.file != "a.nix" {
		t.Errorf("check right after the edit: %+v", c)
	}
	if _, ok := recordedNixCheck(tokenHeader + c.String()); ok {
		t.Error("a racy check reads back as recorded")
	}
	if c := checkNixDarwin(nixFiles(dir), modified.Add(racyWindow)); c.sig == "" {
		t.Errorf("check %s after the edit has no signature", racyWindow)
	}
}
