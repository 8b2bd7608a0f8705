package runner

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// lineWriter calls emit once per complete line written to it. Steps write
// stdout and stderr from different goroutines, hence the lock.
type lineWriter struct {
	mu   sync.Mutex
	emit func(string)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush emits an unterminated last line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

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
