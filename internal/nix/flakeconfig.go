package nix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// A flake's nixConfig (substituters, trusted-public-keys, …) is applied by
// nix when it evaluates or builds a flake installable, but not when it
// builds a derivation by its store path. sysinit builds the derivation its
// one evaluation produced, so it passes the settings nix applied to the
// evaluation as `--option NAME VALUE`: the same globalConfig.set that
// ConfigFile::apply calls, after the command line's own flags, as in a
// flake build. Which settings nix applies is its decision, reproduced
// here from its source (src/libexpr/flake/config.cc in Nix 2.8–2.23,
// src/libflake/flake/config.cc and src/libflake/config.cc after;
// lix/libexpr/flake/config.cc in Lix):
//
//   - a few harmless settings are always applied (the whitelist);
//   - with accept-flake-config = true, all are;
//   - otherwise nix looks the setting and its value up in
//     trusted-settings.json, where it records the answers it was given;
//   - a setting not found there makes nix ask on the terminal; sysinit
//     runs nix without one, so nix takes no for an answer and warns
//     "ignoring untrusted flake configuration setting".
//
// Lix makes accept-flake-config three-valued: true, ask (its default:
// consult the list), false (refuse every setting).

// settingVerdict is whether nix applies one flake setting, and why.
type settingVerdict struct {
	Name, Value string
	Apply       bool
	Why         string
}

// flakeConfigWhitelist is what nix applies from any flake, by version.
func flakeConfigWhitelist(v Version) []string {
	w := []string{"bash-prompt", "bash-prompt-suffix", "flake-registry"}
	switch {
	case v.Flavour == FlavourLix:
		return append(w, "bash-prompt-prefix", "commit-lockfile-summary")
	case v.AtLeast(2, 23):
		return append(w, "bash-prompt-prefix", "commit-lockfile-summary", "commit-lock-file-summary")
	case v.AtLeast(2, 16):
		return append(w, "bash-prompt-prefix", "commit-lockfile-summary")
	case v.AtLeast(2, 9):
		return append(w, "bash-prompt-prefix")
	}
	return w
}

// trustedList is nix's trusted-settings.json: setting name → value →
// whether the user trusted it.
type trustedList map[string]map[string]bool

// judgeFlakeSettings decides, as nix v does, which settings it applies.
// accept is accept-flake-config as configured ("" when not set); listPath
// names the trusted list in the reasons.
func judgeFlakeSettings(settings []flakeSetting, v Version, accept string, list trustedList, listPath string) []settingVerdict {
	white := flakeConfigWhitelist(v)
	joinDrops := v.Flavour != FlavourLix && v.AtLeast(2, 24)
	mode := acceptMode(v, accept)
	out := make([]settingVerdict, 0, len(settings))
	for _, s := range settings {
		vd := settingVerdict{Name: s.Name, Value: s.value(joinDrops)}
		base := strings.TrimPrefix(s.Name, "extra-")
		saved, found := list[s.Name][vd.Value]
		switch {
		case slices.Contains(white, base):
			vd.Apply, vd.Why = true, "nix applies "+base+" from any flake"
		case mode == "true":
			vd.Apply, vd.Why = true, "accept-flake-config = true"
		case mode == "false" && v.Flavour == FlavourLix:
			vd.Why = "accept-flake-config = false: Lix refuses every flake setting"
		case found && saved:
			vd.Apply, vd.Why = true, "trusted in "+listPath
		case found:
			vd.Why = "marked untrusted in " + listPath
		default:
			vd.Why = "not trusted: nix asks whether to trust it, and without a terminal (as under sysinit) takes no for an answer"
		}
		out = append(out, vd)
	}
	return out
}

// acceptMode normalises accept-flake-config to true, false or ask (Lix).
func acceptMode(v Version, accept string) string {
	switch strings.ToLower(strings.TrimSpace(accept)) {
	case "true", "yes", "1":
		return "true"
	case "ask":
		if v.Flavour == FlavourLix {
			return "ask"
		}
	case "false", "no", "0":
		return "false"
	}
	if v.Flavour == FlavourLix {
		return "ask"
	}
	return "false"
}

// nixEnv is the environment nix runs with: the step's env over sysinit's.
type nixEnv func(string) string

