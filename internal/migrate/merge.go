package migrate

import (
	"fmt"
	"strconv"
	"strings"
)

// mergeDuplicates folds Brewfile entries that name the same package into
// the first of them, keeping the order of first appearance: the same kind
// and name again (Homebrew installs it once), or another name matched to
// the same attribute with confidence (gpg and gnupg, both nixpkgs gnupg).
// Each merge gets a note. cands[i] is the match of entries[i]; the merged
// entries' candidates are returned alongside.
//
// Without the merge, moving one line of two would leave the other in the
// Brewfile, and brew would go on installing the package.
func mergeDuplicates(entries []entry, cands []candidate) ([]entry, []candidate, []string) {
	var out []entry
	var outCands []candidate
	at := map[string]int{}
	for i, e := range entries {
		k := mergeKey(e, cands[i])
		if j, ok := at[k]; ok {
			out[j].Merged = append(out[j].Merged, e)
			continue
		}
		at[k] = len(out)
		out = append(out, e)
		outCands = append(outCands, cands[i])
	}
	var notes []string
	for i, e := range out {
		if len(e.Merged) > 0 {
			notes = append(notes, mergeNote(e, outCands[i]))
		}
	}
	return out, outCands, notes
}

// mergeKey is what makes two entries one package. An attribute joins
// different names only when both matches are sure (the alias table or the
// exact name) and neither comes from a third-party tap, whose formula may
// be other software by the same name.
func mergeKey(e entry, c candidate) string {
	tap, _ := splitTap(e.Name)
	if (e.Kind == "brew" || e.Kind == "cask") && tap == "" && c.Attr != "" && c.Attr != noPackage &&
		(c.Match == MatchAlias || c.Match == MatchExact) {
		return e.Kind + "\x00attr\x00" + c.Attr
	}
	return e.Kind + "\x00name\x00" + canonicalName(e)
}

// canonicalName is the entry's name as Homebrew resolves it: without
// homebrew/core or homebrew/cask in front, and in lower case for the kinds
// whose names Homebrew does not tell apart by case.
func canonicalName(e entry) string {
	tap, base := splitTap(e.Name)
	name := base
	if tap != "" {
		name = tap + "/" + base
	}
	if e.Kind == "brew" || e.Kind == "cask" || e.Kind == "tap" {
		name = strings.ToLower(name)
	}
	return name
}

func mergeNote(e entry, c candidate) string {
	all := append([]entry{e}, e.Merged...)
	same := true
	for _, m := range e.Merged {
		same = same && canonicalName(m) == canonicalName(e)
	}
	if same {
		lines := make([]string, len(all))
		for i, m := range all {
			lines[i] = strconv.Itoa(m.Line)
		}
		return fmt.Sprintf("%s %q is listed on lines %s: merged into one row; moving it removes every one of those lines",
			e.Kind, e.Name, andList(lines))
	}
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = fmt.Sprintf("%s %q (line %d)", m.Kind, m.Name, m.Line)
	}
	return fmt.Sprintf("%s are one nixpkgs package, %s: merged into one row; moving it removes every one of those lines",
		andList(names), c.Attr)
}

// mergedText says, in a result's reason, which lines were folded in.
func mergedText(e entry) string {
	var parts []string
	for _, m := range e.Merged {
		s := "line " + strconv.Itoa(m.Line)
		if canonicalName(m) != canonicalName(e) {
			s += fmt.Sprintf(" (%s %q)", m.Kind, m.Name)
		}
		parts = append(parts, s)
	}
	return "merged with " + andList(parts)
}

func andList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
