package bench

import (
	"runtime/debug"
	"testing"
)

// TestBuildFlags: the report says how the binary was built, as far as the
// start-up cost depends on it: cgo (the dynamic loader) and build tags.
func TestBuildFlags(t *testing.T) {
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{[]debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}, {Key: "-tags", Value: "noasm"}}, "CGO_ENABLED=0 (static), -tags noasm"},
		{[]debug.BuildSetting{{Key: "-compiler", Value: "gc"}, {Key: "CGO_ENABLED", Value: "1"}}, "CGO_ENABLED=1 (linked with libc)"},
		{nil, ""},
	} {
		if got := buildFlags(c.settings); got != c.want {
			t.Errorf("buildFlags(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
}
