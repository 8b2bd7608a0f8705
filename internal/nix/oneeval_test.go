package nix

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// buildTarget is the installable of the one `nix build` in starts.
func buildTarget(t *testing.T, starts []string) string {
	t.Helper()
	var targets []string
	for _, s := range starts {
		if f := strings.Fields(s); len(f) > 2 && f[0] == "nix" && f[1] == "build" {
			targets = append(targets, f[len(f)-1])
		}
	}
	if len(targets) != 1 {
		t.Fatalf("want one nix build, got %q", targets)
	}
	return targets[0]
}

func (h *harness) version() Version {
	h.t.Helper()
	v, err := nixVersion(h.t.Context(), command.Exec{}, h.nix)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// drvTargetRE is the build of a derivation by its store path: DRV^out from
// Nix 2.13, a bare DRV before.
func drvTargetRE(v Version) *regexp.Regexp {
	if v.AtLeast(2, 13) {
		return regexp.MustCompile(`^/nix/store/[0-9a-z]{32}-[^/]+\.drv\^out$`)
	}
	return regexp.MustCompile(`^/nix/store/[0-9a-z]{32}-[^/]+\.drv$`)
}

// TestOneEvaluationPerChange: on every kind, a first switch and a real
// change evaluate the configuration once and build the derivation that
// evaluation wrote by its store path; a comment edit evaluates once and
// builds nothing.
func TestOneEvaluationPerChange(t *testing.T) {
	kinds := []struct {
		name  string
		setup func(h *harness) *config.Step
	}{
		{"nix-profile", func(h *harness) *config.Step { return profileStep(h) }},
		{"nix-darwin", func(h *harness) *config.Step {
			current := filepath.Join(h.tmp, "current-system")
			h.vars[currentSystemEnv] = current
			return &config.Step{
				Kind: KindDarwin,
				Env:  map[string]string{"MARKER": filepath.Join(h.tmp, "marker"), "CURRENT_SYSTEM": current},
				Own:  &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")},
			}
		}},
		{"nixos", func(h *harness) *config.Step {
			current := filepath.Join(h.tmp, "current-system")
			h.vars[currentSystemEnv] = current
			return &config.Step{
				Kind: KindNixOS,
				Env:  map[string]string{"MARKER": filepath.Join(h.tmp, "marker"), "CURRENT_SYSTEM": current},
				Own:  &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")},
			}
		}},
		// The default configuration (user@host or user) is picked inside
		// the one evaluation.
		{"home-manager", func(h *harness) *config.Step {
			home := filepath.Join(h.tmp, "home")
			writeFile(h.t, filepath.Join(home, ".local/state/nix/profiles/.keep"), "")
			h.vars["HOME"], h.vars["USER"], h.vars["XDG_STATE_HOME"] = home, "tester", ""
			return &config.Step{
				Kind: KindHomeManager,
				Env: map[string]string{
					"MARKER": filepath.Join(h.tmp, "marker"), "HM_PROFILE": filepath.Join(home, ".local/state/nix/profiles/home-manager"),
					"NIX_ENV": filepath.Join(filepath.Dir(h.nix), "nix-env"),
				},
				Own: &systemKeys{Flake: "."},
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			h := newHarness(t)
			st := h.newStep(k.setup(h))
			re := drvTargetRE(h.version())

			first := h.run(st, "")
			if first.err != nil {
				t.Fatalf("first run: %v\n%s", first.err, first.log)
			}
			if n := evaluations(first.nix); n != 1 {
				t.Errorf("first run: %d evaluations, want 1: %q", n, first.nix)
			}
			if target := buildTarget(t, first.nix); !re.MatchString(target) {
				t.Errorf("first run built %q, want the evaluated derivation (%s)", target, re)
			}

			h.write("modules/depver.nix", "\"1.1\"\n")
			r := h.run(st, first.out.Token)
			if r.err != nil {
				t.Fatalf("real change: %v\n%s", r.err, r.log)
			}
			if n := evaluations(r.nix); n != 1 {
				t.Errorf("real change: %d evaluations, want 1: %q", n, r.nix)
			}
			if target := buildTarget(t, r.nix); !re.MatchString(target) {
				t.Errorf("real change built %q, want the evaluated derivation", target)
			}
			if r.out.Token == first.out.Token || !strings.Contains(r.log, "dep-1.1") {
				t.Errorf("real change: token %s (was %s)\n%s", r.out.Token, first.out.Token, r.log)
			}
			// The drv the build names is the one the evaluation wrote, and
			// its out path is what the step records.
			if !strings.HasSuffix(r.out.Token, strings.TrimSuffix(strings.TrimSuffix(filepath.Base(buildTarget(t, r.nix)), "^out"), ".drv")[32:]) {
				t.Errorf("token %s is not the built derivation's", r.out.Token)
			}

			h.write("modules/msg.nix", "# a comment\n\"hello\"\n")
			r2 := h.run(st, r.out.Token)
			if r2.err != nil {
				t.Fatalf("comment edit: %v\n%s", r2.err, r2.log)
			}
			if n := evaluations(r2.nix); n != 1 || slices.Contains(commands(r2.nix), "nix build") {
				t.Errorf("comment edit started %q, want one evaluation and no build", r2.nix)
			}
		})
	}
}

// TestBuildNamesOutput: a nix-profile attribute whose outputName is not
// "out" is built and recorded by that output.
func TestBuildNamesOutput(t *testing.T) {
	h := newHarness(t)
	h.write("flake.nix", `{
  outputs = { self }: {
    packages.@SYSTEM@.tool = (derivation {
      name = "tool-1.0";
      system = "@SYSTEM@";
      builder = "/bin/sh";
      PATH = "/usr/bin:/bin";
      outputs = [ "out" "bin" ];
      args = [ "-c" "mkdir -p $out $bin/bin; echo ${import ./modules/nonce.nix} > $bin/bin/tool" ];
    }).bin;
  };
}
`)
	h.write("flake.nix", strings.ReplaceAll(readFile(t, filepath.Join(h.repo, "flake.nix")), "@SYSTEM@", h.system))
	cs := &config.Step{Kind: KindProfile, Own: &systemKeys{Flake: ".#tool", Profile: filepath.Join(h.tmp, "profiles", "tool")}}
	r := h.run(h.newStep(cs), "")
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.log)
	}
	if !strings.HasSuffix(r.out.Token, "-tool-1.0-bin") {
		t.Errorf("token = %s, want the bin output", r.out.Token)
	}
	if _, err := os.Stat(filepath.Join(r.out.Token, "bin/tool")); err != nil {
		t.Errorf("the bin output was not built: %v", err)
	}
	if n := evaluations(r.nix); n != 1 {
		t.Errorf("%d evaluations: %q", n, r.nix)
	}
	if v := h.version(); v.AtLeast(2, 13) && !strings.HasSuffix(buildTarget(t, r.nix), ".drv^bin") {
		t.Errorf("built %q, want DRV^bin", buildTarget(t, r.nix))
	}
}

