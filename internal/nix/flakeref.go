package nix

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// flakeRef is a parsed `flake = "..."` value.
type flakeRef struct {
	raw      string // as written in the config
	base     string // before '#', as given to nix (local paths made absolute)
	fragment string // after '#'
	// dir is the flake's directory for a local flake ("" for remote ones).
	dir string
	// gitFiltered: nix copies only git-tracked files (path-like references
	// inside a git repository, git+file); otherwise the whole directory.
	gitFiltered bool
	// pathScheme: an explicit path: reference, which never filters by git.
	pathScheme bool
	submodules bool // ?submodules=1
	// pinned: ref= or rev= makes nix read a commit, not the work tree.
	pinned bool
}

// parseFlakeRef parses s, resolving relative paths against dir.
func parseFlakeRef(s, dir string) (flakeRef, error) {
	r := flakeRef{raw: s}
	base, frag, _ := strings.Cut(s, "#")
	r.fragment = frag
	if base == "" {
		return r, fmt.Errorf("flake %q: no flake before '#'; write it like \".#host\"", s)
	}
	loc, query, _ := strings.Cut(base, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return r, fmt.Errorf("flake %q: bad query %q: %w", s, query, err)
	}
	r.submodules = q.Get("submodules") == "1" || q.Get("submodules") == "true"
	r.pinned = q.Has("ref") || q.Has("rev")
	sub := q.Get("dir")

	local := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return filepath.Join(filepath.Clean(p), filepath.FromSlash(sub))
	}
	switch {
	case strings.HasPrefix(loc, "/") || loc == "." || loc == ".." ||
		strings.HasPrefix(loc, "./") || strings.HasPrefix(loc, "../"):
		// A path-like reference: nix looks for an enclosing git repository
		// and, if there is one, filters by what git tracks.
		abs := loc
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, abs)
		}
		r.dir = local(loc)
		r.gitFiltered = true
		r.base = abs
		if query != "" {
			r.base += "?" + query
		}
	case strings.HasPrefix(loc, "path:"):
		r.dir = local(strings.TrimPrefix(loc, "path:"))
		r.pathScheme = true
		r.base = base
	case strings.HasPrefix(loc, "git+file:"):
		p := strings.TrimPrefix(loc, "git+file:")
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return r, fmt.Errorf("flake %q: git+file needs a path", s)
		}
		r.dir = local(p)
		r.gitFiltered = true
		r.base = base
	default:
		r.base = base // github:, git+https:, an indirect "nixpkgs", …
	}
	return r, nil
}

// local reports whether the flake lives on this machine.
func (r flakeRef) local() bool { return r.dir != "" }

// installable is base#attr.
func (r flakeRef) installable(attr string) string { return r.base + "#" + attr }

// quoteAttr quotes one attribute name for an attribute path when it holds
// a dot, as nixos-rebuild and home-manager do ("user@host.local").
func quoteAttr(name string) string {
	if strings.ContainsAny(name, `."`) {
		return `"` + strings.ReplaceAll(name, `"`, `\"`) + `"`
	}
	return name
}
