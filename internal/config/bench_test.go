package config

import (
	"os"
	"path/filepath"
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
