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

func benchStep(b *testing.B, dir, prefix string) *Bundle {
	b.Helper()
	s := &config.Step{Name: "brew", Kind: StepKind, Brewfile: "Brewfile", Cleanup: "none", Prefix: prefix,
		Env: map[string]string{"BREW_ALLOW_ROOT": "1"}}
	st, err := New(&config.Config{Dir: dir}, s, &step.Env{Exec: command.Exec{}, Getenv: os.Getenv, LookPath: exec.LookPath})
	if err != nil {
		b.Fatal(err)
	}
	bs := st.(*Bundle)
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
