package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"24h", 24 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"0.5d30m", 12*time.Hour + 30*time.Minute, false},
		{"-2d", -48 * time.Hour, false},
		{"0d", 0, false},
		{"500ms", 500 * time.Millisecond, false},
		{"1 day", 0, true},
		{"d", 0, true},
		{"1dd", 0, true},
		{".d", 0, true},
		{"1.2.3d", 0, true},
		{"24", 0, true},
		{"", 0, true},
		{"1w", 0, true},
		{"99999999999999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
