package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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
var StandinNames = []string{"nix", "nix-env", "nix-store", "darwin-rebuild", "brew", "launchctl", "sudo"}

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
	RealBin       string    `json:"real_bin,omitempty"`    // where `timed` finds the real program
	FleetHosts    string    `json:"fleet_hosts,omitempty"` // the machines the stand-in ssh reaches, one directory each
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
	logged := false
	logCall := func(code int) {
		if logged {
			return
		}
		logged = true
		call.End, call.Exit, call.Slept = time.Now().UnixNano(), code, int64(s.slept)
		if err := appendCall(cfg.Log, call); err != nil {
			fmt.Fprintln(stderr, "stand-in:", err)
		}
	}
	s.logNow = logCall
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
	// logNow logs the call before the stand-in ends: for an ssh master,
	// whose latency is its start, not its end at the session's close.
	logNow func(code int)
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
	case "nix-store":
		return s.nixStore(args)
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
	case "ssh":
		return s.ssh(args)
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
	return s.pass(cmd, "running "+args[0])
}

// pass runs cmd on the stand-in's own stdin, stdout and stderr and exits
// as it did.
func (s *standin) pass(cmd *exec.Cmd, what string) int {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdin, s.stdout, s.stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return s.fail("%s: %v", what, err)
}

// ---- nix ----

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
