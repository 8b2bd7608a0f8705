package doctor

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// NixConfig is the part of nix's settings the checks read.
type NixConfig struct {
	MaxJobs      int      // max-jobs, "auto" already resolved by nix
	Cores        int      // cores: 0 = every CPU
	Substituters []string // extra-substituters included
	Features     []string // experimental-features
}

// nix28Features are the experimental features in the order of Nix 2.8's
// ExperimentalFeature enum: its `show-config --json` writes the enum's
// numbers ([2, 3] for "nix-command flakes"), later versions the names.
var nix28Features = []string{"ca-derivations", "impure-derivations", "flakes", "nix-command", "recursive-nix", "no-url-literals"}

// ParseNixConfig reads `nix config show --json` (Nix ≥ 2.20, Lix,
// Determinate) or `nix show-config --json` (earlier): an object of
// settings, each {"value": …}.
func ParseNixConfig(data []byte) (NixConfig, error) {
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return NixConfig{}, fmt.Errorf("reading nix's settings: %w", err)
	}
	var c NixConfig
	var err error
	if c.MaxJobs, err = intSetting(raw["max-jobs"].Value); err != nil {
		return NixConfig{}, fmt.Errorf("reading nix's max-jobs: %w", err)
	}
	if c.Cores, err = intSetting(raw["cores"].Value); err != nil {
		return NixConfig{}, fmt.Errorf("reading nix's cores: %w", err)
	}
	if v := raw["substituters"].Value; v != nil {
		if err := json.Unmarshal(v, &c.Substituters); err != nil {
			return NixConfig{}, fmt.Errorf("reading nix's substituters: %w", err)
		}
	}
	if v := raw["experimental-features"].Value; v != nil {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return NixConfig{}, fmt.Errorf("reading nix's experimental-features: %w", err)
		}
		for _, it := range items {
			var name string
			if json.Unmarshal(it, &name) == nil {
				c.Features = append(c.Features, name)
				continue
			}
			var n int
			if err := json.Unmarshal(it, &n); err != nil {
				return NixConfig{}, fmt.Errorf("reading nix's experimental-features: %s", it)
			}
			if n >= 0 && n < len(nix28Features) {
				c.Features = append(c.Features, nix28Features[n])
			} else {
				c.Features = append(c.Features, "feature #"+strconv.Itoa(n))
			}
		}
	}
	return c, nil
}

// intSetting reads a number, or a string holding one.
func intSetting(v json.RawMessage) (int, error) {
	if v == nil {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(v, &n); err == nil {
		return n, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, fmt.Errorf("not a number: %s", v)
	}
	return strconv.Atoi(s)
}
