package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
	"github.com/sysinit/sysinit/internal/state"
)

// statusRolledBack is how the history records a step `sysinit rollback`
// rolled back.
const statusRolledBack = "rolled-back"

// lastRun is what became of a step the last time sysinit acted on it,
// when that was not a success: it failed, was interrupted, or was rolled
// back. plan and why show it.
type lastRun struct {
	RunID   string
	Command string // refresh, rollback
	Time    time.Time
	Status  string // failed, interrupted, rolled-back
	Detail  string // the error; what the rollback did
	Log     string // the step's log of that run, when it is still there
}

// lastRuns reads the history for the newest entry of each of the named
// steps where it ran (or was rolled back) and keeps those that did not
// succeed. Skipped, blocked and not-applicable entries say nothing of the
// step itself, and a step's success recorded in records settles it. The
// history is read from the newest run back, and no further than the
// steps need: for a plan in which nothing runs, not at all.
func lastRuns(st *state.Store, logBase string, names []string, records map[string]state.Record) (map[string]lastRun, error) {
	out := map[string]lastRun{}
	open := map[string]bool{}
	for _, n := range names {
		open[n] = true
	}
	if len(open) == 0 {
		return out, nil
	}
	err := st.EachRun(func(r state.Run) bool {
		for _, s := range r.Steps {
			if !open[s.Name] {
				continue
			}
			switch s.Status {
			case string(runner.StatusDone):
				delete(open, s.Name)
			case string(runner.StatusInterrupted):
				if s.Duration == 0 {
					continue // stopped before it started: it did nothing
				}
				fallthrough
			case string(runner.StatusFailed), statusRolledBack:
				delete(open, s.Name)
				lr := lastRun{RunID: r.ID, Command: r.Command, Time: stepTime(r, s), Status: s.Status, Detail: s.Reason}
				if s.Status != statusRolledBack && logBase != "" {
					p := runner.LogPath(filepath.Join(logBase, r.ID), s.Name)
					if _, err := os.Stat(p); err == nil {
						lr.Log = p
					}
				}
				out[s.Name] = lr
			}
		}
		// Runs older than a step's recorded success say nothing newer.
		for n := range open {
			if rec, ok := records[n]; ok && rec.RunID == r.ID {
				delete(open, n)
			}
		}
		return len(open) > 0
	})
	return out, err
}

// logsDir is where every run keeps its logs: $XDG_STATE_HOME/sysinit/logs.
func (a *app) logsDir() (string, error) {
	d, err := a.stateDir()
	return filepath.Join(d, "logs"), err
}

// print shows lr under a step the plan runs, each line after indent.
func (lr lastRun) print(w io.Writer, indent string) {
	when := clock(lr.Time)
	switch lr.Status {
	case statusRolledBack:
		fmt.Fprintf(w, "%srolled back by sysinit rollback at %s (%s): a refresh switches to the config again\n", indent, when, lr.Detail)
		return
	case string(runner.StatusInterrupted):
		fmt.Fprintf(w, "%slast %s was interrupted at %s (run %s)\n", indent, lr.Command, when, lr.RunID)
	default:
		fmt.Fprintf(w, "%slast %s failed at %s (run %s): %s\n", indent, lr.Command, when, lr.RunID, lr.Detail)
	}
	if lr.Log != "" {
		fmt.Fprintf(w, "%slog: %s\n", indent, lr.Log)
	}
}

// stepTime is when s ended in run r: its failure's time. Runs recorded
// before steps kept their end have only the run's start.
func stepTime(r state.Run, s state.RunStep) time.Time {
	if !s.End.IsZero() {
		return s.End
	}
	return r.Start
}

// clock shows a moment in local time with its zone: run ids are in UTC,
// and a time beside one must not read as earlier than it.
func clock(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
