package nix

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// requireNix skips without nix, or fails when SYSINIT_REQUIRE_NIX=1 (CI).
func requireNix(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("nix")
	if err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skip("nix not installed: " + err.Error() + " (Debian: apt-get install --no-install-recommends nix-bin)")
	}
	return p
}

var (
	systemOnce sync.Once
	systemName string
	systemErr  error
)

// currentSystem is nix's platform string; pure flakes cannot ask for it.
func currentSystem(t testing.TB, nix string) string {
	systemOnce.Do(func() {
		out, err := exec.Command(nix, "eval", "--impure", "--raw", "--expr", "builtins.currentSystem").Output()
		systemName, systemErr = string(out), err
	})
	if systemErr != nil {
		t.Fatalf("asking nix for the current system: %v", systemErr)
	}
	return systemName
}

// harness is a real nix set-up in temp dirs: a flake in a git repository,
// nix and nix-env behind wrappers that log each start, a stand-in sudo.
type harness struct {
	t       *testing.T
	nix     string // the real nix
	tmp     string
	repo    string // the config directory and the flake
	nixLog  string
	sudoLog string
	system  string
	vars    map[string]string // Getenv overrides
	env     *step.Env
}

const flakeTemplate = `{
  description = "sysinit test flake (builtins only)";
  outputs = { self }: let
    system = "@SYSTEM@";
    mk = name: script: derivation {
      inherit name system;
      builder = "/bin/sh";
      PATH = "/usr/bin:/bin";
      args = [ "-c" script ];
    };
    dep = mk "dep-${import ./modules/depver.nix}" ''
      ${if import ./modules/fail.nix then "echo failing on purpose; exit 1" else ""}
      echo "making dep ${import ./modules/depver.nix}"
      mkdir $out
      echo ${import ./modules/nonce.nix} > $out/nonce
      head -c ${toString (import ./modules/depsize.nix)} /dev/zero > $out/blob
    '';
    sys = name: mk name ''
      mkdir -p $out/bin
      echo '${import ./modules/msg.nix}' > $out/msg
      ln -s ${dep} $out/dep
      sed "s,@out@,$out," ${./stand-ins/activate.sh} > $out/activate
      sed "s,@out@,$out," ${./stand-ins/switch-to-configuration.sh} > $out/bin/switch-to-configuration
      chmod +x $out/activate $out/bin/switch-to-configuration
    '';
  in {
    packages.${system}.sys = sys "system-1.0";
    darwinConfigurations.test.system = sys "darwin-system-1.0";
    nixosConfigurations.test.config.system.build.toplevel = sys "nixos-system-1.0";
    homeConfigurations.tester.activationPackage = sys "home-manager-generation";
  };
}
`

// The activation stand-ins do what the real scripts do to the machine
// that sysinit looks at, driven by the step's env.
const activateScript = `#!/bin/sh
set -e
out=@out@
echo "activate $out" >> "$MARKER"
[ -z "$CURRENT_SYSTEM" ] || ln -sfn "$out" "$CURRENT_SYSTEM"
[ -z "$HM_PROFILE" ] || "$NIX_ENV" -p "$HM_PROFILE" --set "$out"
`

const switchScript = `#!/bin/sh
set -e
out=@out@
echo "switch-to-configuration $1 $out" >> "$MARKER"
case "$1" in switch|test) ln -sfn "$out" "$CURRENT_SYSTEM" ;; esac
`

