package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The stand-in managers are part of the sysinit binary, so that `sysinit
// bench` needs nothing but itself: bench writes tiny wrappers
//
//	#!/bin/sh
//	exec '/path/to/sysinit' bench __standin '/bench/standin.json' nix "$@"
//
// into a bin directory it puts first on PATH. Each stand-in sleeps its
// latency, touches the files the real tool would (a fake store, profile
// generations, Homebrew's Cellar) so that sysinit's probes read real
// state, and appends one line to the call log.

// StandinNames are the programs bench stands in for.
var StandinNames = []string{"nix", "nix-env", "darwin-rebuild", "brew", "launchctl", "sudo"}

// standinConfig is what every stand-in reads: where things are and how
// long each command takes (already scaled).
type standinConfig struct {
	Log           string    `json:"log"`
	Self          string    `json:"self"` // the sysinit binary
	Path          string    `json:"path"` // this file
	Store         string    `json:"store"`
	CurrentSystem string    `json:"current_system"`
	Profile       string    `json:"profile"` // the system profile darwin-rebuild sets
	BrewPrefix    string    `json:"brew_prefix"`
	Latency       Latencies `json:"latency"`
	RealBin       string    `json:"real_bin,omitempty"` // where `timed` finds the real program
}

func loadStandinConfig(path string) (*standinConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading stand-in config: %w", err)
	}
	var c standinConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("reading stand-in config %s: %w", path, err)
	}
	return &c, nil
}

func (c *standinConfig) write() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding stand-in config: %w", err)
	}
	return writeFileAtomic(c.Path, data, 0o644)
}

// Call is one line of the stand-in call log.
type Call struct {
	Name  string   `json:"name"`
	Argv  []string `json:"argv"`
	Start int64    `json:"start_ns"` // Unix ns, when the stand-in started
	End   int64    `json:"end_ns"`
	Exit  int      `json:"exit"`
	Slept int64    `json:"slept_ns"` // of which latency slept
}

// Standin runs one stand-in: args are CONFIG NAME ARGS... It returns the
// exit code the real program would.
func Standin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	start := time.Now()
	if len(args) < 2 {
		fmt.Fprintln(stderr, "usage: sysinit bench __standin CONFIG NAME [ARGS...]")
		return 2
	}
	cfg, err := loadStandinConfig(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "stand-in:", err)
		return 2
	}
	s := &standin{cfg: cfg, stdin: stdin, stdout: stdout, stderr: stderr}
	name, rest := args[1], args[2:]
	call := Call{Name: name, Argv: rest, Start: start.UnixNano()}
	if name == "timed" && len(rest) > 0 {
		call.Name, call.Argv = "real "+rest[0], rest[1:]
	}
	logCall := func(code int) {
		call.End, call.Exit, call.Slept = time.Now().UnixNano(), code, int64(s.slept)
		if err := appendCall(cfg.Log, call); err != nil {
			fmt.Fprintln(stderr, "stand-in:", err)
		}
	}
	if name == "sudo" {
		// sudo becomes the program it runs: log it now.
		logCall(0)
		return s.sudo(rest)
	}
	code := s.run(name, rest)
	logCall(code)
	return code
}

func appendCall(path string, c Call) error {
	line, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding call: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening call log: %w", err)
	}
	// One write with O_APPEND: concurrent stand-ins never interleave lines.
	_, werr := f.Write(append(line, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("writing call log: %w", werr)
	}
	return nil
}

// ReadCalls reads a stand-in call log; a missing log is no calls.
func ReadCalls(path string) ([]Call, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading call log: %w", err)
	}
	var calls []Call
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var c Call
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("reading call log line %d: %w", i+1, err)
		}
		calls = append(calls, c)
	}
	return calls, nil
}

type standin struct {
	cfg            *standinConfig
	stdin          io.Reader
	stdout, stderr io.Writer
	slept          time.Duration // latency spent, for projections to other scales
}

