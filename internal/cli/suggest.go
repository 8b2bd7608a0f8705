package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// mistypedCommand returns a usage error when the first word of
// `sysinit WORD…` is no step of the config (nor close to one) but is close
// to a command's name: "refrsh" meant refresh, not a step. A word close to
// no command is left to refresh, which names the steps there are.
func (a *app) mistypedCommand(root *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	word := args[0]
	cmds := root.SuggestionsFor(word)
	if len(cmds) == 0 {
		return nil
	}
	// Only a word that is close to a command costs this second load.
	if path, err := a.configPath(); err == nil {
		if cfg, _ := config.Load(path, kinds.Decls()); cfg != nil {
			steps := configStepNames(cfg)
			if slices.Contains(steps, word) || len(closest(word, steps)) > 0 {
				return nil
			}
		}
	}
	return usageError{fmt.Errorf("%q is neither a command nor a step: did you mean %s?\nrun 'sysinit --help' for the commands", word, orList(cmds))}
}

// closest returns the names within an edit distance of 2 of word (or that
// start with it), nearest first: what "did you mean" offers.
func closest(word string, names []string) []string {
	type near struct {
		name string
		d    int
	}
	var found []near
	for _, n := range names {
		d := editDistance(strings.ToLower(word), strings.ToLower(n))
		if d <= 2 || (len(word) >= 2 && strings.HasPrefix(n, word)) {
			found = append(found, near{n, d})
		}
	}
	slices.SortStableFunc(found, func(x, y near) int { return x.d - y.d })
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.name
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// orList joins names for a question: "a", "a or b", "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// strictCompletion makes `sysinit completion` refuse a shell it has no
// script for (cobra's default shows help and exits 0, so a typo in a
// shell's rc file goes unnoticed), naming the shells there are.
func (a *app) strictCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		var shells []string
		for _, sh := range c.Commands() {
			shells = append(shells, sh.Name())
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("name a shell: sysinit completion %s", strings.Join(shells, "|"))}
			}
			return usageError{fmt.Errorf("no completion for shell %q: use one of %s", args[0], strings.Join(shells, ", "))}
		}
	}
}

// flagElsewhere says which commands take a flag c does not know: the
// global-looking `sysinit --jobs 0 plan` puts refresh's flag before a
// command that has none. "" when err is no unknown flag or no command
// takes it. The root command is refresh under another name and is left
// out.
func flagElsewhere(root, c *cobra.Command, err error) string {
	msg := err.Error()
	var lookup func(*pflag.FlagSet) *pflag.Flag
	var shown string
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		if i := strings.IndexByte(name, '='); i >= 0 {
			name = name[:i]
		}
		shown = "--" + name
		lookup = func(fs *pflag.FlagSet) *pflag.Flag { return fs.Lookup(name) }
	} else if rest, ok := strings.CutPrefix(msg, "unknown shorthand flag: '"); ok && len(rest) > 1 && rest[1] == '\'' {
		short := rest[:1]
		shown = "-" + short
		lookup = func(fs *pflag.FlagSet) *pflag.Flag { return fs.ShorthandLookup(short) }
	} else {
		return ""
	}
	var takers []string
	long := ""
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			if sub != c && !sub.Hidden {
				if f := lookup(sub.LocalFlags()); f != nil {
					takers = append(takers, sub.CommandPath())
					long = f.Name
				}
			}
			walk(sub)
		}
	}
	walk(root)
	if len(takers) == 0 {
		return ""
	}
	return fmt.Sprintf("%s is a flag of %s, not of %s: %s --%s …", shown, orList(takers), c.CommandPath(), takers[0], long)
}
