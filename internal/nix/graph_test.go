package nix

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/step"
)

// graphRepo is a flake of two hosts sharing a module, with files nobody
// reads, as a git repository.
func graphRepo(t *testing.T, extra map[string]string) string {
	t.Helper()
	requireGit(t)
	gitEnv(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	files := map[string]string{
		"flake.nix": `{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem { modules = [ ./hosts/a ./modules/shared.nix ]; };
    nixosConfigurations.b = nixpkgs.lib.nixosSystem { modules = [ ./hosts/b ./modules/shared.nix ]; };
  };
}
`,
		"flake.lock":           "{}\n",
		"hosts/a/default.nix":  "{ imports = [ ./hw.nix ../../modules/editor.nix ]; }\n",
		"hosts/a/hw.nix":       "{ hardware = 1; }\n",
		"hosts/b/default.nix":  "{ imports = [ ../../modules/editor.nix ]; }\n",
		"modules/shared.nix":   "{ shared = 1; }\n",
		"modules/editor.nix":   "{ environment.etc.\"vimrc\".source = ./vimrc; }\n",
		"modules/vimrc":        "set number\n",
		"modules/unused.nix":   "{ }\n",
		"README.md":            "# hosts\n",
		".github/workflow.yml": "on: push\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for p, c := range files {
		writeFile(t, filepath.Join(dir, p), c)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "init")
	return dir
}

// graphSteps builds the config's steps as a session does, their graphs
// loaded with data and sums.
func graphSteps(t *testing.T, dir, toml string, data []byte, sums *fingerprint.Sums) (map[string]*system, *Graphs) {
	t.Helper()
	kinds := config.NewKinds(&darwinKind.Kind, &nixosKind.Kind, &homeManagerKind.Kind, &profileKind.Kind)
	cfg, err := config.Parse(filepath.Join(dir, config.FileName), []byte(toml), kinds)
	if err != nil {
		t.Fatal(err)
	}
	env := fakeEnv(map[string]string{"HOME": t.TempDir()})
	steps := map[string]step.Step{}
	out := map[string]*system{}
	for _, s := range cfg.Steps {
		st, err := newSystem(cfg, s, env)
		if err != nil {
			t.Fatal(err)
		}
		steps[s.Name], out[s.Name] = st, st.(*system)
	}
	g := AttachGraphs(steps)
	if err := g.Load(data, sums); err != nil {
		t.Fatal(err)
	}
	return out, g
}

const twoHosts = `
[steps.a]
kind  = "nixos"
flake = ".#a"
entry = ["hosts/a", "modules/shared.nix"]

[steps.b]
kind    = "nixos"
flake   = ".#b"
entry   = ["hosts/b", "modules/shared.nix"]
profile = "profiles/b"
`

func inputs(t *testing.T, st step.Step) fingerprint.Spec {
	t.Helper()
	spec, err := st.Inputs(context.Background())
	if err != nil {
		t.Fatalf("Inputs: %v", err)
	}
	return spec
}

// TestEntryInputs: with entry, the inputs are the tracked files the
// configuration reads, flake.nix and flake.lock — not HEAD, not the other
// host, not the README; when it reads git metadata or the whole tree, or
// the analysis cannot run, exactly the inputs without entry.
func TestEntryInputs(t *testing.T) {
	dir := graphRepo(t, nil)
	steps, _ := graphSteps(t, dir, twoHosts, nil, nil)
	want := []string{"flake.lock", "flake.nix", "hosts/a/default.nix", "hosts/a/hw.nix", "modules/editor.nix", "modules/shared.nix", "modules/vimrc"}
	if got := inputs(t, steps["a"]).Files; !slices.Equal(got, want) {
		t.Errorf("a's inputs:\n got %q\nwant %q", got, want)
	}
	want = []string{"flake.lock", "flake.nix", "hosts/b/default.nix", "modules/editor.nix", "modules/shared.nix", "modules/vimrc"}
	if got := inputs(t, steps["b"]).Files; !slices.Equal(got, want) {
		t.Errorf("b's inputs:\n got %q\nwant %q", got, want)
	}
	if notes := steps["a"].Advice(""); len(notes) != 0 {
		t.Errorf("a's notes: %q", notes)
	}
	if chain := steps["a"].InputChain("modules/vimrc"); !slices.Equal(chain, []string{
		"hosts/a/default.nix (in entry hosts/a)",
		"hosts/a/default.nix:1 → modules/editor.nix",
		"modules/editor.nix:1 → modules/vimrc",
	}) {
		t.Errorf("a's chain to modules/vimrc: %q", chain)
	}
	if chain := steps["a"].InputChain("hosts/b/default.nix"); chain != nil {
		t.Errorf("a's chain to b's host: %q", chain)
	}

	whole, err := flakeInputs(dir, steps["a"].ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		extra map[string]string
		toml  string
		note  string
	}{
		{"self.rev", map[string]string{"hosts/a/hw.nix": "{ system.configurationRevision = self.rev or null; }\n"}, twoHosts,
			"inputs are every tracked file and HEAD's commit: self.rev at hosts/a/hw.nix:1 reads git metadata"},
		{"self as a value", map[string]string{"hosts/a/hw.nix": "{ environment.etc.src.source = toString self; }\n"}, twoHosts,
			"widened to the whole flake by self used as a value at hosts/a/hw.nix:1"},
		{"the root", map[string]string{"hosts/a/hw.nix": "{ environment.etc.src.source = ../..; }\n"}, twoHosts,
			"inputs are every tracked file and HEAD's commit: the whole flake is read (sysinit graph a shows where)"},
		{"impure", map[string]string{"hosts/a/hw.nix": "{ users.users.me.home = builtins.getEnv \"HOME\"; imports = [ /etc/nixos/hardware.nix ]; }\n"}, twoHosts,
			"impure input, only the active-system probe can notice it change: absolute path /etc/nixos/hardware.nix at hosts/a/hw.nix:1"},
		{"untracked entry", nil, strings.Replace(twoHosts, `["hosts/a", "modules/shared.nix"]`, `["hosts/a", "hosts/c"]`, 1),
			`inputs are every tracked file of the flake: entry "hosts/c" names no file git tracks (git add it, or fix entry)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := graphRepo(t, tt.extra)
			if tt.name == "untracked entry" {
				writeFile(t, filepath.Join(dir, "hosts/c/default.nix"), "{ }\n")
			}
			steps, _ := graphSteps(t, dir, tt.toml, nil, nil)
			whole, err := flakeInputs(dir, steps["a"].ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := inputs(t, steps["a"])
			if tt.name == "impure" {
				// Impure inputs are reported, and narrow nothing.
				whole.Files = []string{"flake.lock", "flake.nix", "hosts/a/default.nix", "hosts/a/hw.nix", "modules/editor.nix", "modules/shared.nix", "modules/vimrc"}
			}
			if !slices.Equal(got.Files, whole.Files) {
				t.Errorf("inputs:\n got %q\nwant %q", got.Files, whole.Files)
			}
			if notes := steps["a"].Advice(""); !slices.Contains(notes, tt.note) {
				t.Errorf("notes %q lack %q", notes, tt.note)
			}
		})
	}
	if !slices.Contains(whole.Files, ".git/HEAD") {
		t.Errorf("the inputs without entry lack HEAD: %q", whole.Files)
	}

	// A tracked file deleted from the work tree reads as nothing: the
	// scan records it missing.
	if err := os.Remove(filepath.Join(dir, "modules/editor.nix")); err != nil {
		t.Fatal(err)
	}
	got := inputs(t, steps["a"]).Files
	if !slices.Contains(got, "modules/editor.nix") || slices.Contains(got, "modules/vimrc") {
		t.Errorf("with modules/editor.nix deleted: %q", got)
	}
}

// TestEntryInSubdirectory: the flake in a subdirectory of the repository
// and the config directory above it both name files as the Spec must.
func TestEntryInSubdirectory(t *testing.T) {
	dir := graphRepo(t, map[string]string{
		"nix/flake.nix":           "{ outputs = _: { nixosConfigurations.a = x { modules = [ ./hosts/a ]; }; }; }\n",
		"nix/hosts/a/default.nix": "{ imports = [ ../../../modules/shared.nix ]; }\n",
	})
	toml := "[steps.a]\nkind = \"nixos\"\nflake = \"./nix#a\"\nentry = [\"hosts/a\"]\n"
	steps, _ := graphSteps(t, dir, toml, nil, nil)
	want := []string{"modules/shared.nix", "nix/flake.lock", "nix/flake.nix", "nix/hosts/a/default.nix"}
	if got := inputs(t, steps["a"]).Files; !slices.Equal(got, want) {
		t.Errorf("inputs:\n got %q\nwant %q", got, want)
	}
	// The config in a directory below the repository: paths relative to
	// the repository's root, which the spec names.
	sub := filepath.Join(dir, "nix")
	steps, _ = graphSteps(t, sub, "[steps.a]\nkind = \"nixos\"\nflake = \".#a\"\nentry = [\"hosts/a\"]\n", nil, nil)
	spec := inputs(t, steps["a"])
	if spec.Root != dir || !slices.Equal(spec.Files, want) {
		t.Errorf("from below: root %s, files %q", spec.Root, spec.Files)
	}
}

// TestEntryNoChangeReadsNothing: with the stored graph cache and the stat
// cache's hashes, an analysis of an unchanged repository reads no file; an
// edit reads the edited file alone. Without hashes every Nix file reached
// is read, cache or not.
func TestEntryNoChangeReadsNothing(t *testing.T) {
	dir := graphRepo(t, nil)
	// Files changed within the racy window are hashed but not cached.
	time.Sleep(2100 * time.Millisecond)
	statCache := &fingerprint.Cache{}
	scan := func() {
		t.Helper()
		steps, _ := graphSteps(t, dir, twoHosts, nil, nil)
		var specs []fingerprint.Spec
		for _, n := range []string{"a", "b"} {
			specs = append(specs, inputs(t, steps[n]))
		}
		if _, err := (&fingerprint.Scanner{Root: dir, Cache: statCache}).Scan(context.Background(), specs); err != nil {
			t.Fatal(err)
		}
	}
	scan()
	reads := func(data []byte, sums *fingerprint.Sums) (int64, []byte, bool) {
		t.Helper()
		steps, g := graphSteps(t, dir, twoHosts, data, sums)
		var n int64
		for _, name := range []string{"a", "b"} {
			inputs(t, steps[name])
			n += steps[name].last.reads
		}
		out, changed := g.Save()
		return n, out, changed
	}
	// Cold: every Nix file reached, once: a reads flake.nix, its two
	// host files, shared.nix and editor.nix; b only its own host file.
	n, data, changed := reads(nil, statCache.Sums())
	if n != 6 || !changed {
		t.Fatalf("cold: %d reads, changed %v; want 6 and a cache to save", n, changed)
	}
	if n, _, changed := reads(data, statCache.Sums()); n != 0 || changed {
		t.Errorf("warm, with the stat cache's hashes: %d reads, changed %v; want none", n, changed)
	}
	if n, _, _ := reads(data, nil); n != 9 {
		t.Errorf("warm, without hashes: %d reads, want 9 (a's 5 Nix files, b's 4)", n)
	}
	writeFile(t, filepath.Join(dir, "hosts/a/hw.nix"), "{ boot.loader.grub.device = \"/dev/sda\"; }\n")
	n, data2, changed := reads(data, statCache.Sums())
	if n != 1 || !changed {
		t.Errorf("after an edit: %d reads, changed %v; want the edited file read once", n, changed)
	}
	// The old content is dropped once every step has been analysed.
	if len(data2) > len(data)+200 {
		t.Errorf("the saved cache grew from %d to %d bytes", len(data), len(data2))
	}
}

// TestOthers: the other configurations are the other nix steps of the
// same flake that name entries; a step building the same configuration
// is not one, nor is a step of another flake or without entry.
func TestOthers(t *testing.T) {
	dir := graphRepo(t, map[string]string{"other/flake.nix": "{ }\n", "other/hosts/c/default.nix": "{ }\n"})
	toml := twoHosts + `
[steps.a-again]
kind    = "nixos"
flake   = ".#a"
entry   = ["hosts/a"]
profile = "profiles/a-again"

[steps.home]
kind  = "home-manager"
flake = ".#me@a"
entry = ["modules/editor.nix"]

[steps.plain]
kind  = "nix-darwin"
flake = ".#mac"

[steps.elsewhere]
kind    = "nixos"
flake   = "./other#c"
entry   = ["hosts/c"]
profile = "profiles/c"
`
	steps, _ := graphSteps(t, dir, toml, nil, nil)
	got := steps["a"].others()
	want := []otherConfig{
		{name: "nixosConfigurations.b", entries: []string{"hosts/b", "modules/shared.nix"}},
		{name: "homeConfigurations.me@a", entries: []string{"modules/editor.nix"}},
	}
	if len(got) != len(want) {
		t.Fatalf("others = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].name != want[i].name || !slices.Equal(got[i].entries, want[i].entries) {
			t.Errorf("others[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestCheckEntry: an entry that is not a path inside the flake, or names
// nothing there, is a config error at its line; so is entry on a flake
// sysinit cannot read.
func TestCheckEntry(t *testing.T) {
	dir := graphRepo(t, nil)
	kinds := config.NewKinds(&darwinKind.Kind, &nixosKind.Kind, &homeManagerKind.Kind, &profileKind.Kind)
	for _, tt := range []struct{ entry, flake, want string }{
		{`["hosts/a", "modules"]`, ".#a", ""},
		{`["hosts/c"]`, ".#a", `sysinit.toml:4: entry "hosts/c": no such file or directory in ` + dir},
		{`["../x"]`, ".#a", `entry "../x" is not a path inside the flake`},
		{`["/etc/nixos"]`, ".#a", `entry "/etc/nixos" is not a path inside the flake`},
		{`["hosts/a/hw.nix/x"]`, ".#a", `entry "hosts/a/hw.nix/x": no such file or directory`},
		{`["hosts/a"]`, "github:me/dots#a", `entry needs a flake on this machine, and "github:me/dots#a" is not`},
		{`["hosts/a"]`, ".?rev=abc#a", `names a commit`},
	} {
		toml := "[steps.a]\nkind = \"nixos\"\nflake = \"" + tt.flake + "\"\nentry = " + tt.entry + "\n"
		_, err := config.Parse(filepath.Join(dir, config.FileName), []byte(toml), kinds)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("entry = %s: %v", tt.entry, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("entry = %s, flake %s: error %v, want %q", tt.entry, tt.flake, err, tt.want)
		}
	}
}
