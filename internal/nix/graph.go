package nix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/nixgraph"
	"github.com/sysinit/sysinit/internal/step"
)

// A nix step with `entry` depends only on the tracked files its
// configuration can read from there (package nixgraph finds them), so an
// edit of another host's module, or of the README, does not evaluate it.
//
// What decides is sound by nixgraph's rules, and the wiring keeps it so:
// an analysis that cannot run (an entry git does not track, a file it
// cannot read) makes every tracked file the input, as without `entry`;
// reading git metadata (self.rev …) or the whole tree (self used as a
// value, which carries rev too) makes the inputs every tracked file and
// HEAD, exactly as without `entry`; nixgraph's SetAsideWhole is never used
// here. Plan and why name each widening, each impure reference and any
// fallback.

// checkEntry checks `entry` as the config loads: each must be a path
// inside a flake on this machine, and exist. Whether git tracks it is
// told when the inputs are read: a step whose entry git does not track
// reads the whole flake and says why.
func checkEntry(cfg *config.Config, s *config.Step, r config.Reporter) {
	k := keysOf(s)
	if len(k.Entry) == 0 {
		return
	}
	flake := k.Flake
	if flake == "" {
		flake = "."
	}
	ref, err := parseFlakeRef(flake, cfg.Path(s.Dir))
	if err != nil {
		return // building the step reports it
	}
	switch {
	case !ref.local():
		r.Fail("entry", "remove entry: sysinit can follow only the files of a flake on this machine", "entry needs a flake on this machine, and %q is not", flake)
		return
	case ref.pinned:
		r.Fail("entry", "remove entry, or the ref/rev from the flake", "entry needs the flake's files, and %q names a commit", flake)
		return
	}
	for _, e := range k.Entry {
		clean := path.Clean(e)
		if path.IsAbs(e) || clean == ".." || strings.HasPrefix(clean, "../") {
			r.Fail("entry", `name paths relative to the flake, like entry = ["hosts/lv426", "modules/darwin"]`, "entry %q is not a path inside the flake", e)
			continue
		}
		_, err := os.Lstat(filepath.Join(ref.dir, filepath.FromSlash(clean)))
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			r.Fail("entry", "name the files and directories flake.nix lists in this configuration's modules (sysinit init fills them in)", "entry %q: no such file or directory in %s", e, ref.dir)
		case err != nil:
			r.Fail("entry", "", "entry %q: %v", e, err)
		}
	}
}

// graphName is the attribute path in the flake's outputs of configuration
// name of kind, as nixgraph names configurations; "" when there is none.
func graphName(kind, name string) string {
	if name == "" {
		return ""
	}
	switch kind {
	case KindDarwin:
		return "darwinConfigurations." + name
	case KindNixOS:
		return "nixosConfigurations." + name
	case KindHomeManager:
		return "homeConfigurations." + name
	case KindProfile:
		// A profile of darwinConfigurations.h1.system builds h1: only a
		// plain two-part prefix naming a configuration counts (a quoted
		// or computed part names none, so nothing of flake.nix waits).
		parts := strings.Split(name, ".")
		if len(parts) >= 2 && !strings.ContainsAny(name, "\"${") {
			switch parts[0] {
			case "nixosConfigurations", "darwinConfigurations", "homeConfigurations":
				return parts[0] + "." + parts[1]
			}
		}
	}
	return ""
}

// ownOutputs are the flake outputs that a step of kind building attribute
// name may be defined under, for nixgraph to read flake.nix's definitions
// of them as the step's own (Request.Outputs): a nix-profile step builds
// any attribute, packages.x86_64-linux.tools say, and nixgraph otherwise
// follows what flake.nix defines under packages only for a configuration
// that reads self.packages. nix eval and nix build look an attribute up
// under packages.SYSTEM. and legacyPackages.SYSTEM. before taking it as
// written (unless it starts with "."), so `.#tools` is packages'. A
// configuration's own output is none of these: graphName names it. An
// attribute path that cannot be read (quoted, computed, none) may be
// under any output: "*".
func ownOutputs(kind, name string) []string {
	if kind != KindProfile || graphName(kind, name) != "" {
		return nil
	}
	if name == "" || strings.ContainsAny(name, "\"${") {
		return []string{"*"}
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(name, "."), ".")
	if first == "" {
		return []string{"*"}
	}
	if strings.HasPrefix(name, ".") {
		return []string{first}
	}
	out := []string{"packages", "legacyPackages"}
	if !slices.Contains(out, first) {
		out = append(out, first)
	}
	return out
}

