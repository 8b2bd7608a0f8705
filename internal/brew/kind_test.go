package brew

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// countingRunner runs programs for real and counts them, so that a test
// can say "no process at all", not only "no brew".
type countingRunner struct {
	inner command.Runner
	n     atomic.Int64
}

func (c *countingRunner) Run(ctx context.Context, cmd *command.Cmd) error {
	c.n.Add(1)
	return c.inner.Run(ctx, cmd)
}

// fixture is a config directory with a Brewfile, a Homebrew prefix holding
// the stand-in brew, and a brew-bundle step over them.
type fixture struct {
	t      *testing.T
	dir    string // the config directory
	prefix string
	log    string
	env    map[string]string // what the step sees through Getenv
	runner *countingRunner
	cfg    *config.Config
	s      *config.Step
	b      *bundle
	out    syncBuffer
	euid   int
	// platform is what the Brewfile's conditions answer, for sysinit and
	// for the stand-in brew (BREW_OS, BREW_ARCH): an Apple Silicon Mac
	// unless a test says otherwise.
	platform platform
}

// syncBuffer is a bytes.Buffer for stdout and stderr at once, as the
// runner's step output is.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

const baseBrewfile = `tap "user/tools"
brew "wget"
brew "jq", args: ["with-oniguruma"]
cask "firefox", greedy: true
`

func newFixture(t *testing.T, brewfile string, layout string, mod func(*config.Step)) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), env: map[string]string{}, euid: 501, platform: platform{OS: "darwin", Arch: "arm64"}}
	f.prefix = filepath.Join(t.TempDir(), "homebrew")
	if layout == "intel" {
		// /usr/local: the repository is a subdirectory of the prefix.
		if err := os.MkdirAll(filepath.Join(f.prefix, "Homebrew", ".git"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.installStandIn(filepath.Join(f.prefix, "bin", "brew"))
	f.log = filepath.Join(t.TempDir(), "brew.log")
	f.writeBrewfile(brewfile)
	f.cfg = &config.Config{Dir: f.dir, File: filepath.Join(f.dir, "sysinit.toml")}
	f.s = &config.Step{
		Name: "brew",
		Kind: stepKind,
		Own:  &bundleKeys{Brewfile: "Brewfile", Cleanup: "none", Prefix: f.prefix},
		// The tests run as root here; the stand-in brew refuses root
		// unless told otherwise, as the real one does.
		Env: map[string]string{"BREW_LOG": f.log, "BREW_ALLOW_ROOT": "1", "BREW_OS": "mac", "BREW_ARCH": "arm"},
	}
	if mod != nil {
		mod(f.s)
	}
	f.runner = &countingRunner{inner: command.Exec{}}
	old := hostPlatform
	hostPlatform = func() platform { return f.platform }
	t.Cleanup(func() { hostPlatform = old })
	f.rebuild()
	return f
}

func (f *fixture) installStandIn(dst string) {
	f.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "bin", "brew"))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(dst, src, 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// rebuild makes the step again, as a new sysinit invocation would.
func (f *fixture) rebuild() {
	f.t.Helper()
	env := &step.Env{Exec: f.runner, Getenv: func(k string) string { return f.env[k] }, LookPath: exec.LookPath}
	st, err := newBundle(f.cfg, f.s, env)
	if err != nil {
		f.t.Fatal(err)
	}
	f.b = st.(*bundle)
	f.b.geteuid = func() int { return f.euid }
}

// onLinux makes the fixture an x86 Linux machine, for sysinit and the
// stand-in alike.
func (f *fixture) onLinux() {
	f.platform = platform{OS: "linux", Arch: "amd64"}
	f.s.Env["BREW_OS"], f.s.Env["BREW_ARCH"] = "linux", "intel"
	f.rebuild()
}

func (f *fixture) writeBrewfile(content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "Brewfile"), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// calls returns the argv of every brew process so far, with the config
// directory written as $DIR.
func (f *fixture) calls() []string {
	f.t.Helper()
	data, err := os.ReadFile(f.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			out = append(out, strings.ReplaceAll(l, f.dir, "$DIR"))
		}
	}
	return out
}

// brew runs the stand-in directly, as a user at a shell would.
func (f *fixture) brew(args ...string) {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(f.prefix, "bin", "brew"), args...)
	cmd.Env = append(os.Environ(), "BREW_ALLOW_ROOT=1", "HOMEBREW_NO_AUTO_UPDATE=1")
	// The machine the step's brew sees, without its log.
	for _, k := range []string{"BREW_OS", "BREW_ARCH", "BREW_ALIASES"} {
		if v, ok := f.s.Env[k]; ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("brew %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (f *fixture) run(update bool) (step.Outcome, error) {
	f.t.Helper()
	f.out.Reset()
	return f.b.Run(context.Background(), &step.RunContext{Out: &f.out, Progress: func(string) {}, Update: update})
}

func (f *fixture) mustRun(update bool) step.Outcome {
	f.t.Helper()
	o, err := f.run(update)
	if err != nil {
		f.t.Fatalf("Run: %v\n%s", err, f.out.String())
	}
	return o
}

func (f *fixture) probe(token string) string {
	f.t.Helper()
	drift, err := f.b.Probe(context.Background(), token)
	if err != nil {
		f.t.Fatalf("Probe: %v", err)
	}
	return drift
}

func (f *fixture) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(f.prefix, rel))
	return err == nil
}

