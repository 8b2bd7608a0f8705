package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
	"github.com/sysinit/sysinit/internal/scaffold"
)

// slowEval is how long a nix eval of the flake's configurations may take
// before init says that --no-eval skips it.
const slowEval = 3 * time.Second

// sayEval is how long init waits for nix eval before it says, while nix
// still runs, what it is waiting for.
const sayEval = time.Second

type initOptions struct {
	print, noEval bool
	host, user    string
}

func (a *app) newInit() *cobra.Command {
	o := &initOptions{}
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a first sysinit.toml from what the repository holds",
		Long: `init reads the repository — the configurations its flake defines (nix eval,
or a static read of flake.nix when nix cannot evaluate it), Brewfiles,
nix.custom.conf, and the refresh task of a Taskfile or justfile — and writes
a commented sysinit.toml: this machine's configuration active, the other
hosts' steps commented out, and what the old refresh ran carried over.

It never replaces an existing sysinit.toml; --print writes to stdout instead.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runInit(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.print, "print", false, "print the config instead of writing sysinit.toml")
	f.BoolVar(&o.noEval, "no-eval", false, "read flake.nix without asking nix to evaluate it")
	f.StringVar(&o.host, "host", "", "this machine's configuration `NAME` (default: the host name)")
	f.StringVar(&o.user, "user", "", "the home-manager `USER` (default: $USER)")
	return c
}

func (a *app) runInit(ctx context.Context, o *initOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	dir := a.dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("finding the working directory: %w", err)
		}
		dir = wd
	} else if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageError{fmt.Errorf("-C %s: no such directory", dir)}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, config.FileName)
	if a.configFile != "" {
		target = a.configFile
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
	}
	if !o.print {
		if _, err := os.Lstat(target); err == nil {
			return fmt.Errorf("%s already exists; init never replaces it (--print shows what it would write)", target)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	m := scaffold.ThisMachine(ctx, command.Exec{}, runtime.GOOS, a.getenv)
	if o.host != "" {
		m.Host = o.host
	}
	if o.user != "" {
		m.User = o.user
	}
	if o.noEval {
		m.Nix, m.NoNixWhy = "", "--no-eval"
	}
	// nix eval of a flake whose inputs are not in the store fetches them
	// (offline, nix retries each download for seconds): say what init is
	// waiting for while it waits, not only afterwards.
	var waiting *time.Timer
	said := make(chan struct{})
	if m.Nix != "" {
		waiting = time.AfterFunc(sayEval, func() {
			fmt.Fprintln(a.stderr, "sysinit: asking nix for the flake's configurations (nix eval, which fetches inputs not in the store yet); `--no-eval` skips it")
			close(said)
		})
	}
	repo, err := scaffold.Read(ctx, dir, m)
	if waiting != nil && !waiting.Stop() {
		<-said // it is printing: let it finish before anything else is
	}
	if err != nil {
		return err
	}
	// Offline, nix retries each download for seconds before it fails; a
	// flake whose inputs are not fetched yet is slow to evaluate at all.
	// Either way, the user should know --no-eval.
	switch {
	case repo.EvalFetch:
		fmt.Fprintln(a.stderr, "sysinit: nix eval could not fetch the flake's inputs (offline?); init read flake.nix itself")
		a.hint("`sysinit init --no-eval` reads flake.nix without asking nix")
	case repo.EvalNewerLock:
		fmt.Fprintln(a.stderr, "sysinit: this nix cannot read flake.lock, which a newer Nix wrote; init read flake.nix itself")
		a.hint("builds with this nix fail the same way: upgrade nix (`sysinit doctor` says how)")
	case repo.EvalTook >= slowEval:
		fmt.Fprintf(a.stderr, "sysinit: nix eval took %.1fs to list the flake's configurations (it fetches inputs not in the store yet)\n", repo.EvalTook.Seconds())
		a.hint("`sysinit init --no-eval` reads flake.nix without asking nix")
	}
	f := scaffold.Build(repo, m, scaffold.LoaderKeys())
	data := f.Render()
	// What init writes must load: a config that does not is sysinit's bug,
	// and is not written.
	if _, err := config.Parse(target, data, kinds.Decls()); err != nil {
		return fmt.Errorf("the config init made does not load (a bug in sysinit init):\n%v", err)
	}
	if o.print {
		_, err := a.stdout.Write(data)
		return err
	}
	if err := writeNew(target, data); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	on, off := 0, 0
	for _, s := range f.Steps {
		if s.Off {
			off++
		} else {
			on++
		}
	}
	steps := "steps"
	if on == 1 {
		steps = "step"
	}
	fmt.Fprintf(a.stderr, "sysinit: wrote %s: %d %s, %d more commented out\n", target, on, steps, off)
	switch {
	case f.NoneActive && len(repo.Configs.Dynamic) > 0:
		a.hint(fmt.Sprintf("no configuration init could read is named %q, so each one's step is commented out; flake.nix computes more names (the end of %s says where): add this machine's step, or run `sysinit init --host NAME` again", m.Host, filepath.Base(target)))
	case f.NoneActive:
		a.hint(fmt.Sprintf("no configuration of the flake is named %q, so each one's step is commented out: uncomment this machine's, or run `sysinit init --host NAME` again", m.Host))
	}
	a.hint("check it with `sysinit plan`, then refresh with `sysinit`")
	return nil
}

// writeNew makes path a file holding data, whole or not at all, and never
// replaces a file there: data goes to a new file beside it, which is then
// linked in under path (link fails if path exists). A write that failed
// part way (a full disk) or a signal mid-write left a truncated config that
// loaded without its last steps, and that the next init refused to replace.
// Where hard links are not supported, path itself is created and, if the
// write fails, removed.
func writeNew(path string, data []byte) error {
	write := func(name string) (err error) {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(name)
			}
		}()
		if _, err := f.Write(data); err != nil {
			return err
		}
		return f.Sync()
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".init-"+hex.EncodeToString(b[:]))
	if err := write(tmp); err != nil {
		return err
	}
	err := os.Link(tmp, path)
	_ = os.Remove(tmp)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	return write(path)
}