// configName is the configuration the step builds, as nixgraph names it:
// the host's for darwin and nixos without #NAME (as Definition takes it).
func (sy *system) configName() string {
	name := sy.name
	if name == "" && (sy.kind == KindDarwin || sy.kind == KindNixOS) {
		name = sy.definitionHost()
	}
	return graphName(sy.kind, name)
}

// otherConfig is another nix step of the config that builds from the same
// flake and names its entries.
type otherConfig struct {
	name    string
	entries []string // relative to the flake
}

// others are the other configurations of the step's flake that name their
// entries. flake.nix's references into their entries do not reach this
// one; a step building the same configuration is not another.
func (sy *system) others() []otherConfig {
	sy.othersOnce.Do(func() {
		if sy.cfg == nil {
			return
		}
		mine := sy.configName()
		for _, cs := range sy.cfg.Steps {
			if cs == sy.s || cs.Name == sy.s.Name {
				continue
			}
			switch cs.Kind {
			case KindDarwin, KindNixOS, KindHomeManager, KindProfile:
			default:
				continue
			}
			k := keysOf(cs)
			if len(k.Entry) == 0 {
				continue
			}
			flake := k.Flake
			if flake == "" {
				flake = "."
			}
			ref, err := parseFlakeRef(flake, filepath.Join(sy.cfg.Dir, cs.Dir))
			if err != nil || !ref.local() || filepath.Clean(ref.dir) != filepath.Clean(sy.ref.dir) {
				continue
			}
			other := &system{kind: cs.Kind, name: ref.fragment}
			name := other.configName()
			if name == mine && mine != "" {
				continue
			}
			sy.otherConfigs = append(sy.otherConfigs, otherConfig{name: name, entries: k.Entry})
		}
	})
	return sy.otherConfigs
}

// Graphs is what the nix steps of one config share to find what each
// configuration reads: the references of every Nix file by content, kept
// in the state store between runs, and the content hashes the stat cache
// holds, so that a refresh in which nothing changed neither parses nor
// reads a file. The steps' inputs wait until Load gives them these.
type Graphs struct {
	once   sync.Once
	ready  chan struct{}
	cache  *nixgraph.Cache
	sums   *fingerprint.Sums
	loaded int // entries the cache held when loaded

	// analysing serialises the steps' analyses, so that stats serves all
	// but the first: the steps of a config share most of what they reach,
	// and the analysis is lstats and look-ups, which gain little from
	// running side by side.
	analysing sync.Mutex
	// stats are the files' lstats, by path relative to the repository's
	// root (held with analysing), made once for every step. A file that
	// changes later in the run (a step before this one wrote it) is seen
	// as it was: that makes the inputs those of the old content, while the
	// scan hashes the new one — a change of its own, so the step runs, and
	// the next refresh, which stats afresh, finds the new references. No
	// step is skipped on the strength of a stale stat.
	stats map[statKey]statResult
}

type statKey struct{ root, path string }

type statResult struct {
	typ byte
	sum fingerprint.Sum
	ok  bool
	err error
}

// AttachGraphs makes the nix steps among steps that name an `entry` share
// one Graphs, and returns it; nil when no step names one. Call Load on it
// once the state is read, on every path: their inputs wait for it.
func AttachGraphs(steps map[string]step.Step) *Graphs {
	var g *Graphs
	for _, st := range steps {
		sy, ok := st.(*system)
		if !ok || len(sy.k.Entry) == 0 {
			continue
		}
		if g == nil {
			g = newGraphs()
		}
		sy.graphs = g
	}
	return g
}

func newGraphs() *Graphs {
	return &Graphs{ready: make(chan struct{}), stats: map[statKey]statResult{}}
}

