package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// describeMachine says what the figures were measured on. Nothing here
// can fail the bench: what cannot be found reads "unknown".
func describeMachine(ctx context.Context, goTask string) Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), CPU: cpuModel(ctx), Kernel: "unknown", Build: linkage()}
	if out := output(ctx, "uname", "-sr"); out != "" {
		m.Kernel = out
	}
	if _, err := exec.LookPath("nix"); err == nil {
		m.Nix = output(ctx, "nix", "--version")
	}
	if goTask != "" {
		m.GoTask = output(ctx, goTask, "--version")
	}
	return m
}

func cpuModel(ctx context.Context) string {
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	if out := output(ctx, "sysctl", "-n", "machdep.cpu.brand_string"); out != "" {
		return out
	}
	return "unknown"
}

// output is the first line a short command prints, or "".
func output(ctx context.Context, argv ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
	return line
}

// linkage says whether this binary was built with cgo (on Linux a binary
// linked with libc spends about a millisecond in the dynamic loader before
// main, which shows in every no-change figure) and with which build tags
// (noasm skips xxh3's CPU probe at start; README).
func linkage() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return buildFlags(bi.Settings)
}

func buildFlags(settings []debug.BuildSetting) string {
	var parts []string
	for _, s := range settings {
		switch {
		case s.Key == "CGO_ENABLED" && s.Value == "0":
			parts = append(parts, "CGO_ENABLED=0 (static)")
		case s.Key == "CGO_ENABLED":
			parts = append(parts, "CGO_ENABLED="+s.Value+" (linked with libc)")
		case s.Key == "-tags" && s.Value != "":
			parts = append(parts, "-tags "+s.Value)
		}
	}
	return strings.Join(parts, ", ")
}
