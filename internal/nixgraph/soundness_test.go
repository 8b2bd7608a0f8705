package nixgraph

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The fixture's configurations and where each starts, as flake.nix lists
// them. alpha and beta share modules; gamma reads the whole tree through
// self; alpha reads delta by name; beta reads a flake output (packages);
// flake.nix gives delta a file inside beta's entry; epsilon reads the whole
// tree through a flake output (apps) that flake.nix defines with let
// bindings no other configuration uses. alpha's definition names
// modules/shared.nix, which is beta's entry, not alpha's; zeta's names
// delta's entry and interpolates beta's; eta's module imports flake.nix.
var fixtureEntries = map[string][]string{
	"alpha":   {"hosts/alpha"},
	"beta":    {"hosts/beta", "modules/shared.nix"},
	"gamma":   {"hosts/gamma"},
	"delta":   {"hosts/delta"},
	"epsilon": {"hosts/epsilon"},
	"zeta":    {"hosts/zeta"},
	"eta":     {"hosts/eta"},
}

// wholeTree are the configurations whose out path hashes every tracked file.
var wholeTree = map[string]bool{"gamma": true, "epsilon": true}

func fixtureOthers(name string) []Config {
	var o []Config
	for n, e := range fixtureEntries {
		if n != name {
			o = append(o, Config{Name: "nixosConfigurations." + n, Entries: e})
		}
	}
	sort.Slice(o, func(i, j int) bool { return o[i].Name < o[j].Name })
	return o
}

// Files of the fixture whose content no configuration reads (gamma and
// epsilon hash every file through self, so they read none as such).
// Editing one must change no out path but theirs; editing any other must
// change one, or the fixture's edits are not meaningful.
var readByNobody = map[string]bool{
	".github/ci.yml": true, "README.md": true, "decoy.nix": true, "decoy2.nix": true,
	"dirty.txt": true, "hosts/alpha/unused.nix": true, "modules/services/unused.nix": true,
	"shared/other.nix": true, "shell.nix": true, "modules/keys/beta-1.0/notes.txt": true,
}

// mustBeUnaffected says when the analysis has to call a configuration
// unaffected by an edit: the precision the fixture expects (the unused
// files under an entry or a concatenated prefix may be over-approximated).
func mustBeUnaffected(config, file string) bool {
	switch config {
	case "alpha":
		if strings.HasPrefix(file, "hosts/beta/") && file != "hosts/beta/users/alice.nix" || strings.HasPrefix(file, "modules/assets") ||
			file == "modules/data.conf" || file == "modules/data2.nix" || strings.HasPrefix(file, "pkgs/") {
			return true
		}
	case "beta":
		if strings.HasPrefix(file, "hosts/alpha/") || strings.HasPrefix(file, "modules/editor/") || file == "modules/link.nix" ||
			strings.HasPrefix(file, "shared/") || strings.HasPrefix(file, "hosts/delta/") {
			return true
		}
	case "delta":
		if strings.HasPrefix(file, "hosts/alpha/") || strings.HasPrefix(file, "hosts/beta/") && file != "hosts/beta/users/alice.nix" || strings.HasPrefix(file, "modules/") ||
			strings.HasPrefix(file, "shared/") || strings.HasPrefix(file, "pkgs/") {
			return true
		}
	case "zeta":
		if strings.HasPrefix(file, "hosts/alpha/") || strings.HasPrefix(file, "modules/editor/") || strings.HasPrefix(file, "shared/") {
			return true
		}
	default:
		return false
	}
	if strings.HasPrefix(file, "hosts/zeta/") && config != "zeta" || strings.HasPrefix(file, "hosts/eta/") {
		return true
	}
	if strings.HasPrefix(file, "hosts/gamma/") || strings.HasPrefix(file, "hosts/epsilon/") {
		return true
	}
	switch file {
	case ".github/ci.yml", "README.md", "decoy.nix", "decoy2.nix", "dirty.txt", "shared/other.nix", "shell.nix",
		"modules/keys/beta-1.0/notes.txt", "lets/shell.txt":
		return true
	}
	return false
}

