package brew

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/config"
)

// A brew-bundle step with `nix-darwin = "STEP"` takes its Brewfile from
// that nix-darwin step's configuration instead of a file: the text of
// config.homebrew.brewfile, which nix-darwin's modules/homebrew.nix
// computes whatever homebrew.enable says, and homebrew.onActivation
// (cleanup, upgrade, autoUpdate, extraFlags), all read in the system
// step's one evaluation (internal/nix export.go). The system step
// publishes them as soon as it has evaluated, and records them with its
// success; this step is a step.Follower of it:
//
//   - the runner starts it once the system step has evaluated, beside its
//     build and activation, and the plan decides it again with what that
//     evaluation gave: an edit that leaves the Brewfile as it was runs no
//     brew;
//   - while the system step is up to date (no evaluation), the plan gives
//     it the Brewfile the system step's last success recorded, so a
//     no-change refresh starts nothing.
//
// The Brewfile and the settings are part of the step's definition (there
// is no file to fingerprint): a change re-runs it, named "brewfile
// changed" or the setting. The installed-set probe is the same as for a
// Brewfile on disk.

// fromNix is what a nix-darwin step exported for this step.
type fromNix struct {
	Brewfile     *string `json:"brewfile"`
	Enable       bool    `json:"enable"`
	OnActivation struct {
		Cleanup    string   `json:"cleanup"`
		Upgrade    bool     `json:"upgrade"`
		AutoUpdate bool     `json:"autoUpdate"`
		ExtraFlags []string `json:"extraFlags"`
	} `json:"onActivation"`
}

// parseExport reads a nix-darwin step's export.
func parseExport(leader, export string) (*fromNix, error) {
	var e struct {
		Homebrew *fromNix `json:"homebrew"`
	}
	if err := json.Unmarshal([]byte(export), &e); err != nil {
		return nil, fmt.Errorf("reading the Homebrew settings step %q exported: %w", leader, err)
	}
	h := e.Homebrew
	if h == nil || h.Brewfile == nil {
		return nil, fmt.Errorf("step %q's configuration has no homebrew.brewfile: is nix-darwin's homebrew module in it?", leader)
	}
	switch h.OnActivation.Cleanup {
	case "none", "uninstall", "zap":
	default:
		return nil, fmt.Errorf("step %q's homebrew.onActivation.cleanup is %q: want none, uninstall or zap", leader, h.OnActivation.Cleanup)
	}
	return h, nil
}

// errNoBrewfile is the Brewfile of a step whose nix-darwin step never
// recorded one here.
type errNoBrewfile struct{ leader string }

func (e errNoBrewfile) Error() string {
	return fmt.Sprintf("step %q has not evaluated its configuration's Brewfile here yet (it is not applicable here, or has not succeeded since it exports it)", e.leader)
}

// Leader is the nix-darwin step this one takes its Brewfile from.
func (b *bundle) Leader() string { return b.k.NixDarwin }

// Follow sets the export the step decides and runs with (see
// step.Follower).
func (b *bundle) Follow(export string, known bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nix.export, b.nix.known = export, known
	b.nix.h, b.nix.err = nil, nil
	if !known {
		b.nix.err = errNoBrewfile{b.k.NixDarwin}
		return
	}
	b.nix.h, b.nix.err = parseExport(b.k.NixDarwin, export)
}

// homebrew returns the nix-darwin settings the step follows.
func (b *bundle) homebrew() (*fromNix, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nix.h == nil && b.nix.err == nil {
		return nil, errNoBrewfile{b.k.NixDarwin}
	}
	return b.nix.h, b.nix.err
}

// brewfileText is the Brewfile's content: the file's, or what the
// nix-darwin step evaluated.
func (b *bundle) brewfileText() ([]byte, error) {
	if b.k.NixDarwin == "" {
		src, err := os.ReadFile(b.brewfile)
		if err != nil {
			return nil, fmt.Errorf("reading Brewfile: %w", err)
		}
		return src, nil
	}
	h, err := b.homebrew()
	if err != nil {
		return nil, err
	}
	return []byte(*h.Brewfile), nil
}

// cleanup is what to do with what the Brewfile does not list.
// onActivation.cleanup "uninstall" and "zap" are nix-darwin's brew bundle
// --cleanup [--zap]: brew bundle cleanup --force [--zap] here.
func (b *bundle) cleanup() string {
	if b.k.NixDarwin != "" {
		if h, err := b.homebrew(); err == nil {
			return h.OnActivation.Cleanup
		}
		return "none"
	}
	if b.k.Cleanup == "" {
		return "none"
	}
	return b.k.Cleanup
}

// upgrade is upgrade = true, or onActivation.upgrade.
func (b *bundle) upgrade() bool {
	if b.k.NixDarwin != "" {
		h, err := b.homebrew()
		return err == nil && h.OnActivation.Upgrade
	}
	return b.k.Upgrade
}

// homebrewAutoUpdate is how old Homebrew lets its last update get before
// it updates itself, as nix-darwin's onActivation.autoUpdate describes it.
const homebrewAutoUpdate = 5 * time.Minute

// updateEvery is update-every; for a step that follows nix-darwin without
// one, onActivation.autoUpdate = true is Homebrew's own auto-update.
func (b *bundle) updateEvery() time.Duration {
	if b.k.UpdateEvery > 0 || b.k.NixDarwin == "" {
		return b.k.UpdateEvery
	}
	if h, err := b.homebrew(); err == nil && h.OnActivation.AutoUpdate {
		return homebrewAutoUpdate
	}
	return 0
}

