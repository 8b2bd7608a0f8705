package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// index is what a nixpkgs revision offers: attribute paths with their
// package names, and with metadata when the source carries it.
type index struct {
	// Format is "nix-search" (the output of `nix search --json NIXPKGS ^`)
	// or "packages.json" (nixpkgs' channel package list).
	Format string
	// Systems are those the index was listed for: the <system> of
	// nix-search keys, or packages.json's per-package system.
	Systems []string
	pkgs    map[string]*pkgInfo
	lower   map[string][]string // lowercased top-level attribute → attributes
	pnames  map[string][]string // package name → attributes
	homes   map[string][]string // normalised homepage → attributes
}

// pkgInfo is one index entry.
type pkgInfo struct {
	Attr        string // attribute path under legacyPackages.<system>
	Pname       string
	Version     string
	Description string
	Homepage    string
	// Meta is set by packages.json indexes, which record nixpkgs' meta.
	Meta *meta
}

// Len is the number of packages in the index.
func (x *index) Len() int { return len(x.pkgs) }

// Lookup returns the package at an attribute path.
func (x *index) Lookup(attr string) (*pkgInfo, bool) {
	p, ok := x.pkgs[attr]
	return p, ok
}

// HasHomepages reports whether the index can match by homepage.
func (x *index) HasHomepages() bool { return len(x.homes) > 0 }

// loadIndex reads an index file in either format.
func loadIndex(path string) (*index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading package index: %w", err)
	}
	x, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("reading package index %s: %w", path, err)
	}
	return x, nil
}

// parseIndex reads the JSON of `nix search --json NIXPKGS ^` or nixpkgs'
// packages.json, telling them apart by shape: packages.json is an object
// with a "packages" object; nix search's keys are flake output paths.
func parseIndex(data []byte) (*index, error) {
	// One pass for the common, large case (nix search: ~120k entries); a
	// packages.json shows itself by its "packages" key, and is read again.
	var entries map[string]searchEntry
	err := json.Unmarshal(data, &entries)
	if _, ok := entries["packages"]; ok {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, fmt.Errorf("not a nix search or packages.json index: %w", err)
		}
		if startsObject(top["packages"]) {
			return parsePackagesJSON(top["packages"])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("not a nix search or packages.json index: %w", err)
	}
	return parseNixSearch(entries)
}

