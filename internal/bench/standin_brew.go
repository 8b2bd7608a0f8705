package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The brew stand-in: a Cellar, a Caskroom and Taps of directories, and
// `brew bundle` over a Brewfile read line by line.

type brewEntry struct{ kind, name string }

func readBrewfile(path string) ([]brewEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading Brewfile: %w", err)
	}
	defer f.Close()
	var out []brewEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := brewLineRE().FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := strings.ToLower(m[2])
		if m[1] != "tap" {
			name = name[strings.LastIndexByte(name, '/')+1:]
		}
		out = append(out, brewEntry{m[1], name})
	}
	return out, sc.Err()
}

func (s *standin) brewDir(e brewEntry) string {
	p := s.cfg.BrewPrefix
	switch e.kind {
	case "brew":
		return filepath.Join(p, "Cellar", e.name)
	case "cask":
		return filepath.Join(p, "Caskroom", e.name)
	}
	user, repo, _ := strings.Cut(e.name, "/")
	return filepath.Join(p, "Library", "Taps", user, "homebrew-"+strings.TrimPrefix(repo, "homebrew-"))
}

func (s *standin) brew(args []string) int {
	if len(args) == 0 {
		return s.fail("brew stand-in: no command")
	}
	switch args[0] {
	case "update":
		s.sleep(s.cfg.Latency.BrewUpdate)
		if err := touch(filepath.Join(s.cfg.BrewPrefix, ".git", "FETCH_HEAD")); err != nil {
			return s.fail("%v", err)
		}
		fmt.Fprintln(s.stdout, "Already up-to-date.")
		return 0
	case "--prefix":
		fmt.Fprintln(s.stdout, s.cfg.BrewPrefix)
		return 0
	case "--version":
		fmt.Fprintln(s.stdout, "Homebrew 4.6.0")
		return 0
	case "bundle":
		return s.bundle(args[1:])
	case "install":
		return s.brewInstall(args[1:])
	case "tap":
		return s.brewTap(args[1:])
	}
	return s.fail("Unknown command: brew %s", args[0])
}

// brewInstall is `brew install [--formula|--cask] NAME... [FLAG...]`, as
// sysinit's brew-bundle step calls it for what is missing: brew's start-up
// (about what bundle check costs) and then each package.
func (s *standin) brewInstall(args []string) int {
	kind := "brew"
	var names []string
	for _, a := range args {
		switch {
		case a == "--cask" || a == "--casks":
			kind = "cask"
		case a == "--formula" || a == "--formulae":
			kind = "brew"
		case strings.HasPrefix(a, "-"):
		default:
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		return s.fail("Invalid usage: This command requires at least 1 formula or cask argument.")
	}
	s.sleep(s.cfg.Latency.BrewCheck)
	for _, n := range names {
		name := strings.ToLower(n[strings.LastIndexByte(n, '/')+1:])
		if i := strings.LastIndexByte(n, '/'); i > 0 && strings.Count(n, "/") == 2 {
			if err := os.MkdirAll(s.brewDir(brewEntry{"tap", strings.ToLower(n[:i])}), 0o755); err != nil {
				return s.fail("tapping: %v", err)
			}
		}
		d := s.brewDir(brewEntry{kind, name})
		if isDir(d) {
			fmt.Fprintf(s.stderr, "Warning: %s is already installed and up-to-date.\n", name)
			continue
		}
		s.sleep(s.cfg.Latency.BrewInstallEach)
		if err := os.MkdirAll(filepath.Join(d, "1.0"), 0o755); err != nil {
			return s.fail("installing %s: %v", name, err)
		}
		fmt.Fprintf(s.stdout, "==> Installed %s\n", name)
	}
	return 0
}

// brewTap is `brew tap USER/REPO [URL]`; an installed tap is passed over.
func (s *standin) brewTap(args []string) int {
	if len(args) == 0 {
		return 0
	}
	d := s.brewDir(brewEntry{"tap", strings.ToLower(args[0])})
	if isDir(d) {
		return 0
	}
	s.sleep(s.cfg.Latency.BrewInstallEach)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return s.fail("tapping %s: %v", args[0], err)
	}
	return 0
}

func (s *standin) bundle(args []string) int {
	sub, file, force, cleanup := "install", "Brewfile", false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--file="):
			file = strings.TrimPrefix(a, "--file=")
		case a == "--file" && i+1 < len(args):
			file = args[i+1]
			i++
		case a == "--force" || a == "-f":
			force = true
		case a == "--cleanup":
			cleanup = true
		case strings.HasPrefix(a, "-"):
		default:
			sub = a
		}
	}
	want, err := readBrewfile(file)
	if err != nil {
		return s.fail("%v", err)
	}
	switch sub {
	case "check":
		s.sleep(s.cfg.Latency.BrewCheck)
		for _, e := range want {
			if !isDir(s.brewDir(e)) {
				fmt.Fprintln(s.stdout, "brew bundle can't satisfy your Brewfile's dependencies.")
				fmt.Fprintln(s.stdout, "Satisfy missing dependencies with `brew bundle install`.")
				return 1
			}
		}
		fmt.Fprintln(s.stdout, "The Brewfile's dependencies are satisfied.")
		return 0
	case "install", "upgrade":
		s.sleep(s.cfg.Latency.BrewInstall)
		n := 0
		for _, e := range want {
			d := s.brewDir(e)
			if isDir(d) {
				fmt.Fprintf(s.stdout, "Using %s\n", e.name)
				continue
			}
			fmt.Fprintf(s.stdout, "Installing %s\n", e.name)
			s.sleep(s.cfg.Latency.BrewInstallEach)
			if e.kind != "tap" {
				d = filepath.Join(d, "1.0")
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return s.fail("installing %s: %v", e.name, err)
			}
			n++
		}
		fmt.Fprintf(s.stdout, "`brew bundle` complete! %d Brewfile dependencies now installed.\n", len(want))
		if cleanup {
			return s.bundleCleanup(want, true)
		}
		return 0
	case "cleanup":
		return s.bundleCleanup(want, force)
	}
	return s.fail("unknown subcommand: %s", sub)
}

func (s *standin) bundleCleanup(want []brewEntry, force bool) int {
	s.sleep(s.cfg.Latency.BrewCleanup)
	keep := map[string]bool{}
	for _, e := range want {
		keep[s.brewDir(e)] = true
	}
	var extra []string
	for _, sub := range []string{"Cellar", "Caskroom"} {
		ents, err := os.ReadDir(filepath.Join(s.cfg.BrewPrefix, sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.fail("%v", err)
		}
		for _, e := range ents {
			if p := filepath.Join(s.cfg.BrewPrefix, sub, e.Name()); !keep[p] {
				extra = append(extra, p)
			}
		}
	}
	if len(extra) == 0 {
		return 0
	}
	if !force {
		fmt.Fprintln(s.stdout, "Would uninstall formulae:")
		for _, p := range extra {
			fmt.Fprintln(s.stdout, filepath.Base(p))
		}
		fmt.Fprintln(s.stdout, "Run `brew bundle cleanup --force` to make these changes.")
		return 1
	}
	for _, p := range extra {
		if err := os.RemoveAll(p); err != nil {
			return s.fail("uninstalling %s: %v", filepath.Base(p), err)
		}
	}
	fmt.Fprintf(s.stdout, "Uninstalled %d formulae\n", len(extra))
	return 0
}

// ---- small file helpers ----
