package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/bench"
	"github.com/sysinit/sysinit/internal/cli"
)

// BenchmarkNoChangeRefresh is a whole no-change `sysinit refresh`, in
// process, of the bench repo's four steps (flake-update, a file, a
// nix-darwin system, a Brewfile) on 2,000 and 20,000 files: load the
// config, open the store, plan (stat every input, probe the active
// system and Homebrew), record nothing. Profile it with
//
//	go test -run '^$' -bench NoChangeRefresh/2000 -cpuprofile cpu.out ./internal/bench/
func BenchmarkNoChangeRefresh(b *testing.B) {
	for n, fx := range fixtures(b) {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			useEnv(b, fx)
			before, err := bench.ReadCalls(fx.Log)
			if err != nil {
				b.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := cli.Main([]string{"refresh", "-C", fx.Repo, "--json"}, nil, &out, &errOut); code != 0 || strings.Contains(out.String(), `"step-start"`) {
				b.Fatalf("not a no-change refresh (exit %d):\n%s%s", code, out.String(), errOut.String())
			}
			b.ReportAllocs()
			for b.Loop() {
				if code := cli.Main([]string{"refresh", "-C", fx.Repo, "--progress=never"}, nil, io.Discard, &errOut); code != 0 {
					b.Fatalf("refresh exited %d: %s", code, errOut.String())
				}
			}
			after, err := bench.ReadCalls(fx.Log)
			if err != nil {
				b.Fatal(err)
			}
			if len(after) != len(before) {
				b.Fatalf("no-change refreshes started %d stand-ins", len(after)-len(before))
			}
		})
	}
}

// BenchmarkCosmeticRefresh is a whole `sysinit refresh`, in process, after
// a comment was edited in one module: the system step evaluates (a
// stand-in nix with no latency) and finds nothing to switch. Each
// iteration edits the comment anew, so it measures what sysinit adds to
// nix's own work on a real but inconsequential change: the scan, hashing
// the edited file, re-deciding, starting nix, recording the new manifest.
func BenchmarkCosmeticRefresh(b *testing.B) {
	for n, fx := range fixtures(b) {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			useEnv(b, fx)
			var errOut bytes.Buffer
			b.ReportAllocs()
			edit := 0
			for b.Loop() {
				b.StopTimer()
				edit++
				if err := fx.EditComment(edit); err != nil {
					b.Fatal(err)
				}
				var out bytes.Buffer
				b.StartTimer()
				if code := cli.Main([]string{"refresh", "-C", fx.Repo, "--json"}, nil, &out, &errOut); code != 0 {
					b.Fatalf("refresh exited %d: %s", code, errOut.String())
				}
				b.StopTimer()
				if !strings.Contains(out.String(), "nothing built or switched") {
					b.Fatalf("the edit did not evaluate to the same system:\n%s", out.String())
				}
				b.StartTimer()
			}
		})
	}
}

// fixtures yields the bench repos of 2,000 and 20,000 files (2,000 only
// under -short), each refreshed until nothing is left to do.
func fixtures(b *testing.B) iter.Seq2[int, *bench.Fixture] {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed; the bench repos are git repositories")
	}
	exe := self(b)
	sizes := []int{2000, 20000}
	if testing.Short() {
		b.Log("-short: the 2,000-file repo only")
		sizes = sizes[:1]
	}
	return func(yield func(int, *bench.Fixture) bool) {
		for _, n := range sizes {
			fx, err := bench.NewFixture(context.Background(), b.TempDir(), n, exe, os.Environ(), bench.Latencies{})
			if err != nil {
				b.Fatal(err)
			}
			if !yield(n, fx) {
				return
			}
		}
	}
}

// useEnv sets the fixture's environment, which sysinit reads in process.
func useEnv(b *testing.B, fx *bench.Fixture) {
	for _, kv := range fx.Env {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
}

// BenchmarkNoChangeEntry is a whole no-change `sysinit plan` and
// `sysinit refresh`, in process, of a flake of three configurations in a
// 2,000-file repo: with entry (each step analyses its import graph from
// the stored edge cache and the stat cache's hashes, reading no file) and
// with the whole flake as each step's input, as without entry. Then, in
// "entry-reads-whole", the module every host shares uses self as a value,
// so entry narrows nothing: what it costs then.
func BenchmarkNoChangeEntry(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed; the bench repos are git repositories")
	}
	fx, err := bench.NewHostsFixture(context.Background(), b.TempDir(), 2000, self(b), os.Environ(), bench.Latencies{})
	if err != nil {
		b.Fatal(err)
	}
	useEnv(b, fx)
	run := func(name string, args ...string) {
		for _, cmd := range []string{"plan", "refresh"} {
			args := append(append([]string{"-C", fx.Repo}, args...), cmd)
			b.Run(cmd+"/"+name, func(b *testing.B) {
				var out, errOut bytes.Buffer
				if code := cli.Main(append(args, "--json"), nil, &out, &errOut); code != 0 || strings.Contains(out.String(), `"action": "run"`) || strings.Contains(out.String(), `"step-start"`) {
					b.Fatalf("not a no-change %s (exit %d):\n%s%s", cmd, code, out.String(), errOut.String())
				}
				b.ReportAllocs()
				for b.Loop() {
					if code := cli.Main(args, nil, io.Discard, &errOut); code != 0 {
						b.Fatalf("%s exited %d: %s", cmd, code, errOut.String())
					}
				}
			})
		}
	}
	run("entry")
	run("whole", "--config", bench.WholeConfig)
	if err := fx.ShareSelf(context.Background()); err != nil {
		b.Fatal(err)
	}
	run("entry-reads-whole")
}
