package nix

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

func TestAlreadyApplied(t *testing.T) {
	tests := []struct {
		evaluated, active, recorded string
		want                        bool
	}{
		{"X", "X", "X", true},
		{"X", "X", "Y", false},
		{"X", "X", "", false},
		{"X", "Y", "X", false},
		{"X", "Y", "Y", false},
		{"X", "", "X", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		if got := alreadyApplied(tt.evaluated, tt.active, tt.recorded); got != tt.want {
			t.Errorf("alreadyApplied(%q, %q, %q) = %v", tt.evaluated, tt.active, tt.recorded, got)
		}
	}
}

func fakeEnv(vars map[string]string) *step.Env {
	return &step.Env{
		Getenv: func(k string) string { return vars[k] },
		LookPath: func(name string) (string, error) {
			if name == "nix" || name == "nix-env" || name == "git" {
				return "/fake/bin/" + name, nil
			}
			return "", errors.New("not found")
		},
	}
}

// TestDefinitionChanges: every setting that changes what runs changes the
// definition (false-skips.md #7), and nothing else does.
func TestDefinitionChanges(t *testing.T) {
	one, two := 1, 2
	base := func() *config.Step {
		return &config.Step{
			Name: "s",
			Kind: KindProfile,
			Env:  map[string]string{"A": "1"},
			Own:  &systemKeys{Flake: ".#sys", Profile: "/p/sys", Activate: "true", buildKeys: buildKeys{ExtraArgs: []string{"--show-trace"}, MaxJobs: &one, Cores: &one}},
		}
	}
	def := func(s *config.Step, vars map[string]string) []string {
		st, err := newSystem(&config.Config{Dir: "/cfg"}, s, fakeEnv(vars))
		if err != nil {
			t.Fatal(err)
		}
		return st.Definition()
	}
	ref := def(base(), nil)
	if !slices.Contains(ref, "nix=/fake/bin/nix") || !slices.Contains(ref, "attr=sys") {
		t.Fatalf("definition lacks the nix path or attr:\n%s", strings.Join(ref, "\n"))
	}
	mutations := map[string]func(s *config.Step){
		"flake":      func(s *config.Step) { s.Own.(*systemKeys).Flake = ".#other" },
		"impure":     func(s *config.Step) { s.Own.(*systemKeys).Impure = true },
		"extra-args": func(s *config.Step) { s.Own.(*systemKeys).ExtraArgs = append(s.Own.(*systemKeys).ExtraArgs, "-L") },
		"max-jobs":   func(s *config.Step) { s.Own.(*systemKeys).MaxJobs = &two },
		"cores":      func(s *config.Step) { s.Own.(*systemKeys).Cores = nil },
		"env value":  func(s *config.Step) { s.Env["A"] = "2" },
		"profile":    func(s *config.Step) { s.Own.(*systemKeys).Profile = "/p/other" },
		"activate":   func(s *config.Step) { s.Own.(*systemKeys).Activate = "false" },
		"sudo":       func(s *config.Step) { b := true; s.Sudo = &b },
		"dir":        func(s *config.Step) { s.Dir = "sub" },
	}
	for name, mutate := range mutations {
		s := base()
		mutate(s)
		if slices.Equal(def(s, nil), ref) {
			t.Errorf("changing %s leaves the definition unchanged", name)
		}
	}
	if !slices.Equal(def(base(), nil), ref) {
		t.Error("the definition is not deterministic")
	}

	// Per kind: the attribute path and the active-system link.
	for _, tt := range []struct {
		kind, flake, action, want string
	}{
		{KindDarwin, ".#lv426", "", "attr=darwinConfigurations.lv426.system"},
		{KindNixOS, ".#web.example", "switch", `attr=nixosConfigurations."web.example".config.system.build.toplevel`},
		{KindNixOS, ".#h", "boot", "active=/nix/var/nix/profiles/system"},
		{KindNixOS, ".#h", "test", "active=/run/current-system"},
		{KindHomeManager, ".#me@box", "", "attr=homeConfigurations.me@box.activationPackage"},
		{KindHomeManager, ".#me", "", "profile=/nix/var/nix/profiles/per-user/me/home-manager"},
	} {
		s := &config.Step{Name: "s", Kind: tt.kind, Own: &systemKeys{Flake: tt.flake, Action: tt.action}}
		if d := def(s, map[string]string{"HOME": "/nonexistent-home", "USER": "me"}); !slices.Contains(d, tt.want) {
			t.Errorf("%s %s %s: definition lacks %q:\n%s", tt.kind, tt.flake, tt.action, tt.want, strings.Join(d, "\n"))
		}
	}
}

// TestMissingNix: a config with nix steps loads without nix; the run says
// nix is missing.
func TestMissingNix(t *testing.T) {
	env := &step.Env{Getenv: func(string) string { return "" }, LookPath: func(string) (string, error) { return "", errors.New("no") }}
	st, err := newSystem(&config.Config{Dir: "/cfg"}, &config.Step{Name: "s", Kind: KindDarwin, Own: &systemKeys{Flake: ".#h"}}, env)
	if err != nil {
		t.Fatalf("building the step without nix: %v", err)
	}
	if !slices.Contains(st.Definition(), "nix=not found") {
		t.Errorf("definition: %q", st.Definition())
	}
	_, err = st.Run(t.Context(), &step.RunContext{Out: &strings.Builder{}})
	if err == nil || !strings.Contains(err.Error(), "nix: not found") {
		t.Errorf("run without nix: %v", err)
	}
	if _, err := newSystem(&config.Config{Dir: "/cfg"}, &config.Step{Name: "s", Kind: KindProfile, Own: &systemKeys{Flake: ".", Profile: "/p"}}, env); err == nil {
		t.Error("a nix-profile step without an attribute was accepted")
	}
}
