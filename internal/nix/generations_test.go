package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// dailyKinds are the kinds that build, roll back and clean.
var dailyKinds = []string{KindProfile, KindDarwin, KindNixOS, KindHomeManager}

// dailyStep sets up a step of kind in h as the kind tests do: profiles and
// the current-system link in temp dirs, stand-in activation scripts that
// log to the marker file. It returns the step, its profile and the link
// whose target is the active system.
func dailyStep(h *harness, kind string) (cs *config.Step, profile, active string) {
	h.t.Helper()
	marker := filepath.Join(h.tmp, "marker")
	current := filepath.Join(h.tmp, "run", "current-system")
	writeFile(h.t, filepath.Join(h.tmp, "run", ".keep"), "")
	profile = filepath.Join(h.tmp, "profiles", "system")
	switch kind {
	case KindProfile:
		cs = profileStep(h)
		return cs, cs.Own.(*systemKeys).Profile, cs.Own.(*systemKeys).Profile
	case KindDarwin, KindNixOS:
		h.vars[currentSystemEnv] = current
		cs = &config.Step{
			Kind: kind,
			Env:  map[string]string{"MARKER": marker, "CURRENT_SYSTEM": current},
			Own:  &systemKeys{Flake: ".#test", Profile: profile},
		}
		return cs, profile, current
	case KindHomeManager:
		home := filepath.Join(h.tmp, "home")
		writeFile(h.t, filepath.Join(home, ".local/state/nix/profiles/.keep"), "")
		h.vars["HOME"] = home
		h.vars["USER"] = "tester"
		h.vars["XDG_STATE_HOME"] = ""
		profile = filepath.Join(home, ".local/state/nix/profiles/home-manager")
		cs = &config.Step{
			Kind: KindHomeManager,
			Env: map[string]string{
				"MARKER": marker, "HM_PROFILE": profile,
				"NIX_ENV": filepath.Join(filepath.Dir(h.nix), "nix-env"),
			},
			Own: &systemKeys{Flake: "."},
		}
		// A current home-manager generation: it has a gen-version file and
		// leaves the profile to its caller when told --driver-version 1,
		// as home-manager 25.11's activate does.
		flake := strings.ReplaceAll(flakeTemplate, "@SYSTEM@", h.system)
		withGenVersion := strings.Replace(flake, "mkdir -p $out/bin\n", "mkdir -p $out/bin\n      ${if name == \"home-manager-generation\" then \"echo 1 > $out/gen-version\" else \"\"}\n", 1)
		if withGenVersion == flake {
			h.t.Fatal("the test flake changed: cannot add gen-version to its home-manager generation")
		}
		h.write("flake.nix", withGenVersion)
		h.write("stand-ins/activate.sh", hmActivateScript)
		return cs, profile, profile
	}
	h.t.Fatalf("no set-up for kind %s", kind)
	return nil, "", ""
}

// hmActivateScript is the activation stand-in with home-manager's driver
// protocol: given --driver-version 1 it does not set the profile.
const hmActivateScript = `#!/bin/sh
set -e
out=@out@
echo "activate $out${1:+ $*}" >> "$MARKER"
[ -z "$CURRENT_SYSTEM" ] || ln -sfn "$out" "$CURRENT_SYSTEM"
if [ "$1 $2" != "--driver-version 1" ] && [ -n "$HM_PROFILE" ]; then "$NIX_ENV" -p "$HM_PROFILE" --set "$out"; fi
`

// activation is what the marker says when kind activates out.
func activation(kind, out string) string {
	switch kind {
	case KindProfile:
		return out
	case KindNixOS:
		return "switch-to-configuration switch " + out
	}
	return "activate " + out
}

// lastLine is the last line of file.
func lastMarkerLine(t *testing.T, file string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(readFile(t, file)), "\n")
	return lines[len(lines)-1]
}

// bump changes the dependency, so the next build is another system.
func (h *harness) bump(version string) {
	h.write("modules/depver.nix", fmt.Sprintf("%q\n", version))
	h.write("modules/depsize.nix", "60000\n")
}