func (s *standin) sleep(d time.Duration) {
	time.Sleep(d)
	s.slept += d
}

func (s *standin) fail(format string, a ...any) int {
	fmt.Fprintf(s.stderr, "error: "+format+"\n", a...)
	return 1
}

func (s *standin) run(name string, args []string) int {
	switch name {
	case "nix":
		return s.nix(args)
	case "nix-env":
		return s.nixEnv(args)
	case "darwin-rebuild":
		return s.darwinRebuild(args)
	case "activate":
		if len(args) != 1 {
			return s.fail("usage: activate OUT")
		}
		return s.activate(args[0])
	case "brew":
		return s.brew(args)
	case "launchctl":
		if len(args) > 0 && args[0] == "kickstart" {
			s.sleep(s.cfg.Latency.DaemonRestart)
		}
		return 0
	case "timed":
		return s.timed(args)
	case "noop":
		return 0
	}
	return s.fail("stand-in %q does not exist", name)
}

// sudo runs its command as the same user: bench never elevates. It reads
// the flags sysinit and the old refresh use.
func (s *standin) sudo(args []string) int {
	validate := false
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			args = args[1:]
			goto run
		case a == "-u" || a == "-p" || a == "-g":
			if len(args) < 2 {
				return s.fail("sudo: option %s needs a value", a)
			}
			args = args[2:]
		case a == "-v":
			validate = true
			args = args[1:]
		case strings.HasPrefix(a, "-"):
			args = args[1:] // -n, -H, -E, -S …
		default:
			goto run
		}
	}
run:
	if len(args) == 0 {
		if validate {
			return 0
		}
		return s.fail("sudo: no command")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return s.fail("sudo: %s: command not found", args[0])
	}
	err = syscall.Exec(path, args, os.Environ())
	return s.fail("sudo: running %s: %v", args[0], err)
}

// timed runs the real program args[0] from RealBin, so that the time real
// nix spends inside a sysinit run can be subtracted from it.
func (s *standin) timed(args []string) int {
	if len(args) == 0 || s.cfg.RealBin == "" {
		return s.fail("timed: no program")
	}
	cmd := exec.Command(filepath.Join(s.cfg.RealBin, args[0]), args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdin, s.stdout, s.stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return s.fail("running %s: %v", args[0], err)
}

// ---- nix ----

func (s *standin) nix(args []string) int {
	if len(args) == 0 {
		return s.fail("nix: no command")
	}
	switch args[0] {
	case "--version":
		fmt.Fprintln(s.stdout, "nix (Nix) 2.18.1")
		return 0
	case "eval":
		return s.nixEval(args[1:])
	case "build":
		return s.nixBuild(args[1:])
	case "flake":
		return s.nixFlake(args[1:])
	case "store":
		if len(args) == 4 && args[1] == "diff-closures" {
			return s.diffClosures(args[2], args[3])
		}
	}
	return s.fail("nix stand-in: unsupported command: nix %s", strings.Join(args, " "))
}

// positional drops nix's flags (and the values of those that take one)
// and returns the rest.
func positional(args []string) []string {
	withValue := map[string]bool{"--log-format": true, "--max-jobs": true, "--cores": true, "--apply": true, "--option": true, "-j": true, "--override-input": true, "--update-input": true, "--flake": true}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case withValue[a]:
			i++
			if a == "--option" || a == "--override-input" {
				i++
			}
		case strings.HasPrefix(a, "-"):
		default:
			out = append(out, a)
		}
	}
	return out
}

// splitInstallable splits "DIR#ATTR" into the flake directory and the
// attribute path.
func splitInstallable(inst string) (dir, attr string, err error) {
	base, attr, ok := strings.Cut(inst, "#")
	if !ok || attr == "" {
		return "", "", fmt.Errorf("installable %q names no attribute", inst)
	}
	base, _, _ = strings.Cut(base, "?")
	base = strings.TrimPrefix(base, "path:")
	base = strings.TrimPrefix(base, "git+file://")
	if dir, err = filepath.Abs(base); err != nil {
		return "", "", fmt.Errorf("installable %q: %w", inst, err)
	}
	return dir, attr, nil
}