func wantCalls(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("brew calls:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestNoChange: after a success, nothing changed means Probe finds no
// drift and starts no process at all.
func TestNoChange(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", nil)
	o := f.mustRun(false)
	wantCalls(t, f.calls(), []string{
		"brew tap user/tools",
		"brew install --formula wget",
		"brew install --formula jq --with-oniguruma",
		"brew install --cask firefox --adopt",
	})
	if o.Note != "installed 4: tap user/tools, wget, jq, cask firefox" {
		t.Errorf("note %q", o.Note)
	}
	for _, p := range []string{"Cellar/wget/1.0", "Cellar/jq/1.0", "Caskroom/firefox/1.0", "Library/Taps/user/homebrew-tools"} {
		if !f.exists(p) {
			t.Errorf("%s not installed", p)
		}
	}
	procs := f.runner.n.Load()
	calls := len(f.calls())
	f.rebuild()
	if d := f.probe(o.Token); d != "" {
		t.Errorf("drift %q right after a success", d)
	}
	if n := f.runner.n.Load(); n != procs {
		t.Errorf("Probe started %d processes", n-procs)
	}
	if n := len(f.calls()); n != calls {
		t.Errorf("Probe ran brew %d times", n-calls)
	}
	// Run again, everything is found installed: no brew at all.
	o2 := f.mustRun(false)
	wantCalls(t, f.calls()[calls:], nil)
	if o2.Note != "all installed; nothing to do" || o2.Token != o.Token {
		t.Errorf("second run: note %q, token changed: %v", o2.Note, o2.Token != o.Token)
	}
	// --force has brew check everything.
	f.out.Reset()
	o3, err := f.b.Run(context.Background(), &step.RunContext{Out: &f.out, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, f.calls()[calls:], []string{"brew bundle check --no-upgrade --file=$DIR/Brewfile"})
	if o3.Note != "all installed; nothing to do" || !strings.Contains(f.out.String(), "sysinit: brew bundle decides: a forced run checks everything\n") {
		t.Errorf("forced run: note %q, output %q", o3.Note, f.out.String())
	}
}

// TestBrewfileEdit: a new line means check, then install of only what is
// missing.
func TestBrewfileEdit(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", nil)
	f.mustRun(false)
	n := len(f.calls())
	f.writeBrewfile(baseBrewfile + "brew \"ripgrep\"\n")
	o := f.mustRun(false)
	wantCalls(t, f.calls()[n:], []string{"brew install --formula ripgrep"})
	if o.Note != "installed 1: ripgrep" {
		t.Errorf("note %q", o.Note)
	}
	if want := "Cellar/ripgrep/1.0: 1 file, 4KB\n"; !strings.Contains(f.out.String(), want) {
		t.Errorf("output lacks brew install's %q:\n%s", want, f.out.String())
	}
	if d := f.probe(o.Token); d != "" {
		t.Errorf("drift %q after the install", d)
	}
}

// TestManualChange: brew install/uninstall/upgrade outside sysinit is drift.
func TestManualChange(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fixture)
		want   string
		repair []string // the brew calls of the run that follows
	}{
		{"uninstall", func(f *fixture) { f.brew("uninstall", "wget") },
			"Homebrew's installed set changed outside sysinit (0 added, 1 removed: -formula wget)",
			[]string{"brew install --formula wget"}},
		// What the Brewfile needs is all there: nothing to repair.
		{"install", func(f *fixture) { f.brew("install", "htop"); f.brew("install", "--cask", "slack") },
			"Homebrew's installed set changed outside sysinit (2 added, 0 removed: +cask slack, +formula htop)", nil},
		{"untap", func(f *fixture) { f.brew("untap", "user/tools") },
			"Homebrew's installed set changed outside sysinit (0 added, 1 removed: -tap user/tools)",
			[]string{"brew tap user/tools"}},
		{"upgrade", func(f *fixture) {
			// A new version directory; its time is set apart from the
			// install's, as minutes of brew upgrade would.
			if err := os.Mkdir(filepath.Join(f.prefix, "Cellar", "jq", "1.1"), 0o755); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(filepath.Join(f.prefix, "Cellar", "jq"), later, later); err != nil {
				t.Fatal(err)
			}
		}, "Homebrew's installed set changed outside sysinit (0 added, 0 removed, 1 changed: ~formula jq)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, baseBrewfile, "", nil)
			o := f.mustRun(false)
			tt.change(f)
			n := len(f.calls())
			if got := f.probe(o.Token); got != tt.want {
				t.Errorf("drift %q\nwant %q", got, tt.want)
			}
			// The run that follows repairs what the Brewfile needs.
			o = f.mustRun(false)
			wantCalls(t, f.calls()[n:], tt.repair)
			if tt.name == "uninstall" && (!f.exists("Cellar/wget") || o.Note != "installed 1: wget") {
				t.Errorf("wget not reinstalled; note %q", o.Note)
			}
			if got := f.probe(o.Token); got != "" {
				t.Errorf("drift %q after the repair", got)
			}
		})
	}
}

