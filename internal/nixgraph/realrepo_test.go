package nixgraph

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestRealRepoReport analyses a checked-out flake repository named by
// NIXGRAPH_REPO, with its configurations in NIXGRAPH_CONFIGS
// ("atlas=hosts/atlas;maia=hosts/maia,modules/x"), and reports for each file
// how many configurations an edit of it reaches, and the timings. It is a
// measuring tool for BENCHMARKS.md, skipped unless NIXGRAPH_REPO is set.
// Every file under the directory counts as tracked (an exported tree).
func TestRealRepoReport(t *testing.T) {
	root := os.Getenv("NIXGRAPH_REPO")
	if root == "" {
		t.Skip("NIXGRAPH_REPO is not set: this reports on a real repository checked out there")
	}
	var configs []config
	for _, c := range strings.Split(os.Getenv("NIXGRAPH_CONFIGS"), ";") {
		name, entries, ok := strings.Cut(strings.TrimSpace(c), "=")
		if !ok {
			t.Fatalf("NIXGRAPH_CONFIGS: %q is not name=entry,entry", c)
		}
		configs = append(configs, config{name, strings.Split(entries, ",")})
	}
	var tracked []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		tracked = append(tracked, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tracked)
	nixFiles := 0
	for _, p := range tracked {
		if strings.HasSuffix(p, ".nix") {
			nixFiles++
		}
	}
	t.Logf("%s: %d tracked files, %d .nix, %d configurations", root, len(tracked), nixFiles, len(configs))

	src := &diskSums{DirSource: DirSource{Root: root}, sums: map[string]Stat{}}
	cache := NewCache()
	aside := false
	results := map[string]*Result{}
	run := func(c *Cache) (time.Duration, time.Duration) {
		start, cpu := time.Now(), cpuTime()
		for _, cfg := range configs {
			var others []Config
			for _, o := range configs {
				if o.name != cfg.name {
					others = append(others, Config{Name: o.name, Entries: o.entries})
				}
			}
			res, err := Analyze(src, Request{Tracked: tracked, Config: Config{Name: cfg.name, Entries: cfg.entries}, Others: others, Roots: []string{root}, SetAsideWhole: aside}, c)
			if err != nil {
				t.Fatalf("%s: %v", cfg.name, err)
			}
			results[cfg.name] = res
		}
		return time.Since(start), cpuTime() - cpu
	}
	cold, coldCPU := run(cache)
	src.reads = 0
	warm, warmCPU := run(cache)
	t.Logf("all %d configurations: cold %v (CPU %v), warm %v (CPU %v) (%d file reads warm; sums from a stat cache)",
		len(configs), cold, coldCPU, warm, warmCPU, src.reads)
	t.Log("== sound:")
	report(t, tracked, configs, results)
	aside = true
	run(cache)
	t.Log("== diagnostic, whole-tree widenings set aside (not sound):")
	report(t, tracked, configs, results)
}

func report(t *testing.T, tracked []string, configs []config, results map[string]*Result) {
	for _, cfg := range configs {
		res := results[cfg.name]
		t.Logf("%-10s reaches %3d of %d files; %d widenings, %d impure, git metadata: %v",
			cfg.name, len(res.Files), len(tracked), len(res.Widenings), len(res.Impure), len(res.GitHead) > 0)
		for _, w := range res.Widenings {
			if w.Dir == "." {
				t.Logf("    whole tree: %s:%d: %s", w.File, w.Line, w.Construct)
			}
		}
	}

	// How many configurations an edit of each file reaches.
	hist := map[int]int{}
	histNix := map[int]int{}
	byDir := map[string][]int{}
	for _, p := range tracked {
		n := 0
		for _, cfg := range configs {
			if results[cfg.name].Reaches(p) {
				n++
			}
		}
		hist[n]++
		if strings.HasSuffix(p, ".nix") {
			histNix[n]++
		}
		top := strings.SplitN(p, "/", 3)
		d := top[0]
		if len(top) > 2 {
			d = top[0] + "/" + top[1]
		}
		byDir[d] = append(byDir[d], n)
	}
	for k := 0; k <= len(configs); k++ {
		t.Logf("an edit reaches %d of %d configurations: %3d files (%3d .nix)", k, len(configs), hist[k], histNix[k])
	}
	var dirs []string
	for d := range byDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		ns := byDir[d]
		lo, hi, sum := len(configs), 0, 0
		for _, n := range ns {
			lo, hi, sum = min(lo, n), max(hi, n), sum+n
		}
		t.Logf("  %-28s %3d files: reaches %d–%d configurations (mean %.1f)", d, len(ns), lo, hi, float64(sum)/float64(len(ns)))
	}
}

type config struct {
	name    string
	entries []string
}

// diskSums is a DirSource that remembers what it learnt of each file (its
// kind; a Nix file's Sum once read), as the caller's stat cache does across
// runs.
type diskSums struct {
	DirSource
	sums  map[string]Stat
	reads int
}

func (d *diskSums) Stat(p string) (Stat, error) {
	if st, ok := d.sums[p]; ok {
		return st, nil
	}
	st, err := d.DirSource.Stat(p)
	if err == nil && !strings.HasSuffix(p, ".nix") && !st.Symlink {
		d.sums[p] = st // a data file: its kind is all the analysis asks
	}
	return st, err
}

func (d *diskSums) Read(p string) (File, error) {
	d.reads++
	f, err := d.DirSource.Read(p)
	if err == nil {
		content := f.Data
		if f.Symlink {
			content = []byte(f.Target)
		}
		d.sums[p] = Stat{Symlink: f.Symlink, Sum: SumOf(content), HaveSum: true}
	}
	return f, err
}
