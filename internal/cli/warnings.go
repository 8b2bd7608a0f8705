package cli

import (
	"sync"

	"github.com/sysinit/sysinit/internal/plan"
)

// stepWarnings holds what the decisions of a refresh warn about (an input
// pattern that selects no file), as last decided: a step decided again
// while the run goes on replaces its plan's warnings. They are printed
// once the run's view is closed, so they neither break a live view nor
// scroll away above it.
type stepWarnings struct {
	mu    sync.Mutex
	order []string
	by    map[string][]string
}

func newStepWarnings(p *plan.Plan) *stepWarnings {
	w := &stepWarnings{by: map[string][]string{}}
	for _, d := range p.Steps {
		w.order = append(w.order, d.Name)
		w.keep(d)
	}
	return w
}

// keep records d's warnings and returns d.
func (w *stepWarnings) keep(d *plan.Decision) *plan.Decision {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.by[d.Name] = d.Warnings
	return d
}

func (w *stepWarnings) print(a *app) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, name := range w.order {
		for _, msg := range w.by[name] {
			a.warn(name + ": " + msg)
		}
	}
}
