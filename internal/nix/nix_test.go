package nix

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/step"
)

func profileStep(h *harness) *config.Step {
	return &config.Step{
		Kind: KindProfile,
		Env:  map[string]string{"MARKER": filepath.Join(h.tmp, "marker")},
		Own:  &systemKeys{Flake: ".#sys", Profile: filepath.Join(h.tmp, "profiles", "sys"), Activate: `echo "$SYSINIT_OUT" >> "$MARKER"`},
	}
}

// TestProfileLifecycle drives a nix-profile step through the issue's
// scenarios 1–4: first switch, a comment-only edit, a real change, and a
// profile switched by hand.
func TestProfileLifecycle(t *testing.T) {
	h := newHarness(t)
	cs := profileStep(h)
	st := h.newStep(cs)
	profile, marker := cs.Own.(*systemKeys).Profile, cs.Env["MARKER"]

	spec, err := st.Inputs(t.Context())
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	for _, f := range []string{"flake.nix", "flake.lock", "modules/msg.nix", "stand-ins/activate.sh"} {
		if !slices.Contains(spec.Files, f) {
			t.Errorf("inputs lack %s: %q", f, spec.Files)
		}
	}

	// 1. The first run evaluates, builds, sets the profile and activates.
	r := h.run(st, "")
	if r.err != nil {
		t.Fatalf("first run: %v\n%s", r.err, r.log)
	}
	out1 := r.out.Token
	if !strings.HasPrefix(out1, "/nix/store/") || !strings.HasSuffix(out1, "-system-1.0") {
		t.Fatalf("token = %q, want the out path", out1)
	}
	if got, want := commands(r.nix), []string{"nix eval", "nix build", "nix-env"}; !slices.Equal(got, want) {
		t.Errorf("first run started %q, want %q", got, want)
	}
	if got := readlinkAll(t, profile); got != out1 {
		t.Errorf("profile -> %s, want %s", got, out1)
	}
	if generation(profile) != 1 {
		t.Errorf("generation = %d, want 1", generation(profile))
	}
	if got := readFile(t, marker); got != out1+"\n" {
		t.Errorf("activate saw %q, want the out path", got)
	}
	if r.out.Note != "switched to generation 1" {
		t.Errorf("note = %q", r.out.Note)
	}
	if !slices.ContainsFunc(r.progress, func(s string) bool { return regexp.MustCompile(`^building \d/2: (dep|system)-1\.0$`).MatchString(s) }) {
		t.Errorf("progress never showed a build: %q", r.progress)
	}
	for _, w := range []string{"+ ", "nix eval --json", "nix build --no-link --json --log-format internal-json -v", "nix-env -p", "dep-1.0> making dep 1.0", "building '/nix/store/"} {
		if !strings.Contains(r.log, w) {
			t.Errorf("log lacks %q:\n%s", w, r.log)
		}
	}
	if strings.Contains(r.log, "@nix {") {
		t.Errorf("raw internal-json in the log:\n%s", r.log)
	}
	// The no-change fast path: a probe starts no nix process and agrees.
	if d := h.probe(st, out1); d != "" {
		t.Errorf("probe after the first run: %q", d)
	}

	// 2. A comment-only edit costs one evaluation and nothing else.
	h.write("modules/msg.nix", "# reworded comment\n\"hello\"\n")
	r = h.run(st, out1)
	if r.err != nil {
		t.Fatalf("comment edit: %v\n%s", r.err, r.log)
	}
	if got := commands(r.nix); !slices.Equal(got, []string{"nix eval"}) {
		t.Errorf("comment edit started %q, want only nix eval", got)
	}
	if r.out.Token != out1 || r.out.Note != "evaluated: identical to the active system; nothing built or switched" {
		t.Errorf("comment edit outcome = %+v", r.out)
	}
	if generation(profile) != 1 || readFile(t, marker) != out1+"\n" {
		t.Errorf("comment edit touched the profile (gen %d) or activated", generation(profile))
	}

	// 3. A real change builds, switches to a new generation, and diffs.
	h.write("modules/depver.nix", "\"1.1\"\n")
	h.write("modules/depsize.nix", "60000\n")
	r = h.run(st, out1)
	if r.err != nil {
		t.Fatalf("real change: %v\n%s", r.err, r.log)
	}
	out2 := r.out.Token
	if out2 == out1 || readlinkAll(t, profile) != out2 || generation(profile) != 2 {
		t.Fatalf("real change: token %s, profile -> %s (gen %d)", out2, readlinkAll(t, profile), generation(profile))
	}
	// The closure diff runs beside setting the profile: in either order.
	if got, want := commands(r.nix), []string{"nix eval", "nix build", "nix-env", "nix store diff-closures"}; len(got) != 4 || !slices.Equal(got[:2], want[:2]) || !slices.Contains(got[2:], "nix-env") || !slices.Contains(got[2:], "nix store diff-closures") {
		t.Errorf("real change started %q, want %q (the last two in any order)", got, want)
	}
	if !regexp.MustCompile(`^switched to generation 2; 1 package changed, \+39\.\d KiB$`).MatchString(r.out.Note) {
		t.Errorf("note = %q", r.out.Note)
	}
	if !strings.Contains(r.log, "dep: 1.0 → 1.1") {
		t.Errorf("log lacks the closure diff:\n%s", r.log)
	}
	// Its lines follow the switch's, not among them.
	if strings.Index(r.log, "diff-closures") < strings.Index(r.log, "SYSINIT_OUT") {
		t.Errorf("the closure diff is not after setting the profile:\n%s", r.log)
	}
	if d := h.probe(st, out2); d != "" {
		t.Errorf("probe after the switch: %q", d)
	}

	// 4. Rolled back by hand: drift, and a run puts it back.
	if out, err := exec.Command(filepath.Join(filepath.Dir(h.nix), "nix-env"), "-p", profile, "--switch-generation", "1").CombinedOutput(); err != nil {
		t.Fatalf("switching by hand: %v\n%s", err, out)
	}
	want := "changed outside sysinit: active " + out1 + ", last applied " + out2
	if d := h.probe(st, out2); d != want {
		t.Errorf("drift = %q, want %q", d, want)
	}
	r = h.run(st, out2)
	if r.err != nil {
		t.Fatalf("re-applying: %v\n%s", r.err, r.log)
	}
	if r.out.Token != out2 || readlinkAll(t, profile) != out2 {
		t.Errorf("re-apply: token %s, profile -> %s; want %s", r.out.Token, readlinkAll(t, profile), out2)
	}
	if !slices.Contains(commands(r.nix), "nix-env") {
		t.Errorf("re-apply did not set the profile: %q", r.nix)
	}
	if d := h.probe(st, out2); d != "" {
		t.Errorf("probe after re-applying: %q", d)
	}

	// A missing profile is drift too.
	cs2 := profileStep(h)
	cs2.Own.(*systemKeys).Profile = filepath.Join(h.tmp, "profiles", "never-set")
	if d := h.probe(h.newStep(cs2), out2); !strings.Contains(d, "is missing") {
		t.Errorf("missing profile: drift = %q", d)
	}
}

