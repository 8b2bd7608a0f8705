package ui

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

// Escape sequences the live view emits, and nothing else: a small set keeps
// it working on every terminal that speaks VT100 and keeps the test's screen
// model honest.
const (
	escHideCursor = "\x1b[?25l"
	escShowCursor = "\x1b[?25h"
	escClearLine  = "\x1b[K" // to the end of the line
	escClearBelow = "\x1b[J" // to the end of the screen
	escCursorUp   = "\x1b[%dA"
)

// SGR styles; applied only with LiveOptions.Color.
const (
	styleNone   = ""
	styleDim    = "\x1b[2m"
	styleGreen  = "\x1b[32m"
	styleRed    = "\x1b[31m"
	styleYellow = "\x1b[33m"
	styleCyan   = "\x1b[36m"
	styleBold   = "\x1b[1m"
	styleReset  = "\x1b[0m"
)

// symbols are the marks the live view draws: Unicode on a UTF-8 terminal,
// ASCII otherwise (a locale without UTF-8 would show "âœ“" for "✓").
type symbols struct {
	spinner                                                         []string
	done, failed, skipped, notApplicable, blocked, waiting, stopped string
	ellipsis                                                        string // ends a cut line
	sep                                                             string // between the parts of the summary
}

var (
	unicodeSymbols = symbols{
		spinner: []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"},
		done:    "✓", failed: "✗", skipped: "·", notApplicable: "–", blocked: "⊘", waiting: "○", stopped: "!",
		ellipsis: "…", sep: " · ",
	}
	asciiSymbols = symbols{
		spinner: []string{"|", "/", "-", "\\"},
		done:    "+", failed: "x", skipped: "-", notApplicable: "-", blocked: "#", waiting: "o", stopped: "!",
		ellipsis: "...", sep: ", ",
	}
)

// spinnerStep is how long each spinner frame shows. The frame follows the
// clock rather than the repaint count, so a frozen test clock draws a still
// frame.
const spinnerStep = 100 * time.Millisecond

// queueSize bounds the events waiting for the screen goroutine. Output and
// progress lines beyond it are dropped (the next one supersedes them, and all
// output is in the step's log); state changes wait for room instead.
const queueSize = 1024

// LiveOptions configures a Live view.
type LiveOptions struct {
	// Width returns the terminal's columns, asked at every repaint so a
	// resize is followed. Nil or a result <= 0 means 80.
	Width func() int
	// Height returns the terminal's rows. When set, the redrawn block is
	// cut to fit (a block taller than the screen cannot be redrawn in place:
	// the cursor cannot move up into the scrollback). Nil means no limit.
	Height func() int
	// Color enables SGR colors; the CLI passes false for NO_COLOR.
	Color bool
	// ASCII draws ASCII marks instead of Unicode ones, for a terminal whose
	// locale is not UTF-8 (see UTF8Locale).
	ASCII bool
	// After returns the steps a step comes after, so a waiting row can say
	// which of them it still waits for. Nil: waiting rows show their reason.
	After func(step string) []string
	// Now is the clock for elapsed times and the spinner; nil is time.Now.
	Now func() time.Time
	// Interval is how often the block is repainted; <= 0 means 100ms.
	Interval time.Duration
}

// Live is the terminal view: a block with one row per step, redrawn in place.
// One goroutine owns the terminal; Event only queues the event for it, so the
// runner's goroutines never write and rarely wait. Close must be called to
// draw the final block and give the cursor back.
type Live struct {
	w        io.Writer
	width    func() int
	height   func() int
	color    bool
	sym      symbols
	after    func(string) []string
	now      func() time.Time
	interval time.Duration

	mu        sync.RWMutex // guards closed against sends on a closed channel
	closed    bool
	events    chan runner.Event
	syncReq   chan chan struct{} // tests: apply what is queued, repaint, reply
	holdReq   chan holdReq       // Hold: erase the block, wait for release
	done      chan struct{}
	closeOnce sync.Once

	// Everything below is owned by the screen goroutine.
	rows     []*row
	byName   map[string]*row
	started  bool      // something is (or will be) on screen
	finished bool      // run-end drew the final block; nothing more to redraw
	epoch    time.Time // spinner phase
	pending  []string  // failure reports to print above the block, once
	summary  *runner.Summary
	prev     []string // the block as last drawn
	drawn    int      // its lines, which the cursor sits just below
	hidden   bool     // the cursor is hidden
	buf      bytes.Buffer
	err      error // first write error; read by Close after done
}

