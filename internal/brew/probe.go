package brew

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// tokenHeader starts every token; a token without it (an older format)
// only ever compares as "changed".
const tokenHeader = "brew-installed/1\n"

// listing reads Homebrew's installed set from the filesystem: one line per
// formula (Cellar/NAME) and cask (Caskroom/NAME) with the directory's
// modification time, which changes when a version is added or removed,
// and one per tap (Library/Taps/USER/homebrew-REPO). Taps carry no time:
// every `brew update` rewrites their checkouts without changing what is
// installed.
func (in *install) listing() (string, error) {
	var lines []string
	add := func(kind, dir string, withTime bool) error {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing of this kind installed yet
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", dir, err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if !withTime {
				lines = append(lines, kind+" "+e.Name())
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we read: it is not installed
			}
			if err != nil {
				return fmt.Errorf("listing %s: %w", dir, err)
			}
			lines = append(lines, kind+" "+e.Name()+" "+strconv.FormatInt(fi.ModTime().UnixNano(), 10))
		}
		return nil
	}
	if err := add("formula", in.cellar, true); err != nil {
		return "", err
	}
	if err := add("cask", in.caskroom(), true); err != nil {
		return "", err
	}
	users, err := os.ReadDir(in.taps())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("listing %s: %w", in.taps(), err)
	}
	for _, u := range users {
		if !u.IsDir() || strings.HasPrefix(u.Name(), ".") {
			continue
		}
		repos, err := os.ReadDir(filepath.Join(in.taps(), u.Name()))
		if err != nil {
			return "", fmt.Errorf("listing %s: %w", filepath.Join(in.taps(), u.Name()), err)
		}
		for _, r := range repos {
			if strings.HasPrefix(r.Name(), ".") {
				continue
			}
			lines = append(lines, "tap "+u.Name()+"/"+strings.TrimPrefix(r.Name(), "homebrew-"))
		}
	}
	sort.Strings(lines)
	var b strings.Builder
	b.WriteString(tokenHeader)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// listed is a parsed listing: "kind name" → modification time ("" for
// taps).
func parseListing(tok string) (map[string]string, bool) {
	body, ok := strings.CutPrefix(tok, tokenHeader)
	if !ok {
		return nil, false
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if l == "" {
			continue
		}
		kind, rest, _ := strings.Cut(l, " ")
		name, mtime, _ := strings.Cut(rest, " ")
		m[kind+" "+name] = mtime
	}
	return m, true
}

const unknownChange = "Homebrew's installed set changed outside sysinit"

// describeChange says what differs between two listings.
func describeChange(old, cur string) string {
	was, ok1 := parseListing(old)
	now, ok2 := parseListing(cur)
	if !ok1 || !ok2 {
		return unknownChange
	}
	var added, removed, changed []string
	for k, t := range now {
		switch ot, ok := was[k]; {
		case !ok:
			added = append(added, "+"+k)
		case ot != t:
			changed = append(changed, "~"+k)
		}
	}
	for k := range was {
		if _, ok := now[k]; !ok {
			removed = append(removed, "-"+k)
		}
	}
	if len(added)+len(removed)+len(changed) == 0 {
		return unknownChange
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	counts := fmt.Sprintf("%d added, %d removed", len(added), len(removed))
	if len(changed) > 0 {
		counts += fmt.Sprintf(", %d changed", len(changed))
	}
	names := append(append(added, removed...), changed...)
	const show = 5
	list := strings.Join(names[:min(show, len(names))], ", ")
	if len(names) > show {
		list += fmt.Sprintf(", and %d more", len(names)-show)
	}
	return fmt.Sprintf("%s (%s: %s)", unknownChange, counts, list)
}