func (get nixEnv) home() (string, error) {
	if h := get("HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory: %w", err)
	}
	return h, nil
}

// xdg returns $name, or ~/def.
func (get nixEnv) xdg(name, def string) (string, error) {
	if d := get(name); d != "" {
		return d, nil
	}
	h, err := get.home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, def), nil
}

// trustedListPath is where nix v keeps trusted-settings.json: from Nix
// 2.25 (and so Determinate Nix) $NIX_DATA_HOME when set
// (NixOS/nix#11351); else $XDG_DATA_HOME/nix, or ~/.local/share/nix.
func trustedListPath(v Version, get nixEnv) (string, error) {
	if v.Flavour != FlavourLix && v.AtLeast(2, 25) {
		if d := get("NIX_DATA_HOME"); d != "" {
			return filepath.Join(d, "trusted-settings.json"), nil
		}
	}
	d, err := get.xdg("XDG_DATA_HOME", ".local/share")
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "nix", "trusted-settings.json"), nil
}

func readTrustedList(path string) (trustedList, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return trustedList{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var l trustedList
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return l, nil
}

// nixConfFiles lists the configuration files nix v reads, in the order it
// applies them (a later one overrides an earlier one): $NIX_CONF_DIR/nix.conf
// (/etc/nix), then the user's files, the first of which wins
// ($NIX_USER_CONF_FILES, else the XDG config directories; from Nix 2.25
// $NIX_CONFIG_HOME stands for $XDG_CONFIG_HOME/nix).
func nixConfFiles(v Version, get nixEnv) ([]string, error) {
	dir := get("NIX_CONF_DIR")
	if dir == "" {
		dir = "/etc/nix"
	}
	files := []string{filepath.Join(dir, "nix.conf")}
	var user []string
	if list := get("NIX_USER_CONF_FILES"); list != "" {
		user = strings.Split(list, ":")
	} else {
		dirs := strings.Split(get("XDG_CONFIG_DIRS"), ":")
		if get("XDG_CONFIG_DIRS") == "" {
			dirs = []string{"/etc/xdg"}
		}
		var home string
		if c := get("NIX_CONFIG_HOME"); c != "" && v.Flavour != FlavourLix && v.AtLeast(2, 25) {
			home = c
		} else {
			c, err := get.xdg("XDG_CONFIG_HOME", ".config")
			if err != nil {
				return nil, err
			}
			home = filepath.Join(c, "nix")
		}
		user = append(user, filepath.Join(home, "nix.conf"))
		for _, d := range dirs {
			if d != "" {
				user = append(user, filepath.Join(d, "nix", "nix.conf"))
			}
		}
	}
	for i := len(user) - 1; i >= 0; i-- {
		if user[i] != "" {
			files = append(files, user[i])
		}
	}
	return files, nil
}

// acceptFlakeConfig is accept-flake-config as nix v would have it: from its
// configuration files, $NIX_CONFIG, then the command line (args). "" when
// nothing sets it.
func acceptFlakeConfig(v Version, get nixEnv, args []string) (string, error) {
	files, err := nixConfFiles(v, get)
	if err != nil {
		return "", err
	}
	var value string
	set := func(name, val string) {
		if name == "accept-flake-config" {
			value = val
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			// nix skips a file it cannot read.
			continue
		}
		if err := applyNixConf(string(data), f, set, 0); err != nil {
			return "", err
		}
	}
	if env := get("NIX_CONFIG"); env != "" {
		if err := applyNixConf(env, "NIX_CONFIG", set, 0); err != nil {
			return "", err
		}
	}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--accept-flake-config":
			value = "true"
		case a == "--no-accept-flake-config":
			value = "false"
		case a == "--option" && i+2 < len(args):
			set(args[i+1], args[i+2])
			i += 2
		}
	}
	return value, nil
}