// TestProfileFailures covers scenario 5 and activation failures.
func TestProfileFailures(t *testing.T) {
	h := newHarness(t)
	cs := profileStep(h)
	st := h.newStep(cs)
	r := h.run(st, "")
	if r.err != nil {
		t.Fatalf("first run: %v\n%s", r.err, r.log)
	}
	out1 := r.out.Token

	t.Run("untracked import", func(t *testing.T) {
		h.write("modules/extra.nix", "\"extra\"\n")
		h.write("modules/msg.nix", "\"hello \" + import ./extra.nix\n")
		r := h.run(st, out1)
		var ue *untrackedError
		if !errors.As(r.err, &ue) {
			t.Fatalf("err = %v, want an UntrackedError\n%s", r.err, r.log)
		}
		if ue.Path != "modules/extra.nix" || !strings.Contains(ue.Error(), "git add modules/extra.nix") {
			t.Errorf("error = %q (path %q)", ue.Error(), ue.Path)
		}
		var xe *command.ExitError
		if !errors.As(r.err, &xe) {
			t.Errorf("the nix exit status is not wrapped: %v", r.err)
		}
		if !slices.Equal(commands(r.nix), []string{"nix eval"}) {
			t.Errorf("started %q after a failed evaluation", r.nix)
		}
		git(t, h.repo, "add", "modules/extra.nix")
		h.write("modules/msg.nix", "\"hello\"\n")
	})

	t.Run("failed build", func(t *testing.T) {
		h.write("modules/fail.nix", "true\n")
		r := h.run(st, out1)
		var ne *nixError
		if !errors.As(r.err, &ne) {
			t.Fatalf("err = %v, want a nix Error\n%s", r.err, r.log)
		}
		// Nix ≥ 2.29 says "Cannot build '…drv'. Reason: builder failed
		// with exit code 1."; on every version the message names the
		// derivation and ends with what its builder said.
		if !regexp.MustCompile(`'/nix/store/[0-9a-z]{32}-dep-1\.0\.drv'.* failed with exit code 1; last log line: failing on purpose$`).MatchString(ne.Msg) {
			t.Errorf("message = %q", ne.Msg)
		}
		var xe *command.ExitError
		if !errors.As(r.err, &xe) || xe.Code != 1 {
			t.Errorf("exit error = %v", xe)
		}
		if !strings.Contains(r.log, "dep-1.0> failing on purpose") {
			t.Errorf("log lacks the builder's output:\n%s", r.log)
		}
		if slices.Contains(commands(r.nix), "nix-env") || readlinkAll(t, cs.Own.(*systemKeys).Profile) != out1 {
			t.Errorf("a failed build moved the profile")
		}
		// Nothing is recorded on failure, so the previous token still holds.
		if d := h.probe(st, out1); d != "" {
			t.Errorf("probe after a failed build: %q", d)
		}
		h.write("modules/fail.nix", "false\n")
	})

	t.Run("failed activation runs again", func(t *testing.T) {
		flag := filepath.Join(h.tmp, "fail-activate")
		writeFile(t, flag, "")
		failing := profileStep(h)
		failing.Own.(*systemKeys).Activate = `echo "$SYSINIT_OUT" >> "$MARKER"; [ ! -e "$FLAG" ]`
		failing.Env["FLAG"] = flag
		st := h.newStep(failing)
		h.write("modules/msg.nix", "\"activation test\"\n")
		r := h.run(st, out1)
		var xe *command.ExitError
		if r.err == nil || !errors.As(r.err, &xe) || !strings.HasPrefix(r.err.Error(), "activating ") {
			t.Fatalf("err = %v, want the activation's failure", r.err)
		}
		// The closure diff that ran beside it is dropped, not printed.
		if strings.Contains(r.log, "diff-closures") {
			t.Errorf("a failed activation printed the closure diff:\n%s", r.log)
		}
		moved := readlinkAll(t, failing.Own.(*systemKeys).Profile)
		if moved == out1 {
			t.Fatal("the profile should have moved before activation")
		}
		// The profile already holds the new system, but the last success
		// is out1: identical-to-active must not skip the activation.
		if err := exec.Command("rm", flag).Run(); err != nil {
			t.Fatal(err)
		}
		r = h.run(st, out1)
		if r.err != nil {
			t.Fatalf("second activation: %v\n%s", r.err, r.log)
		}
		if r.out.Token != moved || !strings.HasPrefix(r.out.Note, "switched") {
			t.Errorf("outcome = %+v, want a switch to %s", r.out, moved)
		}
		if n := strings.Count(readFile(t, failing.Env["MARKER"]), moved); n != 2 {
			t.Errorf("activated %d times for %s, want 2", n, moved)
		}
	})

	t.Run("activation that leaves another system active fails", func(t *testing.T) {
		rollsBack := profileStep(h)
		nixEnv := filepath.Join(filepath.Dir(h.nix), "nix-env")
		rollsBack.Own.(*systemKeys).Activate = nixEnv + ` -p "$PROFILE" --rollback`
		rollsBack.Env["PROFILE"] = rollsBack.Own.(*systemKeys).Profile
		st := h.newStep(rollsBack)
		h.write("modules/msg.nix", "\"rolled back\"\n")
		r := h.run(st, out1)
		if r.err == nil || !strings.Contains(r.err.Error(), "activation finished, but") {
			t.Fatalf("err = %v, want the active system not to be the new one\n%s", r.err, r.log)
		}
		// The closure diff that ran beside the switch is dropped.
		if strings.Contains(r.log, "diff-closures") {
			t.Errorf("a failed switch printed the closure diff:\n%s", r.log)
		}
	})
}

