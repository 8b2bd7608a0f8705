package runner

import (
	"io"
	"sync"
)

// multi writes to every writer under one lock, so lines from stdout and
// stderr reach the log whole and in the same order as the live view.
type multi struct {
	mu sync.Mutex
	ws []io.Writer
}

func (m *multi) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.ws {
		if _, err := w.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// logWriter is a step's log file; it remembers whether the last byte
// written ended a line, so sysinit's own footer never joins a step's
// unterminated last line.
type logWriter struct {
	w    io.Writer
	last byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

// endLine ends an unterminated last line.
func (l *logWriter) endLine() {
	if l.last != 0 && l.last != '\n' {
		_, _ = l.Write([]byte{'\n'})
	}
}
