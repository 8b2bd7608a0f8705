package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/state"
)

// followEvery is how often `logs -f` looks for more of a log, as tail -f
// does where it cannot be told.
const followEvery = 100 * time.Millisecond

func (a *app) newLogs() *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:   "logs STEP",
		Short: "Print the log of a step's last run; -f follows a refresh that is running",
		Long: `Print the newest log of STEP: the output of its last run, from
$XDG_STATE_HOME/sysinit/logs/<run>/<step>.log. With -f, when a refresh of this
config is running, follow STEP's log in it — waiting for the step to start if
it has not — until that refresh ends.`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeSteps,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLogs(cmd.Context(), args[0], follow)
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log while the refresh writing it runs")
	return c
}

func (a *app) runLogs(ctx context.Context, name string, follow bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	path, err := a.configPath()
	if err != nil {
		return err
	}
	// A broken config must not hide the logs of the run that broke things:
	// the name is checked only when the config loads.
	if cfg, err := loadQuiet(path); err == nil && cfg.Step(name) == nil {
		if pairs := cfg.Pairs(name); len(pairs) > 0 {
			return usageError{fmt.Errorf("step %q runs on several machines; name one: %s", name, joinNames(pairs))}
		}
		if !strings.HasPrefix(name, "@") {
			return &plan.UnknownStepError{Name: name, Known: configStepNames(cfg)}
		}
		// @HOST shows the log of the one step on a host, or asks which.
		switch on := cfg.Resolve(name); len(on) {
		case 0:
			return plan.Unknown(cfg, name)
		case 1:
			name = on[0]
		default:
			return usageError{fmt.Errorf("%s has several steps; name one: %s", name, joinNames(on))}
		}
	}
	st, _, err := a.openStoreOnly(true)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(0)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, r := range runs {
		ids[r.ID] = true
	}
	logs, err := a.logsDir()
	if err != nil {
		return err
	}
	dirs, err := runner.RunDirs(logs, config.StateKeyOf(path), ids)
	if err != nil {
		return err
	}
	if follow {
		for _, id := range dirs {
			dir := filepath.Join(logs, id)
			running, err := runner.Running(dir)
			if err != nil {
				return fmt.Errorf("reading the logs: %w", err)
			}
			if !running {
				continue
			}
			a.notice(fmt.Sprintf("following %s in the running refresh %s", name, id))
			found, err := runner.Follow(ctx, dir, name, a.stdout, followEvery)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%s did not run in refresh %s (it was up to date, blocked or not applicable: `sysinit history` says which)", name, id)
			}
			return nil
		}
	}
	for _, id := range dirs {
		p := runner.LogPath(filepath.Join(logs, id), name)
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		defer f.Close()
		a.notice(fmt.Sprintf("%s's log from refresh %s: %s", name, id, p))
		if _, err := io.Copy(a.stdout, f); err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		return nil
	}
	return noLog(st, name, runs)
}

// noLog says why a step has no log: it never ran, or its last run is
// older than the logs kept — different news, with different fixes.
func noLog(st *state.Store, name string, runs []state.Run) error {
	id, when := "", time.Time{}
	if recs, err := st.Records(); err == nil {
		if rec, ok := recs[name]; ok {
			id, when = rec.RunID, rec.Started
		}
	}
	// A failure newer than the success (or without one) is its last run.
	for _, r := range runs {
		if !when.IsZero() && !r.Start.After(when) {
			break
		}
		if i := slices.IndexFunc(r.Steps, func(s state.RunStep) bool { return s.Name == name }); i >= 0 && ranIn(r.Steps[i]) {
			id, when = r.ID, stepTime(r, r.Steps[i])
			break
		}
	}
	if id == "" && when.IsZero() {
		// Blocked in the newest run that had it: say by what.
		for _, r := range runs {
			i := slices.IndexFunc(r.Steps, func(s state.RunStep) bool { return s.Name == name })
			if i < 0 {
				continue
			}
			if by, ok := blockedBy(r.Steps[i]); ok {
				next := "`sysinit history` says which failed"
				// A step blocked in turn names its own blocker: follow
				// the chain to the one that failed.
				root := by
				for range r.Steps {
					j := slices.IndexFunc(r.Steps, func(s state.RunStep) bool { return s.Name == root })
					if j < 0 {
						break
					}
					if runner.Status(r.Steps[j].Status) == runner.StatusFailed {
						next = fmt.Sprintf("`sysinit logs %s` shows why %s failed", root, root)
						break
					}
					if root, ok = blockedBy(r.Steps[j]); !ok {
						break
					}
				}
				return fmt.Errorf("no log of %s: it was blocked by %s in refresh %s and has never run here; %s", name, by, r.ID, next)
			}
			break
		}
		return fmt.Errorf("no log of %s: it has never run here; `sysinit refresh %s` runs it", name, name)
	}
	last := "refresh " + id
	if id == "" {
		last = "refresh"
	}
	return fmt.Errorf("no log of %s: its last run (%s at %s) is older than the logs kept (sysinit keeps the logs of the last %d runs)", name, last, clock(when), state.MaxRuns)
}

// blockedBy returns the step that blocked s, when s was blocked.
func blockedBy(s state.RunStep) (string, bool) {
	by, ok := strings.CutPrefix(s.Reason, "blocked by ")
	return by, ok && by != "" && runner.Status(s.Status) == runner.StatusBlocked
}

// ranIn reports whether the step did something in a run: skipped, blocked
// and not-applicable steps did not start, nor did one interrupted before
// it began.
func ranIn(s state.RunStep) bool {
	switch runner.Status(s.Status) {
	case runner.StatusDone, runner.StatusFailed:
		return true
	case runner.StatusInterrupted:
		return s.Duration > 0
	}
	return s.Status == statusRolledBack
}

// notice tells the user something on stderr, as the other messages go.
func (a *app) notice(msg string) { fmt.Fprintln(a.stderr, "sysinit: "+msg) }