// TestDarwinKind: built as the user, profile and activate through sudo,
// the active system read from the current-system link.
func TestDarwinKind(t *testing.T) {
	h := newHarness(t)
	current := filepath.Join(h.tmp, "run", "current-system")
	h.vars[currentSystemEnv] = current
	cs := &config.Step{
		Kind: KindDarwin,
		Env:  map[string]string{"MARKER": filepath.Join(h.tmp, "marker"), "CURRENT_SYSTEM": current},
		Own:  &systemKeys{Flake: ".#test", Profile: filepath.Join(h.tmp, "profiles", "system")},
	}
	writeFile(t, filepath.Join(h.tmp, "run", ".keep"), "")
	st := h.newStep(cs)
	if e, ok := st.(interface{ NeedsSudo() bool }); !ok || !e.NeedsSudo() {
		t.Error("nix-darwin should need sudo")
	}
	if def := strings.Join(st.Definition(), "\n"); !strings.Contains(def, "attr=darwinConfigurations.test.system") || !strings.Contains(def, "active="+current) {
		t.Errorf("definition:\n%s", def)
	}
	if d := h.probe(st, "/nix/store/x-none"); !strings.Contains(d, "is missing") {
		t.Errorf("probe before any switch = %q", d)
	}
	r := h.run(st, "")
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.log)
	}
	out := r.out.Token
	if !strings.HasSuffix(out, "-darwin-system-1.0") || readlinkAll(t, current) != out || readlinkAll(t, cs.Own.(*systemKeys).Profile) != out {
		t.Fatalf("token %s, current-system -> %s", out, readlinkAll(t, current))
	}
	sudo := h.sudoCalls()
	if len(sudo) != 2 || !strings.Contains(sudo[0], "/nix-env -p "+cs.Own.(*systemKeys).Profile+" --set "+out) || !strings.HasSuffix(sudo[1], out+"/activate") {
		t.Errorf("sudo calls = %q, want nix-env then activate", sudo)
	}
	// The step's env reaches the elevated side on stdin (the activate
	// script writes to $MARKER), never on sudo's public command line.
	if !strings.Contains(readFile(t, cs.Env["MARKER"]), "activate "+out) {
		t.Errorf("activate did not get the step's env: marker holds %q", readFile(t, cs.Env["MARKER"]))
	}
	for _, c := range sudo {
		wrapper, prog, ok := strings.Cut(c, ` exec "$@" sh `)
		if !ok || !strings.HasPrefix(wrapper, "sudo -n -- /bin/sh -c ") || strings.Contains(c, cs.Env["MARKER"]) {
			t.Errorf("sudo call %q does not pass the step's env on stdin", c)
		}
		if strings.Contains(prog, " build ") || strings.Contains(prog, " eval ") {
			t.Errorf("nix ran as root: %q", c)
		}
	}
	if d := h.probe(st, out); d != "" {
		t.Errorf("probe = %q", d)
	}

	// The default configuration is this host's.
	cs2 := *cs
	cs2.Own.(*systemKeys).Flake = "."
	if def := strings.Join(h.newStep(&cs2).Definition(), "\n"); !regexp.MustCompile(`attr=darwinConfigurations\.[^.]+\.system\n`).MatchString(def + "\n") {
		t.Errorf("default host definition:\n%s", def)
	}
}

