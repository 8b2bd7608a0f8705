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

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/runner"
)

func TestJSON(t *testing.T) {
	reasons := map[string][]plan.Reason{
		"system": {{Kind: plan.InputsChanged, Detail: "flake.lock modified", Files: []plan.FileChange{{Path: "flake.lock", Change: "modified"}}}},
		"fonts":  {{Kind: plan.UpToDate, Detail: "nothing changed since the last success"}},
		"brew":   {{Kind: plan.NeverRan, Detail: "no success recorded"}},
	}
	lookup := func(s string) []plan.Reason { return reasons[s] }
	tests := []struct {
		name   string
		opts   JSONOptions
		events []runner.Event
		want   string
	}{{
		name: "run-start: the plan's reasons and the ETA in ms",
		opts: JSONOptions{Reasons: lookup},
		events: []runner.Event{{Type: runner.EventRunStart, Time: t0, RunID: "r1", Steps: []runner.StepInfo{
			{Name: "system", Status: runner.StatusWaiting, Reason: "inputs changed: flake.lock modified", ETA: 3*time.Second + 250*time.Microsecond},
			{Name: "fonts", Status: runner.StatusSkipped, Reason: "up to date"},
		}}},
		want: `{"type":"run-start","time":"2025-11-25T10:00:00Z","run":"r1","steps":[` +
			`{"name":"system","status":"waiting","reasons":[{"kind":"inputs-changed","detail":"flake.lock modified","files":[{"path":"flake.lock","change":"modified"}]}],"eta_ms":3000.25},` +
			`{"name":"fonts","status":"skipped","reasons":[{"kind":"up-to-date","detail":"nothing changed since the last success"}]}]}` + "\n",
	}, {
		name: "without the plan, the runner's words",
		events: []runner.Event{{Type: runner.EventRunStart, Time: t0, RunID: "r1", Steps: []runner.StepInfo{
			{Name: "system", Status: runner.StatusWaiting, Reason: "inputs changed"},
		}}, {Type: runner.EventStepStart, Time: t0, RunID: "r1", Step: "system", Reason: "inputs changed", LogPath: "/l/system.log"}},
		want: `{"type":"run-start","time":"2025-11-25T10:00:00Z","run":"r1","steps":[{"name":"system","status":"waiting","reasons":[],"detail":"inputs changed"}]}` + "\n" +
			`{"type":"step-start","time":"2025-11-25T10:00:00Z","run":"r1","step":"system","detail":"inputs changed","log":"/l/system.log"}` + "\n",
	}, {
		name: "output kept verbatim, HTML not escaped",
		events: []runner.Event{
			{Type: runner.EventStepOutput, Time: t0, RunID: "r1", Step: "brew", Line: "<b> & \x1b[1m"},
		},
		want: `{"type":"step-output","time":"2025-11-25T10:00:00Z","run":"r1","step":"brew","line":"<b> & \u001b[1m"}` + "\n",
	}, {
		name: "step-end: done, failed, blocked; run-end; one line each",
		opts: JSONOptions{Reasons: lookup},
		events: []runner.Event{
			{Type: runner.EventStepStart, Time: t0, RunID: "r1", Step: "system", Reason: "inputs changed: flake.lock modified"},
			{Type: runner.EventStepEnd, Time: t0, RunID: "r1", Step: "system", Status: runner.StatusDone, Reason: "inputs changed: flake.lock modified",
				Duration: 12*time.Second + 345678*time.Microsecond, Note: "switched"},
			{Type: runner.EventStepEnd, Time: t0, RunID: "r1", Step: "brew", Status: runner.StatusFailed, Reason: "exit status 1",
				Duration: 1500 * time.Millisecond, LogPath: "/l/brew.log", Tail: []string{"a", "b"}},
			{Type: runner.EventStepEnd, Time: t0, RunID: "r1", Step: "fonts", Status: runner.StatusBlocked, Reason: "blocked by brew"},
			{Type: runner.EventStepEnd, Time: t0, RunID: "r1", Step: "other", Status: runner.StatusInterrupted, Reason: "not started: interrupted"},
			{Type: runner.EventRunEnd, Time: t0, RunID: "r1", Summary: &runner.Summary{Ran: 1, Failed: 1, Blocked: 1, Wall: 2 * time.Second, LogDir: "/l"}},
		},
		want: `{"type":"step-start","time":"2025-11-25T10:00:00Z","run":"r1","step":"system","reasons":[{"kind":"inputs-changed","detail":"flake.lock modified","files":[{"path":"flake.lock","change":"modified"}]}]}` + "\n" +
			`{"type":"step-end","time":"2025-11-25T10:00:00Z","run":"r1","step":"system","status":"done","reasons":[{"kind":"inputs-changed","detail":"flake.lock modified","files":[{"path":"flake.lock","change":"modified"}]}],"note":"switched","duration_ms":12345.678}` + "\n" +
			`{"type":"step-end","time":"2025-11-25T10:00:00Z","run":"r1","step":"brew","status":"failed","reasons":[{"kind":"never-ran","detail":"no success recorded"}],"error":"exit status 1","duration_ms":1500,"log":"/l/brew.log","tail":["a","b"]}` + "\n" +
			`{"type":"step-end","time":"2025-11-25T10:00:00Z","run":"r1","step":"fonts","status":"blocked","reasons":[{"kind":"up-to-date","detail":"nothing changed since the last success"}],"detail":"blocked by brew"}` + "\n" +
			`{"type":"step-end","time":"2025-11-25T10:00:00Z","run":"r1","step":"other","status":"interrupted","detail":"not started: interrupted"}` + "\n" +
			`{"type":"run-end","time":"2025-11-25T10:00:00Z","run":"r1","summary":{"ran":1,"skipped":0,"failed":1,"blocked":1,"wall_ms":2000,"log_dir":"/l"}}` + "\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			j := NewJSON(&out, tt.opts)
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

// TestJSONNoGoDurations: no field of any event carries a Go duration (an
// integer of nanoseconds, or "1.5s"): every duration is a number in a
// field named *_ms.
func TestJSONNoGoDurations(t *testing.T) {
	var out bytes.Buffer
	j := NewJSON(&out, JSONOptions{})
	for _, e := range []runner.Event{
		{Type: runner.EventRunStart, Time: t0, Steps: []runner.StepInfo{{Name: "a", Status: runner.StatusWaiting, ETA: 1500 * time.Millisecond}}},
		{Type: runner.EventStepEnd, Time: t0, Step: "a", Status: runner.StatusDone, Duration: 1500 * time.Millisecond},
		{Type: runner.EventRunEnd, Time: t0, Summary: &runner.Summary{Ran: 1, Wall: 1500 * time.Millisecond}},
	} {
		j.Event(e)
	}
	j.Close()
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		case float64:
			if strings.HasSuffix(path, "_ms") && v != 1500 {
				t.Errorf("%s = %v, want 1500", path, v)
			}
			if strings.HasSuffix(path, "_ns") || v == 1.5e9 {
				t.Errorf("%s = %v: a Go duration", path, v)
			}
		case string:
			if v == "1.5s" {
				t.Errorf("%s = %q: a Go duration", path, v)
			}
		}
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		walk("", v)
		n += strings.Count(line, `_ms":1500`)
	}
	if n != 3 {
		t.Errorf("want eta_ms, duration_ms and wall_ms, found %d in:\n%s", n, out.String())
	}
}

func TestJSONConcurrent(t *testing.T) {
	out := &syncBuffer{}
	bw := bufio.NewWriterSize(out, 64) // small, so a torn event would show
	j := NewJSON(bw, JSONOptions{})
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
	j := NewJSON(w, JSONOptions{})
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