// flakeWithNixConfig is the test flake with a nixConfig that adds a
// binary cache, and a dep that is also an output of its own.
func flakeWithNixConfig(h *harness, config string) string {
	f := strings.ReplaceAll(flakeTemplate, "@SYSTEM@", h.system)
	f = strings.Replace(f, "  outputs = { self }: let", config+"\n  outputs = { self }: let", 1)
	return strings.Replace(f, `packages.${system}.sys = sys "system-1.0";`, `packages.${system} = { sys = sys "system-1.0"; inherit dep; };`, 1)
}

// cacheWithDep builds dep, copies it into a file:// binary cache and
// deletes it from the store, so that the next build gets it from the
// cache if the cache is among the substituters, and builds it otherwise.
func cacheWithDep(h *harness) (cache, dep string) {
	h.t.Helper()
	cache = filepath.Join(h.tmp, "cache")
	var stderr strings.Builder
	cmd := exec.Command(h.nix, "build", "--no-link", "--json", h.repo+"#dep")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("building dep: %v\n%s", err, stderr.String())
	}
	dep, err = parseBuildJSON(out, "out")
	if err != nil {
		h.t.Fatal(err)
	}
	nixStore := filepath.Join(filepath.Dir(h.nix), "nix-store")
	for _, argv := range [][]string{
		{h.nix, "copy", "--to", "file://" + cache, dep},
		{nixStore, "--delete", dep},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			h.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	if _, err := os.Stat(dep); !os.IsNotExist(err) {
		h.t.Fatalf("%s is still in the store", dep)
	}
	return cache, dep
}

