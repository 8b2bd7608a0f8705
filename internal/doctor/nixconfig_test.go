package doctor

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
)

func TestParseNixConfig(t *testing.T) {
	tests := []struct {
		name, json string
		want       NixConfig
	}{
		{
			// Nix 2.8 (`nix show-config --json`): features as enum numbers.
			name: "2.8",
			json: `{"cores":{"aliases":[],"defaultValue":2,"description":"x","value":2},"max-jobs":{"aliases":[],"defaultValue":1,"description":"x","value":1},` +
				`"substituters":{"aliases":["binary-caches"],"defaultValue":["https://cache.nixos.org/"],"value":[]},"experimental-features":{"aliases":[],"defaultValue":[],"value":[2,3]}}`,
			want: NixConfig{MaxJobs: 1, Cores: 2, Substituters: []string{}, Features: []string{"flakes", "nix-command"}},
		},
		{
			// Nix 2.26 and 2.34 (`nix config show --json`): names.
			name: "2.34",
			json: `{"cores":{"aliases":["build-cores"],"defaultValue":0,"documentDefault":true,"experimentalFeature":null,"value":0},` +
				`"max-jobs":{"aliases":["build-max-jobs"],"defaultValue":1,"documentDefault":true,"experimentalFeature":null,"value":8},` +
				`"substituters":{"value":["https://cache.nixos.org/","https://nix-community.cachix.org"]},"experimental-features":{"value":["flakes","fetch-tree","nix-command"]}}`,
			want: NixConfig{MaxJobs: 8, Cores: 0, Substituters: []string{"https://cache.nixos.org/", "https://nix-community.cachix.org"}, Features: []string{"flakes", "fetch-tree", "nix-command"}},
		},
		{
			name: "unknown feature number, string max-jobs",
			json: `{"max-jobs":{"value":"4"},"cores":{"value":1},"experimental-features":{"value":[9]}}`,
			want: NixConfig{MaxJobs: 4, Cores: 1, Features: []string{"feature #9"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNixConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`[]`, `{"max-jobs":{"value":true}}`, `{"experimental-features":{"value":[{}]}}`} {
		if _, err := ParseNixConfig([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestRealNixConfig reads the settings of the nix installed here, through
// `nix config show --json` or, on Nix before 2.20, `nix show-config
// --json`, with settings given in NIX_CONFIG.
func TestRealNixConfig(t *testing.T) {
	if _, err := exec.LookPath("nix"); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix is not on PATH and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skipf("nix is not on PATH (%v); SYSINIT_REQUIRE_NIX=1 makes this a failure", err)
	}
	t.Setenv("NIX_CONFIG", "experimental-features = nix-command flakes\nmax-jobs = 3\ncores = 5\nsubstituters = https://cache.example.org\n")
	r := &Real{Ctx: context.Background(), Exec: command.Exec{}, Env: os.Getenv}
	v, err := r.Nix()
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.NixConfig()
	if err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	if c.MaxJobs != 3 || c.Cores != 5 || !reflect.DeepEqual(c.Substituters, []string{"https://cache.example.org"}) {
		t.Errorf("%s: got %+v", v, c)
	}
	for _, f := range []string{"nix-command", "flakes"} {
		if !strings.Contains(strings.Join(c.Features, " "), f) {
			t.Errorf("%s: features %q lack %s", v, c.Features, f)
		}
	}
}
