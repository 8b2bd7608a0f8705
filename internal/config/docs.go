package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// WriteDocs writes what a user writes in sysinit.toml: the keys every kind
// shares and, for each kind (or only the kind named only), what it does
// and its own keys. As Markdown it is docs/config.md's reference part; as
// text it is `sysinit help config`. Both come from the declarations, so
// they cannot drift from what the loader accepts.
func WriteDocs(w io.Writer, kinds *Kinds, only string, markdown bool) error {
	list := kinds.List()
	if only != "" {
		k := kinds.Get(only)
		if k == nil {
			hint := ""
			c := closest(only, kinds.Names())
			if c == "" {
				// A kind's first word ("brew", "nix"): the kinds it starts.
				var starts []string
				for _, n := range kinds.Names() {
					if strings.HasPrefix(n, only+"-") {
						starts = append(starts, n)
					}
				}
				if len(starts) == 1 {
					c = starts[0]
				}
			}
			if c != "" {
				hint = fmt.Sprintf("did you mean %q? ", c)
			}
			return fmt.Errorf("no kind %q (%skinds: %s)", only, hint, strings.Join(kinds.Names(), ", "))
		}
		list = []*Kind{k}
	}
	d := &docWriter{w: w, markdown: markdown}
	if only == "" {
		d.heading("Keys every kind takes")
		d.para("`sudo` is taken only by the kinds that run something as root, `hosts` only by those that can act on another machine; each kind below says whether it does.")
		var rows [][3]string
		rows = append(rows, [3]string{"kind", "string, required", kindDecl.doc})
		for _, k := range sharedDecls() {
			rows = append(rows, [3]string{k.name, k.typeText(), k.doc})
		}
		d.table([3]string{"key", "type", "meaning"}, rows)
	}
	for _, k := range list {
		d.heading(fmt.Sprintf("`%s`: %s", k.Name, k.Summary))
		if k.Doc != "" {
			d.para(k.Doc)
		}
		var notes []string
		if k.Sudo {
			notes = append(notes, fmt.Sprintf("takes `sudo` (default %v)", k.SudoDefault))
		} else {
			notes = append(notes, "does not take `sudo`")
		}
		if len(k.OS) > 0 {
			notes = append(notes, fmt.Sprintf("`os` defaults to %q", k.OS))
		}
		if k.Targets {
			notes = append(notes, "takes `hosts`")
		}
		d.para(fmt.Sprintf("A %s step %s.", k.Name, strings.Join(notes, "; ")))
		if len(k.ownKeys()) == 0 {
			d.para("It has no keys of its own.")
			continue
		}
		var rows [][3]string
		for _, kd := range k.ownKeys() {
			typ := kd.typeText()
			switch {
			case kd.required:
				typ += ", required"
			case kd.def != "":
				typ += fmt.Sprintf(", default %q", kd.def)
			}
			rows = append(rows, [3]string{kd.name, typ, kd.doc + " — `" + kd.example + "`"})
		}
		d.table([3]string{"key", "type", "meaning"}, rows)
	}
	if only == "" {
		d.heading("`[hosts.NAME]`: another machine")
		d.para("A host is a machine that steps taking `hosts` act on, reached over ssh; \"local\" names this one and no table may take it. " +
			"sysinit keeps one ssh connection per host while it runs and never prompts (BatchMode): keys and host keys come from your ssh config and known_hosts. See docs/fleet.md.")
		var rows [][3]string
		for _, hd := range hostDecls() {
			typ := hd.typeText()
			if hd.required {
				typ += ", required"
			}
			rows = append(rows, [3]string{hd.name, typ, hd.doc + " — `" + hd.example + "`"})
		}
		d.table([3]string{"key", "type", "meaning"}, rows)
	}
	return d.err
}

// docWriter writes headings, paragraphs and tables as Markdown or text.
type docWriter struct {
	w        io.Writer
	markdown bool
	started  bool
	err      error
}

func (d *docWriter) printf(format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, format, args...)
	}
}

func (d *docWriter) heading(h string) {
	if d.started {
		d.printf("\n")
	}
	d.started = true
	if d.markdown {
		d.printf("## %s\n\n", h)
		return
	}
	h = strings.ReplaceAll(h, "`", "")
	d.printf("%s\n%s\n\n", h, strings.Repeat("=", len([]rune(h))))
}

func (d *docWriter) para(p string) {
	if !d.markdown {
		p = plain(p)
	}
	d.printf("%s\n\n", p)
}

// mdLinkRE is a Markdown link, [text](https://…).
var mdLinkRE = lazyregexp.New(`\[([^\]]+)\]\((https?://[^)\s]+)\)`)

// plain is Markdown text as a terminal shows it: no backticks, and a link
// as its text and then its address, which a terminal user can follow.
func plain(s string) string {
	s = mdLinkRE().ReplaceAllString(s, "$1 ($2)")
	return strings.ReplaceAll(s, "`", "")
}

func (d *docWriter) table(head [3]string, rows [][3]string) {
	if d.markdown {
		d.printf("| %s | %s | %s |\n| --- | --- | --- |\n", head[0], head[1], head[2])
		for _, r := range rows {
			d.printf("| `%s` | %s | %s |\n", r[0], r[1], strings.ReplaceAll(r[2], "|", `\|`))
		}
		return
	}
	// A terminal: the key and its type on one line, what it means under it.
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		d.printf("  %-*s  %s\n      %s\n", width, r[0], r[1], plain(r[2]))
	}
	d.printf("\n")
}