// TestFlakeNixConfig: the build of the evaluated derivation gets the
// flake's settings that nix applied to the evaluation — a binary cache
// the flake adds is used when nix trusts the setting, and left out, with
// the way to accept it in the log, when nix does not.
func TestFlakeNixConfig(t *testing.T) {
	cases := []struct {
		name string
		// trust makes nix trust the flake's setting, or not.
		trust       func(h *harness, cs *config.Step, cache string)
		substitutes bool
	}{
		{"not trusted", func(*harness, *config.Step, string) {}, false},
		{"--accept-flake-config in extra-args", func(_ *harness, cs *config.Step, _ string) {
			cs.Own.(*systemKeys).ExtraArgs = []string{"--accept-flake-config"}
		}, true},
		{"accept-flake-config in NIX_CONFIG", func(h *harness, _ *config.Step, _ string) {
			t.Setenv("NIX_CONFIG", os.Getenv("NIX_CONFIG")+"\naccept-flake-config = true")
		}, true},
		{"trusted in trusted-settings.json", func(h *harness, _ *config.Step, cache string) {
			data := filepath.Join(h.tmp, "data")
			h.vars["XDG_DATA_HOME"] = data
			t.Setenv("XDG_DATA_HOME", data)
			writeFile(t, filepath.Join(data, "nix", "trusted-settings.json"), `{"extra-substituters":{"file://`+cache+`":true}}`)
		}, true},
		{"marked untrusted in trusted-settings.json", func(h *harness, _ *config.Step, cache string) {
			data := filepath.Join(h.tmp, "data")
			h.vars["XDG_DATA_HOME"] = data
			t.Setenv("XDG_DATA_HOME", data)
			writeFile(t, filepath.Join(data, "nix", "trusted-settings.json"), `{"extra-substituters":{"file://`+cache+`":false}}`)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			// Unsigned paths from the test's own cache.
			t.Setenv("NIX_CONFIG", os.Getenv("NIX_CONFIG")+"\nrequire-sigs = false")
			cache := filepath.Join(h.tmp, "cache")
			h.write("flake.nix", flakeWithNixConfig(h, `  nixConfig.extra-substituters = [ "file://`+cache+`" ];`))
			cacheWithDep(h)
			cs := profileStep(h)
			c.trust(h, cs, cache)
			r := h.run(h.newStep(cs), "")
			if r.err != nil {
				t.Fatalf("run: %v\n%s", r.err, r.log)
			}
			if n := evaluations(r.nix); n != 1 {
				t.Errorf("%d evaluations, want 1: %q", n, r.nix)
			}
			target := buildTarget(t, r.nix)
			var build string
			for _, s := range r.nix {
				if strings.HasSuffix(s, target) && strings.HasPrefix(s, "nix build") {
					build = s
				}
			}
			passed := strings.Contains(build, "--option extra-substituters file://"+cache+" ")
			copied := regexp.MustCompile(`copying path '/nix/store/[0-9a-z]{32}-dep-1\.0' from 'file://`).MatchString(r.log)
			if passed != c.substitutes || copied != c.substitutes {
				t.Errorf("option passed %v, dep copied from the cache %v; want %v\nbuild: %s\n%s", passed, copied, c.substitutes, build, r.log)
			}
			if built := strings.Contains(r.log, "dep-1.0> making dep"); built == c.substitutes {
				t.Errorf("dep built here: %v, want %v", built, !c.substitutes)
			}
			warned := strings.Contains(r.log, "warning: flake.nix sets nixConfig.extra-substituters = \"file://"+cache+"\", which nix does not apply here")
			if warned == c.substitutes {
				t.Errorf("warned %v about the unused cache, want %v:\n%s", warned, !c.substitutes, r.log)
			}
			if !c.substitutes && !strings.Contains(r.log, "accept-flake-config = true") {
				t.Errorf("the warning does not say how to accept the setting:\n%s", r.log)
			}
		})
	}
}

