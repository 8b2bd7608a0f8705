package nix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
)

// Activity types of nix's internal-json log (libutil/logging.hh).
const (
	actCopyPath     = 100
	actFileTransfer = 101
	actRealise      = 102
	actCopyPaths    = 103
	actBuilds       = 104
	actBuild        = 105
	actSubstitute   = 108
)

// Result types.
const (
	resBuildLogLine     = 101
	resSetPhase         = 104
	resProgress         = 105
	resSetExpected      = 106
	resPostBuildLogLine = 107
)

// Verbosity levels; lines above lvlInfo are the -v chatter.
const (
	lvlError = 0
	lvlInfo  = 3
)

// event is one line of `nix --log-format internal-json` output.
type event struct {
	Action string  `json:"action"` // start, stop, result, msg
	ID     uint64  `json:"id"`
	Parent uint64  `json:"parent"`
	Level  int     `json:"level"`
	Type   int     `json:"type"` // activity type (start) or result type (result)
	Text   string  `json:"text"` // start: what the activity is
	Msg    string  `json:"msg"`  // msg: the message, with colour codes
	Fields []field `json:"fields"`
}

// field is one element of an event's fields: a string or an integer.
type field struct {
	Str   string
	Int   int64
	IsStr bool
}

// UnmarshalJSON accepts a string, an integer or null.
func (f *field) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		f.IsStr = true
		return json.Unmarshal(b, &f.Str)
	case string(b) == "null":
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		// Byte counts are integers, but be lenient with a float.
		fl, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil {
			return fmt.Errorf("field %s is neither a string nor a number", b)
		}
		n = int64(fl)
	}
	f.Int = n
	return nil
}

// int returns field i as an integer, 0 when absent or a string.
func (e *event) int(i int) int64 {
	if i < len(e.Fields) && !e.Fields[i].IsStr {
		return e.Fields[i].Int
	}
	return 0
}

// str returns field i as a string, "" when absent or a number.
func (e *event) str(i int) string {
	if i < len(e.Fields) && e.Fields[i].IsStr {
		return e.Fields[i].Str
	}
	return ""
}

const jsonPrefix = "@nix "

// errNotEvent marks a line that carries the @nix prefix but no valid event.
var errNotEvent = errors.New("not a nix log event")

// parseLine parses one line of internal-json output. ok is false for a
// line without the "@nix " prefix (nix and builders print some plain text).
func parseLine(line []byte) (e event, ok bool, err error) {
	rest, found := bytes.CutPrefix(line, []byte(jsonPrefix))
	if !found {
		return event{}, false, nil
	}
	if err := json.Unmarshal(rest, &e); err != nil {
		return event{}, true, fmt.Errorf("%w: %v", errNotEvent, err)
	}
	if e.Action == "" {
		return event{}, true, fmt.Errorf("%w: no action", errNotEvent)
	}
	return e, true, nil
}

// activity is one running nix activity.
type activity struct {
	typ      int
	name     string // the derivation or store path it is about
	drv      string // builds: the derivation's store path
	phase    string // builds: the current phase
	done     int64  // progress: bytes or items done
	expected int64
}

// counter is the progress of an activity that counts others (builds,
// copied paths): done, expected, running, failed.
type counter struct{ done, expected, running, failed int64 }

// monitor turns the stderr of a nix command run with --log-format
// internal-json into readable log lines on Out and a one-line status
// ("building 2/5: hello-2.12") sent to Progress when it changes. Write it
// from one goroutine.
type monitor struct {
	Out      io.Writer
	Progress func(string)

	acts     map[uint64]*activity
	order    []uint64 // start order of running builds and copies
	builds   counter
	paths    counter
	copied   int64 // bytes of finished copy activities
	expected map[uint64]int64
	errs     []string
	status   string
	lines    command.LineWriter

	// The last lines each derivation's builder printed, kept after its
	// build stops: Nix ≥ 2.29 reports a failure after the stop, and its
	// message no longer carries the builder's output (buildFailure).
	tails     map[string][]string
	tailOrder []string // derivations by first log line, oldest first
}

const (
	tailLines = 10  // per derivation, as nix's own log-lines default did
	tailDrvs  = 256 // derivations whose tails are kept; builds run in parallel
)

// newMonitor returns a Monitor writing to out and progress; either may be nil.
func newMonitor(out io.Writer, progress func(string)) *monitor {
	if out == nil {
		out = io.Discard
	}
	m := &monitor{Out: out, Progress: progress, acts: map[uint64]*activity{}, expected: map[uint64]int64{}, tails: map[string][]string{}}
	m.lines.Emit = func(l string) { m.line([]byte(l)) }
	return m
}

// Write splits p into lines and handles each.
func (m *monitor) Write(p []byte) (int, error) { return m.lines.Write(p) }

// Flush handles a last line that had no newline.
func (m *monitor) Flush() { m.lines.Flush() }

func (m *monitor) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	e, ok, err := parseLine(b)
	if !ok || err != nil {
		text := command.StripANSI(string(b))
		if strings.HasPrefix(text, "error:") {
			m.errs = append(m.errs, text)
		}
		m.print(text)
		return
	}
	m.Handle(e)
}

// Errors returns nix's error messages so far, without colour codes.
func (m *monitor) Errors() []string { return m.errs }

