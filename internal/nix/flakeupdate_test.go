package nix

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// inputRepo makes a git repository to serve as a flake input (flake =
// false) holding default.nix = { v = "<v>"; }, and returns its path.
func inputRepo(t *testing.T, h *harness, name string) string {
	t.Helper()
	dir := filepath.Join(h.tmp, name)
	writeFile(t, filepath.Join(dir, "default.nix"), "{ v = \"1\"; }\n")
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "v1")
	return dir
}

// moveInput commits a new version in an input's repository.
func moveInput(t *testing.T, dir, v string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "default.nix"), fmt.Sprintf("{ v = %q; }\n", v))
	git(t, dir, "commit", "-qam", "v"+v)
}

// withInputs rewrites the harness flake to take git+file inputs (name →
// repository) and use them all in the system's message.
func withInputs(t *testing.T, h *harness, inputs map[string]string) {
	t.Helper()
	names := slices.Sorted(maps.Keys(inputs))
	var decl, uses strings.Builder
	for _, n := range names {
		fmt.Fprintf(&decl, "  inputs.%s = { url = \"git+file://%s\"; flake = false; };\n", n, inputs[n])
		fmt.Fprintf(&uses, " ${(import %s).v}", n)
	}
	flake := strings.ReplaceAll(flakeTemplate, "@SYSTEM@", h.system)
	flake = strings.Replace(flake, "outputs = { self }: let",
		decl.String()+"  outputs = { self, "+strings.Join(names, ", ")+" }: let", 1)
	flake = strings.Replace(flake, "echo '${import ./modules/msg.nix}'", "echo '${import ./modules/msg.nix}"+uses.String()+"'", 1)
	h.write("flake.nix", flake)
}

// lockedRevs reads each root input's locked revision from flake.lock.
func lockedRevs(t *testing.T, h *harness) map[string]string {
	t.Helper()
	var l struct {
		Nodes map[string]struct {
			Locked struct {
				Rev string `json:"rev"`
			} `json:"locked"`
		} `json:"nodes"`
	}
	data := readFile(t, filepath.Join(h.repo, "flake.lock"))
	if err := json.Unmarshal([]byte(data), &l); err != nil {
		t.Fatalf("reading flake.lock: %v\n%s", err, data)
	}
	revs := map[string]string{}
	for name, n := range l.Nodes {
		if n.Locked.Rev != "" {
			revs[name] = n.Locked.Rev
		}
	}
	return revs
}

// TestFlakeEditLocksWithoutMoving: flake-update run because flake.nix
// changed (not due) locks the input the edit added and moves no other pin,
// even though both other inputs have moved upstream; run due, it moves
// them. On every Nix version in the matrix.
func TestFlakeEditLocksWithoutMoving(t *testing.T) {
	h := newHarness(t)
	one, two, three := inputRepo(t, h, "one"), inputRepo(t, h, "two"), inputRepo(t, h, "three")
	withInputs(t, h, map[string]string{"one": one, "two": two})
	git(t, h.repo, "add", "-A")
	git(t, h.repo, "commit", "-qm", "flake")

	up := h.newStep(&config.Step{Name: "update", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true}})
	r := h.runWith(up, step.RunContext{Due: true})
	if r.err != nil {
		t.Fatalf("first update: %v\n%s", r.err, r.log)
	}
	first := lockedRevs(t, h)
	if first["one"] == "" || first["two"] == "" {
		t.Fatalf("flake.lock after the first update: %v", first)
	}

	moveInput(t, one, "2")
	moveInput(t, two, "2")
	withInputs(t, h, map[string]string{"one": one, "two": two, "three": three})
	git(t, h.repo, "add", "flake.nix")

	// flake.nix changed, the schedule did not call: lock, don't update.
	r = h.runWith(up, step.RunContext{})
	if r.err != nil {
		t.Fatalf("locking: %v\n%s", r.err, r.log)
	}
	if want := "nix flake lock " + h.repo; !slices.Equal(r.nix, []string{want}) {
		t.Errorf("started %q, want %q alone", r.nix, want)
	}
	got := lockedRevs(t, h)
	if got["one"] != first["one"] || got["two"] != first["two"] {
		t.Errorf("an edit of flake.nix moved pins: before %v, after %v", first, got)
	}
	if got["three"] == "" {
		t.Errorf("the new input is not locked: %v", got)
	}
	if r.out.Note != "flake.lock updated (locked: three), committed" {
		t.Errorf("note = %q", r.out.Note)
	}
	if subject := strings.TrimSpace(git(t, h.repo, "log", "-1", "--format=%s")); subject != "flake.lock: lock new inputs" {
		t.Errorf("commit subject = %q", subject)
	}

	// Not due with nothing new: nothing moves, and the note says why.
	r = h.runWith(up, step.RunContext{})
	if r.err != nil || r.out.Note != "flake.lock unchanged (not due: nothing new to lock, no pin moved)" {
		t.Errorf("locking again: %+v, %v", r.out, r.err)
	}

	// Due (`every` passed, --update): the pins move.
	r = h.runWith(up, step.RunContext{Due: true})
	if r.err != nil {
		t.Fatalf("update: %v\n%s", r.err, r.log)
	}
	moved := lockedRevs(t, h)
	if moved["one"] == first["one"] || moved["two"] == first["two"] || moved["three"] != got["three"] {
		t.Errorf("update: before %v, after %v", got, moved)
	}
	if r.out.Note != "flake.lock updated (inputs: one, two), committed" {
		t.Errorf("note = %q", r.out.Note)
	}
}

