package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/brew"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
	"github.com/sysinit/sysinit/internal/migrate"
	"github.com/sysinit/sysinit/internal/state"
)

func (a *app) newMigrate() *cobra.Command {
	o := migrate.Options{}
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Propose moving Homebrew packages to nixpkgs, verified for your platform",
		Long: `migrate reads a Brewfile and proposes, for each entry, the nixpkgs attribute
that replaces it — matched through a curated alias table, then by name
against a package index — and a verdict: move, keep (with the reason), or
check (low confidence). With nix installed, every proposal is evaluated on
the target system (available, broken, unfree, platforms).

When nix is missing, or cannot reach the default nixpkgs (offline, no
flake registry entry, a pinned revision not fetched yet), the report is
made from the alias table and any --index, every entry's VERIFIED column
says what its verdict rests on (nix, index, none), and the notes say how
to verify: --nixpkgs PATH|FLAKEREF, or --index FILE. A --nixpkgs that nix
cannot resolve is an error.

--write writes the packages to move as a nix list (brew-migrated.nix) and
trims them from the Brewfile, after a backup copy; afterwards, sysinit plan
shows the steps the change will run. Moves nixpkgs did not confirm stay in
the Brewfile, each listed, unless --unverified is given.

Exit status: 0 when the report is printed, whatever its verdicts and
however much was verified; 1 when there is no report (an unreadable
Brewfile or index, a --nixpkgs nix cannot resolve) or --write failed; 2
for bad flags.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runMigrate(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Brewfile, "brewfile", "", "the Brewfile to read (default: the brew-bundle step's, or ./Brewfile)")
	f.StringVar(&o.System, "system", "", "target `SYSTEM`, e.g. aarch64-darwin (default: this machine's)")
	f.StringVar(&o.Nixpkgs, "nixpkgs", "", "nixpkgs flake `REF` (default: the one pinned in flake.lock, else nixpkgs)")
	f.StringVar(&o.Index, "index", "", "package index `FILE`: `nix search nixpkgs --json ^` output or packages.json")
	f.StringVar(&o.BrewInfo, "brew-info", "", "`FILE` with `brew info --json=v2` output, to match by homepage")
	f.BoolVar(&o.AllowUnfree, "allow-unfree", false, "your nixpkgs config allows unfree packages: move them too")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.BoolVar(&o.Write, "write", false, "write the nix list and the trimmed Brewfile")
	f.BoolVar(&o.Unverified, "unverified", false, "with --write, also move what nixpkgs did not confirm (the alias table's word alone)")
	f.StringVar(&o.NixFile, "nix-file", "", "where --write puts the nix list (default: brew-migrated.nix beside the Brewfile)")
	f.StringVar(&o.Output, "output", "", "where --write puts the trimmed Brewfile (default: the Brewfile itself, after a backup)")
	f.BoolVar(&o.Force, "force", false, "replace existing output files (a backup is kept)")
	return c
}

func (a *app) runMigrate(ctx context.Context, o migrate.Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Unverified && !o.Write {
		return usageError{errors.New("--unverified only changes what --write moves: add --write")}
	}
	// The repo's config, when there is one, says where the Brewfile and
	// flake.lock are.
	var cfg *config.Config
	if path, err := a.configPath(); err == nil {
		if c, err := config.Load(path, kinds.Decls()); err == nil {
			cfg = c
		}
	}
	// defaulted: the Brewfile is migrate's choice, not the user's, and
	// fromNix is a brew-bundle step whose Brewfile nix-darwin makes
	// (homebrew.brews, casks), with its nix-darwin step: no file to read.
	defaulted := o.Brewfile == ""
	var fromNix, leader string
	if defaulted {
		o.Brewfile = "Brewfile"
		if cfg != nil {
			o.Brewfile = filepath.Join(cfg.Dir, "Brewfile")
			for _, s := range cfg.Steps {
				if f, ok := brew.BrewfileOf(cfg, s); ok {
					o.Brewfile, fromNix = f, ""
					break
				}
				if l := brew.NixDarwinOf(s); l != "" && fromNix == "" {
					fromNix, leader = s.Name, l
				}
			}
		}
	}
	if cfg != nil && o.Nixpkgs == "" {
		lock := filepath.Join(cfg.Dir, "flake.lock")
		if _, err := os.Stat(lock); err == nil {
			o.FlakeLock = lock
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if o.Index == "" {
		// As root, never a cache in another user's HOME (see state.BaseDir).
		cache, err := state.BaseDir(a.getenv, "XDG_CACHE_HOME", ".cache")
		if err != nil {
			return err
		}
		o.CacheDir = filepath.Join(cache, "sysinit")
	}
	// A missing default Brewfile, after the cache directory's checks (a
	// HOME root must not write in is refused whatever migrate reads): a
	// bare "no such file or directory" says neither which Brewfile migrate
	// looked for nor how to give one, and most nix-darwin repositories
	// declare their Homebrew packages in nix.
	if _, err := os.Stat(o.Brewfile); defaulted && errors.Is(err, fs.ErrNotExist) {
		if fromNix != "" {
			a.errorf("no Brewfile to read: step %s takes its Brewfile from nix-darwin step %s's configuration (homebrew.brews, casks), and %s does not exist", fromNix, leader, o.Brewfile)
			a.hint(fmt.Sprintf("write that Brewfile out with `nix eval --raw .#darwinConfigurations.NAME.config.homebrew.brewfile > Brewfile.nix-darwin` (NAME: step %s's configuration), then run `sysinit migrate --brewfile Brewfile.nix-darwin`; --write edits that file, not your nix", leader))
		} else {
			a.errorf("no Brewfile to read: %s does not exist", o.Brewfile)
			a.hint("run migrate where your Brewfile is, or give it with --brewfile FILE")
		}
		return &exitError{code: ExitFailed}
	}
	_, err := migrate.Run(ctx, o, a.stdout, a.stderr)
	var re *migrate.ResolveError
	if errors.As(err, &re) {
		a.errorf("%v", err)
		a.hint("give --nixpkgs a nixpkgs checkout (PATH) or a flake reference nix can fetch, " +
			"or leave it out to get a report from the alias table and --index FILE, marked unverified")
		return &exitError{code: ExitFailed}
	}
	return err
}
