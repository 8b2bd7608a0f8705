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
	inst := repo + "#darwinConfigurations.bench.system"
	code, out := runStandin(t, cfg, dir, "nix", "eval", "--raw", "--impure", inst+".outPath")
	if code != 0 {
		t.Fatalf("eval: %d %s", code, out)
	}
	evaluated := out
	code, out = runStandin(t, cfg, dir, "nix", "build", "--no-link", "--json", "--log-format", "internal-json", "-v", inst)
	if code != 0 {
		t.Fatalf("build: %d %s", code, out)
	}
	// stdout then stderr: the JSON line comes first.
	var res []struct{ Outputs map[string]string }
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&res); err != nil || res[0].Outputs["out"] != evaluated {
		t.Fatalf("build printed %q (%v), want out %s", out, err, evaluated)
	}
	if !strings.Contains(out, `@nix {"action":"start"`) {
		t.Errorf("build logged no internal-json activity: %q", out)
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