// TestBuildEachKind: `sysinit build` builds as the user, compares with
// the active system, and neither elevates, sets a profile nor activates.
func TestBuildEachKind(t *testing.T) {
	for _, kind := range dailyKinds {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			cs, profile, active := dailyStep(h, kind)
			st := h.newStep(cs)
			b, ok := st.(step.Builder)
			if !ok {
				t.Fatalf("%s does not build", kind)
			}
			marker := filepath.Join(h.tmp, "marker")

			// Nothing active yet: built, nothing to compare with.
			var log bytes.Buffer
			n := len(h.nixStarts())
			got, err := b.Build(t.Context(), &log)
			if err != nil {
				t.Fatalf("build: %v\n%s", err, log.String())
			}
			if !strings.HasPrefix(got.Path, "/nix/store/") || got.Active != "" || got.Diff != "" || got.Summary != "" {
				t.Errorf("first build = %+v", got)
			}
			if cmds := commands(h.nixStarts()[n:]); cmds[len(cmds)-1] != "nix build" || slices.Contains(cmds, "nix-env") {
				t.Errorf("first build started %q", cmds)
			}
			if _, err := os.Lstat(profile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("build set the profile %s (%v)", profile, err)
			}
			if readFile(t, marker) != "" || len(h.sudoCalls()) != 0 {
				t.Errorf("build activated (%q) or used sudo (%q)", readFile(t, marker), h.sudoCalls())
			}

			// Switched to it, then the config changes: the build is compared.
			r := h.run(st, "")
			if r.err != nil {
				t.Fatalf("switch: %v\n%s", r.err, r.log)
			}
			if r.out.Token != got.Path {
				t.Errorf("build made %s, the switch %s", got.Path, r.out.Token)
			}
			sudo, gen, activated := len(h.sudoCalls()), generation(profile), readFile(t, marker)
			h.bump("1.1")
			log.Reset()
			n = len(h.nixStarts())
			got2, err := b.Build(t.Context(), &log)
			if err != nil {
				t.Fatalf("second build: %v\n%s", err, log.String())
			}
			if got2.Active != got.Path || got2.Path == got.Path {
				t.Errorf("second build = %+v, want a new path against %s", got2, got.Path)
			}
			if !strings.Contains(got2.Diff, "dep: 1.0 → 1.1") || !regexp.MustCompile(`^1 package changed, \+39\.\d KiB$`).MatchString(got2.Summary) {
				t.Errorf("diff %q, summary %q", got2.Diff, got2.Summary)
			}
			cmds := commands(h.nixStarts()[n:])
			if cmds[len(cmds)-2] != "nix build" || cmds[len(cmds)-1] != "nix store diff-closures" || slices.Contains(cmds, "nix-env") {
				t.Errorf("second build started %q", cmds)
			}
			if readlinkAll(t, active) != got.Path || generation(profile) != gen || readFile(t, marker) != activated || len(h.sudoCalls()) != sudo {
				t.Errorf("the build changed the machine: active -> %s, generation %d, sudo %q", readlinkAll(t, active), generation(profile), h.sudoCalls())
			}
			if d := h.probe(st, got.Path); d != "" {
				t.Errorf("probe after build = %q", d)
			}
		})
	}
}

