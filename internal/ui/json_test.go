package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/runner"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		name   string
		events []runner.Event
		want   string
	}{{
		name: "run-start",
		events: []runner.Event{{Type: runner.EventRunStart, Time: t0, RunID: "r1", Steps: []runner.StepInfo{
			{Name: "system", Status: runner.StatusWaiting, Reason: "inputs changed", ETA: 3 * time.Second},
			{Name: "fonts", Status: runner.StatusSkipped, Reason: "up to date"},
		}}},
		want: `{"type":"run-start","time":"2025-11-25T10:00:00Z","run":"r1","steps":[{"name":"system","status":"waiting","reason":"inputs changed","eta_ns":3000000000},{"name":"fonts","status":"skipped","reason":"up to date"}]}` + "\n",
	}, {
		name: "output kept verbatim, HTML not escaped",
		events: []runner.Event{
			{Type: runner.EventStepOutput, Time: t0, RunID: "r1", Step: "brew", Line: "<b> & \x1b[1m"},
		},
		want: `{"type":"step-output","time":"2025-11-25T10:00:00Z","run":"r1","step":"brew","line":"<b> & \u001b[1m"}` + "\n",
	}, {
		name: "failed step and run-end, one line each",
		events: []runner.Event{
			{Type: runner.EventStepEnd, Time: t0, RunID: "r1", Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1",
				Duration: 1500 * time.Millisecond, LogPath: "/l/brew.log", Tail: []string{"a", "b"}},
			{Type: runner.EventRunEnd, Time: t0, RunID: "r1", Summary: &runner.Summary{Ran: 1, Failed: 1, Wall: 2 * time.Second, LogDir: "/l"}},
		},
		want: `{"type":"step-end","time":"2025-11-25T10:00:00Z","run":"r1","step":"brew","status":"failed","reason":"exit status 1","duration_ns":1500000000,"log":"/l/brew.log","tail":["a","b"]}` + "\n" +
			`{"type":"run-end","time":"2025-11-25T10:00:00Z","run":"r1","summary":{"ran":1,"skipped":0,"failed":1,"blocked":0,"wall_ns":2000000000,"log_dir":"/l"}}` + "\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			j := NewJSON(&out)
			for _, e := range tt.events {
				j.Event(e)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestJSONConcurrent(t *testing.T) {
	out := &syncBuffer{}
	bw := bufio.NewWriterSize(out, 64) // small, so a torn event would show
	j := NewJSON(bw)
	const goroutines, each = 16, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				j.Event(runner.Event{Type: runner.EventStepOutput, Step: fmt.Sprintf("s%d", g), Line: strings.Repeat("x", i)})
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if o := out.overlaps.Load(); o > 0 {
		t.Errorf("%d overlapping writes", o)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("got %d lines, want %d (unflushed or merged events)", len(lines), goroutines*each)
	}
	for _, l := range lines {
		var e runner.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
	}
}

func TestJSONWriteError(t *testing.T) {
	w := &failingWriter{}
	j := NewJSON(w)
	j.Event(runner.Event{Type: runner.EventRunStart})
	j.Event(runner.Event{Type: runner.EventRunEnd})
	err := j.Close()
	if err == nil || !strings.Contains(err.Error(), "writing run-start event: input/output error") {
		t.Errorf("Close = %v, want the first write error", err)
	}
	if w.n != 1 {
		t.Errorf("kept writing after the first error: %d writes", w.n)
	}
}
