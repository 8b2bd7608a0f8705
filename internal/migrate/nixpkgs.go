package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// revision is a nixpkgs flake reference pinned by `nix flake metadata`.
type revision struct {
	Ref    string // as given
	Locked string // the locked URL: the same revision for every later command
	// Key names the revision in cache file names: the git revision, or the
	// NAR hash for path inputs; "" when nix reports neither (a dirty tree),
	// and then nothing is cached.
	Key string
}

// resolve pins a flake reference with `nix flake metadata --json REF`. A
// missing nix comes back as *command.NotFoundError.
func resolve(ctx context.Context, r command.Runner, ref string, cmds *[]string) (*revision, error) {
	argv := []string{"nix", "flake", "metadata", "--json", ref}
	record(cmds, argv)
	var out bytes.Buffer
	if err := r.Run(ctx, &command.Cmd{Argv: argv, Stdout: &out}); err != nil {
		return nil, fmt.Errorf("resolving nixpkgs %s: %w", ref, withTail(err))
	}
	var md struct {
		URL    string `json:"url"`
		Locked struct {
			Rev     string `json:"rev"`
			NarHash string `json:"narHash"`
		} `json:"locked"`
	}
	if err := json.Unmarshal(out.Bytes(), &md); err != nil {
		return nil, fmt.Errorf("reading nix flake metadata for %s: %w", ref, err)
	}
	rev := &revision{Ref: ref, Locked: md.URL}
	if rev.Locked == "" {
		rev.Locked = ref
	}
	switch {
	case md.Locked.Rev != "":
		rev.Key = md.Locked.Rev
	case md.Locked.NarHash != "":
		rev.Key = md.Locked.NarHash
	}
	rev.Key = unsafeFileChars().ReplaceAllString(rev.Key, "_")
	return rev, nil
}

var unsafeFileChars = lazyregexp.New(`[^A-Za-z0-9._-]`)

func record(cmds *[]string, argv []string) {
	if cmds != nil {
		*cmds = append(*cmds, command.Join(argv))
	}
}

// cachedIndex returns the package index of a nixpkgs revision for a
// system, from cacheDir when an earlier run built it, else by running
//
//	nix search --json --system SYSTEM LOCKED ^
//
// and caching the output as nixpkgs-index-<key>-<system>.json. The system
// is part of the name because nix search lists legacyPackages.<system>
// only. cacheDir "" or a revision without a key means no caching; built
// says whether nix search ran; progress (may be nil) hears of it first,
// as it takes a while on the real nixpkgs.
func cachedIndex(ctx context.Context, r command.Runner, rev *revision, system, cacheDir string, progress io.Writer, cmds *[]string) (x *index, built bool, err error) {
	if !systemName().MatchString(system) {
		return nil, false, fmt.Errorf("system %q: want something like aarch64-darwin", system)
	}
	path := ""
	if cacheDir != "" && rev.Key != "" {
		path = filepath.Join(cacheDir, "nixpkgs-index-"+rev.Key+"-"+system+".json")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			if x, perr := parseIndex(data); perr == nil {
				return x, false, nil
			}
			// A cache file that does not parse (an older format, a full
			// disk) is rebuilt, not trusted.
		case !errors.Is(err, fs.ErrNotExist):
			return nil, false, fmt.Errorf("reading cached package index: %w", err)
		}
	}
	argv := []string{"nix", "search", "--json", "--system", system, rev.Locked, "^"}
	if progress != nil {
		fmt.Fprintf(progress, "listing the packages of %s for %s with nix search (once per revision)…\n", rev.Ref, system)
	}
	record(cmds, argv)
	var out bytes.Buffer
	if err := r.Run(ctx, &command.Cmd{Argv: argv, Stdout: &out}); err != nil {
		return nil, false, fmt.Errorf("listing nixpkgs packages: %w", withTail(err))
	}
	x, err = parseIndex(out.Bytes())
	if err != nil {
		return nil, false, fmt.Errorf("reading nix search output: %w", err)
	}
	if path != "" {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, false, fmt.Errorf("caching package index: %w", err)
		}
		if err := writeFileAtomic(path, out.Bytes(), 0o644); err != nil {
			return nil, false, fmt.Errorf("caching package index: %w", err)
		}
	}
	return x, true, nil
}