// TestRollbackEachKind: rollback sets the profile back a generation and
// activates it as the kind's tool does; the probe then sees the machine
// off what was last applied, and a run switches forward again.
func TestRollbackEachKind(t *testing.T) {
	for _, kind := range dailyKinds {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			cs, profile, active := dailyStep(h, kind)
			st := h.newStep(cs)
			rb, ok := st.(step.RollBacker)
			if !ok {
				t.Fatalf("%s does not roll back", kind)
			}
			marker := filepath.Join(h.tmp, "marker")
			r := h.run(st, "")
			if r.err != nil {
				t.Fatalf("first switch: %v\n%s", r.err, r.log)
			}
			out1 := r.out.Token
			var log bytes.Buffer
			if _, err := rb.Rollback(t.Context(), &step.RollbackContext{Out: &log}); err == nil || !strings.Contains(err.Error(), "no generation older than the current (1)") {
				t.Errorf("rollback with one generation: %v", err)
			}
			h.bump("1.1")
			r = h.run(st, out1)
			if r.err != nil {
				t.Fatalf("second switch: %v\n%s", r.err, r.log)
			}
			out2 := r.out.Token

			// Dry: says what it would do, does nothing.
			n, sudo := len(h.nixStarts()), len(h.sudoCalls())
			got, err := rb.Rollback(t.Context(), &step.RollbackContext{Out: &log, DryRun: true})
			if err != nil {
				t.Fatalf("dry rollback: %v", err)
			}
			if got.From.Number != 2 || got.To.Number != 1 || got.To.Path != out1 || got.Profile != profile || got.Changed {
				t.Errorf("dry rollback = %+v", got)
			}
			if len(h.nixStarts()) != n || len(h.sudoCalls()) != sudo || readlinkAll(t, active) != out2 {
				t.Errorf("a dry rollback changed something")
			}

			got, err = rb.Rollback(t.Context(), &step.RollbackContext{Out: &log})
			if err != nil {
				t.Fatalf("rollback: %v\n%s", err, log.String())
			}
			if !got.Changed || got.From.Number != 2 || got.To.Number != 1 {
				t.Errorf("rollback = %+v", got)
			}
			if readlinkAll(t, profile) != out1 || readlinkAll(t, active) != out1 {
				t.Errorf("after rollback: profile -> %s, active -> %s; want %s", readlinkAll(t, profile), readlinkAll(t, active), out1)
			}
			want := activation(kind, out1)
			if kind == KindHomeManager {
				want += " --driver-version 1"
			}
			if l := lastMarkerLine(t, marker); l != want {
				t.Errorf("last activation %q, want %q", l, want)
			}
			if generation(profile) != 1 {
				t.Errorf("generation %d after rollback, want 1 (nothing new made)", generation(profile))
			}
			if cmds := commands(h.nixStarts()[n:]); !slices.Equal(cmds, []string{"nix-env"}) {
				t.Errorf("rollback started %q, want nix-env alone", cmds)
			}
			if !strings.Contains(log.String(), "nix-env -p "+profile+" --rollback") {
				t.Errorf("log lacks nix-env --rollback:\n%s", log.String())
			}
			if elevated := h.sudoCalls()[sudo:]; kind == KindDarwin || kind == KindNixOS {
				if len(elevated) != 2 || !strings.Contains(elevated[0], "--rollback") || !strings.Contains(elevated[1], out1) {
					t.Errorf("sudo calls %q, want nix-env --rollback then the activation", elevated)
				}
			} else if len(elevated) != 0 {
				t.Errorf("%s used sudo: %q", kind, elevated)
			}
			if d, want := h.probe(st, out2), "changed outside sysinit: active "+out1+", last applied "+out2; d != want {
				t.Errorf("probe after rollback = %q, want %q", d, want)
			}

			// A refresh applies the config again (nix-env reuses the newest
			// generation when it holds the same path).
			r = h.run(st, out2)
			if r.err != nil {
				t.Fatalf("switching forward: %v\n%s", r.err, r.log)
			}
			if r.out.Token != out2 || readlinkAll(t, active) != out2 || generation(profile) != 2 {
				t.Errorf("forward: token %s, active -> %s, generation %d", r.out.Token, readlinkAll(t, active), generation(profile))
			}

			// A chosen generation, and one that is not there.
			got, err = rb.Rollback(t.Context(), &step.RollbackContext{Out: &log, To: 1})
			if err != nil || got.To.Number != 1 || readlinkAll(t, active) != out1 {
				t.Errorf("rollback --to 1: %+v, %v; active -> %s", got, err, readlinkAll(t, active))
			}
			if _, err := rb.Rollback(t.Context(), &step.RollbackContext{Out: &log, To: 9}); err == nil || !strings.Contains(err.Error(), "has no generation 9 (it has 1, 2)") {
				t.Errorf("rollback --to 9: %v", err)
			}
		})
	}
}

// TestRollbackActivationFails: the profile moved but the activation
// failed: the caller is told the profile changed.
func TestRollbackActivationFails(t *testing.T) {
	h := newHarness(t)
	cs := profileStep(h)
	cs.Own.(*systemKeys).Activate = `echo "$SYSINIT_OUT" >> "$MARKER"; [ ! -e "$SYSINIT_OUT/bad" ]`
	st := h.newStep(cs)
	r := h.run(st, "")
	h.bump("1.1")
	r = h.run(st, r.out.Token)
	if r.err != nil {
		t.Fatalf("switch: %v\n%s", r.err, r.log)
	}
	cs.Own.(*systemKeys).Activate = "exit 7"
	var log bytes.Buffer
	got, err := h.newStep(cs).(step.RollBacker).Rollback(t.Context(), &step.RollbackContext{Out: &log})
	if err == nil || !got.Changed || !strings.Contains(err.Error(), "now points at generation 1, but activating it failed") {
		t.Errorf("rollback = %+v, %v", got, err)
	}
}