// TestFlakeUpdateUnknownInput: an input name that matches nothing is a
// failure that names it, on every version (nix itself only warns and exits
// 0), and nothing is committed.
func TestFlakeUpdateUnknownInput(t *testing.T) {
	h := newHarness(t)
	lib, other := inputRepo(t, h, "lib"), inputRepo(t, h, "other")
	withInputs(t, h, map[string]string{"lib": lib, "other": other})
	git(t, h.repo, "add", "-A")
	git(t, h.repo, "commit", "-qm", "flake")
	all := h.newStep(&config.Step{Name: "update", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true}})
	if r := h.runWith(all, step.RunContext{Due: true}); r.err != nil {
		t.Fatalf("creating the lock: %v\n%s", r.err, r.log)
	}
	head := git(t, h.repo, "rev-parse", "HEAD")

	t.Run("misspelled", func(t *testing.T) {
		moveInput(t, lib, "2")
		lock := readFile(t, filepath.Join(h.repo, "flake.lock"))
		st := h.newStep(&config.Step{Name: "update-lib", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true, Inputs: []string{"lbi"}}})
		r := h.runWith(st, step.RunContext{Due: true})
		var ue *unknownInputError
		if !errors.As(r.err, &ue) {
			t.Fatalf("err = %v (note %q), want an UnknownInputError\n%s", r.err, r.out.Note, r.log)
		}
		if !slices.Equal(ue.Names, []string{"lbi"}) || !slices.Equal(ue.Known, []string{"lib", "other"}) || ue.Rewritten {
			t.Errorf("error = %+v", ue)
		}
		want := `updating flake.lock: flake . has no input "lbi" (its inputs: lib, other); check ` + "`inputs`"
		if r.err.Error() != want {
			t.Errorf("message:\n got %s\nwant %s", r.err, want)
		}
		if readFile(t, filepath.Join(h.repo, "flake.lock")) != lock || git(t, h.repo, "rev-parse", "HEAD") != head {
			t.Error("flake.lock changed or was committed")
		}
	})

	// Run because flake.nix changed, or on a first run without `every`,
	// the step only locks (`nix flake lock`, which takes no names): a
	// misspelled name must fail there too, not read "unchanged" and
	// record a success that no later run questions.
	t.Run("misspelled, not due", func(t *testing.T) {
		lock := readFile(t, filepath.Join(h.repo, "flake.lock"))
		for _, names := range [][]string{{"lbi"}, {"lib", "lib/nosuch"}} {
			st := h.newStep(&config.Step{Name: "lock-lib", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true, Inputs: names}})
			r := h.runWith(st, step.RunContext{})
			var ue *unknownInputError
			if !errors.As(r.err, &ue) {
				t.Fatalf("inputs %q: err = %v (note %q), want an UnknownInputError\n%s", names, r.err, r.out.Note, r.log)
			}
			if !slices.Equal(ue.Names, names[len(names)-1:]) || !slices.Equal(ue.Known, []string{"lib", "other"}) {
				t.Errorf("inputs %q: error = %+v", names, ue)
			}
		}
		if readFile(t, filepath.Join(h.repo, "flake.lock")) != lock || git(t, h.repo, "rev-parse", "HEAD") != head {
			t.Error("flake.lock changed or was committed")
		}
		// A right name still locks quietly.
		st := h.newStep(&config.Step{Name: "lock-lib", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true, Inputs: []string{"lib", "other"}}})
		if r := h.runWith(st, step.RunContext{}); r.err != nil {
			t.Errorf("right names, not due: %v\n%s", r.err, r.log)
		}
	})

	t.Run("one right, one wrong", func(t *testing.T) {
		st := h.newStep(&config.Step{Name: "update-two", Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Commit: true, Inputs: []string{"lib", "nosuch"}}})
		r := h.runWith(st, step.RunContext{Due: true})
		var ue *unknownInputError
		if !errors.As(r.err, &ue) || !slices.Equal(ue.Names, []string{"nosuch"}) {
			t.Fatalf("err = %v, want an UnknownInputError for nosuch\n%s", r.err, r.log)
		}
		// lib moved: nix rewrote flake.lock, and sysinit says it did not
		// commit it.
		if !ue.Rewritten || !strings.HasSuffix(r.err.Error(), "flake.lock was rewritten for the other inputs and not committed") {
			t.Errorf("error = %v", r.err)
		}
		if git(t, h.repo, "rev-parse", "HEAD") != head {
			t.Error("flake.lock was committed")
		}
	})
}

