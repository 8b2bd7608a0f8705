// Command floorcheck measures a no-change fingerprint scan against the floor
// it is held to: `find . -type f -printf '%T@ %s %p\n' | sha256sum` over the
// same tree, both timed as whole processes, so process start, cache load and
// digest comparison all count.
//
//	go run ./internal/fingerprint/internal/floorcheck [-n 30] [-sizes 2000,20000] [-dir DIR]
//
// It generates each tree (internal/treegen), waits out the racy window, primes
// the stat cache with one run, then alternates N runs of the floor and of
// itself in "scan" mode (LoadCache + Scan of four specs + compare digests with
// the primed ones), and prints median/min/max and the ratio of medians.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/fingerprint/internal/treegen"
)

var specs = []fingerprint.Spec{
	{Patterns: []string{"**"}},
	{Patterns: []string{"modules/**"}},
	{Patterns: []string{"**/*.conf"}},
	{Patterns: []string{"scripts/**", "!scripts/*.tmp"}},
}

const floorCmd = `find . -type f -printf '%T@ %s %p\n' | sha256sum`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "scan" {
		if err := scan(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floorcheck scan:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "noop" {
		return
	}
	n := flag.Int("n", 30, "timed runs of each command")
	sizes := flag.String("sizes", "2000,20000", "tree sizes, in files")
	dir := flag.String("dir", "", "where to build the trees (default: a new temp dir, removed after)")
	flag.Parse()
	if err := run(*n, *sizes, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "floorcheck:", err)
		os.Exit(1)
	}
}

// scan is one no-change refresh: root, cache file, digest file.
func scan(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: floorcheck scan ROOT CACHE DIGESTS")
	}
	root, cacheFile, digestFile := args[0], args[1], args[2]
	data, err := os.ReadFile(cacheFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	c, err := fingerprint.LoadCache(data)
	if err != nil {
		c = &fingerprint.Cache{}
	}
	s := &fingerprint.Scanner{Root: root, Cache: c}
	ms, err := s.Scan(context.Background(), specs)
	if err != nil {
		return err
	}
	var got bytes.Buffer
	for _, m := range ms {
		got.WriteString(m.Digest.String())
		got.WriteByte('\n')
	}
	want, err := os.ReadFile(digestFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.WriteFile(digestFile, got.Bytes(), 0o644); err != nil {
			return err
		}
	case err != nil:
		return err
	case !bytes.Equal(want, got.Bytes()):
		return fmt.Errorf("digests changed:\n%s\nwant\n%s", got.Bytes(), want)
	}
	if c.Changed() {
		out, err := c.MarshalBinary()
		if err != nil {
			return err
		}
		tmp := cacheFile + ".tmp"
		if err := os.WriteFile(tmp, out, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, cacheFile)
	}
	return nil
}

func run(n int, sizeList, dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "floorcheck-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	fmt.Printf("floor: sh -c %q; ours: LoadCache + Scan(%d specs) + compare digests; %d runs each, alternating\n\n", floorCmd, len(specs), n)
	fmt.Printf("%-7s %-9s %9s %9s %9s\n", "files", "what", "median", "min", "max")
	for _, f := range strings.Split(sizeList, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad size %q", f)
		}
		if err := measure(self, dir, size, n); err != nil {
			return err
		}
	}
	return nil
}

func measure(self, dir string, size, n int) error {
	tree := filepath.Join(dir, fmt.Sprintf("tree-%d", size))
	cacheFile := filepath.Join(dir, fmt.Sprintf("cache-%d", size))
	digestFile := filepath.Join(dir, fmt.Sprintf("digests-%d", size))
	if _, err := os.Stat(tree); errors.Is(err, fs.ErrNotExist) {
		if err := treegen.Generate(tree, size); err != nil {
			return err
		}
		// Files modified within the racy window are not cached; wait it out
		// so the timed runs are the steady no-change case.
		time.Sleep(2100 * time.Millisecond)
	}
	_ = os.Remove(digestFile)
	_ = os.Remove(cacheFile)
	ours := exec.Command(self, "scan", tree, cacheFile, digestFile)
	floor := exec.Command("sh", "-c", floorCmd)
	floor.Dir = tree
	noop := exec.Command(self, "noop")
	// Prime: the first run hashes everything and writes the cache; warm the
	// page cache for the floor too.
	for _, c := range []*exec.Cmd{ours, ours, floor, floor} {
		if _, err := runCmd(c); err != nil {
			return err
		}
	}
	before, err := os.Stat(cacheFile)
	if err != nil {
		return fmt.Errorf("priming did not write the cache: %w", err)
	}
	var tf, to, tn, cf, co []time.Duration
	for range n {
		for _, c := range []struct {
			cmd       *exec.Cmd
			wall, cpu *[]time.Duration
		}{{floor, &tf, &cf}, {ours, &to, &co}, {noop, &tn, nil}} {
			start := time.Now()
			cpu, err := runCmd(c.cmd)
			if err != nil {
				return err
			}
			*c.wall = append(*c.wall, time.Since(start))
			if c.cpu != nil {
				*c.cpu = append(*c.cpu, cpu)
			}
		}
	}
	after, err := os.Stat(cacheFile)
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		return errors.New("a timed run rewrote the cache: the runs were not all no-change")
	}
	mf, mo := report(size, "floor", tf), report(size, "ours", to)
	report(size, "noop", tn)
	ccf, cco := report(size, "floor cpu", cf), report(size, "ours cpu", co)
	fmt.Printf("%-7d ratio  %8.2fx wall, %.2fx cpu (ours/floor, medians)\n\n", size, float64(mo)/float64(mf), float64(cco)/float64(ccf))
	return nil
}

// runCmd runs a copy of c and returns the CPU time (user+sys) it and the
// children it waited for used.
func runCmd(c *exec.Cmd) (time.Duration, error) {
	cmd := exec.Command(c.Path, c.Args[1:]...)
	cmd.Dir = c.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w\n%s", strings.Join(c.Args, " "), err, stderr.Bytes())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

func report(size int, what string, ds []time.Duration) time.Duration {
	slices.Sort(ds)
	med := ds[len(ds)/2]
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
	fmt.Printf("%-7d %-9s %9s %9s %9s\n", size, what, ms(med), ms(ds[0]), ms(ds[len(ds)-1]))
	return med
}