// row is one step as the live block shows it.
type row struct {
	name    string
	status  runner.Status
	reason  string // why it runs, is skipped or blocked; or the error
	note    string
	detail  string // latest output line while running, shown under the row
	counter string // latest progress line while running ("building 3/17"), shown on the row
	eta     time.Duration
	start   time.Time
	dur     time.Duration
	logPath string
}

// NewLive starts a Live view writing to w, which should be a terminal.
func NewLive(w io.Writer, opts LiveOptions) *Live {
	l := &Live{
		w:        w,
		width:    opts.Width,
		height:   opts.Height,
		color:    opts.Color,
		sym:      unicodeSymbols,
		after:    opts.After,
		now:      opts.Now,
		interval: opts.Interval,
		events:   make(chan runner.Event, queueSize),
		syncReq:  make(chan chan struct{}),
		holdReq:  make(chan holdReq),
		done:     make(chan struct{}),
		byName:   map[string]*row{},
	}
	if opts.ASCII {
		l.sym = asciiSymbols
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.interval <= 0 {
		l.interval = 100 * time.Millisecond
	}
	go l.loop()
	return l
}

// Event implements runner.Observer. It never writes; it hands e to the screen
// goroutine.
func (l *Live) Event(e runner.Event) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return
	}
	if e.Type == runner.EventStepOutput || e.Type == runner.EventStepProgress {
		select {
		case l.events <- e:
		default: // superseded by the next line; the log has it
		}
		return
	}
	l.events <- e
}

// Close applies the queued events, draws the final block (if run-end has not
// already), shows the cursor again and stops the screen goroutine. The cursor
// is left on the line after the last thing drawn. It returns the first error
// met writing to the terminal. Close is idempotent; later events are dropped.
func (l *Live) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.events)
		l.mu.Unlock()
		<-l.done
	})
	return l.err
}

// sync makes the screen goroutine apply every event queued so far and
// repaint, and waits for it: tests use it instead of sleeping for a tick.
func (l *Live) sync() {
	ack := make(chan struct{})
	select {
	case l.syncReq <- ack:
		<-ack
	case <-l.done:
	}
}

func (l *Live) loop() {
	defer close(l.done)
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-l.events:
			if !ok || !l.drain(e) {
				l.finish()
				return
			}
		case <-tick.C:
			l.draw(false)
		case ack := <-l.syncReq:
			if !l.drainQueued() {
				l.finish()
				close(ack)
				return
			}
			l.draw(false)
			close(ack)
		case req := <-l.holdReq:
			l.erase()
			close(req.held)
			<-req.release
			l.draw(false)
		}
	}
}

// holdReq asks the screen goroutine to give the terminal up until release
// is closed; it closes held once it has.
type holdReq struct{ held, release chan struct{} }

// Hold gives the terminal to the caller — to ask a question — until
// release is called: failure reports waiting to be printed are printed,
// the block is erased and the cursor shown, and nothing is drawn until
// release, when the block is drawn again below what the caller wrote.
// Events keep arriving meanwhile; they show when the block comes back.
func (l *Live) Hold() (release func()) {
	req := holdReq{held: make(chan struct{}), release: make(chan struct{})}
	select {
	case l.holdReq <- req:
		<-req.held
	case <-l.done:
		return func() {}
	}
	return sync.OnceFunc(func() { close(req.release) })
}

// erase prints the failure reports still pending, then clears the block
// and shows the cursor, leaving it where the block began.
func (l *Live) erase() {
	if len(l.pending) > 0 {
		l.draw(false)
	}
	var b bytes.Buffer
	if l.drawn > 0 {
		fmt.Fprintf(&b, escCursorUp, l.drawn)
		b.WriteString("\r" + escClearBelow)
	}
	if l.hidden {
		b.WriteString(escShowCursor)
		l.hidden = false
	}
	l.prev, l.drawn = nil, 0
	if b.Len() > 0 {
		l.write(b.Bytes())
	}
}