// TestFlakeNixConfigFallback: a nixConfig sysinit does not read (a value
// that is not a literal it knows) makes the build name the flake's
// attribute, so that nix applies the flake's settings itself: a second
// evaluation, said in the log, rather than a lost cache.
func TestFlakeNixConfigFallback(t *testing.T) {
	h := newHarness(t)
	t.Setenv("NIX_CONFIG", os.Getenv("NIX_CONFIG")+"\nrequire-sigs = false")
	cache := filepath.Join(h.tmp, "cache")
	h.write("flake.nix", flakeWithNixConfig(h, `  nixConfig.extra-substituters = ''file://`+cache+`'';`))
	cacheWithDep(h)
	cs := profileStep(h)
	cs.Own.(*systemKeys).ExtraArgs = []string{"--accept-flake-config"}
	r := h.run(h.newStep(cs), "")
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.log)
	}
	if n := evaluations(r.nix); n != 2 {
		t.Errorf("%d evaluations, want 2 (the build by attribute): %q", n, r.nix)
	}
	if target := buildTarget(t, r.nix); target != h.repo+"#sys" {
		t.Errorf("built %q, want the flake attribute", target)
	}
	if !strings.Contains(r.log, "note: building "+h.repo+"#sys, which evaluates it again, so that nix applies flake.nix's nixConfig itself") {
		t.Errorf("the log does not say why it evaluates again:\n%s", r.log)
	}
	if !regexp.MustCompile(`copying path '/nix/store/[0-9a-z]{32}-dep-1\.0' from 'file://`).MatchString(r.log) {
		t.Errorf("the flake's cache was not used:\n%s", r.log)
	}
}

// TestReusable: a store path is reusable while it is valid in the store,
// decided from a stat where it can, from nix-store where it cannot.
func TestReusable(t *testing.T) {
	h := newHarness(t)
	st := h.newStep(profileStep(h))
	r := h.run(st, "")
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.log)
	}
	ru := st.(step.Reuser)
	check := func(path string, want bool, nixStore int) {
		t.Helper()
		before := len(h.nixStarts())
		got, err := ru.Reusable(context.Background(), path)
		if err != nil || got != want {
			t.Errorf("Reusable(%s) = %v, %v; want %v", path, got, err, want)
		}
		if n := len(h.nixStarts()) - before; n != nixStore {
			t.Errorf("Reusable(%s) started %d nix processes, want %d", path, n, nixStore)
		}
	}
	check(r.out.Token, true, 0)
	// A store path whose time is not nix's 1: the stat cannot tell, nix can.
	if err := os.Chtimes(r.out.Token, time.Unix(5, 0), time.Unix(5, 0)); err != nil {
		t.Fatal(err)
	}
	check(r.out.Token, true, 1)
	if err := os.Chtimes(r.out.Token, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	check("/nix/store/00000000000000000000000000000000-gone-1.0", false, 0)
	check(filepath.Join(h.tmp, "not-in-the-store"), false, 0)
	check(filepath.Join(r.out.Token, "msg"), false, 0)
}