func (s *standin) nixEval(args []string) int {
	pos := positional(args)
	if len(pos) != 1 {
		return s.fail("nix eval stand-in: want one installable, got %q", pos)
	}
	dir, attr, err := splitInstallable(pos[0])
	if err != nil {
		return s.fail("%v", err)
	}
	attr, ok := strings.CutSuffix(attr, ".outPath")
	if !ok {
		return s.fail("nix eval stand-in: only .outPath of a system is supported, not %q", attr)
	}
	s.sleep(s.cfg.Latency.Eval)
	cl, err := evalClosure(s.cfg.Store, dir, attr)
	if err != nil {
		return s.fail("%v", err)
	}
	fmt.Fprint(s.stdout, cl.system)
	return 0
}

func (s *standin) nixBuild(args []string) int {
	pos := positional(args)
	if len(pos) != 1 {
		return s.fail("nix build stand-in: want one installable, got %q", pos)
	}
	dir, attr, err := splitInstallable(pos[0])
	if err != nil {
		return s.fail("%v", err)
	}
	internalJSON := false
	for i, a := range args {
		if a == "--log-format" && i+1 < len(args) && args[i+1] == "internal-json" {
			internalJSON = true
		}
	}
	out, err := s.realise(dir, attr, internalJSON)
	if err != nil {
		return s.fail("%v", err)
	}
	res := []map[string]any{{"drvPath": strings.TrimSuffix(out, "-"+filepath.Base(out)) + ".drv", "outputs": map[string]string{"out": out}}}
	data, err := json.Marshal(res)
	if err != nil {
		return s.fail("encoding build result: %v", err)
	}
	fmt.Fprintln(s.stdout, string(data))
	return 0
}

// realise evaluates, then builds every module and the system that are not
// in the store yet, as nix would.
func (s *standin) realise(dir, attr string, internalJSON bool) (string, error) {
	s.sleep(s.cfg.Latency.Eval)
	cl, err := evalClosure(s.cfg.Store, dir, attr)
	if err != nil {
		return "", err
	}
	id := 1
	build := func(path string, d time.Duration, files map[string]string) error {
		if _, err := os.Lstat(path); err == nil {
			return nil
		}
		if internalJSON {
			fmt.Fprintf(s.stderr, "@nix {\"action\":\"start\",\"id\":%d,\"level\":3,\"type\":105,\"text\":\"building '%s.drv'\",\"fields\":[\"%s.drv\",\"\",1,1]}\n", id, path, path)
		}
		s.sleep(d)
		if err := writeStorePath(path, files); err != nil {
			return err
		}
		if internalJSON {
			fmt.Fprintf(s.stderr, "@nix {\"action\":\"stop\",\"id\":%d}\n", id)
		}
		id++
		return nil
	}
	for _, m := range cl.modules {
		if err := build(m, s.cfg.Latency.BuildModule, map[string]string{"module": filepath.Base(m) + "\n"}); err != nil {
			return "", err
		}
	}
	activate := fmt.Sprintf("#!/bin/sh\nexec %s bench __standin %s activate %s\n", shQuote(s.cfg.Self), shQuote(s.cfg.Path), shQuote(cl.system))
	closure := strings.Join(cl.modules, "\n") + "\n"
	if err := build(cl.system, s.cfg.Latency.BuildSystem, map[string]string{"activate": activate, "closure": closure}); err != nil {
		return "", err
	}
	return cl.system, nil
}

// writeStorePath creates a store directory whole: written aside, then
// renamed into place.
func writeStorePath(path string, files map[string]string) error {
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "activate" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), mode); err != nil {
			return fmt.Errorf("creating %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.RemoveAll(tmp)
		if _, serr := os.Lstat(path); serr == nil {
			return nil // built at the same time by another stand-in
		}
		return fmt.Errorf("creating %s: %w", path, err)
	}
	return nil
}

