package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// The nix, nix-env and darwin-rebuild stand-ins: a fake store of
// directories, built from a flake read as plain text, and profiles as links.

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
	case "copy":
		// To a fleet machine: one round trip to learn it has everything
		// (the bench's machines share this store).
		s.sleep(s.cfg.Latency.SSHRoundTrip)
		return 0
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

// applyRE reads what sysinit's --apply function picks: the derivation
// of the configuration (`x = c.system;`) and the fields it asks for.
var applyRE = lazyregexp.New(`let c = root; x = (c(?:\.[A-Za-z0-9_-]+)*); in .* fields = \{ (.*)\}; \}$`)

// nixEval is `nix eval --json FLAKE#CONFIG --apply FN` as sysinit runs
// it: FN picks the system in the configuration and returns its
// derivation, out path and output name. Evaluating writes the
// derivations into the store, as nix does, so that a build by store path
// needs no second evaluation.
func (s *standin) nixEval(args []string) int {
	pos := positional(args)
	if len(pos) != 1 {
		return s.fail("nix eval stand-in: want one installable, got %q", pos)
	}
	dir, attr, err := splitInstallable(pos[0])
	if err != nil {
		return s.fail("%v", err)
	}
	var apply string
	for i, a := range args {
		if a == "--apply" && i+1 < len(args) {
			apply = args[i+1]
		}
	}
	m := applyRE().FindStringSubmatch(apply)
	if m == nil {
		return s.fail("nix eval stand-in: only sysinit's record of a configuration's system is supported, not --apply %q", apply)
	}
	fields := map[string]any{}
	if f := strings.TrimSpace(m[2]); f != "" {
		if !strings.HasPrefix(f, `"homebrew" = `) {
			return s.fail("nix eval stand-in: evaluates no fields of a configuration but homebrew (asked for %s)", m[2])
		}
		hb, err := homebrewOf(dir)
		if err != nil {
			return s.fail("%v", err)
		}
		fields["homebrew"] = hb
	}
	if pick := strings.TrimPrefix(m[1], "c"); pick != "" {
		attr += pick
	}
	s.sleep(s.cfg.Latency.Eval)
	cl, err := evalClosure(s.cfg.Store, dir, attr)
	if err != nil {
		return s.fail("%v", err)
	}
	drv, err := writeDrv(cl)
	if err != nil {
		return s.fail("%v", err)
	}
	name := strings.TrimPrefix(attr, "darwinConfigurations.")
	name, _, _ = strings.Cut(name, ".")
	out, err := json.Marshal(map[string]any{"name": name, "drv": drv, "out": cl.system, "output": "out", "fields": fields})
	if err != nil {
		return s.fail("encoding the evaluation: %v", err)
	}
	fmt.Fprintln(s.stdout, string(out))
	return 0
}

// drvFile is what the stand-in writes as a system's derivation: enough to
// build it without evaluating.
type drvFile struct {
	System  string   `json:"system"`
	Modules []string `json:"modules"`
}

// writeDrv writes cl's derivation into the store and returns its path.
func writeDrv(cl closure) (string, error) {
	sum := sha256.Sum256([]byte("drv:" + cl.system))
	drv := filepath.Join(filepath.Dir(cl.system), nixBase32(sum[:])+"-"+moduleName(cl.system)+".drv")
	if _, err := os.Lstat(drv); err == nil {
		return drv, nil
	}
	data, err := json.Marshal(drvFile{System: cl.system, Modules: cl.modules})
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", drv, err)
	}
	if err := writeFileAtomic(drv, data, 0o444); err != nil {
		return "", err
	}
	return drv, canonicalTime(drv)
}