// TestUpdateEvery: brew update runs only when FETCH_HEAD is older than
// update-every (or missing), or with --update.
func TestUpdateEvery(t *testing.T) {
	for _, layout := range []string{"apple-silicon", "intel"} {
		t.Run(layout, func(t *testing.T) {
			f := newFixture(t, baseBrewfile, layout, func(s *config.Step) { s.Own.(*bundleKeys).UpdateEvery = 24 * time.Hour })
			fetchHead := filepath.Join(f.prefix, ".git", "FETCH_HEAD")
			if layout == "intel" {
				fetchHead = filepath.Join(f.prefix, "Homebrew", ".git", "FETCH_HEAD")
			}
			if got := f.probe(""); !strings.Contains(got, "brew update due: never fetched") {
				t.Errorf("drift %q before any fetch", got)
			}
			o := f.mustRun(false)
			wantCalls(t, f.calls(), []string{
				"brew update",
				"brew tap user/tools",
				"brew install --formula wget",
				"brew install --formula jq --with-oniguruma",
				"brew install --cask firefox --adopt",
			})
			if !strings.HasPrefix(o.Note, "brew updated; ") {
				t.Errorf("note %q", o.Note)
			}
			if _, err := os.Stat(fetchHead); err != nil {
				t.Fatalf("the stand-in's update did not touch %s: %v", fetchHead, err)
			}
			if got := f.probe(o.Token); got != "" {
				t.Errorf("drift %q right after an update", got)
			}

			// Fresh FETCH_HEAD: another run does not update.
			n := len(f.calls())
			f.mustRun(false)
			wantCalls(t, f.calls()[n:], nil)

			// 3 days old: due.
			old := time.Now().Add(-72*time.Hour - time.Minute)
			if err := os.Chtimes(fetchHead, old, old); err != nil {
				t.Fatal(err)
			}
			if got := f.probe(o.Token); got != "brew update due: last fetched 3d ago" {
				t.Errorf("drift %q", got)
			}
			n = len(f.calls())
			f.mustRun(false)
			wantCalls(t, f.calls()[n:], []string{"brew update"})

			// 23 hours old: not yet.
			old = time.Now().Add(-23 * time.Hour)
			if err := os.Chtimes(fetchHead, old, old); err != nil {
				t.Fatal(err)
			}
			if got := f.probe(o.Token); got != "" {
				t.Errorf("drift %q at 23h of 24h", got)
			}
			// Dated a day ahead (the clock was stepped back): due, as its
			// age says nothing.
			ahead := time.Now().Add(25 * time.Hour)
			if err := os.Chtimes(fetchHead, ahead, ahead); err != nil {
				t.Fatal(err)
			}
			if got := f.probe(o.Token); !strings.Contains(got, "is dated in the future (1d ahead): the clock moved back") {
				t.Errorf("drift %q with FETCH_HEAD a day ahead", got)
			}
			// --update forces it.
			n = len(f.calls())
			f.mustRun(true)
			wantCalls(t, f.calls()[n:], []string{"brew update"})
		})
	}
}