// Load gives the steps the stored cache (nil: none) and the stat cache's
// sums (nil: none; every Nix file reached is then read). Only the first
// call counts. A cache that cannot be decoded is dropped, and the error
// says why: the analysis then parses every file again.
func (g *Graphs) Load(data []byte, sums *fingerprint.Sums) error {
	if g == nil {
		return nil
	}
	var err error
	g.once.Do(func() {
		c := nixgraph.NewCache()
		if len(data) > 0 {
			loaded, uerr := nixgraph.UnmarshalCache(data)
			if uerr != nil {
				err = uerr
			} else {
				c = loaded
			}
		}
		g.cache, g.sums, g.loaded = c, sums, c.Len()
		close(g.ready)
	})
	return err
}

func (g *Graphs) wait(ctx context.Context) (*nixgraph.Cache, *fingerprint.Sums, error) {
	select {
	case <-g.ready:
		return g.cache, g.sums, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// Save returns the cache to store, and false when it holds nothing new
// since Load (then there is nothing to write). What this run's analyses
// did not read — old contents of edited files, mostly — is dropped: a
// step not analysed this time (another OS's, one not asked for) parses
// its own files again when it is, which costs a parse, never a decision.
func (g *Graphs) Save() ([]byte, bool) {
	if g == nil {
		return nil, false
	}
	select {
	case <-g.ready:
	default:
		return nil, false
	}
	if g.cache.Len() == g.loaded {
		return nil, false
	}
	g.cache.Prune()
	return g.cache.Marshal(), true
}

// graphsOf is the step's shared Graphs, or one of its own (no stored cache,
// no sums) for a step built outside a session.
func (sy *system) graphsOf() *Graphs {
	sy.graphsOnce.Do(func() {
		if sy.graphs == nil {
			sy.graphs = newGraphs()
			_ = sy.graphs.Load(nil, nil)
		}
	})
	return sy.graphs
}

// graphSource gives nixgraph the flake's files: an lstat each, with the
// stat cache's hash when the file is as it was hashed, so that a file whose
// references the cache holds is not read.
type graphSource struct {
	v     *flakeView
	sums  *fingerprint.Sums
	g     *Graphs
	reads atomic.Int64 // files read, for tests
	// dirs are the directories opened to stat the names in them, by path
	// relative to the repository ("" for its root; -1: could not open).
	// An analysis reaches its files a directory at a time, and a name
	// costs the kernel less to resolve than a whole path.
	dirs map[string]int
}

// maxOpenDirs bounds the directories a source holds open at once.
const maxOpenDirs = 64

// close closes the directories the source opened.
func (s *graphSource) close() {
	for _, fd := range s.dirs {
		if fd >= 0 {
			_ = fingerprint.CloseDir(fd)
		}
	}
	s.dirs = nil
}

// lstat lstats the tracked file p, whose stat cache key is key.
func (s *graphSource) lstat(p, key string, sums *fingerprint.Sums) (byte, fingerprint.Sum, bool, error) {
	dir, name := path.Split(p)
	if s.dirs == nil {
		s.dirs = map[string]int{}
	}
	fd, seen := s.dirs[dir]
	if !seen {
		if len(s.dirs) == maxOpenDirs {
			// Files are reached a directory at a time: starting afresh
			// costs a few opens, and keeps descriptors for the scan.
			s.close()
			s.dirs = map[string]int{}
		}
		var err error
		if fd, err = fingerprint.OpenDir(s.abs(strings.TrimSuffix(dir, "/"))); err != nil {
			fd = -1 // gone, not a directory, …: the whole path's lstat says
		}
		s.dirs[dir] = fd
	}
	if fd < 0 {
		return sums.Lstat(s.abs(p), key)
	}
	return sums.LstatAt(fd, name, key)
}

// abs is the file's path: git's paths are clean and slash-separated.
func (s *graphSource) abs(p string) string {
	if p == "" {
		return s.v.repo.root
	}
	return s.v.repo.root + string(filepath.Separator) + filepath.FromSlash(p)
}

// Stat reports the file at p. A tracked file gone from the work tree reads
// nothing (nix cannot read it either); the scan records it as missing.
func (s *graphSource) Stat(p string) (nixgraph.Stat, error) {
	k := statKey{s.v.repo.root, p}
	r, seen := s.g.stats[k]
	if !seen {
		key, cached := s.v.specKey(p)
		sums := s.sums
		if !cached {
			sums = nil
		}
		r.typ, r.sum, r.ok, r.err = s.lstat(p, key, sums)
		s.g.stats[k] = r
	}
	typ, sum, ok, err := r.typ, r.sum, r.ok, r.err
	if gone(err) {
		return nixgraph.Stat{}, nil
	}
	if err != nil {
		return nixgraph.Stat{}, err
	}
	return nixgraph.Stat{Symlink: typ == fingerprint.TypeSymlink, Sum: nixgraph.Sum(sum), HaveSum: ok}, nil
}

// Read reads p without following a final symlink. What is gone, or is
// not a file (a directory where git tracks a file), holds no references.
func (s *graphSource) Read(p string) (nixgraph.File, error) {
	s.reads.Add(1)
	abs := s.abs(p)
	fi, err := os.Lstat(abs)
	if gone(err) {
		return nixgraph.File{}, nil
	}
	if err != nil {
		return nixgraph.File{}, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(abs)
		if gone(err) {
			return nixgraph.File{}, nil
		}
		if err != nil {
			return nixgraph.File{}, err
		}
		return nixgraph.File{Symlink: true, Target: filepath.ToSlash(t)}, nil
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(abs)
		if gone(err) {
			return nixgraph.File{}, nil
		}
		if err != nil {
			return nixgraph.File{}, err
		}
		return nixgraph.File{Data: data}, nil
	}
	return nixgraph.File{}, nil
}

func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// graphResult is a step's analysis, for plan, why and graph.
type graphResult struct {
	view *flakeView
	req  nixgraph.Request
	res  *nixgraph.Result // nil when the analysis did not run or failed
	// fallback says why the inputs are every tracked file ("" when the
	// analysis chose them).
	fallback string
	// head: git metadata or the whole tree is read, so the inputs are
	// every tracked file and HEAD, as without entry.
	head  bool
	reads int64
}

// analyse finds what the step's configuration reads and returns its
// inputs: the reachable tracked files, flake.nix and flake.lock; every
// tracked file and HEAD when the analysis says git metadata or the whole
// tree is read, or when it cannot run.
//
// Unless full, the analysis stops at a reference to the whole tree: the
// inputs are then every tracked file and HEAD whatever it would find
// after. `sysinit graph` asks for the full one.
func (sy *system) analyse(ctx context.Context, full bool) (*graphResult, fingerprint.Spec, error) {
	v, err := viewFlake(sy.cfgDir, sy.ref, sy.s.Inputs)
	if err != nil {
		return nil, v.spec, err
	}
	gr := &graphResult{view: v}
	if v.whole {
		gr.fallback = "entry cannot narrow it: " + v.detail
		return gr, v.spec, nil
	}
	g := sy.graphsOf()
	cache, sums, err := g.wait(ctx)
	if err != nil {
		return nil, v.spec, err
	}
	gr.req = sy.request(v)
	gr.req.StopAtWhole = !full
	src := &graphSource{v: v, sums: sums, g: g}
	g.analysing.Lock()
	res, err := nixgraph.Analyze(src, gr.req, cache)
	g.analysing.Unlock()
	src.close()
	gr.reads = src.reads.Load()
	if err != nil {
		var ee *nixgraph.EntryError
		if errors.As(err, &ee) {
			gr.fallback = fmt.Sprintf("entry %q names no file git tracks (git add it, or fix entry)", flakeRel(v, ee.Entry))
		} else {
			gr.fallback = "the import graph could not be read: " + err.Error()
		}
		spec, err := v.specOf(v.tracked, true)
		return gr, spec, err
	}
	gr.res = res
	gr.head = len(res.GitHead) > 0 || res.Stopped || readsWhole(res)
	if gr.head {
		spec, err := v.specOf(v.tracked, true)
		return gr, spec, err
	}
	spec, err := v.specOf(res.Files, false)
	return gr, spec, err
}

// readsWhole reports a widening to the whole tree: self or inputs used as a
// value, which carries self.rev too.
func readsWhole(res *nixgraph.Result) bool {
	for _, w := range res.Widenings {
		if w.Dir == "." {
			return true
		}
	}
	return false
}

// flakeRel names a path relative to the repository as the flake's entries
// do, relative to the flake.
func flakeRel(v *flakeView, p string) string {
	if v.flakeDir == "." {
		return p
	}
	if rel, ok := strings.CutPrefix(p, v.flakeDir+"/"); ok {
		return rel
	}
	return p
}

// request is what nixgraph analyses for the step: the paths relative to the
// repository's root, where nix's copy of the source starts.
func (sy *system) request(v *flakeView) nixgraph.Request {
	join := func(entries []string) []string {
		out := make([]string, len(entries))
		for i, e := range entries {
			out[i] = path.Join(v.flakeDir, path.Clean(e))
		}
		return out
	}
	req := nixgraph.Request{
		Tracked: v.tracked,
		Config:  nixgraph.Config{Name: sy.configName(), Entries: join(sy.k.Entry)},
		Outputs: ownOutputs(sy.kind, sy.name),
		Flake:   path.Join(v.flakeDir, "flake.nix"),
		Roots:   sy.roots(v.repo.root),
	}
	for _, o := range sy.others() {
		req.Others = append(req.Others, nixgraph.Config{Name: o.name, Entries: join(o.entries)})
	}
	return req
}

// roots are the repository's root as configured and without symlinks,
// the absolute paths a Nix file may name it by.
func (sy *system) roots(root string) []string {
	sy.rootsOnce.Do(func() {
		sy.rootPaths = []string{filepath.ToSlash(root)}
		if real, err := filepath.EvalSymlinks(root); err == nil && real != root {
			sy.rootPaths = append(sy.rootPaths, filepath.ToSlash(real))
		}
	})
	return sy.rootPaths
}

// narrowedInputs is Inputs for a step with entry; the analysis is kept
// for Advice, InputChain and Graph.
func (sy *system) narrowedInputs(ctx context.Context) (fingerprint.Spec, error) {
	gr, spec, err := sy.analyse(ctx, false)
	if err != nil {
		return spec, err
	}
	sy.lastMu.Lock()
	sy.last = gr
	sy.lastMu.Unlock()
	return spec, nil
}

// analysis is the step's last analysis, made now if there was none (a step
// the plan did not fingerprint: it never ran).
func (sy *system) analysis() *graphResult {
	sy.lastMu.Lock()
	gr := sy.last
	sy.lastMu.Unlock()
	if gr != nil {
		return gr
	}
	if _, err := sy.narrowedInputs(context.Background()); err != nil {
		return nil
	}
	sy.lastMu.Lock()
	defer sy.lastMu.Unlock()
	return sy.last
}

// maxNotes is how many widenings, and how many impure inputs, plan and
// why name; sysinit graph lists them all.
const maxNotes = 8

// Advice names, for a step with entry, what widened its inputs: each
// widening and impure reference, git metadata read, or why the whole
// flake is the input.
func (sy *system) Advice(string) []string {
	// A program of activate named by a variable other than $SYSINIT_OUT.
	scripts := sy.env.Analyses.ScriptNotes(sy.cfgDir, step.Script{Key: "activate", Cmd: sy.k.Activate, Dir: sy.workDir})
	if len(sy.k.Entry) == 0 {
		return scripts
	}
	gr := sy.analysis()
	if gr == nil {
		return scripts // Inputs failed: the plan says why
	}
	return append(gr.notes(sy.s.Name), scripts...)
}

func (gr *graphResult) notes(stepName string) []string {
	if gr.fallback != "" {
		return []string{"inputs are every tracked file of the flake: " + gr.fallback}
	}
	var out []string
	res := gr.res
	if len(res.GitHead) > 0 {
		h := res.GitHead[0]
		more := ""
		if len(res.GitHead) > 1 {
			more = fmt.Sprintf(" and %d more places", len(res.GitHead)-1)
		}
		out = append(out, fmt.Sprintf("inputs are every tracked file and HEAD's commit: %s at %s:%d%s reads git metadata", h.Construct, h.File, h.Line, more))
	} else if readsWhole(res) || res.Stopped {
		out = append(out, "inputs are every tracked file and HEAD's commit: the whole flake is read (sysinit graph "+stepName+" shows where)")
	}
	for i, w := range res.Widenings {
		if i == maxNotes {
			out = append(out, fmt.Sprintf("… and %d more widenings (sysinit graph %s lists them)", len(res.Widenings)-maxNotes, stepName))
			break
		}
		out = append(out, "widened to "+widenedTo(w.Dir)+" by "+w.Construct+" at "+site(w.File, w.Line))
	}
	for i, im := range res.Impure {
		if i == maxNotes {
			out = append(out, fmt.Sprintf("… and %d more impure inputs (sysinit graph %s lists them)", len(res.Impure)-maxNotes, stepName))
			break
		}
		out = append(out, "impure input, only the active-system probe can notice it change: "+im.Construct+" "+im.Text+" at "+site(im.File, im.Line))
	}
	return out
}

func widenedTo(dir string) string {
	if dir == "." {
		return "the whole flake"
	}
	return dir
}

func site(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// repoPath is the path, relative to the repository, of an input file as a
// Spec names it; false for a file that is not one of the tracked files.
func (v *flakeView) repoPath(file string) (string, bool) {
	switch {
	case v.relRoot == "." || outside(v.relRoot):
		return file, !filepath.IsAbs(file)
	}
	return strings.CutPrefix(file, v.relRoot+"/")
}

// InputChain says why file (a path as the plan names input files) is an
// input of a step with entry: the references that lead to it from an entry
// or flake.nix, one per line; nil when none does.
func (sy *system) InputChain(file string) []string {
	if len(sy.k.Entry) == 0 {
		return nil
	}
	gr := sy.analysis()
	if gr == nil || gr.res == nil {
		return nil
	}
	p, ok := gr.view.repoPath(file)
	if !ok {
		return nil
	}
	var lines []string
	for _, e := range gr.res.Chain(p) {
		lines = append(lines, EdgeText(e))
	}
	return lines
}

// EdgeText is one step of a chain as people read it: "hosts/a/x.nix (in
// entry hosts/a)", "hosts/a/default.nix:3 → modules/x.nix".
func EdgeText(e nixgraph.Edge) string {
	if e.From == "" && e.Via == "entry" && e.Ref != e.To && e.Ref != "" {
		return fmt.Sprintf("%s (in entry %s)", e.To, e.Ref)
	}
	return e.String()
}

// GraphReport is what `sysinit graph` shows of a nix step: the files its
// configuration reads and how each was reached.
type GraphReport struct {
	Config string // the configuration, as an attribute path of the flake's outputs
	// Entries are the step's, relative to the repository as the files are
	// once the analysis ran (as the step names them, relative to the
	// flake, before); none: every tracked file is an input.
	Entries []string
	Tracked int // tracked files in the repository
	// Root is the repository's root, the base of every path here once the
	// analysis ran; FlakeDir is the flake's directory in it ("." at the
	// top).
	Root, FlakeDir string
	// Files are the reachable tracked files, relative to the repository,
	// sorted; Via is the reference that reached each first (its last edge
	// of the chain).
	Files     []string
	Via       map[string]nixgraph.Edge
	Widenings []nixgraph.Widening
	Impure    []nixgraph.Impure
	GitHead   []nixgraph.Site
	// Fallback says why the inputs are every tracked file although the
	// step names entries; WholeInputs that they are every tracked file and
	// HEAD because git metadata or the whole tree is read.
	Fallback    string
	WholeInputs bool
}

// Graph analyses the step's configuration afresh (writing nothing).
func (sy *system) Graph(ctx context.Context) (*GraphReport, error) {
	r := &GraphReport{Config: sy.configName(), Entries: sy.k.Entry}
	if len(sy.k.Entry) == 0 {
		return r, nil
	}
	gr, _, err := sy.analyse(ctx, true)
	if err != nil {
		return nil, err
	}
	r.Fallback = gr.fallback
	if gr.view != nil {
		r.Tracked = len(gr.view.tracked)
	}
	if gr.res == nil {
		return r, nil
	}
	res := gr.res
	// The files are relative to the repository (where nix's copy of the
	// source starts), the entries to the flake: one base for both.
	r.Root, r.FlakeDir = gr.view.repo.root, gr.view.flakeDir
	r.Entries = make([]string, len(sy.k.Entry))
	for i, e := range sy.k.Entry {
		r.Entries[i] = path.Join(gr.view.flakeDir, path.Clean(e))
	}
	r.WholeInputs = gr.head
	r.Files, r.Widenings, r.Impure, r.GitHead = res.Files, res.Widenings, res.Impure, res.GitHead
	r.Via = make(map[string]nixgraph.Edge, len(res.Files))
	for _, f := range res.Files {
		if chain := res.Chain(f); len(chain) > 0 {
			r.Via[f] = chain[len(chain)-1]
		}
	}
	return r, nil
}
