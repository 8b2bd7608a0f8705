package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
)

// JSON writes each event as one JSON object on its own line, for `--json`,
// in the shape docs/json.md documents: durations as milliseconds in fields
// ending in _ms, and why a step runs or is skipped as the plan's reason
// objects, as `plan --json` and `history --json` give them. It is safe for
// concurrent use: each event is encoded whole and written with a single
// Write, so lines never interleave.
type JSON struct {
	mu      sync.Mutex
	w       io.Writer
	reasons func(string) []plan.Reason
	buf     bytes.Buffer
	enc     *json.Encoder
	err     error // first write or encode error, returned by Close
	closed  bool
}

// JSONOptions configures a JSON view.
type JSONOptions struct {
	// Reasons returns the plan's latest reasons for a step: those of the
	// plan, or of the decision taken again just before the step ran. Nil,
	// or no reasons for a step, leaves the runner's words in "detail".
	Reasons func(step string) []plan.Reason
}

// NewJSON returns a JSON view writing to w.
func NewJSON(w io.Writer, opts JSONOptions) *JSON {
	j := &JSON{w: w, reasons: opts.Reasons}
	j.enc = json.NewEncoder(&j.buf)
	// Output lines and paths are shown as they are; "<" escaped as \u003c
	// helps no one reading a log.
	j.enc.SetEscapeHTML(false)
	return j
}

// Millis is a duration as every sysinit --json gives it: milliseconds, to
// the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// jsonEvent is one line of `refresh --json`.
type jsonEvent struct {
	Type  runner.EventType `json:"type"`
	Time  time.Time        `json:"time"`
	RunID string           `json:"run"`

	Steps []jsonStepInfo `json:"steps,omitempty"` // run-start

	Step       string        `json:"step,omitempty"`
	Line       string        `json:"line,omitempty"`    // step-output, step-progress, notice
	Status     runner.Status `json:"status,omitempty"`  // step-end
	Reasons    []plan.Reason `json:"reasons,omitempty"` // step-start, step-end
	Detail     string        `json:"detail,omitempty"`  // step-end: "blocked by system", "stopped: --fail-fast"; or the runner's words without a plan
	Error      string        `json:"error,omitempty"`   // step-end of a failed step
	Note       string        `json:"note,omitempty"`
	DurationMS float64       `json:"duration_ms,omitempty"` // step-end of a step that ran
	LogPath    string        `json:"log,omitempty"`
	Tail       []string      `json:"tail,omitempty"`

	Summary *jsonSummary `json:"summary,omitempty"` // run-end
}

type jsonStepInfo struct {
	Name    string        `json:"name"`
	Status  runner.Status `json:"status"`
	Reasons []plan.Reason `json:"reasons"`
	Detail  string        `json:"detail,omitempty"`
	ETAMS   float64       `json:"eta_ms,omitempty"`
}

type jsonSummary struct {
	Ran         int     `json:"ran"`
	Skipped     int     `json:"skipped"`
	Failed      int     `json:"failed"`
	Blocked     int     `json:"blocked"`
	Interrupted bool    `json:"interrupted,omitempty"`
	WallMS      float64 `json:"wall_ms"`
	LogDir      string  `json:"log_dir,omitempty"`
}

// why is a step's reasons, or when the plan has none for it, the runner's
// words as a detail.
func (j *JSON) why(step, said string) ([]plan.Reason, string) {
	if j.reasons != nil {
		if rs := j.reasons(step); len(rs) > 0 {
			return rs, ""
		}
	}
	return nil, said
}

func (j *JSON) shape(e runner.Event) jsonEvent {
	out := jsonEvent{Type: e.Type, Time: e.Time, RunID: e.RunID, Step: e.Step, Line: e.Line,
		Status: e.Status, Note: e.Note, DurationMS: Millis(e.Duration), LogPath: e.LogPath, Tail: e.Tail}
	switch e.Type {
	case runner.EventRunStart:
		out.Steps = []jsonStepInfo{}
		for _, s := range e.Steps {
			info := jsonStepInfo{Name: s.Name, Status: s.Status, ETAMS: Millis(s.ETA)}
			info.Reasons, info.Detail = j.why(s.Name, s.Reason)
			if info.Reasons == nil {
				info.Reasons = []plan.Reason{}
			}
			out.Steps = append(out.Steps, info)
		}
	case runner.EventStepStart:
		out.Reasons, out.Detail = j.why(e.Step, e.Reason)
	case runner.EventStepEnd:
		// The reasons the plan gave the step, whatever became of it; the
		// error or the runner's account says what did.
		out.Reasons, _ = j.why(e.Step, "")
		switch e.Status {
		case runner.StatusFailed:
			out.Error = e.Reason
		case runner.StatusBlocked, runner.StatusInterrupted:
			out.Detail = e.Reason
		default:
			if out.Reasons == nil {
				out.Detail = e.Reason
			}
		}
	case runner.EventRunEnd:
		if s := e.Summary; s != nil {
			out.Summary = &jsonSummary{Ran: s.Ran, Skipped: s.Skipped, Failed: s.Failed, Blocked: s.Blocked,
				Interrupted: s.Interrupted, WallMS: Millis(s.Wall), LogDir: s.LogDir}
		}
	}
	return out
}

// Event implements runner.Observer.
func (j *JSON) Event(e runner.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || j.err != nil {
		return
	}
	j.buf.Reset()
	if err := j.enc.Encode(j.shape(e)); err != nil { // Encode ends the object with '\n'
		j.err = fmt.Errorf("encoding %s event: %w", e.Type, err)
		return
	}
	if _, err := j.w.Write(j.buf.Bytes()); err != nil {
		j.err = fmt.Errorf("writing %s event: %w", e.Type, err)
		return
	}
	j.err = flush(j.w)
}

// Close stops the view; later events are dropped. It returns the first error
// met while encoding or writing, so a full disk or a closed pipe is not lost.
func (j *JSON) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	return j.err
}

// flush flushes w when it buffers (a *bufio.Writer), so a consumer reading
// the stream sees each event as it happens.
func flush(w io.Writer) error {
	f, ok := w.(interface{ Flush() error })
	if !ok {
		return nil
	}
	if err := f.Flush(); err != nil {
		return fmt.Errorf("flushing output: %w", err)
	}
	return nil
}