// flavourNix is a stand-in for a nix this machine cannot run (Lix,
// Determinate Nix, an older Nix): it answers --version with the flavour's
// line and parses `nix flake update` and `nix flake lock` as that flavour
// does (docs/nix.md has the sources), logging each argv. It changes no
// lock: what it checks is that sysinit speaks the flavour's CLI.
const flavourNix = `#!/bin/sh
echo "$*" >> '@LOG@'
[ "$1" = --version ] && { echo '@VERSION@'; exit 0; }
byname=@BYNAME@ lix=@LIX@
if [ "$1 $2" = "flake lock" ]; then
	shift 2
	prev=
	for a in "$@"; do
		if [ "$prev" = --update-input ]; then
			[ $lix = 1 ] && { echo "error: \` + "`" + `nix flake lock --update-input $a\` + "`" + ` has been replaced by \` + "`" + `nix flake update $a\` + "`" + `" >&2; exit 1; }
			[ $byname = 1 ] && echo "warning: '--update-input' is a deprecated alias for 'flake update' and will be removed in a future version." >&2
		fi
		prev=$a
	done
	exit 0
fi
if [ "$1 $2" = "flake update" ]; then
	shift 2
	if [ "$1" = --flake ]; then
		[ $byname = 1 ] || { echo "error: unrecognised flag '--flake'" >&2; exit 1; }
		exit 0
	fi
	# Before 2.19 the argument is the flake; from 2.19 (and in Lix) it is an
	# input name.
	[ $byname = 1 ] && for a in "$@"; do echo "warning: '$a' does not match any input of this flake" >&2; done
	exit 0
