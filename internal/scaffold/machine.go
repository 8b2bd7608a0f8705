package scaffold

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
)

// HostName is the name nix-darwin and nixos-rebuild pick a configuration
// by: `scutil --get LocalHostName` on macOS (as darwin-rebuild asks),
// else the host name up to its first dot.
func HostName(ctx context.Context, run command.Runner, goos string) string {
	if goos == "darwin" {
		var out bytes.Buffer
		if err := run.Run(ctx, &command.Cmd{Argv: []string{"scutil", "--get", "LocalHostName"}, Stdout: &out}); err == nil {
			if h := strings.TrimSpace(out.String()); h != "" {
				return h
			}
		}
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// UserName is $USER, else the user sysinit runs as.
func UserName(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// ThisMachine gathers what init needs to know of this machine.
func ThisMachine(ctx context.Context, run command.Runner, goos string, getenv func(string) string) Machine {
	m := Machine{GOOS: goos, Exec: run, User: UserName(getenv)}
	m.Host = HostName(ctx, run, goos)
	m.NoNixWhy = "nix is not installed"
	if nix, err := exec.LookPath("nix"); err == nil {
		if abs, err := filepath.Abs(nix); err == nil {
			m.Nix, m.NoNixWhy = abs, ""
		}
	}
	if goos == "linux" {
		for _, p := range []string{getenv("HOMEBREW_PREFIX"), "/home/linuxbrew/.linuxbrew"} {
			if p == "" {
				continue
			}
			if fi, err := os.Stat(filepath.Join(p, "bin", "brew")); err == nil && fi.Mode()&0o111 != 0 {
				m.Linuxbrew = true
			}
		}
	}
	return m
}
