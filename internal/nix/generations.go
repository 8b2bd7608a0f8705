package nix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/step"
)

// listGenerations reads the generations of profile from its directory, as
// nix-env --list-generations does: the links NAME-N-link beside it, each
// dated by the link's own modification time, the current one being the
// link profile points at. Oldest first.
func listGenerations(profile string) ([]step.Generation, error) {
	dir, name := filepath.Split(profile)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the generations of %s: %w", profile, err)
	}
	current := ""
	if t, err := os.Readlink(profile); err == nil {
		current = filepath.Base(t)
	}
	var gens []step.Generation
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), name+"-")
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(rest, "-link")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || strconv.Itoa(n) != num {
			continue // another profile's (NAME-x-N-link), or not a generation
		}
		link := filepath.Join(dir, e.Name())
		info, err := os.Lstat(link)
		if err != nil {
			return nil, fmt.Errorf("listing the generations of %s: %w", profile, err)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(link)
		if err != nil {
			return nil, fmt.Errorf("listing the generations of %s: %w", profile, err)
		}
		gens = append(gens, step.Generation{Number: n, Time: info.ModTime(), Path: target, Current: e.Name() == current})
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
	return gens, nil
}

// Profile is the profile the step sets (home-manager's own, for a
// home-manager step).
func (sy *system) Profile() (string, error) {
	return sy.profile, sy.profileErr
}

// Generations lists the generations of the step's profile, oldest first.
func (sy *system) Generations() ([]step.Generation, error) {
	if sy.profileErr != nil {
		return nil, sy.profileErr
	}
	return listGenerations(sy.profile)
}

// DeleteGenerations deletes generations of the step's profile with
// nix-env, which takes the profile's lock and refuses the current one;
// as root where the profile is root's.
func (sy *system) DeleteGenerations(ctx context.Context, out io.Writer, numbers []int) error {
	if len(numbers) == 0 {
		return nil
	}
	if sy.nixErr != nil {
		return sy.nixErr
	}
	if sy.profileErr != nil {
		return sy.profileErr
	}
	argv := []string{sy.nixEnv, "-p", sy.profile, "--delete-generations"}
	for _, n := range numbers {
		argv = append(argv, strconv.Itoa(n))
	}
	return sy.quietRunner(out).run(ctx, "deleting generations of "+sy.profile, &command.Cmd{Argv: argv, Sudo: sy.sudo})
}

// CollectGarbage runs `nix store gc`, as the invoking user: through the
// daemon (or in a store the user owns) that needs no root.
func (sy *system) CollectGarbage(ctx context.Context, out io.Writer, dryRun bool) error {
	if sy.nixErr != nil {
		return sy.nixErr
	}
	argv := []string{sy.nix, "store", "gc"}
	if dryRun {
		argv = append(argv, "--dry-run")
	}
	return sy.quietRunner(out).run(ctx, "collecting garbage", &command.Cmd{Argv: argv})
}

// quietRunner runs the step's commands outside a refresh: their output to
// out, no progress.
func (sy *system) quietRunner(out io.Writer) *runner {
	return &runner{sys: sy, rc: &step.RunContext{Out: out}, out: &syncWriter{w: out}}
}

// Rollback makes an older generation of the step's profile active again
// and activates it as the kind's own tool does (see docs/nix.md):
//
//	nix-darwin    nix-env --rollback, then GEN/activate (darwin-rebuild --rollback)
//	nixos         nix-env --rollback, then GEN/bin/switch-to-configuration ACTION
//	              (nixos-rebuild switch --rollback; boot for action = "boot")
//	home-manager  nix-env --rollback, then GEN/activate, with --driver-version 1
//	              when GEN has a gen-version file (home-manager switch --rollback)
//	nix-profile   nix-env --rollback, then the step's `activate` with SYSINIT_OUT=GEN
//
// with sudo where the step uses it, and --switch-generation N for a
// chosen generation. It records nothing: the CLI does.
func (sy *system) Rollback(ctx context.Context, rc *step.RollbackContext) (step.RolledBack, error) {
	rb := step.RolledBack{Profile: sy.profile}
	if sy.nixErr != nil {
		return rb, sy.nixErr
	}
	if sy.profileErr != nil {
		return rb, sy.profileErr
	}
	if sy.kind == KindNixOS && sy.action() == "test" {
		return rb, errors.New(`a nixos step with action = "test" never sets the profile, so it has no generation to roll back to`)
	}
	gens, err := listGenerations(sy.profile)
	if err != nil {
		return rb, err
	}
	from, to, err := rollbackTarget(sy.profile, gens, rc.To)
	if err != nil {
		return rb, err
	}
	rb.From, rb.To = from, to
	if rc.DryRun {
		return rb, nil
	}
	r := sy.quietRunner(rc.Out)
	argv := []string{sy.nixEnv, "-p", sy.profile, "--rollback"}
	if rc.To > 0 {
		argv = []string{sy.nixEnv, "-p", sy.profile, "--switch-generation", strconv.Itoa(rc.To)}
	}
	if err := r.run(ctx, "rolling back "+sy.profile, &command.Cmd{Argv: argv, Sudo: sy.sudo}); err != nil {
		return rb, err
	}
	rb.Changed = true
	// What the profile now holds, as darwin-rebuild and nixos-rebuild read
	// it: the link, not what was listed a moment ago.
	target, err := activePath(sy.profile, sy.store)
	if err != nil {
		return rb, fmt.Errorf("reading %s after rolling it back: %w", sy.profile, err)
	}
	c, err := sy.activation(target)
	if err != nil {
		return rb, err
	}
	if c != nil {
		if sy.kind == KindHomeManager {
			if _, err := os.Stat(filepath.Join(target, "gen-version")); err == nil {
				// A generation that leaves the profile to its caller.
				c.Argv = append(c.Argv, "--driver-version", "1")
			}
		}
		if err := r.run(ctx, "activating "+target, c); err != nil {
			return rb, fmt.Errorf("%s now points at generation %d, but activating it failed: %w", sy.profile, to.Number, err)
		}
	}
	now, err := activePath(sy.active, sy.store)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rb, err
	}
	if now != target {
		return rb, fmt.Errorf("rolled back and activated, but %s points at %s, not at generation %d (%s)", sy.active, now, to.Number, target)
	}
	return rb, nil
}

// rollbackTarget finds the current generation and the one to go back to:
// number to, or else the newest older than the current (nix-env
// --rollback's choice).
func rollbackTarget(profile string, gens []step.Generation, to int) (from, target step.Generation, err error) {
	i := -1
	for j, g := range gens {
		if g.Current {
			i = j
		}
	}
	if i < 0 {
		return from, target, fmt.Errorf("%s has no current generation (it was never set, or not by nix-env)", profile)
	}
	from = gens[i]
	if to > 0 {
		for _, g := range gens {
			if g.Number == to {
				if g.Current {
					return from, target, fmt.Errorf("generation %d of %s is already the current one", to, profile)
				}
				return from, g, nil
			}
		}
		return from, target, fmt.Errorf("%s has no generation %d (it has %s)", profile, to, numbers(gens))
	}
	if i == 0 {
		return from, target, fmt.Errorf("%s has no generation older than the current (%d)", profile, from.Number)
	}
	return from, gens[i-1], nil
}

func numbers(gens []step.Generation) string {
	var s []string
	for _, g := range gens {
		s = append(s, strconv.Itoa(g.Number))
	}
	return strings.Join(s, ", ")
}
