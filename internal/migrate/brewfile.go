package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/sysinit/sysinit/internal/brew"
)

// parseBrewfile reads a Brewfile into entries, with a note for each line
// that computes entries migrate cannot see (loops, commands, computed
// names). Conditions are not noted: the entries under them are listed and
// marked Conditional.
func parseBrewfile(name string, src []byte) ([]entry, []string, error) {
	bf, err := brew.Parse(name, bytes.NewReader(src))
	if err != nil {
		return nil, nil, fmt.Errorf("reading Brewfile: %w", err)
	}
	entries := fromBrewfile(bf, src)
	onEntry := map[int]bool{}
	for _, e := range entries {
		onEntry[e.Line] = true
	}
	var notes []string
	for _, d := range bf.Dynamic {
		if onEntry[d.Line] || d.Why == "conditional" {
			continue
		}
		notes = append(notes, fmt.Sprintf("%s line %d computes something (%s): entries it makes are not listed: %s", name, d.Line, d.Why, d.Text))
	}
	return entries, notes, nil
}

// fromBrewfile converts the parser's entries. src is the Brewfile the
// parser read; it decides which entries sit alone on their line.
func fromBrewfile(bf *brew.Brewfile, src []byte) []entry {
	lines := strings.Split(string(src), "\n")
	perLine := map[int]int{}
	for _, e := range bf.Entries {
		perLine[e.Line]++
	}
	out := make([]entry, 0, len(bf.Entries))
	for _, be := range bf.Entries {
		e := entry{Kind: be.Type, Name: be.Name, Line: be.Line, Conditional: be.Conditional}
		for k := range be.Options {
			e.Options = append(e.Options, k)
		}
		slices.Sort(e.Options)
		if be.Line >= 1 && be.Line <= len(lines) && perLine[be.Line] == 1 {
			e.Plain = plainLine(lines[be.Line-1], be.Type, be.Name)
		}
		out = append(out, e)
	}
	return out
}

// plainLine reports whether line is `kind "name"` (or with single quotes
// or parentheses) and at most a comment: removing it removes the entry and
// nothing else. Anything more — options on the next line, a `;`, a
// modifier — is left to a person.
func plainLine(line, kind, name string) bool {
	if strings.ContainsAny(name, `"'\#`) {
		return false
	}
	k, n := regexp.QuoteMeta(kind), regexp.QuoteMeta(name)
	str := `("` + n + `"|'` + n + `')`
	re := `^\s*` + k + `(\s+` + str + `|\s*\(\s*` + str + `\s*\))\s*(#.*)?$`
	m, err := regexp.MatchString(re, strings.TrimRight(line, "\r"))
	return err == nil && m
}

// loadBrewInfo reads `brew info --json=v2` output into homepages by
// kind and name (both the short and the full tap-qualified name).
func loadBrewInfo(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading brew info: %w", err)
	}
	var info struct {
		Formulae []struct {
			Name     string `json:"name"`
			FullName string `json:"full_name"`
			Homepage string `json:"homepage"`
		} `json:"formulae"`
		Casks []struct {
			Token     string `json:"token"`
			FullToken string `json:"full_token"`
			Homepage  string `json:"homepage"`
		} `json:"casks"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("reading brew info %s: want the output of brew info --json=v2: %w", path, err)
	}
	out := map[string]string{}
	for _, f := range info.Formulae {
		out[homeKey("brew", f.Name)] = f.Homepage
		out[homeKey("brew", f.FullName)] = f.Homepage
	}
	for _, c := range info.Casks {
		out[homeKey("cask", c.Token)] = c.Homepage
		out[homeKey("cask", c.FullToken)] = c.Homepage
	}
	return out, nil
}

func homeKey(kind, name string) string { return kind + " " + name }