func (s *standin) nixFlake(args []string) int {
	if len(args) == 0 || (args[0] != "update" && args[0] != "lock") {
		return s.fail("nix flake stand-in: unsupported: nix flake %s", strings.Join(args, " "))
	}
	dir := "."
	if pos := positional(args[1:]); len(pos) > 0 && (args[0] == "lock" || strings.ContainsAny(pos[0], "/.")) {
		dir = pos[0]
	}
	s.sleep(s.cfg.Latency.FlakeUpdate)
	// The inputs did not move: the lock stays as it is, as nix leaves it.
	lock := filepath.Join(dir, "flake.lock")
	if _, err := os.Stat(lock); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(lock, []byte(flakeLock(0)), 0o644); err != nil {
			return s.fail("writing flake.lock: %v", err)
		}
	}
	return 0
}

func (s *standin) diffClosures(a, b string) int {
	s.sleep(s.cfg.Latency.DiffClosures)
	read := func(p string) map[string]bool {
		m := map[string]bool{}
		data, _ := os.ReadFile(filepath.Join(p, "closure"))
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	old, cur := read(a), read(b)
	var lines []string
	for p := range cur {
		if !old[p] {
			lines = append(lines, moduleName(p)+": +4.0 KiB")
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(s.stdout, l)
	}
	return 0
}

func moduleName(storePath string) string {
	b := filepath.Base(storePath)
	if i := strings.IndexByte(b, '-'); i >= 0 {
		b = b[i+1:]
	}
	return b
}

// nixEnv handles `nix-env -p PROFILE --set OUT`: a new generation link and
// the profile pointed at it, as nix-env does.
func (s *standin) nixEnv(args []string) int {
	var profile, out string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-p", "--profile":
			if i+1 < len(args) {
				profile = args[i+1]
				i++
			}
		case "--set":
			if i+1 < len(args) {
				out = args[i+1]
				i++
			}
		}
	}
	if profile == "" || out == "" {
		return s.fail("nix-env stand-in: only -p PROFILE --set OUT is supported")
	}
	s.sleep(s.cfg.Latency.ProfileSet)
	if err := setProfile(profile, out); err != nil {
		return s.fail("%v", err)
	}
	return 0
}

var generationRE = regexp.MustCompile(`^(.*)-(\d+)-link$`)

func setProfile(profile, out string) error {
	dir, base := filepath.Split(profile)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating profile directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading profile directory: %w", err)
	}
	gen := 0
	for _, e := range ents {
		if m := generationRE.FindStringSubmatch(e.Name()); m != nil && m[1] == base {
			if n, _ := strconv.Atoi(m[2]); n > gen {
				gen = n
			}
		}
	}
	link := fmt.Sprintf("%s-%d-link", base, gen+1)
	if err := os.Symlink(out, filepath.Join(dir, link)); err != nil {
		return fmt.Errorf("creating generation %d: %w", gen+1, err)
	}
	return replaceSymlink(link, profile)
}

// replaceSymlink points link at target atomically.
func replaceSymlink(target, link string) error {
	tmp := link + ".tmp-" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("linking %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("linking %s: %w", link, err)
	}
	return nil
}

func (s *standin) activate(out string) int {
	s.sleep(s.cfg.Latency.Activate)
	if err := os.MkdirAll(filepath.Dir(s.cfg.CurrentSystem), 0o755); err != nil {
		return s.fail("activating: %v", err)
	}
	if err := replaceSymlink(out, s.cfg.CurrentSystem); err != nil {
		return s.fail("activating: %v", err)
	}
	fmt.Fprintln(s.stdout, "setting up /run/current-system...")
	return 0
}