func newHarness(t *testing.T) *harness {
	t.Helper()
	nix := requireNix(t)
	requireGit(t)
	gitEnv(t)
	h := &harness{t: t, nix: nix, tmp: t.TempDir(), vars: map[string]string{}}
	h.system = currentSystem(t, nix)
	h.repo = filepath.Join(h.tmp, "repo")
	h.nixLog = filepath.Join(h.tmp, "nix.log")
	h.sudoLog = filepath.Join(h.tmp, "sudo.log")

	registry := filepath.Join(h.tmp, "registry.json")
	writeFile(t, registry, `{"flakes":[],"version":2}`)
	t.Setenv("NIX_CONFIG", strings.Join([]string{
		"experimental-features = nix-command flakes",
		"sandbox = false",
		"build-users-group =",
		"substituters =",
		"flake-registry = " + registry,
		"warn-dirty = false",
	}, "\n"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(h.tmp, "cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(h.tmp, "config"))
	t.Setenv("SUDO_LOG", h.sudoLog)

	wrap := filepath.Join(h.tmp, "wrap")
	realDir := filepath.Dir(nix)
	for _, name := range []string{"nix", "nix-env", "nix-store"} {
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"%s $*\" >> %q\nexec %q \"$@\"\n", name, h.nixLog, filepath.Join(realDir, name))
		writeFile(t, filepath.Join(wrap, name), script)
		if err := os.Chmod(filepath.Join(wrap, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := filepath.Abs("testdata/bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", wrap+":"+bin+":"+os.Getenv("PATH"))

	h.env = &step.Env{
		Exec: command.Exec{},
		Getenv: func(k string) string {
			if v, ok := h.vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		},
		LookPath: exec.LookPath,
	}

	// A fresh nonce per test makes every first build a real build.
	nonce := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	files := map[string]string{
		"flake.nix":                            strings.ReplaceAll(flakeTemplate, "@SYSTEM@", h.system),
		"modules/msg.nix":                      "\"hello\" # a comment\n",
		"modules/depver.nix":                   "\"1.0\"\n",
		"modules/depsize.nix":                  "20000\n",
		"modules/fail.nix":                     "false\n",
		"modules/nonce.nix":                    fmt.Sprintf("%q\n", nonce),
		"stand-ins/activate.sh":                activateScript,
		"stand-ins/switch-to-configuration.sh": switchScript,
	}
	for p, c := range files {
		writeFile(t, filepath.Join(h.repo, p), c)
	}
	// nix-env needs the profile's directory; /nix/var/nix/profiles exists.
	if err := os.MkdirAll(filepath.Join(h.tmp, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, h.repo, "init", "-q", "-b", "main")
	git(t, h.repo, "add", "-A")
	return h
}

func (h *harness) write(rel, content string) {
	h.t.Helper()
	writeFile(h.t, filepath.Join(h.repo, rel), content)
}

// nixStarts returns the nix and nix-env invocations logged so far.
func (h *harness) nixStarts() []string {
	h.t.Helper()
	data, err := os.ReadFile(h.nixLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (h *harness) sudoCalls() []string {
	h.t.Helper()
	data, err := os.ReadFile(h.sudoLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (h *harness) newStep(s *config.Step) step.Step {
	h.t.Helper()
	if s.Name == "" {
		s.Name = "system"
	}
	cfg := &config.Config{File: filepath.Join(h.repo, config.FileName), Dir: h.repo, Steps: []*config.Step{s}}
	r := step.NewRegistry()
	Register(r)
	st, err := r.New(cfg, s, h.env)
	if err != nil {
		h.t.Fatalf("building step: %v", err)
	}
	return st
}

// runResult is what one Run gave.
type runResult struct {
	out      step.Outcome
	err      error
	log      string
	progress []string
	nix      []string // nix processes started during the run
}

func (h *harness) run(st step.Step, token string) runResult {
	h.t.Helper()
	return h.runWith(st, step.RunContext{Token: token})
}

// runWith runs st with rc's Token, Force, Redefined and Due.
func (h *harness) runWith(st step.Step, rc step.RunContext) runResult {
	h.t.Helper()
	before := len(h.nixStarts())
	var log bytes.Buffer
	var r runResult
	rc.Out = &log
	rc.Progress = func(s string) { r.progress = append(r.progress, s) }
	r.out, r.err = st.Run(context.Background(), &rc)
	r.log = log.String()
	r.nix = h.nixStarts()[before:]
	return r
}

// probe runs Probe and checks that it started no nix process.
func (h *harness) probe(st step.Step, token string) string {
	h.t.Helper()
	before := len(h.nixStarts())
	drift, err := st.Probe(context.Background(), token)
	if err != nil {
		h.t.Fatalf("probe: %v", err)
	}
	if n := len(h.nixStarts()) - before; n != 0 {
		h.t.Fatalf("probe started %d nix processes: %q", n, h.nixStarts()[before:])
	}
	return drift
}

func readlinkAll(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatalf("resolving %s: %v", p, err)
	}
	return r
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// commands reduces logged invocations to their subcommands ("nix eval").
// `nix --version` is left out: it runs once per process, beside the first
// evaluation.
func commands(starts []string) []string {
	var out []string
	for _, s := range starts {
		f := strings.Fields(s)
		switch {
		case len(f) == 2 && f[0] == "nix" && f[1] == "--version":
		case len(f) >= 3 && f[0] == "nix" && (f[1] == "store" || f[1] == "flake"):
			out = append(out, strings.Join(f[:3], " "))
		case len(f) >= 2 && f[0] == "nix":
			out = append(out, f[0]+" "+f[1])
		case len(f) >= 1:
			out = append(out, f[0])
		}
	}
	return out
}

// evaluations counts the nix processes that evaluated the flake: `nix
// eval` and a `nix build` of a flake attribute (FLAKE#ATTR). A `nix build`
// of a derivation by its store path evaluates nothing.
func evaluations(starts []string) int {
	n := 0
	for _, s := range starts {
		f := strings.Fields(s)
		if len(f) < 2 || f[0] != "nix" {
			continue
		}
		switch f[1] {
		case "eval":
			n++
		case "build":
			if strings.Contains(f[len(f)-1], "#") {
				n++
			}
		}
	}
	return n
}
