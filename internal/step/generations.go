package step

import (
	"context"
	"io"
	"sort"
	"time"
)

// The commands beside refresh that nix users know from nh and
// darwin-rebuild — build, rollback, clean — reach a step through these
// optional interfaces. The CLI finds the steps that implement them; plan
// and runner never see them.

// Builder is implemented by steps that can build what they would apply
// without applying it (`sysinit build`).
type Builder interface {
	// Build builds as the invoking user: it never elevates, sets no
	// profile, activates nothing and records nothing. out receives the
	// tools' output.
	Build(ctx context.Context, out io.Writer) (Built, error)
}

// Built is what Build made.
type Built struct {
	Path   string // what was built (a store path)
	Active string // what is active now; "" when nothing is
	// Diff is what changes from Active to Path, as the tool words it (nix
	// store diff-closures), and Summary the same in one line ("3 packages
	// changed, +1.2 MiB"). Both empty when nothing is active or Path is.
	Diff, Summary string
}

// Generation is one generation of a profile.
type Generation struct {
	Number  int
	Time    time.Time // when it was made
	Path    string    // what it holds (a store path)
	Current bool      // the profile points at it
}

// RollBacker is implemented by steps whose results are kept as
// generations that can be made active again (`sysinit rollback`). Steps
// that also implement Elevated and need root get a sudo ticket first.
type RollBacker interface {
	Rollback(ctx context.Context, rc *RollbackContext) (RolledBack, error)
}

// RollbackContext is what a rollback is asked to do.
type RollbackContext struct {
	Out io.Writer // the tools' output
	// To is the generation to go back to; 0 means the newest one older
	// than the current.
	To int
	// DryRun finds From and To and stops there.
	DryRun bool
}

// RolledBack is what a rollback did (or, dry, would do).
type RolledBack struct {
	Profile  string
	From, To Generation
	// Changed is set once the profile was changed, even if activating
	// the generation then failed: the machine is then in neither state.
	Changed bool
}

// Cleaner is implemented by steps that keep generations in a profile
// (`sysinit clean`). Steps that also implement Elevated and need root get
// a sudo ticket before DeleteGenerations.
type Cleaner interface {
	// Profile is the profile whose generations the step makes. Steps that
	// share one are cleaned once.
	Profile() (string, error)
	// Generations lists the profile's generations, oldest first.
	Generations() ([]Generation, error)
	// DeleteGenerations deletes the numbered generations (never the
	// current one).
	DeleteGenerations(ctx context.Context, out io.Writer, numbers []int) error
	// CollectGarbage deletes from the store what no root holds, or with
	// dryRun says what it would delete. It needs no root.
	CollectGarbage(ctx context.Context, out io.Writer, dryRun bool) error
}

// Expired picks the generations `sysinit clean` deletes: every one but
// the current, the newest keep (by number) and those made within
// keepSince of now. It is nh clean's rule (a generation is kept when
// either says so), with the current generation always kept, since after
// a rollback it need not be the newest.
//
//	generation  current  among newest keep  younger than keepSince  deleted?
//	n           yes      any                any                     no
//	n           no       yes                any                     no
//	n           no       no                 yes                     no
//	n           no       no                 no                      yes
func Expired(gens []Generation, keep int, keepSince time.Duration, now time.Time) []Generation {
	byNewest := append([]Generation(nil), gens...)
	sort.SliceStable(byNewest, func(i, j int) bool { return byNewest[i].Number > byNewest[j].Number })
	var out []Generation
	for i, g := range byNewest {
		switch {
		case g.Current, i < keep, now.Sub(g.Time) <= keepSince:
			continue
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}