// Status returns the current status line.
func (m *monitor) Status() string { return m.status }

func (m *monitor) print(text string) {
	for _, l := range strings.Split(command.StripANSI(text), "\n") {
		fmt.Fprintln(m.Out, l)
	}
}

// Handle applies one event.
func (m *monitor) Handle(e event) {
	switch e.Action {
	case "start":
		a := &activity{typ: e.Type}
		switch e.Type {
		case actBuild, actSubstitute, actCopyPath:
			a.name = storeName(e.str(0))
		}
		if e.Type == actBuild {
			a.drv = e.str(0)
		}
		m.acts[e.ID] = a
		if a.name != "" {
			m.order = append(m.order, e.ID)
		}
		if e.Level <= lvlInfo && e.Text != "" {
			m.print(e.Text)
		}
	case "stop":
		if a, ok := m.acts[e.ID]; ok {
			if a.typ == actCopyPath {
				m.copied += a.done
			}
			delete(m.acts, e.ID)
			if a.name != "" {
				m.dropOrder(e.ID)
			}
		}
		delete(m.expected, e.ID)
	case "result":
		m.result(e)
	case "msg":
		if e.Level <= lvlInfo {
			m.print(e.Msg)
		}
		if e.Level == lvlError {
			m.errs = append(m.errs, command.StripANSI(e.Msg))
		}
	}
	m.update()
}

func (m *monitor) result(e event) {
	a := m.acts[e.ID]
	switch e.Type {
	case resBuildLogLine, resPostBuildLogLine:
		name := "build"
		if a != nil && a.name != "" {
			name = a.name
		}
		m.print(name + "> " + e.str(0))
		if a != nil && a.drv != "" {
			m.keepLine(a.drv, command.StripANSI(e.str(0)))
		}
	case resSetPhase:
		if a != nil {
			a.phase = e.str(0)
		}
	case resProgress:
		if a == nil {
			return
		}
		c := counter{e.int(0), e.int(1), e.int(2), e.int(3)}
		switch a.typ {
		case actBuilds:
			m.builds = c
		case actCopyPaths:
			m.paths = c
		default:
			a.done, a.expected = c.done, c.expected
		}
	case resSetExpected:
		// On the realise activity: how many bytes the copies will take.
		if a != nil && a.typ == actRealise && e.int(0) == actCopyPath {
			m.expected[e.ID] = e.int(1)
		}
	}
}

// keepLine adds line to drv's tail.
func (m *monitor) keepLine(drv, line string) {
	t, ok := m.tails[drv]
	if !ok {
		if len(m.tailOrder) == tailDrvs {
			delete(m.tails, m.tailOrder[0])
			m.tailOrder = m.tailOrder[1:]
		}
		m.tailOrder = append(m.tailOrder, drv)
	}
	if len(t) == tailLines {
		t = t[1:]
	}
	m.tails[drv] = append(t, line)
}

// LogTail returns the last lines drv's builder printed, if any.
func (m *monitor) LogTail(drv string) []string { return m.tails[drv] }

func (m *monitor) dropOrder(id uint64) {
	for i, o := range m.order {
		if o == id {
			m.order = append(m.order[:i], m.order[i+1:]...)
			return
		}
	}
}

func (m *monitor) update() {
	s := m.compute()
	if s == m.status {
		return
	}
	m.status = s
	if m.Progress != nil {
		m.Progress(s)
	}
}

// compute renders the status line: running builds first, then copies.
func (m *monitor) compute() string {
	var builds, copies []*activity
	for _, id := range m.order {
		a := m.acts[id]
		switch a.typ {
		case actBuild:
			builds = append(builds, a)
		case actSubstitute, actCopyPath:
			copies = append(copies, a)
		}
	}
	switch {
	case len(builds) > 0:
		b := builds[0]
		s := "building " + b.name
		if m.builds.expected > 0 {
			s = fmt.Sprintf("building %d/%d: %s", min(m.builds.done+1, m.builds.expected), m.builds.expected, b.name)
		}
		if b.phase != "" {
			s += " (" + b.phase + ")"
		}
		if len(builds) > 1 {
			s += fmt.Sprintf(" +%d more", len(builds)-1)
		}
		return s
	case len(copies) > 0:
		s := "downloading " + copies[0].name
		if m.paths.expected > 0 {
			s = fmt.Sprintf("downloading %d/%d: %s", min(m.paths.done+1, m.paths.expected), m.paths.expected, copies[0].name)
		}
		var done, want int64 = m.copied, 0
		for _, a := range m.acts {
			if a.typ == actCopyPath {
				done += a.done
			}
		}
		for _, n := range m.expected {
			want += n
		}
		if want > 0 {
			s += fmt.Sprintf(" (%.1f/%.1f MiB)", float64(done)/(1<<20), float64(want)/(1<<20))
		}
		return s
	case m.builds.expected > 0 && m.builds.done > 0:
		return fmt.Sprintf("built %d/%d", m.builds.done, m.builds.expected)
	}
	return ""
}

// storeName is the name part of a store path or derivation:
// /nix/store/<hash>-hello-2.12.drv → hello-2.12.
func storeName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	p = strings.TrimSuffix(p, ".drv")
	if i := strings.IndexByte(p, '-'); i >= 0 {
		return p[i+1:]
	}
	return p
}
