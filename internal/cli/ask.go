package cli

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/ui"
)

// checkAsk refuses --ask where nobody can answer — no terminal, or
// sysinit in the background of one — before anything runs, unless --yes
// answers for them; and --yes without --ask, which would answer nothing.
func (a *app) checkAsk(o *refreshOptions) error {
	switch {
	case o.yes && !o.ask:
		return usageError{errors.New("--yes answers --ask's question: use it with --ask")}
	case !o.ask || o.yes:
		return nil
	}
	if why := a.cannotAsk(); why != "" {
		return usageError{errors.New("--ask needs a terminal to ask on, and " + why + "\nadd --yes to show the changes and apply them without asking")}
	}
	return nil
}

// cannotAsk says why a question cannot be asked, or "" when it can: the
// answer is read from stdin and the question written to stderr, both the
// terminal sysinit runs in the foreground of.
func (a *app) cannotAsk() string {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "stdin is not a terminal"
	}
	if !isTerminal(a.stderr) {
		return "stderr is not a terminal"
	}
	// A background job that reads its terminal is stopped.
	fg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return "sysinit runs in the background of its terminal"
	}
	return ""
}

// prompter asks on stderr, holding the view while it does when the view
// can be held (the live block and plain lines share the terminal).
func (a *app) prompter(o *refreshOptions, obs runner.Observer) *ui.Prompter {
	p := &ui.Prompter{In: a.stdin, Out: a.stderr, Yes: o.yes}
	if h, ok := obs.(interface{ Hold() func() }); ok {
		p.Hold = h.Hold
	}
	return p
}