func TestNixOSKind(t *testing.T) {
	for _, action := range []string{"switch", "test", "boot"} {
		t.Run(action, func(t *testing.T) {
			h := newHarness(t)
			current := filepath.Join(h.tmp, "current-system")
			h.vars[currentSystemEnv] = current
			marker := filepath.Join(h.tmp, "marker")
			cs := &config.Step{
				Kind: KindNixOS,
				Env:  map[string]string{"MARKER": marker, "CURRENT_SYSTEM": current},
				Own:  &systemKeys{Flake: ".#test", Action: action, Profile: filepath.Join(h.tmp, "profiles", "system")},
			}
			st := h.newStep(cs)
			r := h.run(st, "")
			if r.err != nil {
				t.Fatalf("run: %v\n%s", r.err, r.log)
			}
			out := r.out.Token
			if got := readFile(t, marker); got != "switch-to-configuration "+action+" "+out+"\n" {
				t.Errorf("marker = %q", got)
			}
			setProfile := slices.Contains(commands(r.nix), "nix-env")
			if setProfile == (action == "test") {
				t.Errorf("action %s: profile set = %v", action, setProfile)
			}
			if d := h.probe(st, out); d != "" {
				t.Errorf("probe = %q", d)
			}
		})
	}
}

// TestHomeManagerKind: no sudo; activate links the generation itself; the
// default configuration is user@host or user, whichever exists.
func TestHomeManagerKind(t *testing.T) {
	h := newHarness(t)
	home := filepath.Join(h.tmp, "home")
	writeFile(t, filepath.Join(home, ".local/state/nix/profiles/.keep"), "")
	h.vars["HOME"] = home
	h.vars["USER"] = "tester"
	h.vars["XDG_STATE_HOME"] = ""
	profile := filepath.Join(home, ".local/state/nix/profiles/home-manager")
	cs := &config.Step{
		Kind: KindHomeManager,
		Env: map[string]string{
			"MARKER": filepath.Join(h.tmp, "marker"), "HM_PROFILE": profile,
			"NIX_ENV": filepath.Join(filepath.Dir(h.nix), "nix-env"),
		},
		Own: &systemKeys{Flake: "."},
	}
	st := h.newStep(cs)
	if def := strings.Join(st.Definition(), "\n"); !strings.Contains(def, "profile="+profile) || !strings.Contains(def, " or homeConfigurations.tester.activationPackage") {
		t.Errorf("definition:\n%s", def)
	}
	r := h.run(st, "")
	if r.err != nil {
		t.Fatalf("run: %v\n%s", r.err, r.log)
	}
	if !strings.Contains(r.log, "configuration: tester\n") {
		t.Errorf("log does not name the configuration:\n%s", r.log)
	}
	if got := commands(r.nix); !slices.Equal(got, []string{"nix eval", "nix build"}) {
		t.Errorf("started %q; home-manager's activate sets its own profile", got)
	}
	if readlinkAll(t, profile) != r.out.Token || len(h.sudoCalls()) != 0 {
		t.Errorf("profile -> %s, sudo %q", readlinkAll(t, profile), h.sudoCalls())
	}
	if d := h.probe(st, r.out.Token); d != "" {
		t.Errorf("probe = %q", d)
	}
}