// extraFlags are onActivation.extraFlags, for brew bundle install.
func (b *bundle) extraFlags() []string {
	if b.k.NixDarwin == "" {
		return nil
	}
	if h, err := b.homebrew(); err == nil {
		return h.OnActivation.ExtraFlags
	}
	return nil
}

// nixDefinition is what a step following nix-darwin adds to its
// definition: the Brewfile's digest and whether it is known.
func (b *bundle) nixDefinition(add func(k, v string)) {
	add("nix-darwin", b.k.NixDarwin)
	text, err := b.brewfileText()
	if err != nil {
		add("brewfile", "unknown")
		return
	}
	sum := sha256.Sum256(text)
	add("brewfile", "homebrew.brewfile sha256:"+hex.EncodeToString(sum[:]))
	for _, f := range b.extraFlags() {
		add("extra-flags", f)
	}
}

// writeBrewfile puts the Brewfile nix-darwin declares where brew bundle
// can read it, for one run: readable by the user brew runs as.
func (b *bundle) writeBrewfile() (path string, remove func(), err error) {
	text, err := b.brewfileText()
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp("", "sysinit-Brewfile-*")
	if err != nil {
		return "", nil, fmt.Errorf("writing the Brewfile from step %q: %w", b.k.NixDarwin, err)
	}
	remove = func() { os.Remove(f.Name()) }
	_, err = f.Write(text)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("writing the Brewfile from step %q: %w", b.k.NixDarwin, err)
	}
	return f.Name(), remove, nil
}

// checkAll checks the brew-bundle steps that take their Brewfile from a
// nix-darwin step, and lists that step in their `after`, where the plan
// and the runner see it (the runner starts them at its evaluation).
func checkAll(cfg *config.Config, steps []*config.Step, r config.StepReporter) {
	byName := map[string]*config.Step{}
	for _, s := range cfg.Steps {
		byName[s.Name] = s
	}
	for _, s := range steps {
		k := config.KeysOf[bundleKeys](s)
		if k.NixDarwin == "" {
			continue
		}
		hint := "onActivation in the nix-darwin configuration decides it; remove the key"
		for _, key := range []string{"brewfile", "cleanup", "upgrade"} {
			if _, set := s.Keys[key]; set {
				if key == "brewfile" {
					hint = "keep one: the Brewfile comes from a file or from the nix-darwin step"
				}
				r.FailStep(s, key, hint, "step %q sets both %s and nix-darwin", s.Name, key)
			}
		}
		leader := byName[k.NixDarwin]
		switch {
		case leader == nil:
			r.FailStep(s, "nix-darwin", "name the nix-darwin step whose configuration declares the Homebrew packages", "step %q: no step named %q", s.Name, k.NixDarwin)
			continue
		case leader.Kind != "nix-darwin":
			r.FailStep(s, "nix-darwin", "name a step of kind nix-darwin", "step %q: step %q is a %s step, not nix-darwin", s.Name, leader.Name, leader.Kind)
			continue
		case len(leader.Hosts) > 0:
			r.FailStep(s, "nix-darwin", "take the Brewfile from a nix-darwin step for this machine alone", "step %q: step %q acts on several hosts", s.Name, leader.Name)
			continue
		case comesAfter(byName, leader, s.Name):
			r.FailStep(s, "nix-darwin", "remove "+s.Name+" from "+leader.Name+"'s after", "step %q takes its Brewfile from step %q, which comes after it", s.Name, leader.Name)
			continue
		}
		if !slices.Contains(s.After, leader.Name) {
			s.After = append(s.After, leader.Name)
		}
		// Where the nix-darwin step does not apply, there is no Brewfile:
		// the step applies where it does, unless its own os says.
		if _, set := s.Keys["os"]; !set {
			s.OS = slices.Clone(leader.OS)
		}
	}
}

// comesAfter reports whether s comes after the step named name, directly
// or not.
func comesAfter(byName map[string]*config.Step, s *config.Step, name string) bool {
	seen := map[string]bool{}
	todo := slices.Clone(s.After)
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if n == name {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		if o := byName[n]; o != nil {
			todo = append(todo, o.After...)
		}
	}
	return false
}

// nixAdvice is the advice for a step that follows nix-darwin: activation
// runs brew bundle too while homebrew.enable is true.
func (b *bundle) nixAdvice() []string {
	h, err := b.homebrew()
	if err != nil {
		if e := (errNoBrewfile{}); errors.As(err, &e) {
			return nil
		}
		return []string{err.Error()}
	}
	if !h.Enable {
		return nil
	}
	return []string{fmt.Sprintf("step %q's configuration sets homebrew.enable = true: its activation runs brew bundle too, serially, before the switch ends; set homebrew.enable = false and keep the declarations — this step installs them beside the build", b.k.NixDarwin)}
}

// nixDarwinSteps names the config's nix-darwin steps, for the advice.
func nixDarwinSteps(cfg *config.Config) string {
	var names []string
	for _, s := range cfg.Steps {
		if s.Kind == "nix-darwin" {
			names = append(names, fmt.Sprintf("%q", s.Name))
		}
	}
	if len(names) == 0 {
		return `"SYSTEM"`
	}
	return strings.Join(names, " or ")
}