func TestNoUpdateEvery(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", nil)
	o := f.mustRun(false)
	if slices.Contains(f.calls(), "brew update") {
		t.Errorf("brew update ran without update-every: %q", f.calls())
	}
	if got := f.probe(o.Token); got != "" {
		t.Errorf("drift %q with no FETCH_HEAD and no update-every", got)
	}
	if !f.b.Updates() {
		t.Error("Updates() = false; --update could not force brew update")
	}
}

// TestNoAutoUpdate: every brew sysinit starts has HOMEBREW_NO_AUTO_UPDATE
// set; the stand-in logs an automatic update otherwise.
func TestNoAutoUpdate(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", func(s *config.Step) {
		s.Own.(*bundleKeys).Cleanup = "uninstall"
		s.Own.(*bundleKeys).UpdateEvery = time.Hour
	})
	f.mustRun(true)
	for _, c := range f.calls() {
		if strings.Contains(c, "--auto-update") {
			t.Errorf("brew updated itself: %q", f.calls())
		}
	}
	// The user's env cannot turn it back on.
	f.s.Env["HOMEBREW_NO_AUTO_UPDATE"] = ""
	f.rebuild()
	f.writeBrewfile(baseBrewfile + "brew \"fd\"\n")
	f.mustRun(false)
	for _, c := range f.calls() {
		if strings.Contains(c, "--auto-update") {
			t.Errorf("brew updated itself with HOMEBREW_NO_AUTO_UPDATE=\"\" in env: %q", f.calls())
		}
	}
}

// TestDynamic: a Brewfile that computes can never be skipped by the probe
// alone.
func TestDynamic(t *testing.T) {
	src := "brew \"wget\"\nif ENV[\"WORK\"]\n  cask \"iterm2\"\nend\n"
	f := newFixture(t, src, "", nil)
	if !slices.Contains(f.b.Definition(), "dynamic=true") {
		t.Errorf("definition lacks dynamic=true: %q", f.b.Definition())
	}
	o := f.mustRun(false)
	const want = `dynamic Brewfile (line 2: if ENV["WORK"]): brew bundle check decides`
	for i := 0; i < 2; i++ {
		if got := f.probe(o.Token); got != want {
			t.Errorf("drift %q, want %q", got, want)
		}
		n := len(f.calls())
		o = f.mustRun(false)
		// The stand-in counts lines inside conditionals: all installed.
		wantCalls(t, f.calls()[n:], []string{"brew bundle check --no-upgrade --file=$DIR/Brewfile"})
		if o.Note != "all installed; nothing to do" {
			t.Errorf("note %q", o.Note)
		}
	}
	f.writeBrewfile("brew \"wget\"\n")
	if slices.Contains(f.b.Definition(), "dynamic=true") {
		t.Error("definition says dynamic for a static Brewfile")
	}
}

// TestPlatformConditions: `if OS.mac?` and the like are decided for the
// platform sysinit runs on, so such a Brewfile gets the cheap probe; the
// platform is part of the definition, since what the file declares
// depends on it.
func TestPlatformConditions(t *testing.T) {
	src := "brew \"wget\"\nif OS.mac?\n  system \"defaults write x\"\nend\ncask \"iterm2\" if OS.mac? && Hardware::CPU.arm?\n"
	for _, tt := range []struct {
		p       platform
		dynamic bool
	}{
		{platform{OS: "linux", Arch: "amd64"}, false},
		{platform{OS: "darwin", Arch: "arm64"}, true}, // the system call runs there
	} {
		t.Run(tt.p.String(), func(t *testing.T) {
			f := newFixture(t, src, "", nil)
			f.platform = tt.p
			f.rebuild()
			def := f.b.Definition()
			if !slices.Contains(def, "platform="+tt.p.String()) || slices.Contains(def, "dynamic=true") != tt.dynamic {
				t.Errorf("definition %q", def)
			}
			tok, err := f.b.home.listing()
			if err != nil {
				t.Fatal(err)
			}
			got := f.probe(tok)
			if (got != "") != tt.dynamic || tt.dynamic && !strings.Contains(got, "line 3: system") {
				t.Errorf("drift %q", got)
			}
		})
	}
	// A generic OS (HOMEBREW_TEST_GENERIC_OS) answers no to both.
	f := newFixture(t, "brew \"a\" if OS.mac? || OS.linux?\n", "", func(s *config.Step) { s.Env["HOMEBREW_TEST_GENERIC_OS"] = "1" })
	if f.b.platform.OS != "" {
		t.Errorf("platform %v under HOMEBREW_TEST_GENERIC_OS", f.b.platform)
	}
	// A Brewfile without platform conditions does not name one.
	f = newFixture(t, baseBrewfile, "", nil)
	if slices.ContainsFunc(f.b.Definition(), func(l string) bool { return strings.HasPrefix(l, "platform=") }) {
		t.Errorf("definition %q names the platform", f.b.Definition())
	}
}

