package command

import (
	"bytes"
	"strings"
	"sync"
)

// LineWriter calls Emit once per complete line written to it, without the
// newline (and a trailing \r). It is sysinit's one line splitter: the
// runner's output events, Tail, nix's internal-json monitor and brew's
// bundle parser all read program output through it. Programs write stdout
// and stderr from different goroutines, so it is safe for concurrent use;
// Emit is called with the lock held, one line at a time.
type LineWriter struct {
	Emit func(line string)
	mu   sync.Mutex
	buf  []byte
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.Emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Pending returns the unterminated line written so far, without emitting it.
func (w *LineWriter) Pending() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// Flush emits an unterminated last line.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.Emit(string(w.buf))
		w.buf = nil
	}
}
