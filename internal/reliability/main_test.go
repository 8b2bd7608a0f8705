//go:build reliability

package reliability_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	flagKill     = flag.Int("reliability.kill", 40, "kill and signal `trials` (a trial is one delivered signal)")
	flagCorrupt  = flag.Int("reliability.corrupt", 60, "store corruption `trials`")
	flagDiskFull = flag.Int("reliability.diskfull", 20, "disk-full `trials` (root only: each mounts a tmpfs)")
	flagSeed     = flag.Uint64("reliability.seed", 0, "random `seed`; 0 picks one from the clock (it is logged)")
	flagReport   = flag.String("reliability.report", "", "append each trial's counts to `FILE` as JSON lines")
	flagKeep     = flag.String("reliability.keep", "", "keep what failed trials leave (the damaged store of a corruption trial) in `DIR`")
)

// bin holds the programs every trial runs, in a directory any user can
// read, since some trials run sysinit as another user.
var bin struct {
	dir     string
	sysinit string // sysinit built from this module
	standin string // this test binary, which acts as a step when run as "standin ..."
	seed    uint64
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "standin") {
		os.Exit(standin(os.Args[1:]))
	}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGHUP} {
		if signal.Ignored(sig) {
			// Run under nohup, or as a background job of a script: the
			// sysinit the trials start would keep the signal ignored, as
			// it should, and a trial's SIGINT or SIGHUP would never land.
			// Caught here, it is at its default in them.
			signal.Notify(make(chan os.Signal, 1), sig)
		}
	}
	flag.Parse()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(bin.dir)
	os.Exit(code)
}

func setup() error {
	dir, err := os.MkdirTemp("", "sysinit-reliability-bin-")
	if err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	bin.dir = dir
	bin.sysinit = filepath.Join(dir, "sysinit")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", bin.sysinit, "./cmd/sysinit")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building sysinit: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin.standin = filepath.Join(dir, "standin")
	if err := copyFile(self, bin.standin, 0o755); err != nil {
		return fmt.Errorf("copying the stand-in: %w", err)
	}
	bin.seed = *flagSeed
	if bin.seed == 0 {
		bin.seed = uint64(time.Now().UnixNano())
	}
	return nil
}

