package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// The real-nix group: a tiny builtins-only flake (no nixpkgs) in a git
// repo, switched into a profile in the work dir by a nix-profile step.
// It shows sysinit's overhead against nix at its fastest: evaluating this
// flake takes real nix a few hundred milliseconds at most, where a
// nix-darwin system with nixpkgs takes seconds.

const realFlake = `{
  outputs = { self }: {
    sys = derivation {
      name = "bench-system-1.0";
      system = %q;
      builder = "/bin/sh";
      PATH = "/usr/bin:/bin";
      msg = import ./modules/msg.nix;
      args = [ "-c" "mkdir -p $out && echo \"$msg\" > $out/msg" ];
    };
  };
}
`

const realToml = `[steps.sys]
kind    = "nix-profile"
flake   = ".#sys"
profile = "../profiles/sys"
`

// nixSystem is nix's name for this platform.
func nixSystem() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return arch + "-" + runtime.GOOS
}

func runRealNix(ctx context.Context, o *Options, r *Report, work string) (*Group, error) {
	if o.RealNix == "off" {
		return nil, nil
	}
	nixPath, err := exec.LookPath("nix")
	if err != nil {
		if o.RealNix == "on" {
			return nil, errors.New("nix is not on PATH")
		}
		return nil, nil
	}
	real, err := filepath.EvalSymlinks(nixPath)
	if err != nil {
		return nil, fmt.Errorf("finding nix: %w", err)
	}
	root := filepath.Join(work, "realnix")
	m := &machine{root: root, repo: filepath.Join(root, "repo"), bin: filepath.Join(root, "bin"), home: filepath.Join(root, "home"), log: filepath.Join(root, "calls.log")}
	for _, d := range []string{m.bin, m.home, filepath.Join(root, "profiles"), filepath.Join(m.repo, "modules")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	m.cfg = &standinConfig{Log: m.log, Self: o.Self, Path: filepath.Join(root, "standin.json"), RealBin: filepath.Dir(real)}
	if err := m.cfg.write(); err != nil {
		return nil, err
	}
	// nix and nix-env behind a wrapper that times them, so that nix's own
	// time can be subtracted from sysinit's.
	for _, name := range []string{"nix", "nix-env"} {
		if err := writeWrapper(filepath.Join(m.bin, name), o.Self, m.cfg.Path, "timed "+name); err != nil {
			return nil, err
		}
	}
	if err := writeWrapper(filepath.Join(m.bin, "noop"), o.Self, m.cfg.Path, "noop"); err != nil {
		return nil, err
	}
	m.env = machineEnv(o.Environ, map[string]string{
		"HOME":           m.home,
		"XDG_CACHE_HOME": filepath.Join(m.home, ".cache"),
		"XDG_STATE_HOME": filepath.Join(m.home, ".local", "state"),
		"PATH":           m.bin + string(os.PathListSeparator) + lookupEnv(o.Environ, "PATH"),
		"NIX_CONFIG":     "extra-experimental-features = nix-command flakes\nwarn-dirty = false",
		"NO_COLOR":       "1",
	})
	files := map[string]string{
		"flake.nix":       fmt.Sprintf(realFlake, nixSystem()),
		"modules/msg.nix": "\"hello\"\n",
		"sysinit.toml":    realToml,
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := writeRepoFile(m.repo, p, files[p], 0o644); err != nil {
			return nil, err
		}
	}
	if err := gitInit(ctx, m.repo); err != nil {
		return nil, err
	}
	e := &sizeEnv{o: o, m: m, repo: m.repo, changed: time.Now(), label: "real nix", real: true,
		nixCmd: []string{nixPath, "build", "--no-link", m.repo + "#sys"}}
	if r.LaunchGap == 0 {
		if r.LaunchGap, err = e.measureLaunchGap(ctx); err != nil {
			return nil, err
		}
	}
	o.progress("real nix: first refresh (builds the flake)")
	if _, _, err := timed(ctx, m.repo, m.env, o.Self, "refresh", "--progress=never"); err != nil {
		return nil, err
	}
	tools := []string{ToolSysinit, ToolNixBuild}
	g := &Group{Label: "real nix, a builtins-only flake", Files: len(files), RealNix: true}
	for _, sc := range []*scenario{
		{name: NoChange, what: "nothing changed; `nix build` is the least the old refresh does",
			tools: tools, prepare: func(string, int) error { return nil }, expect: map[string]string{"sys": "skipped"}},
		{name: Cosmetic, what: "a comment edited: sysinit evaluates, nothing is built or switched",
			tools: tools, expect: map[string]string{"sys": "done:nothing built or switched"},
			prepare: func(_ string, n int) error {
				e.changed = time.Now()
				return writeRepoFile(m.repo, "modules/msg.nix", fmt.Sprintf("# edit %d\n\"hello\"\n", n), 0o644)
			}},
	} {
		if !slices.Contains(o.Scenarios, sc.name) {
			continue
		}
		res, err := e.run(ctx, sc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.name, err)
		}
		g.Scenarios = append(g.Scenarios, *res)
	}
	return g, nil
}
