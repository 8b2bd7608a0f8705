package nix

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sysinit/sysinit/internal/step"
)

// homebrewField reads, in the system's one evaluation, what a brew-bundle
// step that takes its Brewfile from this nix-darwin configuration needs
// (nix-darwin's modules/homebrew.nix): the text of homebrew.brewfile,
// which the module computes whatever homebrew.enable says, whether
// activation runs brew bundle itself (enable), and homebrew.onActivation.
// Missing options read as null or their nix-darwin defaults, so that the
// brew-bundle step can say what is wrong instead of nix failing.
const homebrewField = `let h = c.config.homebrew or null; in if h == null then null else { brewfile = h.brewfile or null; enable = h.enable or false; onActivation = let o = h.onActivation or { }; in { cleanup = o.cleanup or "none"; upgrade = o.upgrade or false; autoUpdate = o.autoUpdate or false; extraFlags = o.extraFlags or [ ]; }; }`

// Export is what a nix-darwin step exports for a brew-bundle step that
// follows it: {"homebrew": {"brewfile": TEXT, "enable": BOOL,
// "onActivation": {"cleanup", "upgrade", "autoUpdate", "extraFlags"}}},
// compact JSON. The brew package reads it (brew.FromNixDarwin).
func (sy *system) export(ev *evaluation) (string, error) {
	if !sy.exportsHomebrew {
		return "", nil
	}
	raw := ev.Fields["homebrew"]
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("%s has no homebrew options (config.homebrew), which a brew-bundle step takes its Brewfile from: is it a nix-darwin configuration?", ev.attr)
	}
	var b bytes.Buffer
	b.WriteString(`{"homebrew":`)
	if err := json.Compact(&b, raw); err != nil {
		return "", fmt.Errorf("reading %s's homebrew options: %w", ev.attr, err)
	}
	b.WriteString("}")
	return b.String(), nil
}

// publish hands the export to the followers, who start now, beside the
// build and the activation.
func publish(rc *step.RunContext, export string) {
	if export != "" && rc.Publish != nil {
		rc.Publish(export)
	}
}
