package nix

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// TestRedefinedSwitches: a change of what acts after the build — activate,
// env, extra-args, action, profile — sets the profile and activates again
// though the out path is the active system and what was last applied; an
// input edit that leaves the out path alone still stops after the eval.
func TestRedefinedSwitches(t *testing.T) {
	h := newHarness(t)
	current := filepath.Join(h.tmp, "current-system")
	h.vars[currentSystemEnv] = current
	marker := filepath.Join(h.tmp, "marker")
	nixos := func() *config.Step {
		return &config.Step{
			Kind: KindNixOS,
			Env:  map[string]string{"MARKER": marker, "CURRENT_SYSTEM": current},
			Own:  &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")},
		}
	}
	tests := []struct {
		key    string
		base   func() *config.Step
		change func(s *config.Step)
		// what the switch must have done, besides activating again
		check func(t *testing.T, s *config.Step, out string, r runResult)
	}{
		{"activate", func() *config.Step { return profileStep(h) },
			func(s *config.Step) { s.Own.(*systemKeys).Activate = `echo "new activation $SYSINIT_OUT" >> "$MARKER"` },
			func(t *testing.T, _ *config.Step, out string, _ runResult) {
				if !strings.Contains(readFile(t, marker), "new activation "+out) {
					t.Error("the new activation command did not run")
				}
			}},
		{"env", func() *config.Step { return profileStep(h) },
			func(s *config.Step) { s.Env["GREETING"] = "bonjour" }, nil},
		{"extra-args", func() *config.Step { return profileStep(h) },
			func(s *config.Step) { s.Own.(*systemKeys).ExtraArgs = []string{"--show-trace"} },
			func(t *testing.T, _ *config.Step, _ string, r runResult) {
				if !slices.ContainsFunc(r.nix, func(c string) bool {
					return strings.HasPrefix(c, "nix build ") && strings.Contains(c, " --show-trace ")
				}) {
					t.Errorf("the build did not get the new flag: %q", r.nix)
				}
			}},
		{"action", nixos,
			func(s *config.Step) { s.Own.(*systemKeys).Action = "test" },
			func(t *testing.T, _ *config.Step, out string, _ runResult) {
				if !strings.Contains(readFile(t, marker), "switch-to-configuration test "+out) {
					t.Errorf("switch-to-configuration test did not run:\n%s", readFile(t, marker))
				}
			}},
		{"profile", nixos,
			func(s *config.Step) { s.Own.(*systemKeys).Profile = filepath.Join(h.tmp, "profiles", "system2") },
			func(t *testing.T, s *config.Step, out string, _ runResult) {
				if readlinkAll(t, s.Own.(*systemKeys).Profile) != out {
					t.Errorf("the new profile %s was not set to %s", s.Own.(*systemKeys).Profile, out)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			base := tt.base()
			first := h.run(h.newStep(base), "")
			if first.err != nil {
				t.Fatalf("first run: %v\n%s", first.err, first.log)
			}
			out := first.out.Token

			// An input edit that leaves the out path: the shortcut holds.
			h.write("modules/msg.nix", "\"hello\" # edited for "+tt.key+"\n")
			activations := strings.Count(readFile(t, marker), out)
			r := h.run(h.newStep(tt.base()), out)
			if r.err != nil || r.out.Token != out || !strings.Contains(r.out.Note, "nothing built or switched") {
				t.Fatalf("input edit: %+v, %v\n%s", r.out, r.err, r.log)
			}
			if got := commands(r.nix); !slices.Equal(got, []string{"nix eval"}) {
				t.Errorf("input edit started %q, want one eval", got)
			}

			// Only the key changes; the runner says so with Redefined.
			changed := tt.base()
			tt.change(changed)
			r = h.runWith(h.newStep(changed), step.RunContext{Token: out, Redefined: true})
			if r.err != nil {
				t.Fatalf("after changing %s: %v\n%s", tt.key, r.err, r.log)
			}
			if r.out.Token != out || strings.Contains(r.out.Note, "nothing built or switched") {
				t.Errorf("after changing %s: outcome %+v, want a switch to the same %s", tt.key, r.out, out)
			}
			if n := strings.Count(readFile(t, marker), out); n != activations+1 {
				t.Errorf("after changing %s: activated %d times more, want 1\n%s", tt.key, n-activations, readFile(t, marker))
			}
			if tt.key != "action" && !slices.ContainsFunc(r.nix, func(c string) bool {
				return strings.HasPrefix(c, "nix-env -p "+changed.Own.(*systemKeys).Profile+" --set "+out)
			}) {
				t.Errorf("after changing %s: the profile was not set: %q", tt.key, r.nix)
			}
			if tt.check != nil {
				tt.check(t, changed, out, r)
			}
		})
	}
}
