package cli

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/ui"
)

// maxJobs bounds --jobs: more steps at once than any machine has steps is
// a typo (an extra zero), not a wish.
const maxJobs = 1024

// check refuses option values no run can use, before anything is loaded.
func (o *refreshOptions) check() error {
	switch {
	case o.jobs < 0:
		return usageError{fmt.Errorf("--jobs=%d: must be 0 (no limit) or more", o.jobs)}
	case o.jobs > maxJobs:
		return usageError{fmt.Errorf("--jobs=%d: at most %d steps run at once (0 means no limit)", o.jobs, maxJobs)}
	case o.heartbeat < 0:
		return usageError{fmt.Errorf("--heartbeat=%s: must be 0 (never) or more", o.heartbeat)}
	case o.heartbeat > 0 && o.heartbeat < time.Second:
		return usageError{fmt.Errorf("--heartbeat=%s: at least 1s (0 turns it off)", o.heartbeat)}
	}
	switch o.progress {
	case "auto", "always", "never":
		return nil
	}
	return usageError{fmt.Errorf("--progress=%s: use auto, always or never", o.progress)}
}

// view picks how a run is shown (the output rules are at the top of
// cli.go): JSON events on stdout; on a terminal the live block; otherwise
// plain lines, progress and failures on stderr and the summary on stdout.
// The options were checked (refreshOptions.check) when the command began.
func (a *app) view(o *refreshOptions, book *decisions) (runner.Observer, func() error) {
	switch {
	case o.json:
		v := ui.NewJSON(a.stdout, ui.JSONOptions{Reasons: book.reasons})
		return v, v.Close
	case o.progress == "always" || (o.progress == "auto" && isTerminal(a.stdout) && a.getenv("TERM") != "dumb"):
		v := ui.NewLive(a.stdout, ui.LiveOptions{
			Width:  terminalWidth(a.stdout),
			Height: terminalHeight(a.stdout),
			Color:  a.getenv("NO_COLOR") == "",
			ASCII:  !ui.UTF8Locale(a.getenv),
			After:  book.after,
		})
		return v, v.Close
	}
	v := ui.NewPlain(a.stderr, ui.PlainOptions{Verbose: o.verbose, Summary: a.stdout, Heartbeat: o.heartbeat})
	return v, v.Close
}

// decisions is the plan's latest word on each step of a run: the plan's
// decisions, each replaced when the runner decides a step again before it
// runs. The views read it while steps run, and the history after.
type decisions struct {
	mu sync.Mutex
	m  map[string]*plan.Decision
}

func (b *decisions) set(ds ...*plan.Decision) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*plan.Decision{}
	}
	for _, d := range ds {
		if d != nil {
			b.m[d.Name] = d
		}
	}
}

func (b *decisions) get(name string) *plan.Decision {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[name]
}

// reasons are the reasons of name's latest decision; nil if unknown.
func (b *decisions) reasons(name string) []plan.Reason {
	if d := b.get(name); d != nil {
		return d.Reasons
	}
	return nil
}

// after is what name comes after.
func (b *decisions) after(name string) []string {
	if d := b.get(name); d != nil && d.Config != nil {
		return slices.Clone(d.Config.After)
	}
	return nil
}