func (s *standin) nixBuild(args []string) int {
	pos := positional(args)
	if len(pos) != 1 {
		return s.fail("nix build stand-in: want one installable, got %q", pos)
	}
	internalJSON := false
	for i, a := range args {
		if a == "--log-format" && i+1 < len(args) && args[i+1] == "internal-json" {
			internalJSON = true
		}
	}
	var cl closure
	drvPath := ""
	if drv, output, ok := strings.Cut(pos[0], "^"); ok || strings.HasSuffix(drv, ".drv") {
		// A derivation by its store path: built, not evaluated.
		if ok && output != "out" {
			return s.fail("nix build stand-in: %s has no output %q", drv, output)
		}
		data, err := os.ReadFile(drv)
		if err != nil {
			return s.fail("path '%s' is not valid: %v", drv, err)
		}
		var d drvFile
		if err := json.Unmarshal(data, &d); err != nil {
			return s.fail("reading %s: %v", drv, err)
		}
		cl, drvPath = closure{system: d.System, modules: d.Modules}, drv
	} else {
		dir, attr, err := splitInstallable(pos[0])
		if err != nil {
			return s.fail("%v", err)
		}
		s.sleep(s.cfg.Latency.Eval)
		if cl, err = evalClosure(s.cfg.Store, dir, attr); err != nil {
			return s.fail("%v", err)
		}
		if drvPath, err = writeDrv(cl); err != nil {
			return s.fail("%v", err)
		}
	}
	if err := s.buildClosure(cl, internalJSON); err != nil {
		return s.fail("%v", err)
	}
	res := []map[string]any{{"drvPath": drvPath, "outputs": map[string]string{"out": cl.system}}}
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
	return cl.system, s.buildClosure(cl, internalJSON)
}

// buildClosure builds every module of cl and its system that are not in
// the store yet: build time only, no evaluation.
func (s *standin) buildClosure(cl closure, internalJSON bool) error {
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
			return err
		}
	}
	activate := fmt.Sprintf("#!/bin/sh\nexec %s bench __standin %s activate %s\n", shQuote(s.cfg.Self), shQuote(s.cfg.Path), shQuote(cl.system))
	closure := strings.Join(cl.modules, "\n") + "\n"
	return build(cl.system, s.cfg.Latency.BuildSystem, map[string]string{"activate": activate, "closure": closure})
}

