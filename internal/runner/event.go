package runner

import "time"

// Status is where a step stands during and after a run.
type Status string

const (
	StatusWaiting       Status = "waiting"        // planned to run, dependencies not done yet
	StatusRunning       Status = "running"        //
	StatusDone          Status = "done"           // ran and succeeded
	StatusSkipped       Status = "skipped"        // up to date; Reason says why
	StatusFailed        Status = "failed"         //
	StatusBlocked       Status = "blocked"        // a dependency failed; Reason names it
	StatusNotApplicable Status = "not-applicable" // wrong OS or a required program is missing
	StatusInterrupted   Status = "interrupted"    // stopped by a signal; nothing recorded
)

// EventType names an Event.
type EventType string

const (
	EventRunStart     EventType = "run-start"
	EventStepStart    EventType = "step-start"
	EventStepOutput   EventType = "step-output"
	EventStepProgress EventType = "step-progress"
	EventStepEnd      EventType = "step-end"
	EventRunEnd       EventType = "run-end"
	// EventNotice is news about the run as a whole, in Line: "stopping…".
	EventNotice EventType = "notice"
)

// StepInfo describes a step at the start of a run.
type StepInfo struct {
	Name   string `json:"name"`
	Status Status `json:"status"`           // waiting, skipped or not-applicable
	Reason string `json:"reason,omitempty"` // why it runs or is skipped
	// ETA is the median of the step's past successful durations; 0 = unknown.
	ETA time.Duration `json:"eta_ns,omitempty"`
}

// Event is what the runner reports to its Observer. Fields beyond Type, Time
// and RunID are set as the type needs.
type Event struct {
	Type  EventType `json:"type"`
	Time  time.Time `json:"time"`
	RunID string    `json:"run"`

	Steps []StepInfo `json:"steps,omitempty"` // run-start: every step of the plan, in plan order

	Step     string        `json:"step,omitempty"`
	Line     string        `json:"line,omitempty"`   // step-output: one line of output; step-progress: a status line such as "building 3/7"
	Status   Status        `json:"status,omitempty"` // step-end
	Reason   string        `json:"reason,omitempty"` // step-start: why it runs; step-end: why skipped/blocked, or the error
	Note     string        `json:"note,omitempty"`   // step-end: what the step reports it did, e.g. "nothing to switch"
	Duration time.Duration `json:"duration_ns,omitempty"`
	LogPath  string        `json:"log,omitempty"`  // step-start, step-end
	Tail     []string      `json:"tail,omitempty"` // step-end of a failed step: its last lines of output

	Summary *Summary `json:"summary,omitempty"` // run-end
}

// Summary closes a run.
type Summary struct {
	Ran         int           `json:"ran"`
	Skipped     int           `json:"skipped"`
	Failed      int           `json:"failed"`
	Blocked     int           `json:"blocked"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Wall        time.Duration `json:"wall_ns"`
	LogDir      string        `json:"log_dir,omitempty"`
}

// Observer receives the events of a run. The runner calls it from several
// goroutines; implementations serialise as they need (the terminal views
// hand events to the one goroutine that owns the screen).
type Observer interface {
	Event(Event)
}
