package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStripNix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a = 1; # comment\nb = 2;", "a = 1; b = 2;"},
		{"# only a comment\n", ""},
		{"x = \"#not a comment\"; # but this is", `x = "#not a comment";`},
		{"x = \"esc \\\" # still string\";", `x = "esc \" # still string";`},
		{"a /* block\ncomment */ b", "a b"},
		{"a /* unterminated", "a"},
		{"  {\n\n   a\t=  1;\n  }  ", "{ a = 1; }"},
	} {
		if got := string(stripNix([]byte(tc.in))); got != tc.want {
			t.Errorf("stripNix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNixBase32(t *testing.T) {
	a := nixBase32(bytes.Repeat([]byte{0}, 32))
	b := nixBase32(append([]byte{1}, bytes.Repeat([]byte{0}, 31)...))
	if len(a) != 32 || len(b) != 32 || a == b {
		t.Fatalf("nixBase32 = %q, %q", a, b)
	}
	if strings.Trim(a+b, "0123456789abcdfghijklmnpqrsvwxyz") != "" {
		t.Errorf("characters outside nix's alphabet: %q %q", a, b)
	}
}

func TestSplitInstallable(t *testing.T) {
	for _, tc := range []struct{ in, dir, attr string }{
		{"/r#darwinConfigurations.h.system.outPath", "/r", "darwinConfigurations.h.system.outPath"},
		{"/r?submodules=1#x", "/r", "x"},
		{"path:/r#x", "/r", "x"},
		{"git+file:///r#x", "/r", "x"},
	} {
		dir, attr, err := splitInstallable(tc.in)
		if err != nil || dir != tc.dir || attr != tc.attr {
			t.Errorf("splitInstallable(%q) = %q, %q, %v", tc.in, dir, attr, err)
		}
	}
	if _, _, err := splitInstallable("/r"); err == nil {
		t.Error("an installable without an attribute was accepted")
	}
}

func TestPositional(t *testing.T) {
	got := positional([]string{"--raw", "--impure", "--log-format", "internal-json", "-v", "--max-jobs", "4", "/r#x", "--option", "a", "b"})
	if len(got) != 1 || got[0] != "/r#x" {
		t.Errorf("positional = %q", got)
	}
}

// TestEvalClosure: a comment keeps the system's store path, a real
// change, flake.lock or an imported non-nix file moves it, and only the
// edited module's derivation changes.
func TestEvalClosure(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateTree(dir, len(fixedFiles())); err != nil {
		t.Fatal(err)
	}
	const attr = "darwinConfigurations.bench.system"
	eval := func() closure {
		t.Helper()
		cl, err := evalClosure("/store", dir, attr)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	base := eval()
	if !strings.HasPrefix(base.system, "/store/") || len(base.modules) != len(modules)+1 {
		t.Fatalf("closure = %+v", base)
	}
	other, err := evalClosure("/store", dir, "darwinConfigurations.other.system")
	if err != nil || other.system == base.system {
		t.Errorf("another attribute gave the same system: %v", err)
	}
	for _, tc := range []struct {
		name, file, content string
		same                bool
		changedModules      int
	}{
		{"comment edit", cosmeticFile, cosmeticEdit(7), true, 0},
		{"real change", incrementalFile, incrementalEdit(7), false, 1},
		{"imported lua file", importedFile, "-- other\n", false, 1},
		{"flake.lock", "flake.lock", flakeLock(3), false, len(modules) + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.WriteFile(filepath.Join(dir, tc.file), orig, 0o644) })
			cl := eval()
			if (cl.system == base.system) != tc.same {
				t.Errorf("system path same = %v, want %v", cl.system == base.system, tc.same)
			}
			changed := 0
			for i := range cl.modules {
				if cl.modules[i] != base.modules[i] {
					changed++
				}
			}
			if changed != tc.changedModules {
				t.Errorf("%d module derivations changed, want %d", changed, tc.changedModules)
			}
		})
	}
}

func TestSetProfile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "profiles", "system")
	for i, out := range []string{"/store/a", "/store/b", "/store/b"} {
		if err := setProfile(p, out); err != nil {
			t.Fatal(err)
		}
		link, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := "system-" + string(rune('1'+i)) + "-link"; link != want {
			t.Errorf("profile -> %s, want %s", link, want)
		}
		if target, _ := os.Readlink(filepath.Join(dir, "profiles", link)); target != out {
			t.Errorf("%s -> %s, want %s", link, target, out)
		}
	}
}

