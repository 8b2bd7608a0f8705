package brew

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

func BenchmarkParse(b *testing.B) {
	var large strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&large, "brew \"formula-%d\", args: [\"with-x\"], restart_service: :changed # note\n", i)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&large, "cask \"cask-%d\", greedy: true\n", i)
	}
	cases := []struct{ name, src string }{
		{"large-500-lines", large.String()},
	}
	for _, f := range []string{"every-type.Brewfile", "conditionals.Brewfile"} {
		src, err := os.ReadFile(filepath.Join("testdata", "brewfiles", f))
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, struct{ name, src string }{strings.TrimSuffix(f, ".Brewfile"), string(src)})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.src)))
			for b.Loop() {
				if _, err := Parse("Brewfile", strings.NewReader(c.src)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchPrefix makes a prefix holding the stand-in brew and n formulae, n/4
// casks and 3 taps, all in a Brewfile.
func benchPrefix(b *testing.B, n int) (dir, prefix string) {
	b.Helper()
	dir, prefix = b.TempDir(), filepath.Join(b.TempDir(), "homebrew")
	src, err := os.ReadFile(filepath.Join("testdata", "bin", "brew"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(prefix, "bin"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prefix, "bin", "brew"), src, 0o755); err != nil {
		b.Fatal(err)
	}
	var bf strings.Builder
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(prefix, p), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&bf, "tap \"user/tap%d\"\n", i)
		mk(fmt.Sprintf("Library/Taps/user/homebrew-tap%d", i))
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&bf, "brew \"f%d\"\n", i)
		mk(fmt.Sprintf("Cellar/f%d/1.0", i))
	}
	for i := 0; i < n/4; i++ {
		fmt.Fprintf(&bf, "cask \"c%d\"\n", i)
		mk(fmt.Sprintf("Caskroom/c%d/1.0", i))
	}
	if err := os.WriteFile(filepath.Join(dir, "Brewfile"), []byte(bf.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, prefix
}

func benchStep(b *testing.B, dir, prefix string) *bundle {
	b.Helper()
	s := &config.Step{
		Name: "brew",
		Kind: stepKind,
		Env:  map[string]string{"BREW_ALLOW_ROOT": "1"},
		Own:  &bundleKeys{Brewfile: "Brewfile", Cleanup: "none", Prefix: prefix},
	}
	st, err := newBundle(&config.Config{Dir: dir}, s, &step.Env{Exec: command.Exec{}, Getenv: os.Getenv, LookPath: exec.LookPath})
	if err != nil {
		b.Fatal(err)
	}
	bs := st.(*bundle)
	bs.geteuid = func() int { return 501 }
	return bs
}

// BenchmarkProbe is the whole no-change cost of a brew step: build it
// (find Homebrew), its definition (parse the Brewfile) and the probe (list
// the installed set).
func BenchmarkProbe(b *testing.B) {
	for _, n := range []int{10, 300} {
		b.Run(fmt.Sprintf("formulae-%d", n), func(b *testing.B) {
			dir, prefix := benchPrefix(b, n)
			o, err := benchStep(b, dir, prefix).Run(context.Background(), &step.RunContext{Out: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				st := benchStep(b, dir, prefix)
				st.Definition()
				if d, err := st.Probe(context.Background(), o.Token); err != nil || d != "" {
					b.Fatalf("drift %q, %v", d, err)
				}
			}
		})
	}
}

// BenchmarkNoChange compares a no-change brew step with the sequence it
// replaces, `brew update && brew bundle`, against the stand-in. Its
// latencies come from the environment (BREW_UPDATE_DELAY,
// BREW_CHECK_DELAY, BREW_INSTALL_DELAY; the real no-op bundle is about
// 1.2 s); unset, this measures process overhead alone.
func BenchmarkNoChange(b *testing.B) {
	dir, prefix := benchPrefix(b, 100)
	brew := filepath.Join(prefix, "bin", "brew")
	brewfile := filepath.Join(dir, "Brewfile")
	o, err := benchStep(b, dir, prefix).Run(context.Background(), &step.RunContext{Out: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sysinit-probe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st := benchStep(b, dir, prefix)
			st.Definition()
			if d, err := st.Probe(context.Background(), o.Token); err != nil || d != "" {
				b.Fatalf("drift %q, %v", d, err)
			}
		}
	})
	b.Run("sysinit-check-only", func(b *testing.B) {
		// When the probe does see drift and everything is installed.
		st := benchStep(b, dir, prefix)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Run(context.Background(), &step.RunContext{Out: io.Discard}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("brew-update-and-bundle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, args := range [][]string{{"update"}, {"bundle", "--file=" + brewfile}} {
				cmd := exec.Command(brew, args...)
				cmd.Env = append(os.Environ(), "BREW_ALLOW_ROOT=1")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", args, err, out)
				}
			}
		}
	})
}

// nixTree writes into dir a flake of n .nix modules, about 1.5 KB each as
// in real nix-darwin configurations, across hosts/, modules/ and
// overlays/, with a few files that are not Nix and a .git directory. None
// enables nix-darwin's Homebrew module, so a scan reads them all. The files
// are dated an hour back, as a repository's are between edits.
func nixTree(tb testing.TB, dir string, n int) {
	tb.Helper()
	old := time.Now().Add(-time.Hour)
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			tb.Fatal(err)
		}
	}
	write("flake.nix", "{\n  inputs.nixpkgs.url = \"github:NixOS/nixpkgs\";\n  outputs = { self, nixpkgs, ... }: { };\n}\n")
	write("README.md", "# config\n")
	write(".git/HEAD", "ref: refs/heads/main\n")
	write("scripts/setup.sh", "#!/bin/sh\nbrew bundle\n")
	dirs := []string{"hosts/lv426", "hosts/nostromo", "modules/darwin", "modules/home/programs", "modules/home/services", "modules/shared", "overlays", "pkgs"}
	for i := 1; i < n; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "# module %d\n{ config, lib, pkgs, ... }:\n\nlet\n  cfg = config.custom.m%d;\nin\n{\n", i, i)
		fmt.Fprintf(&b, "  options.custom.m%d = {\n    enable = lib.mkEnableOption \"module %d\";\n  };\n\n", i, i)
		b.WriteString("  config = lib.mkIf cfg.enable {\n")
		for j := 0; j < 6+i%9; j++ {
			fmt.Fprintf(&b, "    programs.p%d_%d = {\n      enable = true;\n      settings = { key%d = \"value %d\"; list = [ 1 2 3 ]; };\n    };\n", i, j, j, j)
		}
		fmt.Fprintf(&b, "    environment.systemPackages = with pkgs; [ git ripgrep jq fd%d ];\n  };\n}\n", i)
		write(fmt.Sprintf("%s/m%d.nix", dirs[i%len(dirs)], i), b.String())
	}
}

// BenchmarkNixDarwinAdvice is what plan and why spend on nix-darwin's
// Homebrew module for a flake of 190 .nix files that does not enable it —
// the case that reads every file: with no check recorded (a new token, or
// a .nix file changed since), and with the check the last success
// recorded, which costs a stat of each file.
func BenchmarkNixDarwinAdvice(b *testing.B) {
	dir, prefix := benchPrefix(b, 10)
	nixTree(b, dir, 190)
	st := benchStep(b, dir, prefix)
	o, err := st.Run(context.Background(), &step.RunContext{Out: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	if _, ok := recordedNixCheck(o.Token); !ok {
		b.Fatal("no check recorded")
	}
	for _, c := range []struct{ name, token string }{
		{"scan-190-files", withoutNixCheck(o.Token)},
		{"recorded-190-files", o.Token},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a := st.Advice(c.token); a != nil {
					b.Fatalf("advice %q", a)
				}
			}
		})
	}
}