// TestNeverAsRoot: brew never runs as root — as SUDO_USER under sudo,
// refused as plain root.
func TestNeverAsRoot(t *testing.T) {
	t.Run("plain root", func(t *testing.T) {
		// Root by any name is root: "#0" is sudo's spelling of uid 0, and
		// the uid, not the name, decides.
		for sudoUser, want := range map[string]string{
			"":     "brew refuses to run as root; run sysinit as your user",
			"root": `SUDO_USER "root" is uid 0: brew refuses to run as root; run sysinit as your user`,
			"#0":   `SUDO_USER "#0" is uid 0: brew refuses to run as root; run sysinit as your user`,
		} {
			f := newFixture(t, baseBrewfile, "", nil)
			f.euid = 0
			f.env["SUDO_USER"] = sudoUser
			f.rebuild()
			_, err := f.run(false)
			if !errors.Is(err, errRoot) || err.Error() != want {
				t.Errorf("SUDO_USER=%q: error %v", sudoUser, err)
			}
			if n := f.runner.n.Load(); n != 0 {
				t.Errorf("SUDO_USER=%q: %d processes started", sudoUser, n)
			}
		}
	})
	t.Run("another name of uid 0", func(t *testing.T) {
		// A real second name for uid 0 (BSD's toor): refused like root.
		if os.Geteuid() != 0 {
			t.Skip("creating a user needs root")
		}
		const alias = "sysinit-toor"
		if out, err := exec.Command("useradd", "-o", "-u", "0", "-g", "0", "-M", "-N", "-s", "/usr/sbin/nologin", alias).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
		t.Cleanup(func() {
			// -f: uid 0 has processes, which userdel otherwise refuses.
			if out, err := exec.Command("userdel", "-f", alias).CombinedOutput(); err != nil {
				t.Errorf("userdel: %v\n%s", err, out)
			}
		})
		f := newFixture(t, baseBrewfile, "", nil)
		f.euid = 0
		f.env["SUDO_USER"] = alias
		f.rebuild()
		if _, err := f.run(false); !errors.Is(err, errRoot) {
			t.Errorf("error %v, want ErrRoot", err)
		}
		if n := f.runner.n.Load(); n != 0 {
			t.Errorf("%d processes started", n)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		f := newFixture(t, baseBrewfile, "", nil)
		f.euid = 0
		f.env["SUDO_USER"] = "sysinit-no-such-user"
		f.rebuild()
		if _, err := f.run(false); err == nil || !strings.Contains(err.Error(), `finding SUDO_USER "sysinit-no-such-user" to run brew as`) {
			t.Errorf("error %v", err)
		}
		if n := f.runner.n.Load(); n != 0 {
			t.Errorf("%d processes started", n)
		}
	})
	t.Run("under sudo", func(t *testing.T) {
		bin, err := filepath.Abs(filepath.Join("testdata", "bin"))
		if err != nil {
			t.Fatal(err)
		}
		// The stand-in sudo is found on PATH by the real command runner.
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		f := newFixture(t, baseBrewfile, "", func(s *config.Step) {
			// The stand-in brew refuses uid 0; only the stand-in sudo's
			// "dropped privileges" let it run.
			s.Env = map[string]string{"BREW_LOG": "", "BREW_EUID": "0"}
			s.Own.(*bundleKeys).Cleanup = "check"
		})
		t.Setenv("BREW_LOG", f.log) // for the stand-in sudo
		f.s.Env["BREW_LOG"] = f.log
		f.euid = 0
		f.env["SUDO_USER"] = "nobody" // a real user, not root
		f.rebuild()
		o := f.mustRun(false)
		file := "--file=$DIR/Brewfile"
		// The env goes on sudo's stdin, read by a wrapper shell (and
		// arrives: without HOMEBREW_NO_AUTO_UPDATE the stand-in logs an
		// update).
		wrapper := regexp.MustCompile(`-- /bin/sh -c .* exec "\$@" sh `)
		calls := f.calls()
		for i, c := range calls {
			calls[i] = wrapper.ReplaceAllString(c, "-- ENV-ON-STDIN ")
		}
		brew := filepath.Join(f.prefix, "bin", "brew")
		wantCalls(t, calls, []string{
			"sudo -n -H -u nobody -- ENV-ON-STDIN " + brew + " tap user/tools",
			"[nobody] brew tap user/tools",
			"sudo -n -H -u nobody -- ENV-ON-STDIN " + brew + " install --formula wget",
			"[nobody] brew install --formula wget",
			"sudo -n -H -u nobody -- ENV-ON-STDIN " + brew + " install --formula jq --with-oniguruma",
			"[nobody] brew install --formula jq --with-oniguruma",
			"sudo -n -H -u nobody -- ENV-ON-STDIN " + brew + " install --cask firefox --adopt",
			"[nobody] brew install --cask firefox --adopt",
			"sudo -n -H -u nobody -- ENV-ON-STDIN " + brew + " bundle cleanup " + file,
			"[nobody] brew bundle cleanup " + file,
		})
		if d := f.probe(o.Token); d != "" {
			t.Errorf("drift %q", d)
		}
	})
	t.Run("brew itself refuses root", func(t *testing.T) {
		// sysinit believes it is not root, but brew finds uid 0: the
		// stand-in fails as the real brew does, and the step fails.
		f := newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Env = map[string]string{"BREW_EUID": "0"} })
		_, err := f.run(false)
		var xe *command.ExitError
		if !errors.As(err, &xe) || xe.Code != 1 || !strings.Contains(strings.Join(xe.Tail, "\n"), "Running Homebrew as root is extremely dangerous") {
			t.Errorf("error %v", err)
		}
		if !strings.HasPrefix(err.Error(), "brew tap user/tools: ") {
			t.Errorf("error %q does not say which brew failed", err)
		}
	})
}