// darwinRebuild is `darwin-rebuild switch --flake REF`: build, set the
// system profile, activate — in one process, as the real one is one
// script.
func (s *standin) darwinRebuild(args []string) int {
	if len(args) == 0 || args[0] != "switch" {
		return s.fail("darwin-rebuild stand-in: only switch is supported")
	}
	ref := ""
	for i := 1; i < len(args); i++ {
		if args[i] == "--flake" && i+1 < len(args) {
			ref = args[i+1]
		}
	}
	base, name, ok := strings.Cut(ref, "#")
	if !ok || name == "" {
		return s.fail("darwin-rebuild stand-in: --flake DIR#HOST is required")
	}
	dir, err := filepath.Abs(base)
	if err != nil {
		return s.fail("%v", err)
	}
	fmt.Fprintln(s.stdout, "building the system configuration...")
	out, err := s.realise(dir, "darwinConfigurations."+name+".system", false)
	if err != nil {
		return s.fail("%v", err)
	}
	s.sleep(s.cfg.Latency.ProfileSet)
	if err := setProfile(s.cfg.Profile, out); err != nil {
		return s.fail("%v", err)
	}
	return s.activate(out)
}

// ---- the closure a flake evaluates to ----

type closure struct {
	system  string   // store path of the system
	modules []string // store paths of the module derivations
}

// evalClosure computes the store paths of a flake's system, the way the
// bench repo's flake is built: one derivation per file under modules/
// (depending on flake.lock, as nixpkgs does), and the system from those,
// flake.nix and hosts/. Comments and blank space in .nix files do not
// change a store path; the name of the attribute does.
func evalClosure(store, dir, attr string) (closure, error) {
	var cl closure
	flake, err := os.ReadFile(filepath.Join(dir, "flake.nix"))
	if err != nil {
		return cl, fmt.Errorf("path '%s' does not contain a 'flake.nix': %w", dir, err)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "flake.lock"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cl, fmt.Errorf("reading flake.lock: %w", err)
	}
	lockSum := sha256.Sum256(lock)
	sys := sha256.New()
	fmt.Fprintf(sys, "attr %s\nflake %s\n", attr, stripNix(flake))
	for _, sub := range []string{"hosts", "modules"} {
		var files []string
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return cl, fmt.Errorf("reading %s: %w", sub, err)
		}
		sort.Strings(files)
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				return cl, fmt.Errorf("reading %s: %w", p, err)
			}
			rel, _ := filepath.Rel(dir, p)
			if strings.HasSuffix(p, ".nix") {
				data = stripNix(data)
			}
			if sub == "hosts" {
				fmt.Fprintf(sys, "host %s %x\n", rel, sha256.Sum256(data))
				continue
			}
			h := sha256.New()
			fmt.Fprintf(h, "%s\n%x\n", rel, lockSum)
			h.Write(data)
			name := "bench-" + strings.NewReplacer("/", "-", ".", "-").Replace(strings.TrimPrefix(rel, "modules/")) + "-1.0"
			m := filepath.Join(store, nixBase32(h.Sum(nil))+"-"+name)
			cl.modules = append(cl.modules, m)
			fmt.Fprintf(sys, "module %s\n", m)
		}
	}
	cl.system = filepath.Join(store, nixBase32(sys.Sum(nil))+"-darwin-system-25.05.1")
	return cl, nil
}

// stripNix removes comments and collapses blank space in nix source,
// outside double-quoted strings.
func stripNix(src []byte) []byte {
	var out bytes.Buffer
	inStr, space := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inStr {
			out.WriteByte(c)
			switch c {
			case '\\':
				if i+1 < len(src) {
					i++
					out.WriteByte(src[i])
				}
			case '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			space = true
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := bytes.Index(src[i+2:], []byte("*/"))
			if end < 0 {
				i = len(src)
			} else {
				i += end + 3
			}
			space = true
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			continue
		}
		if space && out.Len() > 0 {
			out.WriteByte(' ')
		}
		space = false
		if c == '"' {
			inStr = true
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}

// nixBase32 encodes the first 20 bytes of sum with nix's alphabet, giving
// a 32-character store hash.
func nixBase32(sum []byte) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	b := sum[:20]
	var out [32]byte
	for n := 0; n < 32; n++ {
		bit := n * 5
		i, j := bit/8, bit%8
		v := uint(b[i]) >> j
		if i+1 < len(b) {
			v |= uint(b[i+1]) << (8 - j)
		}
		out[31-n] = alphabet[v&0x1f]
	}
	return string(out[:])
}

// ---- brew ----

var brewLineRE = regexp.MustCompile(`^\s*(tap|brew|cask)\s*\(?\s*["']([^"']+)["']`)

type brewEntry struct{ kind, name string }

func readBrewfile(path string) ([]brewEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading Brewfile: %w", err)
	}
	defer f.Close()
	var out []brewEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := brewLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := strings.ToLower(m[2])
		if m[1] != "tap" {
			name = name[strings.LastIndexByte(name, '/')+1:]
		}
		out = append(out, brewEntry{m[1], name})
	}
	return out, sc.Err()
}

