package config

import (
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration as the config does (see parseDuration),
// for flags that take one.
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s) }

// parseDuration is time.ParseDuration plus a "d" unit of 24 hours, since
// "every 7 days" is the natural way to say how often to update a flake.
// Days may be fractional and mixed with other units: "1.5d", "1d12h".
func parseDuration(s string) (time.Duration, error) {
	if !strings.Contains(s, "d") {
		return time.ParseDuration(s)
	}
	// No Go duration unit contains a 'd', so every 'd' is a day unit: rewrite
	// "<n>d" as "<n*24>h" and let time.ParseDuration do the validation.
	var b strings.Builder
	start := 0 // start of the current number
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c == '.':
			continue
		case c == 'd' && start < i:
			n, err := strconv.ParseFloat(s[start:i], 64)
			if err != nil {
				return 0, err
			}
			b.WriteString(strconv.FormatFloat(n*24, 'f', -1, 64))
			b.WriteByte('h')
		default:
			b.WriteString(s[start : i+1])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	return time.ParseDuration(b.String())
}
