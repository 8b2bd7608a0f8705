package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	// tmp/repo/sysinit.toml, tmp/repo/a/b (the walk starts here),
	// tmp/other/sub (nothing above it has a config, up to tmp).
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	deep := filepath.Join(repo, "a", "b")
	other := filepath.Join(tmp, "other", "sub")
	for _, d := range []string{deep, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(repo, FileName)
	if err := os.WriteFile(cfg, []byte("[steps]\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, dir, want, wantErr string
	}{
		{"in the directory", repo, cfg, ""},
		{"two levels up", deep, cfg, ""},
		{"the file's own directory, with dot-dot", filepath.Join(deep, "..", ".."), cfg, ""},
	}
	// Only assert "not found" when nothing above the temp dir holds a
	// sysinit.toml, which a developer's machine might.
	if _, err := Find(filepath.Dir(tmp)); err != nil {
		tests = append(tests, struct{ name, dir, want, wantErr string }{
			"none", other, "", "no sysinit.toml in " + other + " or any parent directory"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.dir)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Find(%s) = %q, %v; want error %q", tt.dir, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Find(%s) = %q, %v; want %q", tt.dir, got, err, tt.want)
			}
		})
	}
}

func TestFindRelative(t *testing.T) {
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, FileName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(tmp, "sub"))
	got, err := Find(".")
	if err != nil || !filepath.IsAbs(got) || filepath.Base(got) != FileName {
		t.Fatalf("Find(.) = %q, %v; want an absolute path to %s", got, err, FileName)
	}
	if want, _ := filepath.EvalSymlinks(filepath.Join(tmp, FileName)); !sameFile(t, got, want) {
		t.Errorf("Find(.) = %q, want %q", got, want)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

func TestFindDirectoryNamedLikeConfig(t *testing.T) {
	tmp := t.TempDir()
	if err := os.Mkdir(filepath.Join(tmp, FileName), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Find(tmp)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("Find = %v, want an is-a-directory error", err)
	}
}
