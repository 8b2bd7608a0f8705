package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/bench"
)

type benchOptions struct {
	sizes         []int
	scenarios     []string
	runs, warmup  int
	scale         float64
	latencies     []string
	latencyFile   string
	goTask        string
	realNix       string
	json, md      bool
	svg           string
	workDir       string
	keep, noCache bool
	from          string
}

func (a *app) newBench() *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure sysinit against the old refresh, go-task and the floor",
		Long: `Measure whole refreshes on generated config repos (a nix-darwin flake, a
Brewfile, nix.custom.conf and dotfiles) with stand-in package managers whose
latencies are set from published figures, against the old sequential refresh,
the plan's checksum snippet, go-task (with --go-task) and the floor (a find
that stats every file). Real nix is measured too when it is installed.

Scenarios: no-change, cosmetic (a comment edited), incremental (one module
changed), brewfile (one formula added), full (cold state, empty machine).
--scale shrinks every latency (the report says which it used).

Latency keys for --latency KEY=DURATION and --latencies FILE (TOML,
key = "duration"):
  ` + strings.Join(bench.LatencyKeys()[:7], ", ") + `,
  ` + strings.Join(bench.LatencyKeys()[7:], ", ") + `.

Generated repos are kept in $XDG_CACHE_HOME/sysinit/bench (--no-cache to
regenerate); everything else lives in a temp dir. See BENCHMARKS.md.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runBench(cmd, o) },
	}
	f := c.Flags()
	f.IntSliceVar(&o.sizes, "sizes", []int{2000, 20000}, "repo sizes, in files")
	f.StringSliceVar(&o.scenarios, "scenarios", bench.Scenarios, "scenarios to run")
	f.IntVar(&o.runs, "runs", 5, "timed runs of each tool per scenario")
	f.IntVar(&o.warmup, "warmup", 1, "untimed runs before them")
	f.Float64Var(&o.scale, "scale", 0.01, "multiply every stand-in latency by `S` (1 = the published figures)")
	f.StringArrayVar(&o.latencies, "latency", nil, "set one stand-in latency at scale 1, as `KEY=DURATION` (repeatable)")
	f.StringVar(&o.latencyFile, "latencies", "", "read stand-in latencies from a TOML `FILE`")
	f.StringVar(&o.goTask, "go-task", "", "compare with go-task: the `PATH` of a task binary")
	f.StringVar(&o.realNix, "real-nix", "auto", "measure real nix: auto (when installed), on, off")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.BoolVar(&o.md, "markdown", false, "print the report as Markdown (as in BENCHMARKS.md)")
	f.StringVar(&o.svg, "svg", "", "also draw the chart into `FILE`")
	f.StringVar(&o.workDir, "work-dir", "", "work in `DIR` instead of a new temp dir")
	f.BoolVar(&o.keep, "keep", false, "keep the work dir")
	f.BoolVar(&o.noCache, "no-cache", false, "generate the repos afresh instead of reusing cached ones")
	f.StringVar(&o.from, "report", "", "measure nothing: print the report saved by --json in `FILE` (as a table, --markdown, --svg)")
	c.AddCommand(a.newStandin())
	return c
}

// newStandin is the hidden entry point of the stand-in managers that
// bench puts on PATH: `sysinit bench __standin CONFIG NAME ARGS...`.
func (a *app) newStandin() *cobra.Command {
	return &cobra.Command{
		Use:                "__standin CONFIG NAME [ARGS...]",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := bench.Standin(args, a.stdin, a.stdout, a.stderr); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}

func (a *app) runBench(cmd *cobra.Command, o *benchOptions) error {
	if o.json && o.md {
		return usageError{fmt.Errorf("--json and --markdown: choose one")}
	}
	lat := bench.DefaultLatencies()
	if o.latencyFile != "" {
		if err := lat.LoadProfile(o.latencyFile); err != nil {
			return usageError{err}
		}
	}
	for _, kv := range o.latencies {
		if err := lat.Set(kv); err != nil {
			return usageError{err}
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the sysinit binary: %w", err)
	}
	goTask := o.goTask
	if goTask != "" {
		if goTask, err = filepath.Abs(goTask); err != nil {
			return fmt.Errorf("finding %s: %w", o.goTask, err)
		}
	}
	var rep *bench.Report
	if o.from != "" {
		data, err := os.ReadFile(o.from)
		if err != nil {
			return fmt.Errorf("reading the report: %w", err)
		}
		rep = &bench.Report{}
		if err := json.Unmarshal(data, rep); err != nil {
			return fmt.Errorf("reading the report %s: %w", o.from, err)
		}
	} else {
		cache := ""
		if !o.noCache {
			dir, err := a.xdgDir("XDG_CACHE_HOME", ".cache")
			if err != nil {
				return err
			}
			cache = filepath.Join(dir, "sysinit", "bench")
			if err := os.MkdirAll(cache, 0o755); err != nil {
				return fmt.Errorf("creating the bench cache: %w", err)
			}
		}
		progress := func(s string) { fmt.Fprintln(a.stderr, "bench: "+s) }
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		// Stop between processes on Ctrl-C, so the work dir is removed.
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		rep, err = bench.Run(ctx, bench.Options{
			Self: self, Version: version(), Command: "sysinit " + strings.Join(os.Args[1:], " "),
			Sizes: o.sizes, Scenarios: o.scenarios, Runs: o.runs, Warmup: o.warmup, Scale: o.scale,
			Latencies: lat, GoTask: goTask, RealNix: o.realNix, WorkDir: o.workDir, Keep: o.keep,
			CacheDir: cache, Environ: os.Environ(), Progress: progress,
		})
		if err != nil {
			return err
		}
	}
	if o.svg != "" {
		f, err := os.Create(o.svg)
		if err != nil {
			return fmt.Errorf("writing the chart: %w", err)
		}
		werr := rep.WriteSVG(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("writing the chart: %w", werr)
		}
	}
	switch {
	case o.json:
		return rep.WriteJSON(a.stdout)
	case o.md:
		return rep.WriteMarkdown(a.stdout)
	}
	return rep.WriteText(a.stdout)
}