// TestCleanup: the argv of each cleanup mode, and check never failing the
// run.
func TestCleanup(t *testing.T) {
	tests := []struct {
		cleanup  string
		call     string
		note     string
		htopLeft bool
	}{
		{"none", "", "all installed; nothing to do", true},
		{"check", "brew bundle cleanup --file=$DIR/Brewfile", "all installed; nothing to do; cleanup would remove 2: cask slack, formula htop", true},
		{"uninstall", "brew bundle cleanup --force --file=$DIR/Brewfile", "all installed; nothing to do; Uninstalled 1 cask, Uninstalled 1 formula", false},
		{"zap", "brew bundle cleanup --force --zap --file=$DIR/Brewfile", "all installed; nothing to do; Uninstalled 1 cask, Uninstalled 1 formula", false},
	}
	for _, tt := range tests {
		t.Run(tt.cleanup, func(t *testing.T) {
			f := newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Own.(*bundleKeys).Cleanup = tt.cleanup })
			f.brew("bundle", "install", "--file="+filepath.Join(f.dir, "Brewfile"))
			f.brew("install", "htop")
			f.brew("install", "--cask", "slack")
			n := len(f.calls())
			o := f.mustRun(false)
			var want []string
			if tt.call != "" {
				want = append(want, tt.call)
			}
			wantCalls(t, f.calls()[n:], want)
			if o.Note != tt.note {
				t.Errorf("note %q\nwant %q", o.Note, tt.note)
			}
			if f.exists("Cellar/htop") != tt.htopLeft {
				t.Errorf("htop installed: %v", f.exists("Cellar/htop"))
			}
			if d := f.probe(o.Token); d != "" {
				t.Errorf("drift %q after cleanup", d)
			}
		})
	}
}

func TestUpgrade(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Own.(*bundleKeys).Upgrade = true })
	f.mustRun(false)
	wantCalls(t, f.calls(), []string{
		"brew bundle check --file=$DIR/Brewfile",
		"brew bundle install --upgrade --file=$DIR/Brewfile",
	})
}

// TestRunFailure: a failed install is an error naming the command, and
// leaves no token.
func TestRunFailure(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Env["BREW_FAIL"] = "jq" })
	o, err := f.run(false)
	var xe *command.ExitError
	if !errors.As(err, &xe) || xe.Code != 1 || !strings.HasPrefix(err.Error(), "brew install --formula jq --with-oniguruma: ") {
		t.Fatalf("error %v", err)
	}
	if o.Token != "" {
		t.Errorf("token %q after a failure", o.Token)
	}
	if !strings.Contains(strings.Join(xe.Tail, "\n"), "Error: jq: An exception occurred within a child process") {
		t.Errorf("tail %q", xe.Tail)
	}
	// The next run installs what is still missing, and only that.
	delete(f.s.Env, "BREW_FAIL")
	f.rebuild()
	n := len(f.calls())
	f.mustRun(false)
	wantCalls(t, f.calls()[n:], []string{"brew install --formula jq --with-oniguruma", "brew install --cask firefox --adopt"})

	// Under brew bundle, its own failure.
	f = newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Env["BREW_FAIL"] = "jq"; s.Own.(*bundleKeys).Upgrade = true })
	_, err = f.run(false)
	if !errors.As(err, &xe) || !strings.HasPrefix(err.Error(), "brew bundle install: ") ||
		!strings.Contains(strings.Join(xe.Tail, "\n"), "`brew bundle` failed! 1 Brewfile dependency failed to install") {
		t.Fatalf("error %v", err)
	}
}