func (s *standin) brewDir(e brewEntry) string {
	p := s.cfg.BrewPrefix
	switch e.kind {
	case "brew":
		return filepath.Join(p, "Cellar", e.name)
	case "cask":
		return filepath.Join(p, "Caskroom", e.name)
	}
	user, repo, _ := strings.Cut(e.name, "/")
	return filepath.Join(p, "Library", "Taps", user, "homebrew-"+strings.TrimPrefix(repo, "homebrew-"))
}

func (s *standin) brew(args []string) int {
	if len(args) == 0 {
		return s.fail("brew stand-in: no command")
	}
	switch args[0] {
	case "update":
		s.sleep(s.cfg.Latency.BrewUpdate)
		if err := touch(filepath.Join(s.cfg.BrewPrefix, ".git", "FETCH_HEAD")); err != nil {
			return s.fail("%v", err)
		}
		fmt.Fprintln(s.stdout, "Already up-to-date.")
		return 0
	case "--prefix":
		fmt.Fprintln(s.stdout, s.cfg.BrewPrefix)
		return 0
	case "--version":
		fmt.Fprintln(s.stdout, "Homebrew 4.6.0")
		return 0
	case "bundle":
		return s.bundle(args[1:])
	case "install":
		return s.brewInstall(args[1:])
	case "tap":
		return s.brewTap(args[1:])
	}
	return s.fail("Unknown command: brew %s", args[0])
}

// brewInstall is `brew install [--formula|--cask] NAME... [FLAG...]`, as
// sysinit's brew-bundle step calls it for what is missing: brew's start-up
// (about what bundle check costs) and then each package.
func (s *standin) brewInstall(args []string) int {
	kind := "brew"
	var names []string
	for _, a := range args {
		switch {
		case a == "--cask" || a == "--casks":
			kind = "cask"
		case a == "--formula" || a == "--formulae":
			kind = "brew"
		case strings.HasPrefix(a, "-"):
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		return s.fail("Invalid usage: This command requires at least 1 formula or cask argument.")
	}
	s.sleep(s.cfg.Latency.BrewCheck)
	for _, n := range names {
		name := strings.ToLower(n[strings.LastIndexByte(n, '/')+1:])
		if i := strings.LastIndexByte(n, '/'); i > 0 && strings.Count(n, "/") == 2 {
			if err := os.MkdirAll(s.brewDir(brewEntry{"tap", strings.ToLower(n[:i])}), 0o755); err != nil {
				return s.fail("tapping: %v", err)
			}
		}
		d := s.brewDir(brewEntry{kind, name})
		if isDir(d) {
			fmt.Fprintf(s.stderr, "Warning: %s is already installed and up-to-date.\n", name)
			continue
		}
		s.sleep(s.cfg.Latency.BrewInstallEach)
		if err := os.MkdirAll(filepath.Join(d, "1.0"), 0o755); err != nil {
			return s.fail("installing %s: %v", name, err)
		}
		fmt.Fprintf(s.stdout, "==> Installed %s\n", name)
	}
	return 0
}

// brewTap is `brew tap USER/REPO [URL]`; an installed tap is passed over.
func (s *standin) brewTap(args []string) int {
	if len(args) == 0 {
		return 0
	}
	d := s.brewDir(brewEntry{"tap", strings.ToLower(args[0])})
	if isDir(d) {
		return 0
	}
	s.sleep(s.cfg.Latency.BrewInstallEach)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return s.fail("tapping %s: %v", args[0], err)
	}
	return 0
}