// newRand returns the random source of one test, seeded from the suite's
// seed and the test's name, so that one test can be replayed alone.
func newRand(t *testing.T) *rand.Rand {
	var h uint64 = 14695981039346656037
	for _, c := range []byte(t.Name()) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	t.Logf("seed %d (replay with -reliability.seed=%d)", bin.seed, bin.seed)
	return rand.New(rand.NewPCG(bin.seed, h))
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tally counts what happened in a test's trials. Failures are the counts
// that must be zero; the rest describe what the trials met.
type tally struct {
	mu       sync.Mutex
	counts   map[string]int
	failures map[string]bool
	examples map[string][]string
}

func newTally(failures ...string) *tally {
	t := &tally{counts: map[string]int{}, failures: map[string]bool{}, examples: map[string][]string{}}
	for _, f := range failures {
		t.failures[f] = true
		t.counts[f] = 0
	}
	return t
}

func (c *tally) add(key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[key] += n
}

// fail counts a failure and keeps the first few examples of it.
func (c *tally) fail(key, example string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failures[key] {
		panic("tally: " + key + " is not a failure count")
	}
	c.counts[key]++
	if len(c.examples[key]) < 3 {
		c.examples[key] = append(c.examples[key], example)
	}
}

// report logs the counts, writes them to -reliability.report, and fails
// the test for every failure count that is not zero.
func (c *tally) report(t *testing.T, name string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.counts))
	for k := range c.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n", name)
	for _, k := range keys {
		mark := ""
		if c.failures[k] {
			mark = "  (must be 0)"
		}
		fmt.Fprintf(&b, "  %-34s %6d%s\n", k, c.counts[k], mark)
	}
	t.Log(b.String())
	if *flagReport != "" {
		line, _ := json.Marshal(map[string]any{"test": name, "seed": bin.seed, "counts": c.counts, "failures": sortedKeys(c.failures)})
		f, err := os.OpenFile(*flagReport, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s\n", line)
			f.Close()
		}
	}
	for _, k := range keys {
		if c.failures[k] && c.counts[k] > 0 {
			t.Errorf("%s: %d (must be 0); e.g.:\n  %s", k, c.counts[k], strings.Join(c.examples[k], "\n  "))
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// world is one trial's machine: a config repo, a HOME with its XDG
// directories, and fx, where the stand-in steps leave their effects,
// events and locks (outside the repo, so none of it is an input).
type world struct {
	t          *testing.T
	root       string
	repo       string
	home       string
	cache      string // XDG_CACHE_HOME ("" = HOME's default)
	state      string // XDG_STATE_HOME ("" = HOME's default)
	fx         string
	path       string              // PATH
	extraEnv   []string            // more environment
	credential *syscall.Credential // run sysinit as this user; nil = as the test
}

// newWorld makes a world under a fresh directory that any user can enter.
func newWorld(t *testing.T) *world {
	t.Helper()
	root, err := os.MkdirTemp("", "sysinit-reliability-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	w := &world{t: t, root: root, repo: filepath.Join(root, "repo"), home: filepath.Join(root, "home"), fx: filepath.Join(root, "fx")}
	w.cache = filepath.Join(w.home, ".cache")
	w.state = filepath.Join(w.home, ".local", "state")
	w.path = bin.dir + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	for _, d := range []string{root, w.repo, w.home, w.fx} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(w.repo, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) environ() []string {
	env := []string{"PATH=" + w.path, "HOME=" + w.home, "NO_COLOR=1", "TERM=dumb"}
	if w.cache != "" {
		env = append(env, "XDG_CACHE_HOME="+w.cache)
	}
	if w.state != "" {
		env = append(env, "XDG_STATE_HOME="+w.state)
	}
	return append(env, w.extraEnv...)
}

// command is sysinit with args, run in the repo.
func (w *world) command(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(bin.sysinit, args...)
	cmd.Dir = w.repo
	cmd.Env = w.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if w.credential != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: w.credential}
	}
	return cmd, &stdout, &stderr
}

// outcome is how a sysinit process ended.
type outcome struct {
	code           int            // exit code; -1 when a signal ended it
	signal         syscall.Signal // the signal that ended it, if one did
	stdout, stderr string
}

func (o outcome) String() string {
	how := fmt.Sprintf("exit %d", o.code)
	if o.signal != 0 {
		how = "killed by " + o.signal.String()
	}
	return fmt.Sprintf("%s; stderr: %s", how, tail(o.stderr, 6))
}

// panicked reports whether the Go runtime reported a panic or fatal error.
func (o outcome) panicked() bool {
	return strings.Contains(o.stderr, "panic:") || strings.Contains(o.stderr, "fatal error:") ||
		strings.Contains(o.stderr, "goroutine ") && strings.Contains(o.stderr, "[running]")
}

func outcomeOf(err error, stdout, stderr *bytes.Buffer) outcome {
	o := outcome{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		o.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			o.signal = ws.Signal()
		}
	default:
		o.code = -2
		o.stderr += "\n(test: " + err.Error() + ")"
	}
	return o
}

// run runs sysinit to its end; a run that takes over two minutes is
// killed and reported as hung.
func (w *world) run(args ...string) outcome {
	cmd, stdout, stderr := w.command(args...)
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("starting sysinit: %v", err)
	}
	return waitFor(cmd, stdout, stderr, 2*time.Minute)
}

func waitFor(cmd *exec.Cmd, stdout, stderr *bytes.Buffer, limit time.Duration) outcome {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return outcomeOf(err, stdout, stderr)
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		o := outcomeOf(nil, stdout, stderr)
		o.code = -3
		o.stderr += fmt.Sprintf("\n(test: hung for %s, killed)", limit)
		return o
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// planStep is one step of `sysinit plan --json`.
type planStep struct {
	Name    string `json:"name"`
	Action  string `json:"action"`
	Reasons []struct {
		Kind string `json:"kind"`
	} `json:"reasons"`
}

// upToDate returns the steps `sysinit plan` would skip as up to date: those
// whose recorded success matches their inputs and definition now.
func (w *world) upToDate() (map[string]bool, outcome) {
	o := w.run("plan", "--json")
	if o.code != 0 {
		return nil, o
	}
	var p struct{ Steps []planStep }
	if err := json.Unmarshal([]byte(o.stdout), &p); err != nil {
		o.code = -4
		o.stderr += "\n(test: reading plan --json: " + err.Error() + ")"
		return nil, o
	}
	out := map[string]bool{}
	for _, s := range p.Steps {
		if s.Action == "skip" && len(s.Reasons) > 0 && s.Reasons[0].Kind == "up-to-date" {
			out[s.Name] = true
		}
	}
	return out, o
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("SYSINIT_REQUIRE_ROOT") == "1" {
			t.Fatal("SYSINIT_REQUIRE_ROOT=1 but the suite is not running as root")
		}
		t.Skip("needs root (mounts, other users' files); run the suite as root, or set SYSINIT_REQUIRE_ROOT=1 to make this a failure")
	}
}

func requireLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc to find step processes: Linux only")
	}
}
