package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// FuzzParse: no input may panic config.Parse, and its answer must be one of two
// shapes: a config whose steps are all well formed, or config.Errors that each
// point at a line of the input. The seed corpus in testdata/fuzz/FuzzParse
// holds valid and broken configs; the example configs are added too.
func FuzzParse(f *testing.F) {
	for _, p := range []string{
		filepath.Join("testdata", "example", config.FileName),
		filepath.Join(root, config.FileName),
		filepath.Join(root, "broken.toml"),
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	path := filepath.Join(root, config.FileName)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(path, data, kinds.Decls())
		if err == nil {
			checkValidConfig(t, cfg)
			return
		}
		var errs config.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Parse error %v (%T) is not a non-empty Errors", err, err)
		}
		if cfg != nil {
			t.Fatalf("Parse returned both a config and errors")
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range errs {
			if e.Pos.File != path || e.Pos.Line < 1 || e.Pos.Line > lines {
				t.Errorf("error %q has position %v; input has %d lines", e, e.Pos, lines)
			}
			if e.Msg == "" {
				t.Errorf("error at %v has no message", e.Pos)
			}
		}
	})
}

// stepNameRE is what the loader accepts as a step name.
var stepNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// checkValidConfig asserts what every accepted config guarantees to the
// packages that use it.
func checkValidConfig(t *testing.T, cfg *config.Config) {
	t.Helper()
	names := map[string]bool{}
	for _, s := range cfg.Steps {
		k := kinds.Decls().Get(s.Kind)
		if k == nil {
			t.Errorf("step %q accepted with kind %q", s.Name, s.Kind)
			continue
		}
		if !stepNameRE.MatchString(s.Name) || s.Name == "." || s.Name == ".." {
			t.Errorf("step name %q accepted", s.Name)
		}
		if s.Pos.Line < 1 {
			t.Errorf("step %q has no line", s.Name)
		}
		values := s.Values()
		for key := range s.Keys {
			if !slices.Contains(k.KeyNames(), key) {
				t.Errorf("step %q (%s) accepted key %q", s.Name, s.Kind, key)
			}
		}
		for key, v := range values {
			switch v := v.(type) {
			case time.Duration:
				if v < 0 {
					t.Errorf("step %q accepted a negative %s", s.Name, key)
				}
			case int:
				if v < 1 {
					t.Errorf("step %q accepted %s below 1", s.Name, key)
				}
			}
			if hasNUL(v) {
				t.Errorf("step %q accepted a NUL byte in %s", s.Name, key)
			}
		}
		if src, _ := values["source"].(string); src != "" && !filepath.IsAbs(src) && slices.Contains(strings.Split(filepath.ToSlash(src), "/"), "..") {
			t.Errorf("step %q accepted source %q, which leaves the config directory", s.Name, src)
		}
		names[s.Name] = true
	}
	for _, s := range cfg.Steps {
		for _, a := range s.After {
			if !names[a] || a == s.Name {
				t.Errorf("step %q accepted after = %q", s.Name, a)
			}
		}
	}
	// Kahn's algorithm: an accepted config orders every step.
	waiting := map[string]int{}
	for _, s := range cfg.Steps {
		waiting[s.Name] = len(s.After)
	}
	for done := true; done; {
		done = false
		for _, s := range cfg.Steps {
			if waiting[s.Name] != 0 {
				continue
			}
			waiting[s.Name] = -1
			done = true
			for _, d := range cfg.Steps {
				for _, a := range d.After {
					if a == s.Name {
						waiting[d.Name]--
					}
				}
			}
		}
	}
	for name, n := range waiting {
		if n != -1 {
			t.Errorf("step %q accepted inside a cycle", name)
		}
	}
}

// hasNUL reports whether a decoded value (a string, strings or a table
// of strings) holds a NUL byte.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []string:
		return slices.ContainsFunc(v, func(s string) bool { return strings.IndexByte(s, 0) >= 0 })
	case map[string]string:
		for k, x := range v {
			if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(x, 0) >= 0 {
				return true
			}
		}
	}
	return false
}

// TestFuzzSeeds keeps the seed corpus honest: seeds named valid-* parse,
// broken-* do not.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var wantValid bool
		switch {
		case strings.HasPrefix(e.Name(), "valid-"):
			wantValid = true
		case strings.HasPrefix(e.Name(), "broken-"):
		default:
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			// The corpus format: a header line, then []byte("...").
			_, lit, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
			src, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")"))
			if err != nil {
				t.Fatalf("reading seed: %v", err)
			}
			t.Setenv("HOME", "/home/me")
			_, err = config.Parse(filepath.Join(root, config.FileName), []byte(src), kinds.Decls())
			if gotValid := err == nil; gotValid != wantValid {
				t.Errorf("Parse error = %v; want valid = %v", err, wantValid)
			}
		})
	}
}