func (s *standin) bundle(args []string) int {
	sub, file, force, cleanup := "install", "Brewfile", false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--file="):
			file = strings.TrimPrefix(a, "--file=")
		case a == "--file" && i+1 < len(args):
			file = args[i+1]
			i++
		case a == "--force" || a == "-f":
			force = true
		case a == "--cleanup":
			cleanup = true
		case strings.HasPrefix(a, "-"):
		default:
			sub = a
		}
	}
	want, err := readBrewfile(file)
	if err != nil {
		return s.fail("%v", err)
	}
	switch sub {
	case "check":
		s.sleep(s.cfg.Latency.BrewCheck)
		for _, e := range want {
			if !isDir(s.brewDir(e)) {
				fmt.Fprintln(s.stdout, "brew bundle can't satisfy your Brewfile's dependencies.")
				fmt.Fprintln(s.stdout, "Satisfy missing dependencies with `brew bundle install`.")
				return 1
			}
		}
		fmt.Fprintln(s.stdout, "The Brewfile's dependencies are satisfied.")
		return 0
	case "install", "upgrade":
		s.sleep(s.cfg.Latency.BrewInstall)
		n := 0
		for _, e := range want {
			d := s.brewDir(e)
			if isDir(d) {
				fmt.Fprintf(s.stdout, "Using %s\n", e.name)
				continue
			}
			fmt.Fprintf(s.stdout, "Installing %s\n", e.name)
			s.sleep(s.cfg.Latency.BrewInstallEach)
			if e.kind != "tap" {
				d = filepath.Join(d, "1.0")
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return s.fail("installing %s: %v", e.name, err)
			}
			n++
		}
		fmt.Fprintf(s.stdout, "`brew bundle` complete! %d Brewfile dependencies now installed.\n", len(want))
		if cleanup {
			return s.bundleCleanup(want, true)
		}
		return 0
	case "cleanup":
		return s.bundleCleanup(want, force)
	}
	return s.fail("unknown subcommand: %s", sub)
}

func (s *standin) bundleCleanup(want []brewEntry, force bool) int {
	s.sleep(s.cfg.Latency.BrewCleanup)
	keep := map[string]bool{}
	for _, e := range want {
		keep[s.brewDir(e)] = true
	}
	var extra []string
	for _, sub := range []string{"Cellar", "Caskroom"} {
		ents, err := os.ReadDir(filepath.Join(s.cfg.BrewPrefix, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.fail("%v", err)
		}
		for _, e := range ents {
			if p := filepath.Join(s.cfg.BrewPrefix, sub, e.Name()); !keep[p] {
				extra = append(extra, p)
			}
		}
	}
	if len(extra) == 0 {
		return 0
	}
	if !force {
		fmt.Fprintln(s.stdout, "Would uninstall formulae:")
		for _, p := range extra {
			fmt.Fprintln(s.stdout, filepath.Base(p))
		}
		fmt.Fprintln(s.stdout, "Run `brew bundle cleanup --force` to make these changes.")
		return 1
	}
	for _, p := range extra {
		if err := os.RemoveAll(p); err != nil {
			return s.fail("uninstalling %s: %v", filepath.Base(p), err)
		}
	}
	fmt.Fprintf(s.stdout, "Uninstalled %d formulae\n", len(extra))
	return 0
}

// ---- small file helpers ----

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func touch(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("touching %s: %w", p, err)
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); errors.Is(err, fs.ErrNotExist) {
		return os.WriteFile(p, nil, 0o644)
	} else if err != nil {
		return fmt.Errorf("touching %s: %w", p, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
