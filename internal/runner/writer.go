package runner

import (
	"fmt"
	"io"
	"sync"
)

// multi writes to every writer under one lock, so lines from stdout and
// stderr reach the log whole and in the same order as the live view. It
// never fails: the program's output must be drained whatever becomes of
// it, or the program would die of SIGPIPE or block on a full pipe (its
// writers keep their own errors, as logWriter does).
type multi struct {
	mu sync.Mutex
	ws []io.Writer
}

func (m *multi) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.ws {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

// logWriter is a step's log file; it remembers whether the last byte
// written ended a line, so sysinit's own footer never joins a step's
// unterminated last line. A write that fails (a full disk) is reported
// once, through failed, and what follows is dropped: the step goes on,
// its log is incomplete.
type logWriter struct {
	w      io.Writer
	last   byte
	err    error // the first write that failed
	failed func(error)
}

func (l *logWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return len(p), nil
	}
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	if _, err := l.w.Write(p); err != nil {
		l.err = err
		if l.failed != nil {
			l.failed(err)
		}
	}
	return len(p), nil
}

// endLine ends an unterminated last line.
func (l *logWriter) endLine() {
	if l.last != 0 && l.last != '\n' {
		_, _ = l.Write([]byte{'\n'})
	}
}

// incomplete is the note of a step whose log lost output, or "".
func (l *logWriter) incomplete() string {
	if l.err == nil {
		return ""
	}
	// Said in the file too, should there be room again.
	_, _ = fmt.Fprintf(l.w, "\n# log incomplete: writing it failed: %v\n", l.err)
	return "log incomplete: " + l.err.Error()
}