// drain applies e and every event already queued behind it, so a burst is
// painted once. It reports false when the queue was closed.
func (l *Live) drain(e runner.Event) bool {
	l.apply(e)
	return l.drainQueued()
}

func (l *Live) drainQueued() bool {
	for {
		select {
		case e, ok := <-l.events:
			if !ok {
				return false
			}
			l.apply(e)
		default:
			return true
		}
	}
}

// finish is the end of the screen goroutine: the final block, unless run-end
// drew it, and the cursor back in every case.
func (l *Live) finish() {
	if l.started && !l.finished {
		l.draw(true)
	}
	if l.hidden {
		l.write([]byte(escShowCursor))
		l.hidden = false
	}
}

func (l *Live) apply(e runner.Event) {
	at := e.Time
	if at.IsZero() {
		at = l.now()
	}
	switch e.Type {
	case runner.EventRunStart:
		l.rows, l.pending, l.summary = nil, nil, nil
		clear(l.byName)
		l.finished, l.started = false, true
		l.epoch = at
		for _, s := range e.Steps {
			r := l.row(s.Name)
			r.status, r.reason, r.eta = s.Status, sanitize(s.Reason), s.ETA
		}
		l.draw(false) // show the plan at once, not a tick later
		return
	case runner.EventRunEnd:
		l.started = true
		l.summary = e.Summary
		if l.summary == nil {
			l.summary = l.tally(at)
		}
		l.draw(true)
		l.finished = true
		return
	case runner.EventNotice:
		l.pending = append(l.pending, "sysinit: "+sanitize(e.Line))
		return
	}
	if e.Step == "" {
		return
	}
	l.started = true
	r := l.row(e.Step)
	switch e.Type {
	case runner.EventStepStart:
		r.status, r.reason, r.detail, r.counter = runner.StatusRunning, sanitize(e.Reason), "", ""
		r.start, r.logPath = at, e.LogPath
	case runner.EventStepOutput, runner.EventStepProgress:
		if r.status != runner.StatusRunning {
			return
		}
		line := strings.TrimLeft(sanitize(e.Line), " ")
		switch {
		case line == "":
		case e.Type == runner.EventStepProgress:
			// The counter stays on the row while output lines pass under it.
			r.counter = line
		default:
			r.detail = line
		}
	case runner.EventStepEnd:
		r.status, r.reason, r.note, r.detail, r.counter = e.Status, sanitize(e.Reason), sanitize(e.Note), "", ""
		r.dur = e.Duration
		if r.dur == 0 && !r.start.IsZero() {
			r.dur = at.Sub(r.start)
		}
		if e.LogPath != "" {
			r.logPath = e.LogPath
		}
		if e.Status == runner.StatusFailed {
			l.pending = append(l.pending, l.failureReport(r, e.Tail)...)
		}
	}
}

// row returns the row named name, adding one for a step run-start did not
// list rather than dropping its events.
func (l *Live) row(name string) *row {
	if r, ok := l.byName[name]; ok {
		return r
	}
	r := &row{name: name, status: runner.StatusWaiting}
	l.rows = append(l.rows, r)
	l.byName[name] = r
	return r
}

// tally builds a summary from the rows, for a run-end that carries none,
// counting as the runner does (ran = succeeded).
func (l *Live) tally(end time.Time) *runner.Summary {
	s := &runner.Summary{}
	for _, r := range l.rows {
		switch r.status {
		case runner.StatusDone:
			s.Ran++
		case runner.StatusFailed:
			s.Failed++
		case runner.StatusSkipped, runner.StatusNotApplicable:
			s.Skipped++
		case runner.StatusBlocked:
			s.Blocked++
		case runner.StatusInterrupted:
			s.Interrupted = true
		}
	}
	if !l.epoch.IsZero() {
		s.Wall = end.Sub(l.epoch)
	}
	return s
}

// failureReport is what scrolls away above the block when a step fails: the
// whole error and tail, not cut to the width (wrapping is harmless above the
// block, and a cut error message is useless).
func (l *Live) failureReport(r *row, tail []string) []string {
	head := []seg{
		{l.sym.failed + " ", styleRed},
		{sanitize(r.name), styleBold},
		{" " + statusPhrase(runner.StatusFailed, "", "", r.dur), styleRed},
	}
	if r.reason != "" {
		head = append(head, seg{": " + r.reason, styleRed})
	}
	out := []string{l.paint(head, 0)}
	for _, t := range tail {
		out = append(out, "    "+sanitize(t))
	}
	if r.logPath != "" {
		out = append(out, l.paint([]seg{{"  log: " + sanitize(r.logPath), styleDim}}, 0))
	}
	return out
}

