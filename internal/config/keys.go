package config

import (
	"fmt"
	"slices"
	"strings"
)

// kindNames is Kinds' keys in the order they are listed to users.
var kindNames = []string{"command", "file", "nix-darwin", "nixos", "home-manager", "nix-profile", "flake-update", "brew-bundle"}

// keyDoc tells users how a key is written.
type keyDoc struct {
	example string // a valid line, shown in hints
	items   string // arrays: what the elements are, for "must be an array of ..."
}

// keyDocs has an entry for every key of every kind; a key missing here is
// "unknown" to the loader, which a test guards against.
var keyDocs = map[string]keyDoc{
	"kind":         {example: `kind = "command"`},
	"inputs":       {example: `inputs = ["fonts/**", "!fonts/**/*.tmp"]`, items: "glob patterns"},
	"env":          {example: `env = { NIXPKGS_ALLOW_UNFREE = "1" }`},
	"after":        {example: `after = ["flake-update"]`, items: "step names"},
	"check":        {example: `check = "test -d ~/Library/Fonts/MyFont"`},
	"every":        {example: `every = "24h"`},
	"dir":          {example: `dir = "scripts"`},
	"timeout":      {example: `timeout = "30m"`},
	"sudo":         {example: `sudo = true`},
	"os":           {example: `os = ["darwin"]`, items: "OS names"},
	"requires":     {example: `requires = ["git"]`, items: "program names"},
	"run":          {example: `run = "./scripts/install.sh"`},
	"source":       {example: `source = "nix.custom.conf"`},
	"dest":         {example: `dest = "/etc/nix/nix.custom.conf"`},
	"mode":         {example: `mode = "0644"`},
	"on-change":    {example: `on-change = "launchctl kickstart -k system/org.nixos.nix-daemon"`},
	"flake":        {example: `flake = ".#myhost"`},
	"impure":       {example: `impure = true`},
	"extra-args":   {example: `extra-args = ["--show-trace"]`, items: "arguments"},
	"max-jobs":     {example: `max-jobs = 4`},
	"cores":        {example: `cores = 4`},
	"profile":      {example: `profile = "~/.local/state/nix/profiles/tools"`},
	"activate":     {example: `activate = "$SYSINIT_OUT/bin/setup"`},
	"action":       {example: `action = "switch"`},
	"commit":       {example: `commit = true`},
	"brewfile":     {example: `brewfile = "Brewfile"`},
	"cleanup":      {example: `cleanup = "check"`},
	"update-every": {example: `update-every = "24h"`},
	"upgrade":      {example: `upgrade = true`},
	"prefix":       {example: `prefix = "/opt/homebrew"`},
}

// example returns how to write key, adjusted where a kind gives it another
// meaning.
func example(kind, key string) string {
	if kind == "flake-update" && key == "inputs" {
		return `inputs = ["nixpkgs"]`
	}
	return keyDocs[key].example
}

// allowed reports whether kind accepts key.
func allowed(kind, key string) bool {
	return slices.Contains(CommonKeys, key) || slices.Contains(Kinds[kind], key)
}

// validKeys lists the keys kind accepts, kind's own first.
func validKeys(kind string) []string {
	return append(slices.Clone(Kinds[kind]), CommonKeys...)
}

// allKeys lists every key of every kind, for suggestions when the kind itself
// is wrong.
func allKeys() []string {
	var keys []string
	for k := range keyDocs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindsWith lists the kinds that accept key beyond the common keys.
func kindsWith(key string) []string {
	var kinds []string
	for _, k := range kindNames {
		if slices.Contains(Kinds[k], key) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// unknownKey explains a key kind does not accept: a typo of a valid key, a
// key of another kind, or nothing sysinit knows.
func (l *loader) unknownKey(s *Step, kindOK bool, key string) {
	at := s.Keys[key]
	if _, known := keyDocs[key]; known && kindOK {
		owners := kindsWith(key)
		l.fail(at, fmt.Sprintf("remove it, or change kind to %s", quoteList(owners, "or")),
			"`%s` is a %s key; this step is kind %q", key, joinList(owners, "or"), s.Kind)
		return
	}
	candidates := allKeys()
	if kindOK {
		candidates = validKeys(s.Kind)
	}
	hint := ""
	if c := closest(key, candidates); c != "" {
		hint = fmt.Sprintf("did you mean %q?", c)
	} else if c := closest(key, allKeys()); kindOK && len(kindsWith(c)) > 0 {
		hint = fmt.Sprintf("did you mean %q? it is a %s key; this step is kind %q", c, joinList(kindsWith(c), "or"), s.Kind)
	} else if kindOK {
		hint = fmt.Sprintf("a %s step takes %s, and the common keys %s",
			s.Kind, strings.Join(Kinds[s.Kind], ", "), strings.Join(CommonKeys, ", "))
	}
	l.fail(at, hint, "unknown key %q", key)
}

// quoteList renders ["a", "b", "c"] as `"a", "b" or "c"`.
func quoteList(items []string, conj string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return joinList(q, conj)
}

// joinList renders ["a", "b", "c"] as "a, b or c".
func joinList(items []string, conj string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}
