package brew

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
)

// nixExport is what a nix-darwin step exports, as internal/nix writes it.
func nixExport(brewfile, onActivation string, enable bool) string {
	e := "false"
	if enable {
		e = "true"
	}
	return `{"homebrew":{"brewfile":` + quoteJSON(brewfile) + `,"enable":` + e + `,"onActivation":` + onActivation + `}}`
}

func quoteJSON(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

const quietActivation = `{"cleanup":"none","upgrade":false,"autoUpdate":false,"extraFlags":[]}`

// fromNixFixture is a fixture whose step takes its Brewfile from step
// system.
func fromNixFixture(t *testing.T) *fixture {
	return newFixture(t, "", "", func(s *config.Step) {
		s.Own = &bundleKeys{NixDarwin: "system", Prefix: s.Own.(*bundleKeys).Prefix}
	})
}

// TestFromNixDarwin: a step that takes its Brewfile from a nix-darwin step
// decides and runs with what that step exported: the Brewfile's digest
// and onActivation's settings are its definition, brew gets that text as
// a file, and cleanup "zap" is brew bundle cleanup --force --zap. Without
// an export it cannot tell, and says why; a malformed one is an error
// naming the step.
func TestFromNixDarwin(t *testing.T) {
	f := fromNixFixture(t)
	if _, err := f.b.Probe(context.Background(), ""); !errors.As(err, &errNoBrewfile{}) {
		t.Errorf("probe with no export: %v", err)
	}
	if !slices.Contains(f.b.Definition(), "brewfile=unknown") {
		t.Errorf("definition with no export: %q", f.b.Definition())
	}
	if _, err := f.run(false); err == nil || !strings.Contains(err.Error(), `step "system" has not evaluated`) {
		t.Errorf("run with no export: %v", err)
	}

	f.b.Follow(nixExport("brew \"jq\"\n", `{"cleanup":"zap","upgrade":false,"autoUpdate":false,"extraFlags":[]}`, false), true)
	def := f.b.Definition()
	for _, want := range []string{"nix-darwin=system", "cleanup=zap", "upgrade=false", "update-every=0s"} {
		if !slices.Contains(def, want) {
			t.Errorf("definition %q lacks %q", def, want)
		}
	}
	f.mustRun(false)
	if !f.exists("Cellar/jq") {
		t.Error("jq not installed")
	}
	calls := f.calls()
	if len(calls) != 2 || calls[0] != "brew install --formula jq" || !strings.HasPrefix(calls[1], "brew bundle cleanup --force --zap --file=") {
		t.Errorf("calls %q", calls)
	}

	// Another Brewfile: another definition.
	f.b.Follow(nixExport("brew \"jq\"\nbrew \"fd\"\n", `{"cleanup":"zap","upgrade":false,"autoUpdate":false,"extraFlags":[]}`, false), true)
	if slices.Equal(f.b.Definition(), def) {
		t.Error("a new Brewfile left the definition as it was")
	}

	// upgrade, autoUpdate and extraFlags go to brew bundle.
	f.b.Follow(nixExport("brew \"jq\"\n", `{"cleanup":"none","upgrade":true,"autoUpdate":true,"extraFlags":["--verbose"]}`, false), true)
	def = f.b.Definition()
	for _, want := range []string{"upgrade=true", "update-every=" + homebrewAutoUpdate.String(), "extra-flags=--verbose"} {
		if !slices.Contains(def, want) {
			t.Errorf("definition %q lacks %q", def, want)
		}
	}
	f.s.Own.(*bundleKeys).UpdateEvery = 24 * time.Hour
	if !slices.Contains(f.b.Definition(), "update-every=24h0m0s") {
		t.Errorf("update-every set on the step does not win: %q", f.b.Definition())
	}

	// homebrew.enable = true: advice, not a warning on every refresh.
	f.b.Follow(nixExport("", quietActivation, true), true)
	if a := f.b.Advice(""); len(a) != 1 || !strings.Contains(a[0], "set homebrew.enable = false") {
		t.Errorf("advice %q", a)
	}
	f.b.Follow(nixExport("", quietActivation, false), true)
	if a := f.b.Advice(""); len(a) != 0 {
		t.Errorf("advice with homebrew.enable = false: %q", a)
	}

	for _, bad := range []string{`{"homebrew":null}`, `{"homebrew":{"enable":true}}`, nixExport("", `{"cleanup":"check"}`, false), `not json`} {
		f.b.Follow(bad, true)
		if _, err := f.b.Probe(context.Background(), ""); err == nil || !strings.Contains(err.Error(), `"system"`) {
			t.Errorf("export %s: probe error %v", bad, err)
		}
	}
}