// TestFlakeUpdate is scenario 6: a local git+file input moves, flake.lock
// follows and is committed, and the system's inputs see the new lock.
func TestFlakeUpdate(t *testing.T) {
	h := newHarness(t)
	lib := filepath.Join(h.tmp, "lib")
	writeFile(t, filepath.Join(lib, "default.nix"), "{ v = \"1\"; }\n")
	git(t, lib, "init", "-q", "-b", "main")
	git(t, lib, "add", "-A")
	git(t, lib, "commit", "-qm", "one")
	flake := strings.Replace(readFile(t, filepath.Join(h.repo, "flake.nix")),
		"outputs = { self }: let",
		"inputs.lib = { url = \"git+file://"+lib+"\"; flake = false; };\n  outputs = { self, lib }: let", 1)
	flake = strings.Replace(flake, "echo '${import ./modules/msg.nix}'", "echo '${import ./modules/msg.nix} ${(import lib).v}'", 1)
	h.write("flake.nix", flake)
	git(t, h.repo, "add", "-A")
	git(t, h.repo, "commit", "-qm", "flake")

	fu := &config.Step{Name: "update", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true}}
	up := h.newStep(fu)
	if u, ok := up.(interface{ Updates() bool }); !ok || !u.Updates() {
		t.Error("flake-update should be an Updater")
	}
	spec, err := up.Inputs(t.Context())
	if err != nil || !slices.Equal(spec.Files, []string{"flake.nix"}) || len(spec.Patterns) != 0 {
		t.Errorf("inputs = %+v, %v; want flake.nix alone", spec, err)
	}

	// The runs here are due (`every` passed, or --update): they update.
	due := step.RunContext{Due: true}
	r := h.runWith(up, due)
	if r.err != nil {
		t.Fatalf("creating the lock: %v\n%s", r.err, r.log)
	}
	if r.out.Note != "flake.lock created (inputs: lib), committed" {
		t.Errorf("note = %q", r.out.Note)
	}
	sys := h.newStep(profileStep(h))
	first := h.run(sys, "")
	if first.err != nil {
		t.Fatalf("system: %v\n%s", first.err, first.log)
	}

	r = h.runWith(up, due)
	if r.err != nil || r.out.Note != "flake.lock unchanged" {
		t.Errorf("nothing moved: %+v, %v", r.out, r.err)
	}
	head := git(t, h.repo, "rev-parse", "HEAD")

	writeFile(t, filepath.Join(lib, "default.nix"), "{ v = \"2\"; }\n")
	git(t, lib, "commit", "-qam", "two")
	lockBefore := readFile(t, filepath.Join(h.repo, "flake.lock"))
	r = h.runWith(up, due)
	if r.err != nil {
		t.Fatalf("update: %v\n%s", r.err, r.log)
	}
	if r.out.Note != "flake.lock updated (inputs: lib), committed" {
		t.Errorf("note = %q", r.out.Note)
	}
	if readFile(t, filepath.Join(h.repo, "flake.lock")) == lockBefore {
		t.Error("flake.lock did not change")
	}
	if got := strings.TrimSpace(git(t, h.repo, "log", "-1", "--format=%s")); got != "flake.lock: update" {
		t.Errorf("last commit = %q", got)
	}
	if git(t, h.repo, "rev-parse", "HEAD") == head || strings.TrimSpace(git(t, h.repo, "status", "--porcelain", "--", "flake.lock")) != "" {
		t.Error("flake.lock was not committed")
	}
	v, err := nixVersion(t.Context(), command.Exec{}, h.nix)
	if err != nil {
		t.Fatal(err)
	}
	// Nix ≥ 2.19 reads an argument as an input name, and only warns.
	want := "nix flake update " + h.repo
	if v.AtLeast(2, 19) {
		want = "nix flake update --flake " + h.repo
	}
	if !slices.Equal(r.nix, []string{want}) {
		t.Errorf("started %q, want %q alone (the version is cached per process)", r.nix, want)
	}

	// The system step's inputs include flake.lock, and its out path moves.
	second := h.run(sys, first.out.Token)
	if second.err != nil || second.out.Token == first.out.Token {
		t.Errorf("system after the update: %+v, %v", second.out, second.err)
	}

	// Named inputs use the 2.8 form on 2.8.
	fu2 := &config.Step{Name: "update-lib", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Inputs: []string{"lib"}}}
	r = h.runWith(h.newStep(fu2), due)
	if r.err != nil {
		t.Fatalf("named update: %v", r.err)
	}
	want = "nix flake lock " + h.repo + " --update-input lib"
	if v.AtLeast(2, 19) {
		want = "nix flake update --flake " + h.repo + " lib"
	}
	if len(r.nix) != 1 || r.nix[0] != want {
		t.Errorf("named update ran %q, want %q", r.nix, want)
	}
}

