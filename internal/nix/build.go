package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/step"
)

// Build builds the step's configuration as the invoking user and compares
// it with the active system, as `nh os build` and `darwin-rebuild build`
// do: no sudo, no profile, no activation, nothing recorded.
func (sy *system) Build(ctx context.Context, out io.Writer) (step.Built, error) {
	if sy.nixErr != nil {
		return step.Built{}, sy.nixErr
	}
	r := sy.quietRunner(out)
	ev, err := sy.evaluate(ctx, r, "", "")
	if err != nil {
		return step.Built{}, err
	}
	built, _, err := sy.buildFor(ctx, r, ev, nil)
	if err != nil {
		return step.Built{}, err
	}
	b := step.Built{Path: built}
	if sy.profileErr != nil {
		// Built all the same; there is just nothing to compare it with.
		fmt.Fprintf(r.out, "note: %v\n", sy.profileErr)
		return b, nil
	}
	b.Active, err = activePath(sy.active, sy.store)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		b.Active = ""
		return b, nil
	case err != nil:
		return b, err
	case b.Active == built:
		return b, nil
	}
	b.Diff, err = r.closureDiff(ctx, b.Active, built)
	if err != nil {
		return b, err
	}
	b.Summary = parseClosureDiff(b.Diff).String()
	return b, nil
}

// closureDiff is `nix store diff-closures OLD NEW`'s output; the command
// line goes to the runner's output.
func (r *runner) closureDiff(ctx context.Context, old, cur string) (string, error) {
	var diff bytes.Buffer
	argv := []string{r.sys.nix, "store", "diff-closures", old, cur}
	if err := r.run(ctx, "comparing "+old+" with "+cur, &command.Cmd{Argv: argv, Stdout: &diff}); err != nil {
		return "", err
	}
	return command.StripANSI(diff.String()), nil
}