// TestEvalFields: more attributes of the configuration come back from the
// same evaluation (how the Homebrew declarations of a nix-darwin
// configuration are to be read).
func TestEvalFields(t *testing.T) {
	h := newHarness(t)
	h.vars[currentSystemEnv] = filepath.Join(h.tmp, "current-system")
	st := h.newStep(&config.Step{Kind: KindDarwin, Own: &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")}})
	sy := st.(*system)
	var log strings.Builder
	r := &runner{sys: sy, rc: &step.RunContext{Out: &log}, out: &log}
	q, err := sy.query(t.Context(), r, "", "")
	if err != nil {
		t.Fatal(err)
	}
	q.fields = map[string]string{"systemName": "c.system.name", "missing": "c.config.homebrew.brewfile or null"}
	before := len(h.nixStarts())
	ev, err := r.evaluate(t.Context(), q)
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, log.String())
	}
	if n := len(h.nixStarts()) - before; n != 1 {
		t.Errorf("%d nix processes, want 1", n)
	}
	if string(ev.Fields["systemName"]) != `"darwin-system-1.0"` || string(ev.Fields["missing"]) != "null" {
		t.Errorf("fields = %s", ev.Fields)
	}
	if !strings.HasSuffix(ev.Out, "-darwin-system-1.0") || !strings.HasSuffix(ev.Drv, "-darwin-system-1.0.drv") || ev.Output != "out" || ev.Name != "test" {
		t.Errorf("record = %+v", ev)
	}
	if _, err := os.Stat(ev.Drv); err != nil {
		t.Errorf("the evaluation did not write the derivation: %v", err)
	}
}

// TestSwitchBack: offered a result built before (an edit undone), a
// nix-darwin step sets the profile and activates it as root, and starts
// no evaluation or build; a result that is already active is recorded
// without a switch. --force and a redefined step ignore the offer.
func TestSwitchBack(t *testing.T) {
	h := newHarness(t)
	current := filepath.Join(h.tmp, "current-system")
	h.vars[currentSystemEnv] = current
	cs := &config.Step{
		Kind: KindDarwin,
		Env:  map[string]string{"MARKER": filepath.Join(h.tmp, "marker"), "CURRENT_SYSTEM": current},
		Own:  &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")},
	}
	st := h.newStep(cs)
	a := h.run(st, "")
	if a.err != nil {
		t.Fatalf("first run: %v\n%s", a.err, a.log)
	}
	if a.out.Label != "generation 1" {
		t.Errorf("label = %q, want generation 1", a.out.Label)
	}
	h.write("modules/depver.nix", "\"1.1\"\n")
	b := h.run(st, a.out.Token)
	if b.err != nil {
		t.Fatalf("change: %v\n%s", b.err, b.log)
	}

	sudoBefore := len(h.sudoCalls())
	r := h.runWith(st, step.RunContext{Token: b.out.Token, Reuse: a.out.Token})
	if r.err != nil {
		t.Fatalf("switching back: %v\n%s", r.err, r.log)
	}
	if evaluations(r.nix) != 0 || slices.Contains(commands(r.nix), "nix build") {
		t.Errorf("switching back started %q, want no evaluation or build", r.nix)
	}
	if readlinkAll(t, current) != a.out.Token || r.out.Token != a.out.Token {
		t.Errorf("active %s, token %s; want %s", readlinkAll(t, current), r.out.Token, a.out.Token)
	}
	if sudo := h.sudoCalls()[sudoBefore:]; len(sudo) != 2 || !strings.Contains(sudo[0], "--set "+a.out.Token) || !strings.HasSuffix(sudo[1], a.out.Token+"/activate") {
		t.Errorf("sudo calls %q, want the profile set and activate", sudo)
	}
	if !strings.HasPrefix(r.out.Note, "built before, nothing evaluated or built: switched to generation 3") || r.out.Label != "generation 3" {
		t.Errorf("outcome %+v", r.out)
	}

	// Already active and recorded: nothing to do at all.
	r = h.runWith(st, step.RunContext{Token: a.out.Token, Reuse: a.out.Token})
	if r.err != nil || len(r.nix) != 0 || r.out.Note != "built before: identical to the active system; nothing evaluated or switched" {
		t.Errorf("already active: %+v, %v, started %q", r.out, r.err, r.nix)
	}

	// --force and a redefinition do the work.
	for _, rc := range []step.RunContext{{Token: b.out.Token, Reuse: b.out.Token, Force: true}, {Token: b.out.Token, Reuse: b.out.Token, Redefined: true}} {
		r = h.runWith(st, rc)
		if r.err != nil || evaluations(r.nix) != 1 {
			t.Errorf("force %v, redefined %v: %d evaluations, %v", rc.Force, rc.Redefined, evaluations(r.nix), r.err)
		}
	}
}