// canonicalTime dates a store path 1 (the epoch plus a second), as nix
// dates every valid path.
func canonicalTime(path string) error {
	t := time.Unix(1, 0)
	if err := os.Chtimes(path, t, t); err != nil {
		return fmt.Errorf("dating %s: %w", path, err)
	}
	return nil
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
	if err := canonicalTime(tmp); err != nil {
		return err
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

// nixStore is `nix-store --check-validity PATH…`: a path is valid when it
// is in the stand-in's store.
func (s *standin) nixStore(args []string) int {
	if len(args) < 2 || args[0] != "--check-validity" {
		return s.fail("nix-store stand-in: only --check-validity PATH… is supported")
	}
	for _, p := range args[1:] {
		if filepath.Dir(p) != s.cfg.Store {
			return s.fail("path '%s' is not in the Nix store", p)
		}
		if _, err := os.Lstat(p); err != nil {
			return s.fail("path '%s' is not valid", p)
		}
	}
	return 0
}

func (s *standin) nixFlake(args []string) int {
	if len(args) == 0 || (args[0] != "update" && args[0] != "lock") {
		return s.fail("nix flake stand-in: unsupported: nix flake %s", strings.Join(args, " "))
	}
	dir := "."
	if pos := positional(args[1:]); len(pos) > 0 && (args[0] == "lock" || strings.ContainsAny(pos[0], "/.")) {
		dir = pos[0]
	}
	// The inputs did not move: the lock stays as it is, as nix leaves it.
	lock := filepath.Join(dir, "flake.lock")
	_, err := os.Stat(lock)
	if args[0] == "lock" && err == nil {
		// Every input of the bench's flakes is in their lock: nix reads
		// it and fetches nothing.
		s.sleep(s.cfg.Latency.FlakeLock)
		return 0
	}
	s.sleep(s.cfg.Latency.FlakeUpdate)
	if errors.Is(err, fs.ErrNotExist) {
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

var generationRE = lazyregexp.New(`^(.*)-(\d+)-link$`)

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
		if m := generationRE().FindStringSubmatch(e.Name()); m != nil && m[1] == base {
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

// brewsRE finds homebrew.brews in a module of the bench repo.
var brewsRE = lazyregexp.New(`homebrew\.brews = \[([^\]]*)\]`)

// homebrewOf is config.homebrew as nix-darwin's module gives it for the
// bench repo: the Brewfile made of every module's homebrew.brews, with
// homebrew.enable = false and onActivation's defaults.
func homebrewOf(dir string) (map[string]any, error) {
	var b strings.Builder
	b.WriteString("# Created by `nix-darwin`'s `homebrew` module\n\n")
	files, err := filepath.Glob(filepath.Join(dir, "modules", "*.nix"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		for _, m := range brewsRE().FindAllSubmatch(stripNix(data), -1) {
			for _, name := range strings.Fields(string(m[1])) {
				fmt.Fprintf(&b, "brew %s\n", name)
			}
		}
	}
	return map[string]any{
		"brewfile":     b.String(),
		"enable":       false,
		"onActivation": map[string]any{"cleanup": "none", "upgrade": false, "autoUpdate": false, "extraFlags": []string{}},
	}, nil
}

// ---- the closure a flake evaluates to ----

type closure struct {
	system  string   // store path of the system
	modules []string // store paths of the module derivations
}

// evalClosure computes the store paths of a flake's system, the way the
// bench repo's flake is built: one derivation per module file (depending
// on flake.lock, as nixpkgs does), and the system from those, flake.nix
// and the host's files. Comments and blank space in .nix files do not
// change a store path; the name of the attribute does. Which files a
// system reads is closureFiles's to say.
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
	hosts, modules, err := closureFiles(dir, attr)
	if err != nil {
		return cl, err
	}
	for _, group := range [][]string{hosts, modules} {
		for _, p := range group {
			data, err := os.ReadFile(p)
			if err != nil {
				return cl, fmt.Errorf("reading %s: %w", p, err)
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			if strings.HasSuffix(p, ".nix") {
				data = stripNix(data)
			}
			if strings.HasPrefix(rel, "hosts/") {
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

// hostModuleRE finds the modules a host of a multi-host repo imports.
var hostModuleRE = lazyregexp.New(`\.\./\.\./(modules/[A-Za-z0-9_.-]+\.nix)`)

// closureFiles lists the files attr's system reads, sorted: in the bench
// repo of one host, every file under hosts/ and modules/; in a repo of
// several (hosts/NAME/ directories, see hostsFiles), NAME's directory,
// modules/common.nix that flake.nix gives every host, and the modules
// NAME's files import — as nix would read them, so that a host whose
// files did not change evaluates to the same system.
func closureFiles(dir, attr string) (hosts, modules []string, err error) {
	walk := func(sub string) ([]string, error) {
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
			return nil, fmt.Errorf("reading %s: %w", sub, err)
		}
		sort.Strings(files)
		return files, nil
	}
	name, ok := strings.CutPrefix(attr, "darwinConfigurations.")
	name, ok2 := strings.CutSuffix(name, ".system")
	if ok && ok2 && isDir(filepath.Join(dir, "hosts", name)) {
		if hosts, err = walk(filepath.Join("hosts", name)); err != nil {
			return nil, nil, err
		}
		named := map[string]bool{"modules/common.nix": true}
		for _, h := range hosts {
			data, err := os.ReadFile(h)
			if err != nil {
				return nil, nil, fmt.Errorf("reading %s: %w", h, err)
			}
			for _, m := range hostModuleRE().FindAllSubmatch(data, -1) {
				named[string(m[1])] = true
			}
		}
		for _, m := range slices.Sorted(maps.Keys(named)) {
			modules = append(modules, filepath.Join(dir, filepath.FromSlash(m)))
		}
		return hosts, modules, nil
	}
	if hosts, err = walk("hosts"); err != nil {
		return nil, nil, err
	}
	modules, err = walk("modules")
	return hosts, modules, err
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

var brewLineRE = lazyregexp.New(`^\s*(tap|brew|cask)\s*\(?\s*["']([^"']+)["']`)
