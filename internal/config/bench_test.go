package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	cfg, err := Parse(path, data)
	if err != nil {
		b.Fatal(err)
	}
	if len(cfg.Steps) != 10 {
		b.Fatalf("%s has %d steps, want 10", path, len(cfg.Steps))
	}
	b.Run("load-10-steps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Load(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-10-steps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(path, data); err != nil {
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
	path := filepath.Join(b.TempDir(), FileName)
	b.Run(fmt.Sprintf("chain-%d", n), func(b *testing.B) {
		data := []byte(chain.String())
		for b.Loop() {
			if cfg, err := Parse(path, data); err != nil || len(cfg.Steps) != n {
				b.Fatalf("Parse: %v", err)
			}
		}
	})
	b.Run(fmt.Sprintf("unknown-after-%d", n), func(b *testing.B) {
		data := []byte(unknown.String())
		for b.Loop() {
			var errs Errors
			if _, err := Parse(path, data); !errors.As(err, &errs) || len(errs) != n {
				b.Fatalf("Parse: got %d errors, want %d", len(errs), n)
			}
		}
	})
}