// draw repaints the block in place, first printing any failure reports above
// it. Unless final, it writes nothing when the block looks as it did. The
// final block is not cut to the height (it is never redrawn), and is followed
// by the summary and the cursor shown again.
func (l *Live) draw(final bool) {
	if !l.started || l.finished || l.err != nil {
		return
	}
	lines := l.frame(l.now(), final)
	if !final && len(l.pending) == 0 && slices.Equal(lines, l.prev) {
		return
	}
	b := &l.buf
	b.Reset()
	if !l.hidden {
		b.WriteString(escHideCursor)
		l.hidden = true
	}
	if l.drawn > 0 {
		fmt.Fprintf(b, escCursorUp, l.drawn)
	}
	// CR first and CRLF after each line: the cursor column is not ours to
	// assume, and a tty without ONLCR would keep it on a bare LF.
	b.WriteByte('\r')
	// Failure reports and the final frame are not cut to the width: the
	// terminal wraps them. Clearing the old block first (rather than each
	// line after its text) keeps the leftovers of longer old rows off the
	// wrapped lines, and keeps a clear-line from erasing the last column of
	// a line exactly as wide as the terminal.
	wraps := final || len(l.pending) > 0
	if wraps {
		b.WriteString(escClearBelow)
	}
	for _, s := range l.pending {
		b.WriteString(s + "\r\n")
	}
	for _, s := range lines {
		if final {
			b.WriteString(s + "\r\n")
		} else {
			b.WriteString(s + escClearLine + "\r\n")
		}
	}
	if !wraps {
		b.WriteString(escClearBelow)
	}
	l.pending = nil
	l.prev, l.drawn = lines, len(lines)
	if final {
		for _, s := range l.summaryLines() {
			b.WriteString(s + "\r\n")
		}
		b.WriteString(escShowCursor)
		l.hidden = false
		l.prev, l.drawn = nil, 0
	}
	l.write(b.Bytes())
}

func (l *Live) write(p []byte) {
	if l.err != nil {
		return
	}
	if _, err := l.w.Write(p); err != nil {
		l.err = fmt.Errorf("writing to terminal: %w", err)
	}
}

func (l *Live) summaryLines() []string {
	s := l.summary
	if s == nil {
		return nil
	}
	sep := seg{l.sym.sep, styleDim}
	var segs []seg
	if s.Interrupted {
		segs = append(segs, seg{"interrupted", styleYellow}, sep)
	}
	segs = append(segs, seg{fmt.Sprintf("ran %d", s.Ran), styleNone},
		sep, seg{fmt.Sprintf("skipped %d", s.Skipped), styleNone})
	if s.Failed > 0 {
		segs = append(segs, sep, seg{fmt.Sprintf("failed %d", s.Failed), styleRed})
	}
	if s.Blocked > 0 {
		segs = append(segs, sep, seg{fmt.Sprintf("blocked %d", s.Blocked), styleYellow})
	}
	segs = append(segs, sep, seg{Duration(s.Wall), styleNone})
	out := []string{l.paint(segs, 0)}
	if s.Failed > 0 && s.LogDir != "" {
		out = append(out, l.paint([]seg{{"logs: " + sanitize(s.LogDir), styleDim}}, 0))
	}
	return out
}

