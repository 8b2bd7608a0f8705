package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/nixgraph"
	"github.com/sysinit/sysinit/internal/plan"
)

// grapher is a step whose inputs come from an import graph: a nix step.
type grapher interface {
	Graph(ctx context.Context) (*nix.GraphReport, error)
}

// inputChainer says why a file is one of a step's inputs.
type inputChainer interface {
	InputChain(file string) []string
}

func (a *app) newGraph() *cobra.Command {
	var dot bool
	c := &cobra.Command{
		Use:   "graph STEP",
		Short: "Show the files a nix step's configuration reads, and how each is reached",
		Long: `Show the tracked files a nix step's configuration can read from its
entry — each under the reference that reached it first — with the
references the analysis widened, the impure inputs only the active-system
probe can notice, and where git metadata is read. --dot prints the same
tree as a Graphviz graph. Reads and writes nothing but the repository.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runGraph(cmd.Context(), args[0], dot)
		},
	}
	c.Flags().BoolVar(&dot, "dot", false, "print a Graphviz digraph")
	return c
}

func (a *app) runGraph(ctx context.Context, name string, dot bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := a.open(true)
	if err != nil {
		return err
	}
	defer s.close()
	cs := s.cfg.Step(name)
	if cs == nil {
		return &plan.UnknownStepError{Name: name, Known: configStepNames(s.cfg)}
	}
	g, ok := s.steps[name].(grapher)
	if !ok {
		return usageError{fmt.Errorf("step %q is a %s step: only nix steps read an import graph", name, cs.Kind)}
	}
	rep, err := g.Graph(ctx)
	if err != nil {
		return fmt.Errorf("analysing step %s: %w", name, err)
	}
	if len(rep.Entries) == 0 {
		fmt.Fprintf(a.stdout, "%s names no entry: its inputs are every file git tracks in the flake's repository.\nAdd entry = [\"hosts/NAME\", …] (what flake.nix lists in its modules) to narrow them; see docs/graph.md.\n", name)
		return nil
	}
	if dot {
		printGraphDot(a.stdout, name, rep)
		return nil
	}
	printGraphTree(a.stdout, name, rep)
	return nil
}

// graphChildren groups the reached files under the file whose reference
// reached each first; roots are the entries and flake.nix's files, in that
// order.
func graphChildren(rep *nix.GraphReport) (roots []string, children map[string][]string) {
	children = map[string][]string{}
	var entries, flake []string
	for _, f := range rep.Files {
		e, ok := rep.Via[f]
		switch {
		case !ok || e.From == "" && e.Via != "flake":
			entries = append(entries, f)
		case e.From == "":
			flake = append(flake, f)
		default:
			children[e.From] = append(children[e.From], f)
		}
	}
	return append(entries, flake...), children
}

func printGraphTree(w io.Writer, name string, rep *nix.GraphReport) {
	what := name
	if rep.Config != "" {
		what += " (" + rep.Config + ")"
	}
	if rep.Fallback != "" {
		fmt.Fprintf(w, "%s: every tracked file (%d) is an input: %s\n", what, rep.Tracked, rep.Fallback)
		return
	}
	fmt.Fprintf(w, "%s reads %d of %d tracked files from %s\n", what, len(rep.Files), rep.Tracked, strings.Join(rep.Entries, ", "))
	fmt.Fprintln(w, pathBase(rep))
	if rep.WholeInputs {
		fmt.Fprintln(w, "its inputs are every tracked file and HEAD's commit all the same: it reads git metadata or the whole flake (below)")
	}
	fmt.Fprintln(w)
	roots, children := graphChildren(rep)
	var walk func(f string, depth int)
	walk = func(f string, depth int) {
		fmt.Fprintf(w, "%s%s%s\n", strings.Repeat("  ", depth), f, edgeNote(rep.Via[f]))
		for _, c := range children[f] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	if len(rep.Widenings) > 0 {
		fmt.Fprintln(w, "\nwidened (references that could not be followed exactly):")
		for _, wd := range rep.Widenings {
			fmt.Fprintf(w, "  %s: %s widens to %s\n", site(wd.File, wd.Line), wd.Construct, widened(wd.Dir))
		}
	}
	if len(rep.Impure) > 0 {
		fmt.Fprintln(w, "\nimpure inputs (only the active-system probe can notice them change):")
		for _, im := range rep.Impure {
			fmt.Fprintf(w, "  %s: %s %s\n", site(im.File, im.Line), im.Construct, im.Text)
		}
	}
	if len(rep.GitHead) > 0 {
		fmt.Fprintln(w, "\ngit metadata read (HEAD's commit is an input):")
		for _, h := range rep.GitHead {
			fmt.Fprintf(w, "  %s: %s\n", site(h.File, h.Line), h.Construct)
		}
	}
}

// edgeNote says how a file was reached: "  (line 3; by modules/; builtins.readDir)".
func edgeNote(e nixgraph.Edge) string {
	var notes []string
	if e.From == "" {
		switch {
		case e.Via == "entry" && e.Ref != "" && e.Ref != e.To:
			notes = append(notes, "in entry "+e.Ref)
		case e.Via != "":
			notes = append(notes, e.Via)
		}
	} else {
		if e.Line > 0 {
			notes = append(notes, fmt.Sprintf("line %d", e.Line))
		}
		if e.Ref != "" && e.Ref != e.To {
			notes = append(notes, "by "+e.Ref)
		}
		if e.Via != "" {
			notes = append(notes, e.Via)
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return "  (" + strings.Join(notes, "; ") + ")"
}

func site(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

func widened(dir string) string {
	if dir == "." {
		return "the whole flake"
	}
	return dir
}

func printGraphDot(w io.Writer, name string, rep *nix.GraphReport) {
	fmt.Fprintf(w, "digraph %s {\n  rankdir=LR;\n  node [shape=box];\n", dotQuote(name))
	if rep.Fallback != "" {
		fmt.Fprintf(w, "  // every tracked file is an input: %s\n}\n", oneLine(rep.Fallback))
		return
	}
	fmt.Fprintf(w, "  // %s\n", pathBase(rep))
	roots, _ := graphChildren(rep)
	sort.Strings(roots)
	for _, r := range roots {
		fmt.Fprintf(w, "  %s [style=bold];\n", dotQuote(r))
	}
	for _, f := range rep.Files {
		e, ok := rep.Via[f]
		if !ok || e.From == "" {
			continue
		}
		label := ""
		if e.Line > 0 {
			label = fmt.Sprint(e.Line)
		}
		if e.Via != "" {
			label = strings.TrimSpace(label + " " + e.Via)
		}
		fmt.Fprintf(w, "  %s -> %s", dotQuote(e.From), dotQuote(f))
		if label != "" {
			fmt.Fprintf(w, " [label=%s]", dotQuote(label))
		}
		fmt.Fprintln(w, ";")
	}
	for _, wd := range rep.Widenings {
		fmt.Fprintf(w, "  // widened: %s: %s widens to %s\n", site(wd.File, wd.Line), oneLine(wd.Construct), widened(wd.Dir))
	}
	for _, im := range rep.Impure {
		fmt.Fprintf(w, "  // impure: %s: %s %s\n", site(im.File, im.Line), im.Construct, oneLine(im.Text))
	}
	for _, h := range rep.GitHead {
		fmt.Fprintf(w, "  // git metadata: %s: %s\n", site(h.File, h.Line), h.Construct)
	}
	fmt.Fprintln(w, "}")
}

// dotQuote quotes s as a Graphviz ID.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// printChains prints under each changed file the references that reached
// it from an entry.
func printChains(w io.Writer, indent string, files []plan.FileChange, c inputChainer) {
	for _, f := range files {
		printFiles(w, indent, []plan.FileChange{f}, 0)
		for i, l := range c.InputChain(f.Path) {
			lead := "reached: "
			if i > 0 {
				lead = "         "
			}
			fmt.Fprintf(w, "%s            %s%s\n", indent, lead, l)
		}
	}
}

// saveGraphCache writes the nix graph cache back if the analyses added to
// it.
func saveGraphCache(s *session) error {
	data, changed := s.graphs.Save()
	if !changed {
		return nil
	}
	return s.store.PutGraphCache(data)
}

// pathBase says what the paths of a graph are relative to: the
// repository's root, where nix's copy of the flake's source starts — not
// the flake's directory (entry's base) when the flake is deeper in it.
func pathBase(rep *nix.GraphReport) string {
	msg := "paths are relative to the git repository at " + rep.Root
	if rep.FlakeDir != "" && rep.FlakeDir != "." {
		msg += " (the flake is in " + rep.FlakeDir + ")"
	}
	return msg
}
