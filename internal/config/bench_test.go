package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// BenchmarkLoad measures loading a config on the no-change fast path, where
// it is a fixed cost of every refresh.
func BenchmarkLoad(b *testing.B) {
	b.Setenv("HOME", "/home/me")
	path := filepath.Join(root, "ten-steps.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse(path, data, kinds.Decls())
	if err != nil {
		b.Fatal(err)
	}
	if len(cfg.Steps) != 10 {
		b.Fatalf("%s has %d steps, want 10", path, len(cfg.Steps))
	}
	b.Run("load-10-steps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := config.Load(path, kinds.Decls()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-10-steps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := config.Parse(path, data, kinds.Decls()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoadLarge loads configs of 10,000 steps: an `after` chain (the
// deepest graph the cycle check can meet), and one where every `after`
// names an unknown step (every one an error with a suggestion looked for).
// Both must cost about linear time in the number of steps.
func BenchmarkLoadLarge(b *testing.B) {
	const n = 10000
	var chain, unknown strings.Builder
	for i := range n {
		fmt.Fprintf(&chain, "[steps.s%05d]\nkind = \"command\"\nrun = \"true\"\n", i)
		fmt.Fprintf(&unknown, "[steps.s%05d]\nkind = \"command\"\nrun = \"true\"\nafter = [\"t%05d\"]\n", i, i)
		if i > 0 {
			fmt.Fprintf(&chain, "after = [\"s%05d\"]\n", i-1)
		}
	}
	path := filepath.Join(b.TempDir(), config.FileName)
	b.Run(fmt.Sprintf("chain-%d", n), func(b *testing.B) {
		data := []byte(chain.String())
		for b.Loop() {
			if cfg, err := config.Parse(path, data, kinds.Decls()); err != nil || len(cfg.Steps) != n {
				b.Fatalf("Parse: %v", err)
			}
		}
	})
	b.Run(fmt.Sprintf("unknown-after-%d", n), func(b *testing.B) {
		data := []byte(unknown.String())
		for b.Loop() {
			var errs config.Errors
			if _, err := config.Parse(path, data, kinds.Decls()); !errors.As(err, &errs) || len(errs) != n {
				b.Fatalf("Parse: got %d errors, want %d", len(errs), n)
			}
		}
	})
}