func startsObject(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

type searchEntry struct {
	Pname       string `json:"pname"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

func parseNixSearch(entries map[string]searchEntry) (*index, error) {
	x := newIndex("nix-search", len(entries))
	systems := map[string]bool{}
	for key, e := range entries {
		sys, attr, ok := splitOutputKey(key)
		if !ok {
			return nil, fmt.Errorf("key %q: want legacyPackages.<system>.<attribute> as nix search prints", key)
		}
		systems[sys] = true
		if _, dup := x.pkgs[attr]; dup {
			continue // the same attribute listed for another system
		}
		x.add(&pkgInfo{Attr: attr, Pname: e.Pname, Version: e.Version, Description: e.Description})
	}
	x.Systems = slices.Sorted(maps.Keys(systems))
	return x, nil
}

// splitOutputKey splits "legacyPackages.x86_64-linux.nerd-fonts.hack" into
// the system and the attribute path.
func splitOutputKey(key string) (system, attr string, ok bool) {
	rest, found := strings.CutPrefix(key, "legacyPackages.")
	if !found {
		rest, found = strings.CutPrefix(key, "packages.")
	}
	if !found {
		return "", "", false
	}
	system, attr, ok = strings.Cut(rest, ".")
	return system, attr, ok && system != "" && attr != ""
}

type packagesJSONEntry struct {
	Pname   string `json:"pname"`
	Version string `json:"version"`
	System  string `json:"system"`
	Meta    struct {
		Description string          `json:"description"`
		Homepage    json.RawMessage `json:"homepage"`
		Platforms   json.RawMessage `json:"platforms"`
		BadPlatform json.RawMessage `json:"badPlatforms"`
		Broken      *bool           `json:"broken"`
		Unfree      *bool           `json:"unfree"`
		Insecure    *bool           `json:"insecure"`
		License     json.RawMessage `json:"license"`
	} `json:"meta"`
}

func parsePackagesJSON(raw json.RawMessage) (*index, error) {
	var pkgs map[string]packagesJSONEntry
	if err := json.Unmarshal(raw, &pkgs); err != nil {
		return nil, fmt.Errorf("packages.json: %w", err)
	}
	x := newIndex("packages.json", len(pkgs))
	systems := map[string]bool{}
	for attr, e := range pkgs {
		if attr == "" {
			return nil, errors.New("packages.json: a package has an empty attribute name")
		}
		if e.System != "" {
			systems[e.System] = true
		}
		m := &meta{
			Found:       true,
			Derivation:  true,
			Broken:      e.Meta.Broken,
			Unfree:      e.Meta.Unfree,
			Insecure:    e.Meta.Insecure,
			Homepage:    firstString(e.Meta.Homepage),
			Description: e.Meta.Description,
		}
		m.Platforms, m.PlatformPatterns = stringList(e.Meta.Platforms)
		m.BadPlatforms, _ = stringList(e.Meta.BadPlatform)
		if m.Unfree == nil {
			m.Unfree = unfreeLicense(e.Meta.License)
		}
		x.add(&pkgInfo{Attr: attr, Pname: e.Pname, Version: e.Version, Description: e.Meta.Description,
			Homepage: m.Homepage, Meta: m})
	}
	x.Systems = slices.Sorted(maps.Keys(systems))
	return x, nil
}

// firstString reads a homepage: a string, or a list whose first string
// counts.
func firstString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []json.RawMessage
	if json.Unmarshal(raw, &l) == nil {
		for _, it := range l {
			if json.Unmarshal(it, &s) == nil {
				return s
			}
		}
	}
	return ""
}

// stringList reads meta.platforms: strings, plus whether some items were
// patterns (attribute sets) that only nixpkgs' lib can match.
func stringList(raw json.RawMessage) (list []string, patterns bool) {
	var items []json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	list = []string{}
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			list = append(list, s)
		} else {
			patterns = true
		}
	}
	return list, patterns
}

// unfreeLicense reads meta.license: one license or a list; unfree when any
// says free = false. nil when the licenses do not say.
func unfreeLicense(raw json.RawMessage) *bool {
	type lic struct {
		Free *bool `json:"free"`
	}
	var one lic
	var many []lic
	switch {
	case len(raw) == 0:
		return nil
	case json.Unmarshal(raw, &one) == nil:
		many = []lic{one}
	case json.Unmarshal(raw, &many) == nil:
	default:
		return nil
	}
	var said *bool
	for _, l := range many {
		if l.Free == nil {
			continue
		}
		unfree := !*l.Free
		if unfree {
			return &unfree
		}
		said = &unfree
	}
	return said
}

func newIndex(format string, n int) *index {
	return &index{Format: format, pkgs: make(map[string]*pkgInfo, n), lower: make(map[string][]string, n),
		pnames: make(map[string][]string, n), homes: map[string][]string{}}
}

func (x *index) add(p *pkgInfo) {
	x.pkgs[p.Attr] = p
	if !strings.Contains(p.Attr, ".") {
		l := strings.ToLower(p.Attr)
		x.lower[l] = append(x.lower[l], p.Attr)
	}
	if p.Pname != "" {
		x.pnames[p.Pname] = append(x.pnames[p.Pname], p.Attr)
	}
	if h := normaliseHomepage(p.Homepage); h != "" {
		x.homes[h] = append(x.homes[h], p.Attr)
	}
}

// normaliseHomepage reduces a URL to what identifies a project: no scheme,
// no www., no query or fragment, no trailing slash or .git. A bare domain
// says too little (many packages share one), so it gives "".
func normaliseHomepage(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	for _, p := range []string{"https://", "http://"} {
		u = strings.TrimPrefix(u, p)
	}
	u = strings.TrimPrefix(u, "www.")
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	u = strings.TrimSuffix(u, "/")
	if !strings.Contains(u, "/") {
		return ""
	}
	return u
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, so a reader never sees half of it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := io.Copy(f, bytes.NewReader(data))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return werr
	}
	return nil
}
