package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Chart geometry, in SVG user units.
const (
	svgWidth    = 1180
	svgLabelW   = 170 // tool names
	svgRight    = 290 // room for the values after the longest bar
	svgBarH     = 15
	svgBarGap   = 5
	svgHeadH    = 26
	svgBlockGap = 12
	svgTop      = 96
)

// WriteSVG draws, for every group and scenario, each tool's median wall
// time as a bar on a log scale, sysinit first and in colour.
func (r *Report) WriteSVG(w io.Writer) error {
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	rows := 0
	blocks := 0
	for _, g := range r.Groups {
		for _, s := range g.Scenarios {
			blocks++
			for _, t := range s.Tools {
				rows++
				if t.Wall.N > 0 {
					lo, hi = min(lo, t.Wall.Median), max(hi, t.Wall.Median)
				}
				if projected(t) {
					hi = max(hi, t.Projected.Median)
				}
			}
		}
	}
	if hi == 0 {
		lo, hi = time.Millisecond, time.Second
	}
	// Whole decades around the data.
	lo10 := math.Floor(math.Log10(lo.Seconds()))
	hi10 := math.Ceil(math.Log10(hi.Seconds()))
	if hi10 <= lo10 {
		hi10 = lo10 + 1
	}
	x0, x1 := float64(svgLabelW), float64(svgWidth-svgRight)
	xOf := func(d time.Duration) float64 {
		v := math.Log10(max(d.Seconds(), 1e-9))
		return x0 + (v-lo10)/(hi10-lo10)*(x1-x0)
	}
	height := svgTop + blocks*(svgHeadH+svgBlockGap) + rows*(svgBarH+svgBarGap) + 40

	ew := &errWriter{w: w}
	fmt.Fprintf(ew, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(ew, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(ew, `<text x="16" y="26" font-size="17" font-weight="bold" fill="#111">sysinit bench: median wall time of one refresh (log scale, shorter is better)</text>`+"\n")
	fmt.Fprintf(ew, `<text x="16" y="46" fill="#444">%s</text>`+"\n", html.EscapeString(fmt.Sprintf("stand-in latencies × %g; a dashed line runs on to the time at the default latencies (scale 1); (N×) = that tool's time ÷ sysinit's", r.Scale)))
	fmt.Fprintf(ew, `<text x="16" y="64" fill="#444">%s</text>`+"\n", html.EscapeString(fmt.Sprintf("%d runs after %d warm-up, whole processes · %d CPUs, %s · sysinit %s", r.Runs, r.Warmup, r.Machine.CPUs, r.Machine.CPU, r.Version)))
	// Decade grid lines with labels, top and bottom.
	for d := lo10; d <= hi10; d++ {
		x := x0 + (d-lo10)/(hi10-lo10)*(x1-x0)
		label := decadeLabel(int(d))
		fmt.Fprintf(ew, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd" stroke-dasharray="3,3"/>`+"\n", x, svgTop-8, x, height-30)
		fmt.Fprintf(ew, `<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%s</text>`+"\n", x, svgTop-12, label)
		fmt.Fprintf(ew, `<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%s</text>`+"\n", x, height-14, label)
	}
	y := svgTop
	for _, g := range r.Groups {
		for _, s := range g.Scenarios {
			title := g.Label + " · " + s.Name
			fmt.Fprintf(ew, `<text x="16" y="%d" font-size="13" font-weight="bold" fill="#111">%s</text>`+"\n", y+17, html.EscapeString(title))
			// The description goes right-aligned when it fits beside the
			// title (about 8 and 6.5 units a character).
			if 16+8*utf8.RuneCountInString(title)+24+int(6.5*float64(utf8.RuneCountInString(s.What))) < svgWidth-16 {
				fmt.Fprintf(ew, `<text x="%d" y="%d" fill="#666" text-anchor="end">%s</text>`+"\n", svgWidth-16, y+17, html.EscapeString(s.What))
			}
			y += svgHeadH
			for i, t := range s.Tools {
				fill := "#a0a8b3"
				switch {
				case i == 0:
					fill = "#1f6feb"
				case t.Tool == ToolFloor || t.Tool == ToolStart:
					fill = "#d0d5db"
				}
				fmt.Fprintf(ew, `<text x="%d" y="%d" text-anchor="end" fill="#222">%s</text>`+"\n", svgLabelW-8, y+12, html.EscapeString(t.Tool))
				if t.Wall.N > 0 {
					x := xOf(t.Wall.Median)
					fmt.Fprintf(ew, `<rect x="%d" y="%d" width="%.1f" height="%d" rx="2" fill="%s"/>`+"\n", svgLabelW, y, max(x-x0, 1), svgBarH, fill)
					val := FormatDuration(t.Wall.Median)
					if i > 0 && t.Ratio > 0 {
						val += "  (" + FormatRatio(t.Ratio) + ")"
					}
					if projected(t) {
						// Where the bar would end at the default latencies.
						px := xOf(t.Projected.Median)
						fmt.Fprintf(ew, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="2,2"/>`+"\n", x, y+svgBarH/2, px, y+svgBarH/2, fill)
						fmt.Fprintf(ew, `<rect x="%.1f" y="%d" width="3" height="%d" fill="%s"/>`+"\n", px-1.5, y, svgBarH, fill)
						x = px
						val += "  → " + FormatDuration(t.Projected.Median) + " at scale 1"
						if i > 0 && t.ProjectedRatio > 0 {
							val += " (" + FormatRatio(t.ProjectedRatio) + ")"
						}
					}
					if strings.Contains(t.Note, "did nothing") {
						val += "  did nothing: misses the change"
					}
					fmt.Fprintf(ew, `<text x="%.1f" y="%d" fill="#222">%s</text>`+"\n", max(x, x0)+6, y+12, html.EscapeString(val))
				}
				y += svgBarH + svgBarGap
			}
			y += svgBlockGap
		}
	}
	fmt.Fprintf(ew, "</svg>\n")
	return ew.err
}

// projected reports whether t's time at scale 1 differs enough from
// the measured one to be drawn.
func projected(t ToolResult) bool {
	return t.Projected.N > 0 && t.Wall.N > 0 && float64(t.Projected.Median) > 1.05*float64(t.Wall.Median)
}

// decadeLabel names 10^e seconds: 1ms, 10ms, 100ms, 1s, 10s, 100s.
func decadeLabel(e int) string {
	units := []struct {
		exp  int
		name string
	}{{-6, "µs"}, {-3, "ms"}, {0, "s"}}
	for i := len(units) - 1; i >= 0; i-- {
		if e >= units[i].exp || i == 0 {
			n := e - units[i].exp
			if n < 0 {
				return fmt.Sprintf("%gs", math.Pow(10, float64(e)))
			}
			return "1" + strings.Repeat("0", n) + units[i].name
		}
	}
	return ""
}