// frame renders the block as it should look at now: one row per step, and
// under a running step its latest output line, every line cut to the width
// less one cell (writing the last column leaves some terminals in a pending
// wrap that the following clear-line would eat into). The final frame is
// the record the run leaves on the screen and is never redrawn: nothing in
// it is cut, the terminal wraps what is wider than itself.
func (l *Live) frame(now time.Time, final bool) []string {
	width := 80
	if l.width != nil {
		if w := l.width(); w > 0 {
			width = w
		}
	}
	maxW := width - 1
	cut := maxW
	if final {
		cut = 0
	}
	limit := -1 // lines; -1 is no limit
	if !final && l.height != nil {
		if h := l.height(); h > 0 {
			limit = h - 1 // the line the cursor rests on
		}
	}

	nameW := 0
	for _, r := range l.rows {
		nameW = max(nameW, stringWidth(sanitize(r.name)))
	}
	// On a narrow terminal a long name must not push the state and time
	// off the row: names get at most a third of the width.
	nameW = min(nameW, max(8, maxW/3))
	details := 0
	if !final {
		for _, r := range l.rows {
			if r.status == runner.StatusRunning {
				details++
			}
		}
	}
	showDetails := limit < 0 || len(l.rows)+details <= limit
	hidden := l.hiddenRows(limit)

	var out []string
	for i, r := range l.rows {
		if hidden[i] {
			continue
		}
		out = append(out, l.paint(l.rowSegs(r, nameW, now, final), cut))
		if showDetails && !final && r.status == runner.StatusRunning {
			d := r.detail
			if d == "" {
				d = r.reason
			}
			if d != "" {
				out = append(out, l.paint([]seg{{"    " + d, styleDim}}, cut))
			}
		}
	}
	if len(hidden) > 0 {
		out = append(out, l.paint([]seg{{"  " + l.sym.ellipsis + " " + moreText(l.rows, hidden), styleDim}}, cut))
	}
	return out
}

// hidePriority orders which rows give way first when the block must shrink
// to fit the screen: static, settled rows before the ones being watched.
var hidePriority = map[runner.Status]int{
	runner.StatusNotApplicable: 0,
	runner.StatusSkipped:       1,
	runner.StatusDone:          2,
	runner.StatusWaiting:       3,
	runner.StatusBlocked:       4,
	runner.StatusInterrupted:   5,
	runner.StatusFailed:        6,
	runner.StatusRunning:       7,
}

// hiddenRows picks the rows to leave out so the block, with one "… N more"
// line, fits in limit lines; nil when all fit.
func (l *Live) hiddenRows(limit int) map[int]bool {
	if limit < 0 || len(l.rows) <= limit {
		return nil
	}
	order := make([]int, len(l.rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return hidePriority[l.rows[order[a]].status] < hidePriority[l.rows[order[b]].status]
	})
	n := len(l.rows) - limit + 1 // +1 for the "… N more" line
	hidden := make(map[int]bool, n)
	for _, i := range order[:min(n, len(order))] {
		hidden[i] = true
	}
	return hidden
}

// moreText says what the hidden rows are: "7 more: 4 skipped, 3 done".
func moreText(rows []*row, hidden map[int]bool) string {
	counts := map[runner.Status]int{}
	for i := range hidden {
		counts[rows[i].status]++
	}
	var parts []string
	for _, st := range []runner.Status{
		runner.StatusRunning, runner.StatusFailed, runner.StatusInterrupted, runner.StatusBlocked,
		runner.StatusWaiting, runner.StatusDone, runner.StatusSkipped, runner.StatusNotApplicable,
	} {
		if c := counts[st]; c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, strings.ReplaceAll(string(st), "-", " ")))
		}
	}
	return fmt.Sprintf("%d more: %s", len(hidden), strings.Join(parts, ", "))
}

// stateWidth pads the state word so elapsed times line up in a column.
const stateWidth = len("running")

