package nix

import (
	"context"
	"errors"
	"sync"
)

// once makes each evaluation or build of a session happen once, however
// many steps need it: the (step, host) pairs of one configuration run at
// once, and all but the first wait for its result.
type once[T any] struct {
	mu sync.Mutex
	m  map[string]*shared[T]
}

// builds are a session's builds, by place and derivation; their result is
// the out path.
type builds = once[string]

type shared[T any] struct {
	done chan struct{}
	by   string // the step that did it
	out  T
	err  error
}

// do returns what fn returns for key, calling it once per session: a step
// that finds the work started waits for it, and learns which step did it.
// Work that a cancelled step left unfinished is done again by the next.
func (b *once[T]) do(ctx context.Context, key, by string, fn func() (T, error)) (out T, doneBy string, err error) {
	for {
		b.mu.Lock()
		if b.m == nil {
			b.m = map[string]*shared[T]{}
		}
		s, ok := b.m[key]
		if !ok {
			s = &shared[T]{done: make(chan struct{}), by: by}
			b.m[key] = s
			b.mu.Unlock()
			s.out, s.err = fn()
			if s.err != nil && ctx.Err() != nil {
				b.forget(key, s)
			}
			close(s.done)
			return s.out, by, s.err
		}
		b.mu.Unlock()
		select {
		case <-s.done:
		case <-ctx.Done():
			var zero T
			return zero, "", ctx.Err()
		}
		if s.err != nil && (errors.Is(s.err, context.Canceled) || errors.Is(s.err, context.DeadlineExceeded)) {
			b.forget(key, s)
			continue // its step was stopped, not this one: do it here
		}
		return s.out, s.by, s.err
	}
}

func (b *once[T]) forget(key string, s *shared[T]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m[key] == s {
		delete(b.m, key)
	}
}