func TestCanceled(t *testing.T) {
	// upgrade = true leaves it to brew bundle check.
	f := newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Env["BREW_CHECK_DELAY"] = "5"; s.Own.(*bundleKeys).Upgrade = true })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.b.Run(ctx, &step.RunContext{Out: &f.out, Progress: func(string) {}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the deadline", err)
	}
	if slices.ContainsFunc(f.calls(), func(c string) bool { return strings.Contains(c, "install") }) {
		t.Errorf("a killed check was taken as unsatisfied: %q", f.calls())
	}

	// A killed brew install fails the run, and nothing comes after it.
	f = newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Env["BREW_INSTALL_DELAY"] = "5" })
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o, err := f.b.Run(ctx, &step.RunContext{Out: &f.out, Progress: func(string) {}})
	if !errors.Is(err, context.DeadlineExceeded) || o.Token != "" {
		t.Errorf("error %v, token %q; want the deadline and no token", err, o.Token)
	}
	// However far it got before the deadline, nothing came after the
	// killed install.
	if got, all := f.calls(), []string{"brew tap user/tools", "brew install --formula wget"}; len(got) > len(all) || !slices.Equal(got, all[:len(got)]) {
		t.Errorf("brew calls %q, want a beginning of %q", got, all)
	}
}

func TestProbeErrors(t *testing.T) {
	t.Run("no brew", func(t *testing.T) {
		f := newFixture(t, baseBrewfile, "", func(s *config.Step) { s.Own.(*bundleKeys).Prefix = t.TempDir() })
		_, err := f.b.Probe(context.Background(), "")
		if !errors.Is(err, errNotFound) {
			t.Errorf("Probe error %v", err)
		}
		if _, err := f.run(false); !errors.Is(err, errNotFound) {
			t.Errorf("Run error %v", err)
		}
	})
	t.Run("bad Brewfile", func(t *testing.T) {
		f := newFixture(t, "brew \"wget\"\nbrew \"jq\n", "", nil)
		_, err := f.b.Probe(context.Background(), "")
		if err == nil || err.Error() != "Brewfile:2: unterminated string: a quote is missing" {
			t.Errorf("Probe error %v", err)
		}
		if slices.Contains(f.b.Definition(), "dynamic=true") {
			t.Error("an unreadable Brewfile called dynamic")
		}
	})
	t.Run("missing Brewfile", func(t *testing.T) {
		f := newFixture(t, baseBrewfile, "", nil)
		os.Remove(filepath.Join(f.dir, "Brewfile"))
		if _, err := f.b.Probe(context.Background(), ""); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Probe error %v", err)
		}
	})
	t.Run("unreadable Cellar", func(t *testing.T) {
		f := newFixture(t, baseBrewfile, "", nil)
		// A file where the Cellar directory should be.
		if err := os.WriteFile(filepath.Join(f.prefix, "Cellar"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := f.b.Probe(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "listing ") {
			t.Errorf("Probe error %v", err)
		}
	})
}

func TestDefinition(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", func(s *config.Step) {
		s.Env = map[string]string{"B": "2", "A": "1"}
		s.Own.(*bundleKeys).UpdateEvery = 24 * time.Hour
		s.Own.(*bundleKeys).Cleanup = "zap"
	})
	want := []string{
		"brew=" + filepath.Join(f.prefix, "bin", "brew"),
		"brewfile=Brewfile",
		"cleanup=zap",
		"dir=",
		"env=A=1",
		"env=B=2",
		"kind=brew-bundle",
		"update-every=24h0m0s",
		"upgrade=false",
	}
	if got := f.b.Definition(); !reflect.DeepEqual(got, want) {
		t.Errorf("definition:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	// Every field of the definition changes it.
	base := strings.Join(f.b.Definition(), "\n")
	for name, mod := range map[string]func(s *config.Step){
		"cleanup":      func(s *config.Step) { s.Own.(*bundleKeys).Cleanup = "check" },
		"upgrade":      func(s *config.Step) { s.Own.(*bundleKeys).Upgrade = true },
		"update-every": func(s *config.Step) { s.Own.(*bundleKeys).UpdateEvery = time.Hour },
		"env":          func(s *config.Step) { s.Env = map[string]string{"A": "1", "B": "3"} },
		"brewfile":     func(s *config.Step) { s.Own.(*bundleKeys).Brewfile = "other/Brewfile" },
	} {
		s := *f.s
		mod(&s)
		st, err := newBundle(f.cfg, &s, &step.Env{Exec: f.runner, Getenv: os.Getenv, LookPath: exec.LookPath})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(st.Definition(), "\n") == base {
			t.Errorf("changing %s leaves the definition alone", name)
		}
	}
}

func TestInputs(t *testing.T) {
	f := newFixture(t, baseBrewfile, "", func(s *config.Step) {
		s.Own.(*bundleKeys).Brewfile = "brew/Brewfile"
		s.Inputs = []string{"brew/*.rb", "!brew/tmp.rb"}
	})
	spec, err := f.b.Inputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spec.Files, []string{"brew/Brewfile"}) || !reflect.DeepEqual(spec.Patterns, []string{"brew/*.rb", "!brew/tmp.rb", "brew/Brewfile"}) {
		t.Errorf("spec %+v", spec)
	}
}