// applyNixConf reads nix.conf text as nix's AbstractConfig::applyConfig
// does: '#' starts a comment, tokens are split on blanks, `include` and
// `!include` read another file (relative to this one; `!include` of a
// missing file is fine), and `name = value…` sets name.
func applyNixConf(contents, path string, set func(name, value string), depth int) error {
	if depth > 32 {
		return fmt.Errorf("reading %s: includes nest too deep", path)
	}
	for _, line := range strings.Split(contents, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		tokens := strings.Fields(line)
		if len(tokens) == 0 {
			continue
		}
		if len(tokens) < 2 {
			return fmt.Errorf("illegal configuration line %q in %s", line, path)
		}
		if tokens[0] == "include" || tokens[0] == "!include" {
			if len(tokens) != 2 {
				return fmt.Errorf("illegal configuration line %q in %s", line, path)
			}
			p := tokens[1]
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			data, err := os.ReadFile(p)
			switch {
			case err == nil:
				if err := applyNixConf(string(data), p, set, depth+1); err != nil {
					return err
				}
			case errors.Is(err, fs.ErrNotExist) && tokens[0] == "!include":
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("file %s included from %s not found", p, path)
			}
			// Another error: nix skips a file it cannot read.
			continue
		}
		if tokens[1] != "=" {
			return fmt.Errorf("illegal configuration line %q in %s", line, path)
		}
		set(tokens[0], strings.Join(tokens[2:], " "))
	}
	return nil
}

// untrustedRE finds nix's warning for each flake setting it did not apply
// (every version and Lix: "ignoring untrusted flake configuration setting
// 'NAME'", followed by a hint since 2.24 and in Lix).
var untrustedRE = lazyregexp.New(`ignoring untrusted flake configuration setting '([^']+)'`)

// untrustedSettings is the set of settings nix said it ignored.
func untrustedSettings(stderr string) map[string]bool {
	m := map[string]bool{}
	for _, sm := range untrustedRE().FindAllStringSubmatch(stderr, -1) {
		m[sm[1]] = true
	}
	return m
}

// flakeConfigPlan is how the build of the evaluated derivation gets the
// flake's nixConfig.
type flakeConfigPlan struct {
	// Options are `--option NAME VALUE` for each setting nix applied.
	Options []string
	// Notes say, for each setting nix did not apply, why and how to make
	// it apply: nix ignored it for the evaluation too, but a cache the
	// user expects must not go missing without a word.
	Notes []string
	// Fallback, when set, is why sysinit cannot tell what nix applied: the
	// build then names the flake's attribute, evaluating it again, and nix
	// applies the flake's configuration itself.
	Fallback string
}

// planFlakeConfig puts the verdicts beside what nix said during the
// evaluation (ignored: the settings it warned it ignored). nix's word wins
// where it refused a setting; where sysinit would refuse one that nix
// applied without a word, sysinit cannot tell why (a configuration file it
// does not know, a warning reworded), so it lets nix decide (Fallback).
// retry is the command that would let the user answer nix's question.
func planFlakeConfig(verdicts []settingVerdict, ignored map[string]bool, retry string) flakeConfigPlan {
	var p flakeConfigPlan
	known := map[string]bool{}
	for _, vd := range verdicts {
		known[vd.Name] = true
		switch {
		case vd.Apply && !ignored[vd.Name]:
			p.Options = append(p.Options, "--option", vd.Name, vd.Value)
		case vd.Apply:
			p.Notes = append(p.Notes, fmt.Sprintf("flake.nix sets nixConfig.%s = %q, which sysinit read as applied (%s) but nix ignored for the evaluation: the build does not use it either", vd.Name, vd.Value, vd.Why))
		case ignored[vd.Name]:
			p.Notes = append(p.Notes, fmt.Sprintf("flake.nix sets nixConfig.%s = %q, which nix does not apply here (%s): neither the evaluation nor the build uses it. To use it, add `accept-flake-config = true` to nix.conf or `extra-args = [\"--accept-flake-config\"]` to the step, or run `%s` once in a terminal and answer y to both questions", vd.Name, vd.Value, vd.Why, retry))
		default:
			p.Fallback = fmt.Sprintf("nix applied flake.nix's nixConfig.%s, which sysinit reads as not applied (%s)", vd.Name, vd.Why)
		}
	}
	for name := range ignored {
		if !known[name] && p.Fallback == "" {
			p.Fallback = fmt.Sprintf("nix ignored a nixConfig setting sysinit did not read (%s)", name)
		}
	}
	return p
}
