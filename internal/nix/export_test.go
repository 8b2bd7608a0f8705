package nix

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// followerKeys are the keys of a step that follows another (a brew-bundle
// step's nix-darwin), as the nix kinds see them.
type followerKeys struct{ leader string }

func (k *followerKeys) LeaderStep() string { return k.leader }

// homebrewFlake is the harness's flake with nix-darwin's homebrew options
// on the darwin configuration: the Brewfile names the dep's version.
func homebrewFlake(h *harness) string {
	return strings.Replace(strings.ReplaceAll(flakeTemplate, "@SYSTEM@", h.system),
		`darwinConfigurations.test.system = sys "darwin-system-1.0";`,
		`darwinConfigurations.test.system = sys "darwin-system-1.0";
    darwinConfigurations.test.config.homebrew = {
      enable = false;
      brewfile = "brew \"jq\" # ${import ./modules/depver.nix}\n";
      onActivation = { cleanup = "zap"; upgrade = false; autoUpdate = true; extraFlags = [ "--verbose" ]; };
    };`, 1)
}

// TestExportHomebrew: a nix-darwin step that a brew-bundle step follows
// reads config.homebrew in its one evaluation, publishes it before it
// builds, and returns it with its outcome; switching back to a result
// built before exports what that result recorded, without evaluating; a
// result kept without one is evaluated again; a configuration without
// homebrew options fails, saying so. A step nobody follows reads nothing
// more.
func TestExportHomebrew(t *testing.T) {
	h := newHarness(t)
	current := filepath.Join(h.tmp, "current-system")
	h.vars[currentSystemEnv] = current
	h.write("flake.nix", homebrewFlake(h))
	cs := &config.Step{
		Name: "system",
		Kind: KindDarwin,
		Env:  map[string]string{"MARKER": filepath.Join(h.tmp, "marker"), "CURRENT_SYSTEM": current},
		Own:  &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")},
	}
	brew := &config.Step{Name: "brew", Kind: "brew-bundle", Own: &followerKeys{"system"}}
	cfg := &config.Config{File: filepath.Join(h.repo, config.FileName), Dir: h.repo, Steps: []*config.Step{cs, brew}}
	reg := step.NewRegistry()
	Register(reg)
	st, err := reg.New(cfg, cs, h.env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.Definition(), "export=homebrew") {
		t.Errorf("definition %q lacks export=homebrew", st.Definition())
	}

	var published []string
	var startsAtPublish int
	publish := func(e string) {
		published = append(published, e)
		startsAtPublish = len(h.nixStarts())
	}
	before := len(h.nixStarts())
	a := h.runWith(st, step.RunContext{Publish: publish})
	if a.err != nil {
		t.Fatalf("first run: %v\n%s", a.err, a.log)
	}
	if evaluations(a.nix) != 1 {
		t.Errorf("%d evaluations, want 1: %q", evaluations(a.nix), a.nix)
	}
	if len(published) != 1 || published[0] != a.out.Export {
		t.Fatalf("published %q, outcome export %q", published, a.out.Export)
	}
	if got := commands(h.nixStarts()[before:startsAtPublish]); slices.Contains(got, "nix build") {
		t.Errorf("published after %q, want before the build", got)
	}
	var e struct {
		Homebrew struct {
			Brewfile     string `json:"brewfile"`
			Enable       bool   `json:"enable"`
			OnActivation struct {
				Cleanup    string   `json:"cleanup"`
				Upgrade    bool     `json:"upgrade"`
				AutoUpdate bool     `json:"autoUpdate"`
				ExtraFlags []string `json:"extraFlags"`
			} `json:"onActivation"`
		} `json:"homebrew"`
	}
	if err := json.Unmarshal([]byte(a.out.Export), &e); err != nil {
		t.Fatalf("export %q: %v", a.out.Export, err)
	}
	hb := e.Homebrew
	if hb.Brewfile != "brew \"jq\" # 1.0\n" || hb.Enable || hb.OnActivation.Cleanup != "zap" || hb.OnActivation.Upgrade || !hb.OnActivation.AutoUpdate || !slices.Equal(hb.OnActivation.ExtraFlags, []string{"--verbose"}) {
		t.Errorf("export %+v", hb)
	}

	// A change: the export follows it.
	h.write("modules/depver.nix", "\"1.1\"\n")
	published = nil
	b := h.runWith(st, step.RunContext{Token: a.out.Token, Publish: publish})
	if b.err != nil || !strings.Contains(b.out.Export, `# 1.1\n`) || len(published) != 1 {
		t.Fatalf("change: %v, export %q, published %q\n%s", b.err, b.out.Export, published, b.log)
	}

	// Back to a result built before: its recorded export, no evaluation.
	published = nil
	r := h.runWith(st, step.RunContext{Token: b.out.Token, Reuse: a.out.Token, ReuseExport: a.out.Export, Publish: publish})
	if r.err != nil || evaluations(r.nix) != 0 || r.out.Export != a.out.Export || !slices.Equal(published, []string{a.out.Export}) {
		t.Errorf("switching back: %v, %d evaluations, export %q, published %q", r.err, evaluations(r.nix), r.out.Export, published)
	}
	// A result kept before the step exported: evaluated after all.
	r = h.runWith(st, step.RunContext{Token: a.out.Token, Reuse: b.out.Token, Publish: publish})
	if r.err != nil || evaluations(r.nix) != 1 || r.out.Export != b.out.Export {
		t.Errorf("a result without export: %v, %d evaluations, export %q", r.err, evaluations(r.nix), r.out.Export)
	}

	// No homebrew options in the configuration.
	h.write("flake.nix", strings.ReplaceAll(flakeTemplate, "@SYSTEM@", h.system))
	r = h.runWith(st, step.RunContext{Token: r.out.Token, Publish: publish})
	if r.err == nil || !strings.Contains(r.err.Error(), "has no homebrew options (config.homebrew)") {
		t.Errorf("without homebrew options: %v", r.err)
	}

	// Nobody follows: nothing more is read, nothing exported.
	alone := h.newStep(&config.Step{Kind: KindDarwin, Env: cs.Env, Own: cs.Own})
	r = h.run(alone, "")
	if r.err != nil || r.out.Export != "" || slices.Contains(alone.Definition(), "export=homebrew") {
		t.Errorf("a step nobody follows: %v, export %q", r.err, r.out.Export)
	}
	for _, l := range r.nix {
		if strings.Contains(l, "homebrew") {
			t.Errorf("a step nobody follows read homebrew: %s", l)
		}
	}
}