func TestNewRejectsBadCleanup(t *testing.T) {
	_, err := newBundle(&config.Config{Dir: t.TempDir()}, &config.Step{Own: &bundleKeys{Cleanup: "force"}}, &step.Env{Getenv: os.Getenv, LookPath: exec.LookPath})
	if err == nil || !strings.Contains(err.Error(), `cleanup = "force"`) {
		t.Errorf("error %v", err)
	}
}

func TestRegister(t *testing.T) {
	r := step.NewRegistry()
	Register(r)
	if r.Kinds().Get(stepKind) == nil {
		t.Fatal("brew-bundle not registered")
	}
}

func TestReported(t *testing.T) {
	exit := func(code int, tail ...string) error {
		return &command.ExitError{Argv: []string{"brew"}, Code: code, Tail: tail}
	}
	tests := []struct {
		name string
		err  error
		said bool
		want bool
	}{
		{"report in output", exit(1), true, true},
		{"exit 1, no error line", exit(1, "Satisfy missing dependencies with `brew bundle install`."), false, true},
		{"brew error", exit(1, "Error: Running Homebrew as root is extremely dangerous and no longer supported."), false, false},
		{"colored brew error", exit(1, "\x1b[31mError:\x1b[0m No Brewfile found"), false, false},
		{"exit 2", exit(2), true, false},
		{"killed", exit(-1), true, false},
		{"not found", &command.NotFoundError{Name: "brew"}, true, false},
		{"wrapped", fmt.Errorf("running: %w", exit(1)), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reported(tt.err, tt.said); got != tt.want {
				t.Errorf("reported = %v", got)
			}
		})
	}
}

func TestBundleOutput(t *testing.T) {
	var o bundleOutput
	// Written in odd pieces, as pipes deliver it.
	out := "Tapping user/tools\nUsing wget\n\x1b[32mInstalling\x1b[0m jq\nUpgrading fire" +
		"fox\nWould uninstall casks:\nslack\nWould uninstall formulae:\nhtop   tree\nWould `brew cleanup`:\n" +
		"Removing: /cache/x... (1MB)\nRun `brew bundle cleanup --force` to make these changes.\n" +
		"brew bundle can't satisfy your Brewfile's dependencies.\nUninstalled 2 formulae\nUntapping a/b...\npartial"
	for i := 0; i < len(out); i += 7 {
		o.Write([]byte(out[i:min(i+7, len(out))]))
	}
	if got := o.installNote(); got != "brew bundle installed 3: tap user/tools, jq, firefox (upgraded)" {
		t.Errorf("install note %q", got)
	}
	if got := o.wouldNote(); got != "cleanup would remove 3: cask slack, formula htop, formula tree" {
		t.Errorf("would note %q", got)
	}
	if got := o.removedNote(); got != "Uninstalled 2 formulae, Untapping a/b" {
		t.Errorf("removed note %q", got)
	}
	if !o.isUnsatisfied() || !o.wouldRemove() {
		t.Error("report lines not seen")
	}
	var empty bundleOutput
	if empty.installNote() != "brew bundle install ran" || empty.wouldNote() != "cleanup would remove something (see the log)" || empty.isUnsatisfied() {
		t.Error("notes of an empty output")
	}
}
