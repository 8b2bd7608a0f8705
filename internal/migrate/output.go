package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

var matchLabels = map[string]string{
	MatchAlias:      "alias table",
	MatchExact:      "exact name",
	MatchNormalised: "normalised name",
	MatchHomepage:   "homepage",
}

// writeTable prints the report for people: one row per entry, a summary
// line, then the notes and what was written. VERIFIED says what each
// verdict rests on: nix, index, none (the alias table alone) or - (nothing
// to verify).
func writeTable(out io.Writer, r *report) error {
	w := &errWriter{w: out}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tKIND\tATTRIBUTE\tMATCH\tVERIFIED\tVERDICT\tREASON")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(res.Name), res.Kind, dash(res.Attr),
			dash(matchLabels[res.Match]), dash(res.Verification), res.Verdict, oneLine(res.Reason))
	}
	_ = tw.Flush() // errors are kept by w
	s := r.Summary()
	var how string
	switch {
	case r.Verified:
		how = "verified with nix against " + r.Nixpkgs
		if r.Revision != "" {
			how += " (" + shortRev(r.Revision) + ")"
		}
	case r.Unverified != "" && r.IndexSource != "":
		how = "not verified by nix: " + r.Unverified + "; from the package index"
	case r.Unverified != "":
		how = "not verified: " + r.Unverified
	default:
		how = "from the package index"
	}
	noun := "entries"
	if len(r.Results) == 1 {
		noun = "entry"
	}
	moves := fmt.Sprintf("%d move", s.Move)
	if s.Unverified > 0 {
		moves += fmt.Sprintf(" (%d unverified)", s.Unverified)
	}
	fmt.Fprintf(w, "\n%d %s: %s, %d keep, %d check — %s, %s\n",
		len(r.Results), noun, moves, s.Keep, s.Check, r.System, how)
	if r.IndexSource != "" {
		fmt.Fprintf(w, "package index: %s\n", r.IndexSource)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", oneLine(n))
	}
	if wr := r.Written; wr != nil {
		for _, l := range wr.lines() {
			fmt.Fprintln(w, l)
		}
	}
	return w.err
}

// errWriter keeps the first write error, so printing code need not check
// every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// jsonReport is the stable --json contract: entries and summary always
// present, other fields only added to.
type jsonReport struct {
	Entries    []jsonEntry `json:"entries"`
	Summary    summary     `json:"summary"`
	System     string      `json:"system"`
	Nixpkgs    string      `json:"nixpkgs"`
	Verified   bool        `json:"verified"`
	Unverified string      `json:"unverified"`
	Notes      []string    `json:"notes"`
	Written    *written    `json:"written,omitempty"`
}

type jsonEntry struct {
	Name         string     `json:"name"`
	Kind         string     `json:"kind"`
	Attr         string     `json:"attr"`
	Match        string     `json:"match"`
	Verification string     `json:"verification"`
	Verdict      string     `json:"verdict"`
	Reason       string     `json:"reason"`
	Line         int        `json:"line"`
	Merged       []jsonLine `json:"merged,omitempty"`
}

type jsonLine struct {
	Name string `json:"name"`
	Line int    `json:"line"`
}

// writeJSON prints the report as one JSON object:
//
//	{"entries":[{"name","kind","attr","match","verification","verdict",
//	   "reason","line","merged":[{"name","line"}…]}…],
//	 "summary":{"move","keep","check","unverified"}, "system", "nixpkgs",
//	 "verified", "unverified", "notes":[…], "written":{…} (after --write)}
//
// attr and match are "" when nothing matched. verification is "nix",
// "index", "none" (the alias table alone) or "" (nothing to verify);
// merged, present only when not empty, lists the later lines naming the
// same package. The top-level unverified says why nixpkgs could not be
// consulted, "" when it was; summary.unverified counts the moves it did
// not confirm.
func writeJSON(w io.Writer, r *report) error {
	out := jsonReport{Entries: []jsonEntry{}, Summary: r.Summary(), System: r.System, Nixpkgs: r.Nixpkgs,
		Verified: r.Verified, Unverified: r.Unverified, Notes: append([]string{}, r.Notes...), Written: r.Written}
	for _, res := range r.Results {
		e := jsonEntry{Name: res.Name, Kind: res.Kind, Attr: res.Attr, Match: res.Match, Verification: res.Verification,
			Verdict: res.Verdict, Reason: res.Reason, Line: res.Line}
		for _, m := range res.Merged {
			e.Merged = append(e.Merged, jsonLine{Name: m.Name, Line: m.Line})
		}
		out.Entries = append(out.Entries, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func shortRev(k string) string {
	if len(k) > 12 {
		return k[:12]
	}
	return k
}
