package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// ErrDeclined is the answer no.
var ErrDeclined = errors.New("declined at the prompt")

// Prompter asks, on the terminal, whether a step may apply what it built
// (`refresh --ask`). Questions come from the steps' goroutines while the
// run goes on; they are asked one at a time, with the view held (see
// Live.Hold) so that the question is not drawn over. The answer is read a
// line at a time from In; only y or yes (any case) is yes, as nh's
// "[y/N]" has it. With Yes, the summary is shown and nothing is asked.
type Prompter struct {
	In   io.Reader
	Out  io.Writer
	Hold func() (release func()) // the view's; nil when it writes elsewhere
	Yes  bool

	mu    sync.Mutex // one question at a time
	once  sync.Once
	lines chan string // from the one goroutine reading In; closed at its end
}

// Confirm shows summary — what step is about to apply — and asks whether
// to go on: nil for yes, ErrDeclined for no or the end of input,
// ctx.Err() when the run is interrupted at the prompt.
func (p *Prompter) Confirm(ctx context.Context, step, summary string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Hold != nil {
		defer p.Hold()()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sysinit: %s is ready to apply:\n", sanitize(step))
	for _, l := range strings.Split(strings.TrimRight(summary, "\n"), "\n") {
		fmt.Fprintf(&b, "  %s\n", sanitize(l))
	}
	if p.Yes {
		fmt.Fprintf(&b, "sysinit: applying %s (--yes)\n", sanitize(step))
		_, err := io.WriteString(p.Out, b.String())
		return err
	}
	fmt.Fprintf(&b, "sysinit: apply %s? [y/N] ", sanitize(step))
	if _, err := io.WriteString(p.Out, b.String()); err != nil {
		return fmt.Errorf("asking: %w", err)
	}
	p.once.Do(p.read)
	select {
	case <-ctx.Done():
		// The line the user was typing is left unanswered: end it.
		fmt.Fprintln(p.Out)
		return ctx.Err()
	case line, ok := <-p.lines:
		if !ok {
			fmt.Fprintln(p.Out)
			return fmt.Errorf("%w (no answer: end of input)", ErrDeclined)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return nil
		}
		return ErrDeclined
	}
}

// read starts the goroutine that reads answers. It lives as long as In:
// a read cannot be abandoned, so an answer typed after an interrupt is
// read and dropped.
func (p *Prompter) read() {
	p.lines = make(chan string)
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(p.In)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
}
