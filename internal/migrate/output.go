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

// WriteTable prints the report for people: one row per entry, a summary
// line, then the notes and what was written.
func WriteTable(out io.Writer, r *Report) error {
	w := &errWriter{w: out}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tKIND\tATTRIBUTE\tMATCH\tVERDICT\tREASON")
	for _, res := range r.Results {
		attr, match := res.Attr, matchLabels[res.Match]
		if attr == "" {
			attr = "-"
		}
		if match == "" {
			match = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(res.Name), res.Kind, attr, match, res.Verdict, oneLine(res.Reason))
	}
	_ = tw.Flush() // errors are kept by w
	s := r.Summary()
	how := "not verified: nix not found"
	if r.Verified {
		how = "verified with nix against " + r.Nixpkgs
		if r.Revision != "" {
			how += " (" + shortRev(r.Revision) + ")"
		}
	}
	noun := "entries"
	if len(r.Results) == 1 {
		noun = "entry"
	}
	fmt.Fprintf(w, "\n%d %s: %d move, %d keep, %d check — %s, %s\n",
		len(r.Results), noun, s.Move, s.Keep, s.Check, r.System, how)
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
	Entries  []jsonEntry `json:"entries"`
	Summary  Summary     `json:"summary"`
	System   string      `json:"system"`
	Nixpkgs  string      `json:"nixpkgs"`
	Verified bool        `json:"verified"`
	Notes    []string    `json:"notes"`
	Written  *Written    `json:"written,omitempty"`
}

type jsonEntry struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Attr    string `json:"attr"`
	Match   string `json:"match"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	Line    int    `json:"line"`
}

// WriteJSON prints the report as one JSON object:
//
//	{"entries":[{"name","kind","attr","match","verdict","reason","line"}…],
//	 "summary":{"move","keep","check"}, "system", "nixpkgs", "verified",
//	 "notes":[…], "written":{…} (after --write)}
//
// attr and match are "" when nothing matched.
func WriteJSON(w io.Writer, r *Report) error {
	out := jsonReport{Entries: []jsonEntry{}, Summary: r.Summary(), System: r.System, Nixpkgs: r.Nixpkgs,
		Verified: r.Verified, Notes: append([]string{}, r.Notes...), Written: r.Written}
	for _, res := range r.Results {
		out.Entries = append(out.Entries, jsonEntry{Name: res.Name, Kind: res.Kind, Attr: res.Attr, Match: res.Match,
			Verdict: res.Verdict, Reason: res.Reason, Line: res.Line})
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