// standinEnv writes a stand-in config under a temp dir.
func standinEnv(t *testing.T) (*standinConfig, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := &standinConfig{
		Log: filepath.Join(dir, "calls.log"), Self: "/bin/false", Path: filepath.Join(dir, "standin.json"),
		Store: filepath.Join(dir, "store"), CurrentSystem: filepath.Join(dir, "run", "current-system"),
		Profile: filepath.Join(dir, "profiles", "system"), BrewPrefix: filepath.Join(dir, "homebrew"),
		Latency: Latencies{BrewCheck: time.Millisecond},
	}
	if err := cfg.write(); err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

func runStandin(t *testing.T, cfg *standinConfig, dir string, args ...string) (int, string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Chdir(wd) }()
	var out, errOut bytes.Buffer
	code := Standin(append([]string{cfg.Path}, args...), nil, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestStandinBrewBundle(t *testing.T) {
	cfg, dir := standinEnv(t)
	if err := os.WriteFile(filepath.Join(dir, "Brewfile"), []byte("tap \"a/b\"\nbrew \"jq\"\ncask \"Firefox\"\nbrew \"x/y/rg\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runStandin(t, cfg, dir, "brew", "bundle", "check", "--no-upgrade", "--file=Brewfile"); code != 1 || !strings.Contains(out, "can't satisfy") {
		t.Fatalf("check before install: %d %q", code, out)
	}
	if code, out := runStandin(t, cfg, dir, "brew", "bundle", "install", "--file", "Brewfile"); code != 0 {
		t.Fatalf("install: %d %q", code, out)
	}
	for _, p := range []string{"Cellar/jq/1.0", "Cellar/rg/1.0", "Caskroom/firefox/1.0", "Library/Taps/a/homebrew-b"} {
		if !isDir(filepath.Join(cfg.BrewPrefix, p)) {
			t.Errorf("install did not create %s", p)
		}
	}
	if code, out := runStandin(t, cfg, dir, "brew", "bundle", "check", "--file=Brewfile"); code != 0 || !strings.Contains(out, "satisfied") {
		t.Errorf("check after install: %d %q", code, out)
	}
	// Drop jq from the Brewfile: cleanup reports it, --force removes it.
	if err := os.WriteFile(filepath.Join(dir, "Brewfile"), []byte("brew \"rg\"\ncask \"firefox\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runStandin(t, cfg, dir, "brew", "bundle", "cleanup", "--file=Brewfile"); code != 1 || !strings.Contains(out, "jq") {
		t.Errorf("cleanup: %d %q", code, out)
	}
	if code, _ := runStandin(t, cfg, dir, "brew", "bundle", "cleanup", "--force", "--file=Brewfile"); code != 0 || isDir(filepath.Join(cfg.BrewPrefix, "Cellar/jq")) {
		t.Errorf("cleanup --force: %d, jq still there: %v", code, isDir(filepath.Join(cfg.BrewPrefix, "Cellar/jq")))
	}
	calls, err := ReadCalls(cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 5 || calls[0].Name != "brew" || calls[0].Argv[1] != "check" || calls[0].Slept != int64(time.Millisecond) || calls[0].Exit != 1 {
		t.Errorf("calls = %+v", calls)
	}
}

func TestStandinNixBuildAndActivate(t *testing.T) {
	cfg, dir := standinEnv(t)
	repo := filepath.Join(dir, "repo")
	if err := GenerateTree(repo, len(fixedFiles())); err != nil {
		t.Fatal(err)
	}
	cfg.Latency.Eval, cfg.Latency.BuildModule, cfg.Latency.BuildSystem = 3*time.Millisecond, time.Millisecond, 2*time.Millisecond
	if err := cfg.write(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.Store, 0o755); err != nil {
		t.Fatal(err)
	}
	// What sysinit evaluates: one record of the configuration's system.
	apply := `root: let name = "bench"; in if name == null then { name = null; } else let c = root; x = c.system; in { name = name; drv = x.drvPath; out = x.outPath; output = x.outputName or "out"; fields = { }; }`
	code, out := runStandin(t, cfg, dir, "nix", "eval", "--json", "--impure", repo+"#darwinConfigurations.bench", "--apply", apply)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, out)
	}
	var rec struct{ Name, Drv, Out, Output string }
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Name != "bench" || rec.Output != "out" || !strings.HasSuffix(rec.Drv, ".drv") || filepath.Dir(rec.Out) != cfg.Store {
		t.Fatalf("eval printed %q (%v)", out, err)
	}
	evaluated := rec.Out
	if _, err := os.Stat(rec.Drv); err != nil {
		t.Fatalf("the evaluation wrote no derivation: %v", err)
	}
	if _, err := os.Stat(evaluated); err == nil {
		t.Fatal("the evaluation built the system")
	}
	// The build of the derivation: build time only, no evaluation.
	code, out = runStandin(t, cfg, dir, "nix", "build", "--no-link", "--json", "--log-format", "internal-json", "-v", "--option", "extra-substituters", "file:///x", rec.Drv+"^out")
	if code != 0 {
		t.Fatalf("build: %d %s", code, out)
	}
	// stdout then stderr: the JSON line comes first.
	var res []struct {
		DrvPath string
		Outputs map[string]string
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&res); err != nil || res[0].Outputs["out"] != evaluated || res[0].DrvPath != rec.Drv {
		t.Fatalf("build printed %q (%v), want out %s", out, err, evaluated)
	}
	if !strings.Contains(out, `@nix {"action":"start"`) {
		t.Errorf("build logged no internal-json activity: %q", out)
	}
	calls, err := ReadCalls(cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	lat := cfg.Latency
	var drv drvFile
	if data, err := os.ReadFile(rec.Drv); err != nil || json.Unmarshal(data, &drv) != nil || drv.System != evaluated || len(drv.Modules) < len(modules) {
		t.Fatalf("derivation %s: %+v, %v", rec.Drv, drv, err)
	}
	if c := calls[len(calls)-1]; time.Duration(c.Slept) != time.Duration(len(drv.Modules))*lat.BuildModule+lat.BuildSystem {
		t.Errorf("the build slept %v, want the builds alone", time.Duration(c.Slept))
	}
	if c := calls[len(calls)-2]; time.Duration(c.Slept) != lat.Eval {
		t.Errorf("the evaluation slept %v, want %v", time.Duration(c.Slept), lat.Eval)
	}
	// Built: a valid store path, dated as nix dates one.
	if fi, err := os.Lstat(evaluated); err != nil || fi.ModTime().Unix() != 1 {
		t.Errorf("the system is not dated 1: %v %v", fi, err)
	}
	if code, _ := runStandin(t, cfg, dir, "nix-store", "--check-validity", evaluated); code != 0 {
		t.Error("nix-store: the built system is not valid")
	}
	if code, _ := runStandin(t, cfg, dir, "nix-store", "--check-validity", evaluated+"-gone"); code == 0 {
		t.Error("nix-store: a missing path is valid")
	}
	// A build by attribute (darwin-rebuild, a fallback) evaluates.
	code, out = runStandin(t, cfg, dir, "nix", "build", "--no-link", "--json", repo+"#darwinConfigurations.bench.system")
	if code != 0 || !strings.Contains(out, evaluated) {
		t.Fatalf("build by attribute: %d %s", code, out)
	}
	if calls, _ = ReadCalls(cfg.Log); time.Duration(calls[len(calls)-1].Slept) != lat.Eval {
		t.Errorf("a build by attribute slept %v, want an evaluation", time.Duration(calls[len(calls)-1].Slept))
	}
	if code, out := runStandin(t, cfg, dir, "nix-env", "-p", cfg.Profile, "--set", evaluated); code != 0 {
		t.Fatalf("nix-env: %d %s", code, out)
	}
	if code, out := runStandin(t, cfg, dir, "activate", evaluated); code != 0 {
		t.Fatalf("activate: %d %s", code, out)
	}
	if got, _ := os.Readlink(cfg.CurrentSystem); got != evaluated {
		t.Errorf("current system -> %q, want %q", got, evaluated)
	}
	if fi, err := os.Stat(filepath.Join(evaluated, "activate")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("the built system has no executable activate: %v", err)
	}
	if code, _ := runStandin(t, cfg, dir, "nix", "frobnicate"); code == 0 {
		t.Error("an unknown nix command succeeded")
	}
	if code, _ := runStandin(t, cfg, dir, "sudo", "-n", "-v"); code != 0 {
		t.Error("sudo -n -v failed")
	}
}

// nix flake lock with a complete flake.lock fetches nothing, as real Nix
// (it reads the lock and leaves it); without a lock, and for update, it
// fetches every input.
func TestStandinFlakeLockAndUpdate(t *testing.T) {
	cfg, dir := standinEnv(t)
	cfg.Latency.FlakeLock, cfg.Latency.FlakeUpdate = time.Millisecond, 7*time.Millisecond
	if err := cfg.write(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"flake", "lock", "."}, {"flake", "lock", "."}, {"flake", "update"}} {
		if code, out := runStandin(t, cfg, dir, append([]string{"nix"}, args...)...); code != 0 {
			t.Fatalf("nix %v: %d %q", args, code, out)
		}
	}
	calls, err := ReadCalls(cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	// The first lock writes flake.lock: it fetched; the second reads it.
	want := []time.Duration{7 * time.Millisecond, time.Millisecond, 7 * time.Millisecond}
	if len(calls) != len(want) {
		t.Fatalf("calls = %+v", calls)
	}
	for i, c := range calls {
		if c.Slept != int64(want[i]) {
			t.Errorf("call %d (%v) slept %v, want %v", i, c.Argv, time.Duration(c.Slept), want[i])
		}
	}
}
