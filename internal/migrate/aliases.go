package migrate

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
)

// aliasData is the curated table of Homebrew names whose nixpkgs attribute
// differs (or is worth knowing without an index).
//
//go:embed aliases.tsv
var aliasData []byte

// noPackage is the attribute an alias gives when nixpkgs has no package for
// the Homebrew name: the entry stays in Homebrew.
const noPackage = "-"

// alias maps one Homebrew formula or cask to a nixpkgs attribute.
type alias struct {
	Kind   string // brew or cask
	Name   string // the Homebrew name, as in a Brewfile
	Attr   string // nixpkgs attribute path, or NoPackage
	Reason string
	Line   int // in aliases.tsv
}

// aliasTable is the alias table, by kind and Homebrew name.
type aliasTable map[aliasKey]alias

type aliasKey struct{ kind, name string }

// Lookup returns the alias for a Homebrew name of the given kind.
func (a aliasTable) Lookup(kind, name string) (alias, bool) {
	al, ok := a[aliasKey{kind, name}]
	return al, ok
}

// defaultAliases parses the table shipped with sysinit (aliases.tsv).
func defaultAliases() (aliasTable, error) { return parseAliases(aliasData) }

// parseAliases reads an alias table: lines of kind, Homebrew name, nixpkgs
// attribute and reason separated by tabs; # starts a comment line.
func parseAliases(data []byte) (aliasTable, error) {
	out := aliasTable{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("aliases.tsv:%d: want 4 tab-separated fields (kind, name, attribute, reason), got %d", n, len(f))
		}
		for i, what := range []string{"kind", "name", "attribute", "reason"} {
			if strings.TrimSpace(f[i]) == "" || f[i] != strings.TrimSpace(f[i]) {
				return nil, fmt.Errorf("aliases.tsv:%d: %s is empty or has surrounding spaces", n, what)
			}
		}
		al := alias{Kind: f[0], Name: f[1], Attr: f[2], Reason: f[3], Line: n}
		if al.Kind != "brew" && al.Kind != "cask" {
			return nil, fmt.Errorf("aliases.tsv:%d: kind %q: want brew or cask", n, al.Kind)
		}
		if al.Attr != noPackage && !validAttrPath(al.Attr) {
			return nil, fmt.Errorf("aliases.tsv:%d: %q is not a nixpkgs attribute path", n, al.Attr)
		}
		k := aliasKey{al.Kind, al.Name}
		if prev, dup := out[k]; dup {
			return nil, fmt.Errorf("aliases.tsv:%d: %s %q is already mapped on line %d", n, al.Kind, al.Name, prev.Line)
		}
		out[k] = al
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading aliases.tsv: %w", err)
	}
	return out, nil
}