// rowSegs is a step's row. Names longer than nameW are cut to it, except in
// the final frame (which is never cut).
func (l *Live) rowSegs(r *row, nameW int, now time.Time, final bool) []seg {
	name := sanitize(r.name)
	if !final && stringWidth(name) > nameW {
		name, _ = cutCells(name, nameW-stringWidth(l.sym.ellipsis))
		name += l.sym.ellipsis
	}
	name += strings.Repeat(" ", max(0, nameW-stringWidth(name)))
	// A step that ended without starting (a failed sudo, say) has no
	// elapsed time to show.
	ran := !r.start.IsZero() || r.dur > 0
	// A running step ticks in tenths ("0.3s"); a finished one keeps its
	// exact-enough time ("40ms"), as in the plain view and the failure report.
	timed := func(mark, word, style, elapsed string) []seg {
		s := []seg{{mark, style}, {" " + name + "  ", styleNone}}
		if !ran {
			return append(s, seg{word, style})
		}
		return append(s, seg{fmt.Sprintf("%-*s", stateWidth, word), style}, seg{"  " + elapsed, styleNone})
	}
	sym := l.sym
	switch r.status {
	case runner.StatusWaiting:
		s := []seg{{sym.waiting, styleDim}, {" " + name + "  ", styleNone}}
		if deps := l.waitingFor(r.name); len(deps) > 0 {
			return append(s, seg{"waiting for " + strings.Join(deps, ", "), styleDim})
		}
		s = append(s, seg{"waiting", styleDim})
		if r.reason != "" {
			s = append(s, seg{"  " + r.reason, styleDim})
		}
		return s
	case runner.StatusRunning:
		mark := sym.spinner[max(0, int(now.Sub(l.epoch)/spinnerStep))%len(sym.spinner)]
		elapsed := now.Sub(r.start)
		s := timed(mark, "running", styleCyan, clock(elapsed))
		if r.eta > 0 {
			if left := r.eta - elapsed; left >= 0 {
				s = append(s, seg{"  ~" + approx(left) + " left", styleDim})
			} else {
				s = append(s, seg{"  (over by " + approx(-left) + ")", styleYellow})
			}
		}
		if r.counter != "" {
			s = append(s, seg{"  " + r.counter, styleNone})
		}
		return s
	case runner.StatusDone:
		s := timed(sym.done, "done", styleGreen, Duration(r.dur))
		if r.note != "" {
			s = append(s, seg{"  (" + r.note + ")", styleDim})
		}
		return s
	case runner.StatusFailed:
		s := timed(sym.failed, "failed", styleRed, Duration(r.dur))
		if r.reason != "" {
			s = append(s, seg{"  " + r.reason, styleNone})
		}
		return s
	case runner.StatusSkipped:
		return []seg{{sym.skipped + " " + name + "  skipped" + paren(r.reason), styleDim}}
	case runner.StatusNotApplicable:
		return []seg{{sym.notApplicable + " " + name + "  not applicable" + paren(r.reason), styleDim}}
	case runner.StatusBlocked:
		return []seg{{sym.blocked, styleYellow}, {" " + name + "  ", styleNone}, {blockedPhrase(r.reason), styleYellow}}
	case runner.StatusInterrupted:
		return timed(sym.stopped, "interrupted", styleYellow, Duration(r.dur))
	}
	return []seg{{"?", styleNone}, {" " + name + "  " + sanitize(string(r.status)) + paren(r.reason), styleNone}}
}

// waitingFor lists the steps that name comes after and that have not
// finished yet, in the block's order.
func (l *Live) waitingFor(name string) []string {
	if l.after == nil {
		return nil
	}
	var out []string
	for _, dep := range l.after(name) {
		r, ok := l.byName[dep]
		if ok && (r.status == runner.StatusWaiting || r.status == runner.StatusRunning) {
			out = append(out, sanitize(dep))
		}
	}
	return out
}

// seg is a run of text in one style.
type seg struct {
	text  string
	style string
}

// paint joins segs into a line of at most maxW cells (<= 0: no limit),
// ending in the ellipsis when cut, with styles only when color is on.
// Widths are measured on the text alone, never on escape sequences.
func (l *Live) paint(segs []seg, maxW int) string {
	total := 0
	for _, s := range segs {
		total += stringWidth(s.text)
	}
	ellipsis := l.sym.ellipsis
	if ellipsis == "" {
		ellipsis = unicodeSymbols.ellipsis
	}
	budget := -1
	if maxW > 0 && total > maxW {
		budget = max(0, maxW-stringWidth(ellipsis)) // room for the ellipsis
	}
	var b strings.Builder
	used := 0
	style := styleNone // the style in force in b
	for _, s := range segs {
		if l.color && s.style != style && s.text != "" {
			if style != styleNone {
				b.WriteString(styleReset)
			}
			b.WriteString(s.style)
			style = s.style
		}
		text := s.text
		cut := false
		if budget >= 0 {
			text, cut = cutCells(text, budget-used)
		}
		used += stringWidth(text)
		if cut {
			text += ellipsis
		}
		b.WriteString(text)
		if cut {
			break
		}
	}
	if style != styleNone {
		b.WriteString(styleReset)
	}
	return b.String()
}
