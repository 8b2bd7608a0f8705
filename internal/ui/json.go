package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/sysinit/sysinit/internal/runner"
)

// JSON writes each event as one JSON object on its own line (the Event's own
// json tags), for `--json`. It is safe for concurrent use: each event is
// encoded whole and written with a single Write, so lines never interleave.
type JSON struct {
	mu     sync.Mutex
	w      io.Writer
	buf    bytes.Buffer
	enc    *json.Encoder
	err    error // first write or encode error, returned by Close
	closed bool
}

// NewJSON returns a JSON view writing to w.
func NewJSON(w io.Writer) *JSON {
	j := &JSON{w: w}
	j.enc = json.NewEncoder(&j.buf)
	// Output lines and paths are shown as they are; "<" escaped as \u003c
	// helps no one reading a log.
	j.enc.SetEscapeHTML(false)
	return j
}

// Event implements runner.Observer.
func (j *JSON) Event(e runner.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || j.err != nil {
		return
	}
	j.buf.Reset()
	if err := j.enc.Encode(e); err != nil { // Encode ends the object with '\n'
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
