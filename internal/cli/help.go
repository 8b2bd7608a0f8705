package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// newHelp is cobra's help command, with one more topic: `help config
// [KIND]` prints the keys of sysinit.toml as docs/config.md lists them, so
// a user with only the binary has them.
func (a *app) newHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND | config [KIND]]",
		Short: "Help about a command, or the keys of sysinit.toml (help config [KIND])",
		Args:  usageArgs(cobra.ArbitraryArgs),
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 && args[0] == "config" {
				return kinds.Decls().Names(), cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return append(names, "config"), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "config" {
				if len(args) > 2 {
					return usageError{fmt.Errorf("help config takes at most one kind, not %d", len(args)-1)}
				}
				kind := ""
				if len(args) == 2 {
					kind = args[1]
				}
				if err := config.WriteDocs(a.stdout, kinds.Decls(), kind, false); err != nil {
					return usageError{err}
				}
				return nil
			}
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return usageError{fmt.Errorf("no help topic %q: run 'sysinit help' for the commands, 'sysinit help config' for the keys", args[0])}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}
