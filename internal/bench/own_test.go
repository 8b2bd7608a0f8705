package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoChangeEvents: a refresh counts as no-change only when its events
// show no step started and its summary ran, failed and blocked nothing.
//
//	events                                       no-change?
//	every step skipped, summary all 0            yes
//	not-applicable steps only                    yes
//	a step-start (any status after)              no: names the step and why
//	a step failed without starting (tool gone)   no: the summary says so
//	no run-end                                   cannot read: an error
func TestNoChangeEvents(t *testing.T) {
	const skipped = `{"type":"run-start","steps":[{"name":"a","status":"skipped","reasons":[{"kind":"up-to-date","detail":"nothing changed since the last success"}]}]}` + "\n"
	for _, tc := range []struct {
		name, events string
		want         string // "" = no-change; else in the error
	}{
		{"skipped", skipped + `{"type":"run-end","summary":{"ran":0,"skipped":1,"failed":0,"blocked":0,"wall_ms":2.1}}`, ""},
		{"not applicable", `{"type":"run-start","steps":[{"name":"a","status":"not-applicable","reasons":[]}]}
{"type":"run-end","summary":{"ran":0,"skipped":0,"failed":0,"blocked":0,"wall_ms":1}}`, ""},
		{"started", `{"type":"run-start","steps":[{"name":"a","status":"waiting","reasons":[]}]}
{"type":"step-start","step":"a","reasons":[{"kind":"inputs-changed","detail":"src/a.c modified"}]}
{"type":"step-end","step":"a","status":"done","duration_ms":3}
{"type":"run-end","summary":{"ran":1,"skipped":0,"failed":0,"blocked":0,"wall_ms":5}}`, "it started a (src/a.c modified)"},
		{"started, reason without detail", `{"type":"step-start","step":"b","reasons":[{"kind":"forced"}]}
{"type":"run-end","summary":{"ran":1}}`, "it started b (forced)"},
		{"failed unstarted", skipped + `{"type":"step-end","step":"a","status":"failed","error":"nix: not found on PATH"}
{"type":"run-end","summary":{"ran":0,"skipped":0,"failed":1,"blocked":0,"wall_ms":1}}`, "0 steps run, 1 failed, 0 blocked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := parseEvents([]byte(tc.events))
			if err != nil {
				t.Fatal(err)
			}
			err = ev.noChange()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("not no-change: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := parseEvents([]byte(skipped)); err == nil || !strings.Contains(err.Error(), "without run-end") {
		t.Errorf("events without run-end: err = %v", err)
	}
}

// TestFloorFilesCommand: the floor's listing covers the listed files —
// their modification time, size and path — and nothing else.
func TestFloorFilesCommand(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"a", "b c", "-d", "sub/e"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	unlisted := filepath.Join(dir, "unlisted")
	if err := os.WriteFile(unlisted, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := writeFileList(files)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(list)
	if floorFilesCommand(list) == "" {
		t.Fatal("no floor command")
	}
	tested := 0
	for _, v := range floorVariants(list) {
		if !v.works() {
			continue // BSD's stat, on Linux
		}
		tested++
		t.Run(strings.Fields(v.cmd)[0]+"-"+strings.Fields(v.cmd)[1], func(t *testing.T) {
			checkFloor(t, v.cmd, files, unlisted)
		})
	}
	if tested == 0 {
		t.Fatal("no floor variant works here")
	}
}

// checkFloor: cmd lists each of files once, and its hash changes with a
// listed file's mtime and not with unlisted's.
func checkFloor(t *testing.T, cmd string, files []string, unlisted string) {
	floor := func() string {
		t.Helper()
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	// Without the hash: one line per listed file.
	listing, err := exec.Command("sh", "-c", strings.Split(cmd, " | ")[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, listing)
	}
	if n := strings.Count(string(listing), "\n"); n != len(files) {
		t.Errorf("the listing has %d lines, want %d:\n%s", n, len(files), listing)
	}
	base := floor()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(unlisted, old, old); err != nil {
		t.Fatal(err)
	}
	if got := floor(); got != base {
		t.Errorf("a file not listed changed the floor's hash")
	}
	// A new mtime in the same second as the old one: the floor sees what
	// sysinit's stat cache sees (nanoseconds).
	fi, err := os.Stat(files[3])
	if err != nil {
		t.Fatal(err)
	}
	touched := fi.ModTime().Truncate(time.Second).Add(time.Nanosecond * 123456789)
	if touched.Equal(fi.ModTime()) {
		touched = touched.Add(time.Microsecond)
	}
	if err := os.Chtimes(files[3], touched, touched); err != nil {
		t.Fatal(err)
	}
	if got := floor(); got == base {
		t.Errorf("a listed file's new mtime left the floor's hash as it was")
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 steps", 1: "1 step", 2: "2 steps", 20000: "20,000 steps"} {
		if got := plural(n, "step"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
