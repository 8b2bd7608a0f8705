package cli

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sysinit/sysinit/internal/step"
)

// newInstallFile is the privileged helper of file steps with sudo = true:
// sysinit runs itself through sudo as `sysinit install-file --mode MODE --
// DEST` and hands over the content on standard input (see step.Install).
// It is hidden: it is not for people.
func (a *app) newInstallFile() *cobra.Command {
	var mode, backup string
	c := &cobra.Command{
		Use:    step.InstallCommand + " --mode MODE [--backup NAME] -- DEST",
		Short:  "Install standard input as DEST (the helper a file step runs as root)",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := strconv.ParseUint(mode, 8, 32)
			if err != nil || m > 0o7777 {
				return usageError{fmt.Errorf("--mode %q: not an octal mode", mode)}
			}
			if a.stdin == nil {
				return usageError{fmt.Errorf("%s reads the content on standard input", step.InstallCommand)}
			}
			if backup != "" && (backup != filepath.Base(backup) || backup == "." || backup == "..") {
				return usageError{fmt.Errorf("--backup %q: a name in the destination's directory", backup)}
			}
			return step.Install(args[0], fs.FileMode(m), a.stdin, backup)
		},
	}
	c.Flags().StringVar(&mode, "mode", "", "permission bits, in octal")
	c.Flags().StringVar(&backup, "backup", "", "keep an existing DEST under this name, in its directory")
	_ = c.MarkFlagRequired("mode")
	return c
}