// TestInputsNotInGit: a flake that is not in a git repository is copied
// whole by nix, so every file under it is an input.
func TestInputsNotInGit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flake.nix"), "{ outputs = _: {}; }")
	cfg := &config.Config{Dir: dir}
	for flake, want := range map[string]string{".#x": ".", "./sub#x": "sub", "path:.#x": ".", "./a*b/[c]#x": "a*b/[c]"} {
		ref, err := parseFlakeRef(flake, dir)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := flakeInputs(cfg.Dir, ref, []string{"extra/**"})
		if err != nil {
			t.Fatalf("%s: %v", flake, err)
		}
		if !slices.Equal(spec.Trees, []string{want}) || !slices.Equal(spec.Patterns, []string{"extra/**"}) || len(spec.Files) != 0 || spec.Root != "" {
			t.Errorf("%s: %+v", flake, spec)
		}
	}
	// A flake directory beside the config directory is named by its
	// absolute path, and the extra patterns still apply.
	ref, err := parseFlakeRef("../elsewhere#x", dir)
	if err != nil {
		t.Fatal(err)
	}
	if spec, err := flakeInputs(cfg.Dir, ref, []string{"extra/**"}); err != nil || spec.Root != "" ||
		!slices.Equal(spec.Trees, []string{filepath.Join(filepath.Dir(dir), "elsewhere")}) || !slices.Equal(spec.Patterns, []string{"extra/**"}) {
		t.Errorf("../elsewhere#x: %+v, %v", spec, err)
	}
	for _, flake := range []string{"github:me/cfg#x", "git+file://" + dir + "?rev=abc#x"} {
		ref, err := parseFlakeRef(flake, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := flakeInputs(cfg.Dir, ref, nil); err == nil {
			t.Errorf("%s: no error; sysinit cannot see what nix sees there", flake)
		}
	}
}

