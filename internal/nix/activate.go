package nix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sysinit/sysinit/internal/command"
)

// switchTo applies the built system and checks that it is the active one,
// returning the run's note.
func (sy *system) switchTo(ctx context.Context, r *runner, built string) (string, error) {
	if err := sy.apply(ctx, r, built); err != nil {
		return "", err
	}
	now, err := activePath(sy.active, sy.store)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if now != built {
		if now == "" {
			now = "nothing (it is missing)"
		}
		return "", fmt.Errorf("activation finished, but %s points at %s, not at the new system %s; the next run would see drift (set `profile` if the active system lives elsewhere)", sy.active, now, built)
	}
	return sy.switchedNote(), nil
}

func (sy *system) switchedNote() string {
	gen := generation(sy.profile)
	switch {
	case sy.kind == KindNixOS && sy.action() == "test":
		return "activated (test: not added to the boot menu)"
	case sy.kind == KindNixOS && sy.action() == "boot":
		if gen > 0 {
			return fmt.Sprintf("generation %d is the boot default", gen)
		}
		return "set as the boot default"
	case gen > 0:
		return fmt.Sprintf("switched to generation %d", gen)
	}
	return "switched"
}

// generation reads the profile's generation number from its link
// (system -> system-42-link); 0 when it cannot.
func generation(profile string) int {
	target, err := os.Readlink(profile)
	if err != nil {
		return 0
	}
	return generationOf(target)
}

// apply sets the profile and activates out, the way each tool does.
func (sy *system) apply(ctx context.Context, r *runner, out string) error {
	// home-manager's activate script links the generation itself; setting
	// the profile first would hide the old generation from its clean-up of
	// files the new one no longer manages. `nixos-rebuild test` leaves the
	// profile alone.
	setProfile := sy.kind != KindHomeManager && !(sy.kind == KindNixOS && sy.action() == "test")
	if setProfile {
		if !sy.sudo {
			if err := os.MkdirAll(filepath.Dir(sy.profile), 0o755); err != nil {
				return fmt.Errorf("creating the profile directory: %w", err)
			}
		}
		r.progress("setting profile " + sy.profile)
		if err := r.run(ctx, "setting the profile", &command.Cmd{
			Argv: []string{sy.nixEnv, "-p", sy.profile, "--set", out},
			Sudo: sy.sudo,
		}); err != nil {
			return err
		}
	}
	c, err := sy.activation(out)
	if c == nil || err != nil {
		return err
	}
	r.progress("activating")
	return r.run(ctx, "activating "+out, c)
}

// activation is the command that activates out, the way each tool does;
// nil for a nix-profile step without `activate`.
func (sy *system) activation(out string) (*command.Cmd, error) {
	var c *command.Cmd
	switch sy.kind {
	case KindDarwin, KindHomeManager:
		c = &command.Cmd{Argv: []string{filepath.Join(out, "activate")}}
	case KindNixOS:
		c = &command.Cmd{Argv: []string{filepath.Join(out, "bin/switch-to-configuration"), sy.action()}}
	case KindProfile:
		if sy.k.Activate == "" {
			return nil, nil
		}
		sh, err := sy.env.LookPath("sh")
		if err != nil {
			return nil, &command.NotFoundError{Name: "sh"}
		}
		c = &command.Cmd{Argv: []string{sh, "-c", sy.k.Activate}, Env: []string{"SYSINIT_OUT=" + out}}
	}
	c.Sudo = sy.sudo
	c.Dir = sy.workDir
	return c, nil
}