fi
exit 1
`

// TestFlakeUpdateFlavours: the argv flake-update picks for each flavour's
// `nix --version`, run against a stand-in that parses it as that flavour.
func TestFlakeUpdateFlavours(t *testing.T) {
	tests := []struct {
		version string
		byName  bool
		lix     bool
		inputs  []string
		want    string
	}{
		{"nix (Lix, like Nix) 2.91.1", true, true, []string{"nixpkgs"}, "flake update --flake @DIR@ nixpkgs"},
		{"nix (Lix, like Nix) 2.90.0", true, true, nil, "flake update --flake @DIR@"},
		{"nix (Determinate Nix 3.6.2) 2.29.0", true, false, []string{"nixpkgs"}, "flake update --flake @DIR@ nixpkgs"},
		{"nix (Nix) 2.18.1", false, false, []string{"nixpkgs"}, "flake lock @DIR@ --update-input nixpkgs"},
		{"nix (Nix) 2.18.1", false, false, nil, "flake update @DIR@"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.version, tt.inputs), func(t *testing.T) {
			tmp := t.TempDir()
			bin, repo, log := filepath.Join(tmp, "bin"), filepath.Join(tmp, "repo"), filepath.Join(tmp, "argv.log")
			script := strings.NewReplacer("@LOG@", log, "@VERSION@", tt.version,
				"@BYNAME@", map[bool]string{true: "1", false: "0"}[tt.byName],
				"@LIX@", map[bool]string{true: "1", false: "0"}[tt.lix]).Replace(flavourNix)
			writeFile(t, filepath.Join(bin, "nix"), script)
			writeFile(t, filepath.Join(bin, "nix-env"), "#!/bin/sh\nexit 1\n")
			for _, n := range []string{"nix", "nix-env"} {
				if err := os.Chmod(filepath.Join(bin, n), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, filepath.Join(repo, "flake.nix"), "{ outputs = { self }: { }; }\n")
			env := &step.Env{Exec: command.Exec{}, Getenv: os.Getenv, LookPath: func(name string) (string, error) {
				return filepath.Join(bin, name), nil
			}}
			s := &config.Step{Name: fmt.Sprint("update", i), Kind: KindFlakeUpdate, Own: &flakeUpdateKeys{Flake: ".", Inputs: tt.inputs}}
			r := step.NewRegistry()
			Register(r)
			st, err := r.New(&config.Config{File: filepath.Join(repo, config.FileName), Dir: repo, Steps: []*config.Step{s}}, s, env)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			res, err := st.Run(t.Context(), &step.RunContext{Out: &out, Due: true})
			if err != nil || res.Note != "flake.lock unchanged" {
				t.Fatalf("run: %+v, %v\n%s", res, err, out.String())
			}
			want := []string{"--version", strings.ReplaceAll(tt.want, "@DIR@", repo)}
			if got := strings.Split(strings.TrimSpace(readFile(t, log)), "\n"); !slices.Equal(got, want) {
				t.Errorf("ran %q, want %q", got, want)
			}
		})
	}
}

// TestUnlockedNamesNixRefuses: a name nix takes for no input path (an
// element with a dot, as `inputs."dot.ted"` may be called) fails a run
// that only locks too: `nix flake update dot.ted` refuses it on every
// version (2.8: "invalid flake input path element"; 2.26, 2.34: "Invalid
// flake input"), so a not-due run read "flake.lock unchanged" and the
// due one failed. An input that follows another is not listed among the
// inputs the message names, as it is none nix updates.
func TestUnlockedNamesNixRefuses(t *testing.T) {
	lock := []byte(`{"nodes":{"a":{"locked":{}},"dot.ted":{"locked":{}},"root":{"inputs":{"a":"a","b":["a"],"dot.ted":"dot.ted"}}},"root":"root","version":7}`)
	if got := unlockedNames(lock, []string{"a", "dot.ted", "b"}); !slices.Equal(got, []string{"dot.ted", "b"}) {
		t.Errorf("unlockedNames = %q, want [dot.ted b]", got)
	}
	if got := lockedInputs(lock); !slices.Equal(got, []string{"a", "dot.ted"}) {
		t.Errorf("lockedInputs = %q, want [a dot.ted] (b follows a)", got)
	}
	e := &unknownInputError{Names: []string{"dot.ted"}, Flake: ".", Known: lockedInputs(lock)}
	if msg := e.Error(); !strings.Contains(msg, "letters, digits") {
		t.Errorf("the message does not say why nix refuses dot.ted: %s", msg)
	}
	e = &unknownInputError{Names: []string{"b"}, Flake: ".", Known: lockedInputs(lock), Follows: followingInputs(lock)}
	if msg := e.Error(); !strings.Contains(msg, `"b" follows another input`) {
		t.Errorf("the message does not say b follows another input: %s", msg)
	}
}