// TestInputsRepoAboveConfig: a flake whose git repository starts above
// the config directory is fingerprinted from the repository's root, with
// the extra patterns moved there too.
func TestInputsRepoAboveConfig(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "nix/flake.nix"), "{}")
	writeFile(t, filepath.Join(root, "dotfiles/init.lua"), "")
	git(t, root, "init", "-q")
	git(t, root, "add", "-A")
	ref, _ := parseFlakeRef(".#x", filepath.Join(root, "nix"))
	spec, err := flakeInputs(filepath.Join(root, "nix"), ref, []string{"secrets/**", "!secrets/*.tmp", "/etc/nix/*.conf", "!/etc/nix/x.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Root != root {
		t.Errorf("root = %q, want %q", spec.Root, root)
	}
	if want := []string{".git/HEAD", ".git/packed-refs", "dotfiles/init.lua", "nix/flake.lock", "nix/flake.nix"}; !slices.Equal(spec.Files, want) {
		t.Errorf("files = %v, want %v", spec.Files, want)
	}
	if want := []string{"nix/secrets/**", "!nix/secrets/*.tmp", "/etc/nix/*.conf", "!/etc/nix/x.conf"}; !slices.Equal(spec.Patterns, want) {
		t.Errorf("patterns = %v, want %v", spec.Patterns, want)
	}
}

// TestInputsIncludeHead: on a clean tree nix builds from the HEAD commit
// (and sets self.rev), so a commit alone must change the inputs: HEAD and
// the branch's ref are inputs.
func TestInputsIncludeHead(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "flake.nix"), "{}")
	git(t, root, "init", "-q", "-b", "main")
	git(t, root, "add", "-A")
	git(t, root, "commit", "-qm", "one")
	ref, _ := parseFlakeRef(".#x", root)
	spec, err := flakeInputs(root, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git/HEAD", ".git/refs/heads/main"} {
		if !slices.Contains(spec.Files, want) {
			t.Errorf("files %v lack %s", spec.Files, want)
		}
	}
	scan := func() fingerprint.Digest {
		ms, err := (&fingerprint.Scanner{Root: root}).Scan(context.Background(), []fingerprint.Spec{spec})
		if err != nil {
			t.Fatal(err)
		}
		return ms[0].Digest
	}
	before := scan()
	git(t, root, "commit", "-q", "--allow-empty", "-m", "two")
	if scan() == before {
		t.Error("an empty commit did not change the inputs; nix's self.rev did")
	}
}

// TestInputsRepoAboveGlobNamedConfig: the config directory's path below
// the repository's root prefixes the extra patterns as a name: "!nix"
// made them excludes, "[nix]" made them match nix/.
func TestInputsRepoAboveGlobNamedConfig(t *testing.T) {
	requireGit(t)
	gitEnv(t)
	for _, dir := range []string{"!nix", "[nix]"} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, dir, "flake.nix"), "{}")
		git(t, root, "init", "-q")
		git(t, root, "add", "-A")
		ref, _ := parseFlakeRef(".#x", filepath.Join(root, dir))
		spec, err := flakeInputs(filepath.Join(root, dir), ref, []string{"secrets/**", "!secrets/*.tmp"})
		if err != nil {
			t.Fatal(err)
		}
		esc := `\` + dir
		if dir == "[nix]" {
			esc = `\[nix\]`
		}
		if want := []string{esc + "/secrets/**", "!" + esc + "/secrets/*.tmp"}; !slices.Equal(spec.Patterns, want) {
			t.Errorf("%s: patterns = %q, want %q", dir, spec.Patterns, want)
		}
	}
}
