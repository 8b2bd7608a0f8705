package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse: no input may panic Parse, and its answer must be one of two
// shapes: a config whose steps are all well formed, or Errors that each
// point at a line of the input. The seed corpus in testdata/fuzz/FuzzParse
// holds valid and broken configs; the example configs are added too.
func FuzzParse(f *testing.F) {
	for _, p := range []string{
		filepath.Join("testdata", "example", FileName),
		filepath.Join(root, FileName),
		filepath.Join(root, "broken.toml"),
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	path := filepath.Join(root, FileName)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(path, data)
		if err == nil {
			checkValidConfig(t, cfg)
			return
		}
		var errs Errors
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

// checkValidConfig asserts what every accepted config guarantees to the
// packages that use it.
func checkValidConfig(t *testing.T, cfg *Config) {
	t.Helper()
	names := map[string]bool{}
	for _, s := range cfg.Steps {
		if _, ok := Kinds[s.Kind]; !ok {
			t.Errorf("step %q accepted with kind %q", s.Name, s.Kind)
		}
		if !stepNameRE.MatchString(s.Name) || s.Name == "." || s.Name == ".." {
			t.Errorf("step name %q accepted", s.Name)
		}
		if s.Pos.Line < 1 {
			t.Errorf("step %q has no line", s.Name)
		}
		for k := range s.Keys {
			if !allowed(s.Kind, k) {
				t.Errorf("step %q (%s) accepted key %q", s.Name, s.Kind, k)
			}
		}
		if s.Every < 0 || s.Timeout < 0 || s.UpdateEvery < 0 {
			t.Errorf("step %q accepted a negative duration", s.Name)
		}
		if s.MaxJobs != nil && *s.MaxJobs < 1 || s.Cores != nil && *s.Cores < 1 {
			t.Errorf("step %q accepted max-jobs or cores below 1", s.Name)
		}
		if f := nulField(reflect.ValueOf(*s)); f != "" {
			t.Errorf("step %q accepted a NUL byte in %s", s.Name, f)
		}
		if !filepath.IsAbs(s.Source) && slices.Contains(strings.Split(filepath.ToSlash(s.Source), "/"), "..") {
			t.Errorf("step %q accepted source %q, which leaves the config directory", s.Name, s.Source)
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

// nulField names the first string in v (a struct, with strings, string
// slices and string maps) that holds a NUL byte, or returns "".
func nulField(v reflect.Value) string {
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			if strings.IndexByte(f.String(), 0) >= 0 {
				return name
			}
		case reflect.Slice, reflect.Map:
			if f.Type().Elem().Kind() != reflect.String {
				continue
			}
			it := []string{}
			if f.Kind() == reflect.Slice {
				for j := range f.Len() {
					it = append(it, f.Index(j).String())
				}
			} else {
				for _, k := range f.MapKeys() {
					it = append(it, k.String(), f.MapIndex(k).String())
				}
			}
			for _, str := range it {
				if strings.IndexByte(str, 0) >= 0 {
					return name
				}
			}
		}
	}
	return ""
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
			_, err = Parse(filepath.Join(root, FileName), []byte(src))
			if gotValid := err == nil; gotValid != wantValid {
				t.Errorf("Parse error = %v; want valid = %v", err, wantValid)
			}
		})
	}
}