// TestNixOSTestActionHasNoRollback: action = "test" never sets the profile.
func TestNixOSTestActionHasNoRollback(t *testing.T) {
	h := newHarness(t)
	cs, _, _ := dailyStep(h, KindNixOS)
	cs.Own.(*systemKeys).Action = "test"
	_, err := h.newStep(cs).(step.RollBacker).Rollback(t.Context(), &step.RollbackContext{Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "never sets the profile") {
		t.Errorf("err = %v", err)
	}
}

// TestCleanGenerations: the generations are read as nix-env lists them;
// deleting goes through nix-env (as root where the profile is root's),
// which refuses the current one.
func TestCleanGenerations(t *testing.T) {
	h := newHarness(t)
	cs, profile, _ := dailyStep(h, KindDarwin)
	st := h.newStep(cs)
	var outs []string
	token := ""
	for _, v := range []string{"1.0", "1.1", "1.2"} {
		h.bump(v)
		r := h.run(st, token)
		if r.err != nil {
			t.Fatalf("switch %s: %v\n%s", v, r.err, r.log)
		}
		token = r.out.Token
		outs = append(outs, token)
	}
	c := st.(step.Cleaner)
	if p, err := c.Profile(); p != profile || err != nil {
		t.Errorf("Profile() = %s, %v", p, err)
	}
	gens, err := c.Generations()
	if err != nil {
		t.Fatal(err)
	}
	// nix-env --list-generations is the reference.
	listed, err := exec.Command(filepath.Join(filepath.Dir(h.nix), "nix-env"), "-p", profile, "--list-generations").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, g := range gens {
		line := fmt.Sprintf("%d %s", g.Number, g.Time.Local().Format("2006-01-02 15:04:05"))
		if g.Current {
			line += " (current)"
		}
		want = append(want, line)
		if g.Path != outs[g.Number-1] {
			t.Errorf("generation %d holds %s, want %s", g.Number, g.Path, outs[g.Number-1])
		}
	}
	if got := strings.Join(strings.Fields(string(listed)), " "); got != strings.Join(want, " ") {
		t.Errorf("generations %q, nix-env lists %q", want, got)
	}

	var log bytes.Buffer
	sudo := len(h.sudoCalls())
	if err := c.DeleteGenerations(t.Context(), &log, []int{1, 2}); err != nil {
		t.Fatalf("delete: %v\n%s", err, log.String())
	}
	if gens, _ := c.Generations(); len(gens) != 1 || gens[0].Number != 3 || !gens[0].Current {
		t.Errorf("after deleting 1 and 2: %+v", gens)
	}
	if calls := h.sudoCalls()[sudo:]; len(calls) != 1 || !strings.Contains(calls[0], "nix-env -p "+profile+" --delete-generations 1 2") {
		t.Errorf("sudo calls %q", calls)
	}
	if err := c.DeleteGenerations(t.Context(), &log, []int{3}); err == nil {
		t.Errorf("deleting the current generation succeeded")
	}
	// On the shared store, only a dry collection (a real one is tested in
	// a store of its own).
	n := len(h.nixStarts())
	if err := c.CollectGarbage(t.Context(), &log, true); err != nil {
		t.Fatalf("gc --dry-run: %v\n%s", err, log.String())
	}
	if starts := h.nixStarts()[n:]; len(starts) != 1 || starts[0] != "nix store gc --dry-run" {
		t.Errorf("gc started %q", starts)
	}
	if _, err := os.Stat(outs[0]); err != nil {
		t.Errorf("a dry gc deleted %s: %v", outs[0], err)
	}
}

// TestCollectGarbageOwnStore: a real `nix store gc`, in a store of its
// own (a chroot store under the test's temp dir, so that other tests'
// unrooted builds in the shared store are left alone): what a deleted
// generation held goes, what the kept ones hold stays.
func TestCollectGarbageOwnStore(t *testing.T) {
	nix := requireNix(t)
	tmp := t.TempDir()
	t.Setenv("NIX_CONFIG", "experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters =")
	t.Setenv("NIX_REMOTE", filepath.Join(tmp, "root"))
	bin := filepath.Dir(nix)
	profile := filepath.Join(tmp, "profiles", "tools")
	writeFile(t, filepath.Join(tmp, "profiles", ".keep"), "")
	var paths []string
	for i := range 3 {
		f := filepath.Join(tmp, fmt.Sprintf("file-%d", i))
		writeFile(t, f, fmt.Sprintf("%s %d\n", t.Name(), time.Now().UnixNano()))
		out, err := exec.Command(filepath.Join(bin, "nix-store"), "--add", f).Output()
		if err != nil {
			t.Fatalf("nix-store --add: %v", err)
		}
		p := strings.TrimSpace(string(out))
		paths = append(paths, p)
		if out, err := exec.Command(filepath.Join(bin, "nix-env"), "-p", profile, "--set", p).CombinedOutput(); err != nil {
			t.Fatalf("nix-env --set: %v\n%s", err, out)
		}
	}
	inStore := func(p string) bool {
		_, err := os.Lstat(filepath.Join(tmp, "root", p))
		return err == nil
	}
	for _, p := range paths {
		if !inStore(p) {
			t.Fatalf("%s is not in the test's store", p)
		}
	}
	cs := &config.Step{Name: "tools", Kind: KindProfile, Own: &systemKeys{Flake: ".#tools", Profile: profile}}
	cfg := &config.Config{File: filepath.Join(tmp, config.FileName), Dir: tmp, Steps: []*config.Step{cs}}
	r := step.NewRegistry()
	Register(r)
	st, err := r.New(cfg, cs, &step.Env{Exec: command.Exec{}, Getenv: os.Getenv, LookPath: exec.LookPath})
	if err != nil {
		t.Fatal(err)
	}
	c := st.(step.Cleaner)
	var log bytes.Buffer
	ctx := context.Background()
	if err := c.DeleteGenerations(ctx, &log, []int{1}); err != nil {
		t.Fatalf("delete: %v\n%s", err, log.String())
	}
	if err := c.CollectGarbage(ctx, &log, true); err != nil || !inStore(paths[0]) {
		t.Fatalf("dry gc: %v (still there: %v)\n%s", err, inStore(paths[0]), log.String())
	}
	if err := c.CollectGarbage(ctx, &log, false); err != nil {
		t.Fatalf("gc: %v\n%s", err, log.String())
	}
	if inStore(paths[0]) || !inStore(paths[1]) || !inStore(paths[2]) {
		t.Errorf("after gc: %v %v %v in the store, want false true true\n%s", inStore(paths[0]), inStore(paths[1]), inStore(paths[2]), log.String())
	}
}

// TestAskBeforeSwitch: with Confirm set the closure diff is shown after
// the build and before anything is set; a no changes nothing.
func TestAskBeforeSwitch(t *testing.T) {
	h := newHarness(t)
	cs := profileStep(h)
	st := h.newStep(cs)
	profile, marker := cs.Own.(*systemKeys).Profile, cs.Env["MARKER"]
	var asked []string
	yes := func(_ context.Context, s string) error { asked = append(asked, s); return nil }
	no := func(_ context.Context, s string) error {
		asked = append(asked, s)
		return errors.New("declined at the prompt")
	}

	r := h.runWith(st, step.RunContext{Confirm: yes})
	if r.err != nil {
		t.Fatalf("first switch: %v\n%s", r.err, r.log)
	}
	out1 := r.out.Token
	if len(asked) != 1 || !strings.Contains(asked[0], "switch to "+out1) || !strings.Contains(asked[0], "nothing is active yet") {
		t.Errorf("asked %q", asked)
	}

	h.bump("1.1")
	r = h.runWith(st, step.RunContext{Token: out1, Confirm: no})
	if r.err == nil || !strings.Contains(r.err.Error(), "was built but not applied: declined at the prompt") {
		t.Fatalf("declined: err = %v", r.err)
	}
	if len(asked) != 2 || !strings.Contains(asked[1], "dep: 1.0 → 1.1") || !regexp.MustCompile(`(?m)^1 package changed, \+39\.\d KiB$`).MatchString(asked[1]) || !strings.Contains(asked[1], "switch from "+out1) {
		t.Errorf("asked %q", asked[1])
	}
	if got := commands(r.nix); !slices.Equal(got, []string{"nix eval", "nix build", "nix store diff-closures"}) {
		t.Errorf("declined run started %q", got)
	}
	if readlinkAll(t, profile) != out1 || generation(profile) != 1 || readFile(t, marker) != out1+"\n" {
		t.Errorf("a declined switch changed the machine")
	}
	if !strings.Contains(r.log, "dep: 1.0 → 1.1") || !strings.Contains(r.log, "not applied: declined at the prompt") {
		t.Errorf("log:\n%s", r.log)
	}

	r = h.runWith(st, step.RunContext{Token: out1, Confirm: yes})
	if r.err != nil {
		t.Fatalf("accepted: %v\n%s", r.err, r.log)
	}
	if got := commands(r.nix); !slices.Equal(got, []string{"nix eval", "nix build", "nix store diff-closures", "nix-env"}) {
		t.Errorf("accepted run started %q: the diff must come before the profile is set", got)
	}
	if !regexp.MustCompile(`^switched to generation 2; 1 package changed, \+39\.\d KiB$`).MatchString(r.out.Note) {
		t.Errorf("note = %q", r.out.Note)
	}

	// Already the active system and recorded: nothing to ask.
	h.write("modules/msg.nix", "# a comment\n\"hello\"\n")
	n := len(asked)
	if r = h.runWith(st, step.RunContext{Token: r.out.Token, Confirm: yes}); r.err != nil || len(asked) != n {
		t.Errorf("comment edit: %v, asked %d times", r.err, len(asked)-n)
	}
}
