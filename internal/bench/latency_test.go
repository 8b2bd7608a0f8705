package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLatencySet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
		check   func(Latencies) bool
	}{
		{"brew-check=1.5s", "", func(l Latencies) bool { return l.BrewCheck == 1500*time.Millisecond }},
		{" eval = 250ms ", "", func(l Latencies) bool { return l.Eval == 250*time.Millisecond }},
		{"brew-check", "want KEY=DURATION", nil},
		{"nope=1s", `unknown latency "nope"`, nil},
		{"eval=soon", "latency eval", nil},
		{"eval=-1s", "negative", nil},
	} {
		l := DefaultLatencies()
		err := l.Set(tc.in)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Set(%q) = %v, want an error with %q", tc.in, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("Set(%q): %v", tc.in, err)
		case !tc.check(l):
			t.Errorf("Set(%q) did not set it: %+v", tc.in, l)
		}
	}
}

func TestLatencyKeysCoverEveryField(t *testing.T) {
	var l Latencies
	for i, k := range LatencyKeys() {
		if err := l.Set(k + "=" + time.Duration(i+1).String()); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range l.Rows(1) {
		if r.Nominal == 0 {
			t.Errorf("latency %s is not reached by its key", r.Key)
		}
	}
}

func TestScaledAndOldNoChange(t *testing.T) {
	d := DefaultLatencies()
	if got := d.OldNoChange(); got < 110*time.Second || got > 130*time.Second {
		t.Errorf("the old no-change refresh sleeps %v; the published figure is about 2 minutes", got)
	}
	s := d.Scaled(0.01)
	if s.BrewCheck != 12*time.Millisecond || s.FlakeUpdate != 200*time.Millisecond {
		t.Errorf("Scaled(0.01) = %+v", s)
	}
	rows := d.Rows(0.01)
	if rows[0].Nominal != d.FlakeUpdate || rows[0].Used != s.FlakeUpdate {
		t.Errorf("Rows = %+v", rows[0])
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("brew-update = \"30s\"\neval = \"2s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := DefaultLatencies()
	if err := l.LoadProfile(good); err != nil {
		t.Fatal(err)
	}
	if l.BrewUpdate != 30*time.Second || l.Eval != 2*time.Second {
		t.Errorf("LoadProfile: %+v", l)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("brew-updat = \"30s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.LoadProfile(bad); err == nil || !strings.Contains(err.Error(), "brew-updat") {
		t.Errorf("LoadProfile(bad) = %v", err)
	}
	if err := l.LoadProfile(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("LoadProfile of a missing file succeeded")
	}
}
