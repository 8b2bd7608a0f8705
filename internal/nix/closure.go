package nix

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
)

// closureDiff summarises `nix store diff-closures` output.
type closureDiff struct {
	Packages int     // lines: packages whose versions or size changed
	KiB      float64 // sum of the size changes nix printed (it omits those under 8 KiB)
	Sized    bool    // whether any line had a size
}

// parseClosureDiff reads the lines of `nix store diff-closures`, such as
//
//	hello: 2.10 → 2.12, +41.5 KiB
//	zlib: ∅ → 1.3
//	openssl: -12.0 KiB
func parseClosureDiff(out string) closureDiff {
	var d closureDiff
	for _, line := range strings.Split(command.StripANSI(out), "\n") {
		line = strings.TrimSpace(line)
		name, items, ok := strings.Cut(line, ": ")
		if !ok || name == "" || strings.HasPrefix(line, "warning:") {
			continue
		}
		d.Packages++
		last := items
		if i := strings.LastIndex(items, ", "); i >= 0 {
			last = items[i+2:]
		}
		if num, ok := strings.CutSuffix(last, " KiB"); ok {
			if v, err := strconv.ParseFloat(num, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				d.KiB += v
				d.Sized = true
			}
		}
	}
	return d
}

// String is "3 packages changed, +1.2 MiB", or "no package versions changed".
func (d closureDiff) String() string {
	if d.Packages == 0 {
		return "no package versions changed"
	}
	s := fmt.Sprintf("%d packages changed", d.Packages)
	if d.Packages == 1 {
		s = "1 package changed"
	}
	if d.Sized {
		s += ", " + formatKiB(d.KiB)
	}
	return s
}

func formatKiB(k float64) string {
	sign := "+"
	if k < 0 {
		sign = "-"
		k = -k
	}
	switch {
	case k >= 1024*1024:
		return fmt.Sprintf("%s%.1f GiB", sign, k/(1024*1024))
	case k >= 1024:
		return fmt.Sprintf("%s%.1f MiB", sign, k/1024)
	}
	return fmt.Sprintf("%s%.1f KiB", sign, k)
}
