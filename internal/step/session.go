package step

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Session is what the steps of one sysinit command share: a kind keeps
// there what its steps would otherwise each redo — one ssh connection per
// host, one build per configuration. Values that are io.Closers are closed,
// in reverse order of creation, when the session closes. A nil *Session
// shares nothing: each Value call makes a new value, and nothing is closed.
type Session struct {
	mu     sync.Mutex
	values map[any]any
	order  []any
	closed bool
}

// NewSession returns an empty session.
func NewSession() *Session { return &Session{values: map[any]any{}} }

// Value returns the value kept under key, made by mk the first time.
func (s *Session) Value(key any, mk func() any) any {
	if s == nil {
		return mk()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[key]; ok {
		return v
	}
	v := mk()
	if !s.closed {
		s.values[key] = v
		s.order = append(s.order, key)
	}
	return v
}

// Close closes the values that are io.Closers, the last made first.
func (s *Session) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	order := s.order
	values := s.values
	s.order, s.values, s.closed = nil, map[any]any{}, true
	s.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if c, ok := values[order[i]].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Remote is implemented by steps that act on another machine than the one
// sysinit runs on: the plan judges their `os` by that machine's platform,
// and asks all of them at once, before deciding any, so that each machine
// costs one round trip and they overlap.
type Remote interface {
	// Platform returns the GOOS of the machine the step acts on ("linux",
	// "darwin"), asking it the first time; an error when it cannot be
	// reached.
	Platform(ctx context.Context) (string, error)
	// Target names that machine, for messages.
	Target() string
}
