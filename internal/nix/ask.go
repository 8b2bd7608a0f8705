package nix

import (
	"context"
	"fmt"
	"strings"
)

// confirm shows what switching from before to built changes (the closure
// diff, also logged) through the run's Confirm and returns the note the
// switch adds to its own; an error — the user said no — means nothing may
// be changed. It stands in for the diff that otherwise runs beside the
// switch.
func (r *runner) confirm(ctx context.Context, before, built string) (func(bool) string, error) {
	var b strings.Builder
	note := ""
	switch {
	case before == "":
		fmt.Fprintf(&b, "switch to %s\n(nothing is active yet)\n", built)
	case before == built:
		fmt.Fprintf(&b, "activate %s again\n(it is already the active system: no package changes)\n", built)
	default:
		diff, err := r.closureDiff(ctx, before, built)
		if err != nil {
			return nil, err
		}
		_, _ = r.out.Write([]byte(diff))
		note = parseClosureDiff(diff).String()
		fmt.Fprintf(&b, "switch from %s\n        to %s\n", before, built)
		for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
			if strings.TrimSpace(l) != "" {
				fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(l))
			}
		}
		fmt.Fprintf(&b, "%s\n", note)
	}
	if err := r.rc.Confirm(ctx, b.String()); err != nil {
		fmt.Fprintf(r.out, "not applied: %v\n", err)
		return nil, fmt.Errorf("%s was built but not applied: %w", built, err)
	}
	return func(bool) string { return note }, nil
}