// fixture is the soundness flake in a git repository.
type fixture struct {
	t    *testing.T
	nix  string
	repo string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	nix := requireNix(t)
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("git not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skip("git not installed: " + err.Error())
	}
	tmp := t.TempDir()
	for k, v := range map[string]string{
		"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.DevNull,
		"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
		"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
		"XDG_CACHE_HOME": filepath.Join(tmp, "cache"), "HOME": filepath.Join(tmp, "home"),
	} {
		t.Setenv(k, v)
	}
	registry := filepath.Join(tmp, "registry.json")
	if err := os.WriteFile(registry, []byte(`{"flakes":[],"version":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NIX_CONFIG", strings.Join([]string{
		"experimental-features = nix-command flakes",
		"sandbox = false",
		"build-users-group =",
		"substituters =",
		"flake-registry = " + registry,
		"warn-dirty = false",
	}, "\n"))
	sys, err := exec.Command(nix, "eval", "--impure", "--raw", "--expr", "builtins.currentSystem").Output()
	if err != nil {
		t.Fatalf("asking nix for the current system: %v", err)
	}
	f := &fixture{t: t, nix: nix, repo: filepath.Join(tmp, "repo")}
	src := filepath.Join("testdata", "soundness")
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f.write(rel, strings.ReplaceAll(string(data), "@SYSTEM@", string(sys)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/real.nix", filepath.Join(f.repo, "modules", "link.nix")); err != nil {
		t.Fatal(err)
	}
	f.git("init", "-q", "-b", "main")
	f.git("add", "-A")
	f.git("commit", "-q", "-m", "fixture")
	return f
}

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.repo, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(rel string) string {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.repo, rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = f.repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (f *fixture) tracked() []string {
	f.t.Helper()
	out := strings.TrimRight(f.git("ls-files", "-z"), "\x00")
	return strings.Split(out, "\x00")
}

// outs evaluates every configuration's out path with nix.
func (f *fixture) outs() map[string]string {
	f.t.Helper()
	cmd := exec.Command(f.nix, "eval", "--json", f.repo+"#nixosConfigurations", "--apply", "builtins.mapAttrs (n: c: c.outPath)")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		f.t.Fatalf("nix eval: %v\n%s", err, msg)
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		f.t.Fatalf("nix eval printed %q: %v", out, err)
	}
	return m
}

// inputs is what the caller of the analysis fingerprints for a
// configuration: each reachable file and its content (or link target).
func (f *fixture) inputs(name string) (map[string]string, *Result) {
	f.t.Helper()
	res, err := Analyze(DirSource{Root: f.repo}, Request{
		Tracked: f.tracked(), Config: Config{Name: "nixosConfigurations." + name, Entries: fixtureEntries[name]}, Others: fixtureOthers(name),
		Roots: []string{f.repo},
	}, nil)
	if err != nil {
		f.t.Fatalf("analysing %s: %v", name, err)
	}
	m := map[string]string{}
	for _, p := range res.Files {
		full := filepath.Join(f.repo, p)
		if t, err := os.Readlink(full); err == nil {
			m[p] = "-> " + t
			continue
		}
		data, err := os.ReadFile(full)
		if err != nil {
			f.t.Fatal(err)
		}
		m[p] = string(data)
	}
	return m, res
}

func sameInputs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// edit changes a file so that anything reading it sees a difference: the
// fixture marks what it puts in an out path with "V1".
func (f *fixture) edit(rel string) (undo func()) {
	f.t.Helper()
	full := filepath.Join(f.repo, rel)
	if t, err := os.Readlink(full); err == nil {
		f.relink(full, "../shared/other.nix")
		return func() { f.relink(full, t) }
	}
	old := f.read(rel)
	nu := strings.ReplaceAll(old, "V1", "V2")
	if nu == old {
		nu = old + "\n# edited\n"
	}
	f.write(rel, nu)
	return func() { f.write(rel, old) }
}

func (f *fixture) relink(full, target string) {
	f.t.Helper()
	if err := os.Remove(full); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		f.t.Fatal(err)
	}
}

// TestSoundnessOnNix edits each tracked file in turn, and adds a file to
// each directory, and compares what the analysis says of each
// configuration with the out path Nix evaluates: a configuration whose
// inputs (the reachable files and their contents) did not change must keep
// its out path. Git metadata is held still (the tree stays dirty);
// TestSoundnessGitHead covers it.
func TestSoundnessOnNix(t *testing.T) {
	f := newFixture(t)
	f.write("dirty.txt", "dirty V1 — uncommitted\n") // the tree stays dirty from here
	names := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}
	before := map[string]map[string]string{}
	for _, n := range names {
		before[n], _ = f.inputs(n)
	}
	base := f.outs()
	t.Logf("%s: %v", nixVersion(t), base)

	check := func(what string, changedFile string) {
		t.Helper()
		outs := f.outs()
		changedAny := false
		for _, n := range names {
			after, _ := f.inputs(n)
			affected := !sameInputs(before[n], after)
			changed := outs[n] != base[n]
			if !wholeTree[n] {
				changedAny = changedAny || changed
			}
			switch {
			case changed && !affected:
				t.Errorf("%s: %s's out path changed, but the analysis says it is unaffected", what, n)
			case wholeTree[n] && !changed:
				t.Errorf("%s: %s hashes the whole tree, yet its out path did not change", what, n)
			case affected && changedFile != "" && mustBeUnaffected(n, changedFile):
				t.Errorf("%s: the analysis says %s is affected: it is too wide", what, n)
			}
		}
		switch {
		case readByNobody[changedFile] && changedAny:
			t.Errorf("%s: %s is read by nobody, yet alpha's or beta's out path changed", what, changedFile)
		case changedFile != "" && !readByNobody[changedFile] && !changedAny && !strings.HasPrefix(changedFile, "hosts/gamma/") && !strings.HasPrefix(changedFile, "hosts/epsilon/"):
			t.Errorf("%s: no out path changed: the fixture's edit of %s is not seen by nix", what, changedFile)
		}
	}

	for _, rel := range f.tracked() {
		undo := f.edit(rel)
		check("editing "+rel, rel)
		undo()
	}

	// A new file in each directory: the analysis runs on the new tree.
	dirs := map[string]bool{}
	for _, rel := range f.tracked() {
		dirs[filepath.Dir(rel)] = true
	}
	var sorted []string
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted)
	for _, d := range sorted {
		rel := filepath.Join(d, "zz-new.nix")
		f.write(rel, `{ name = "new V1"; text = [ "new V1" ]; }`+"\n")
		f.git("add", rel)
		check("adding "+rel, "")
		f.git("rm", "-q", "--cached", rel)
		if err := os.Remove(filepath.Join(f.repo, rel)); err != nil {
			t.Fatal(err)
		}
	}
	if now := f.outs(); now["alpha"] != base["alpha"] || now["beta"] != base["beta"] || now["delta"] != base["delta"] {
		t.Fatalf("the fixture was not restored: %v, was %v", now, base)
	}
}

// TestSoundnessGitHead: self.rev reads whether the tree is dirty, which
// any tracked file's edit changes: the analysis must report it for beta,
// which reads self.rev, and not for alpha, whose out path stays.
func TestSoundnessGitHead(t *testing.T) {
	f := newFixture(t) // committed: clean
	base := f.outs()
	undo := f.edit("README.md") // read by nobody
	outs := f.outs()
	undo()
	for _, n := range []string{"alpha", "beta", "delta"} {
		_, res := f.inputs(n)
		if res.Reaches("README.md") {
			t.Fatalf("%s reaches README.md", n)
		}
		changed := outs[n] != base[n]
		if changed && len(res.GitHead) == 0 {
			t.Errorf("%s's out path changed when the tree became dirty, and the analysis reports no git metadata input", n)
		}
		if n == "beta" && !changed {
			t.Errorf("beta reads self.rev, yet its out path did not change when the tree became dirty (%s)", nixVersion(t))
		}
		if n != "beta" && (changed || len(res.GitHead) != 0) {
			t.Errorf("%s: out path changed %v, git metadata %v", n, changed, res.GitHead)
		}
	}
}
