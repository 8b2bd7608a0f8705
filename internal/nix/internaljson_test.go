package nix

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		ok     bool
		err    bool
		action string
		id     uint64
		fields []field
	}{
		{name: "plain text", line: "warning: Git tree is dirty"},
		{name: "empty", line: ""},
		{name: "prefix without space", line: `@nix{"action":"stop","id":1}`},
		{name: "start", line: `@nix {"action":"start","fields":["/nix/store/x-dep-1.0.drv","",1,1],"id":118906169589764,"level":3,"text":"building","type":105}`,
			ok: true, action: "start", id: 118906169589764,
			fields: []field{{Str: "/nix/store/x-dep-1.0.drv", IsStr: true}, {IsStr: true}, {Int: 1}, {Int: 1}}},
		{name: "id beyond float precision", line: `@nix {"action":"stop","id":18014398509481985}`,
			ok: true, action: "stop", id: 18014398509481985},
		{name: "null and float fields", line: `@nix {"action":"result","id":2,"type":105,"fields":[null,1.5e3]}`,
			ok: true, action: "result", id: 2, fields: []field{{}, {Int: 1500}}},
		{name: "msg", line: `@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m boom"}`,
			ok: true, action: "msg"},
		{name: "bad json", line: `@nix {"action":`, ok: true, err: true},
		{name: "no action", line: `@nix {"id":1}`, ok: true, err: true},
		{name: "negative id", line: `@nix {"action":"stop","id":-1}`, ok: true, err: true},
		{name: "object field", line: `@nix {"action":"result","id":1,"fields":[{}]}`, ok: true, err: true},
		{name: "not an object", line: `@nix [1,2]`, ok: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok, err := parseLine([]byte(tt.line))
			if ok != tt.ok || (err != nil) != tt.err {
				t.Fatalf("ok, err = %v, %v; want %v, error %v", ok, err, tt.ok, tt.err)
			}
			if err != nil {
				if !errors.Is(err, errNotEvent) {
					t.Errorf("error %v is not ErrNotEvent", err)
				}
				return
			}
			if e.Action != tt.action || e.ID != tt.id {
				t.Errorf("action, id = %q, %d; want %q, %d", e.Action, e.ID, tt.action, tt.id)
			}
			if tt.fields != nil && !slices.Equal(e.Fields, tt.fields) {
				t.Errorf("fields = %+v, want %+v", e.Fields, tt.fields)
			}
		})
	}
}

// feed runs a captured nix log through a Monitor, chunk bytes at a time.
func feed(t *testing.T, file string, chunk int) (log string, statuses []string, m *monitor) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m = newMonitor(&out, func(s string) { statuses = append(statuses, s) })
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := m.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	m.Flush()
	return out.String(), statuses, m
}

// TestMonitorBuild replays a real `nix build --log-format internal-json -v`
// of two derivations (captured from nix 2.8 into testdata).
func TestMonitorBuild(t *testing.T) {
	log, statuses, m := feed(t, "testdata/build-ok.log", 1<<20)
	want := []string{"building 1/2: dep-1.0", "building 2/2: system-1.0", "built 2/2"}
	for _, w := range want {
		if !slices.Contains(statuses, w) {
			t.Errorf("status %q never shown; got %q", w, statuses)
		}
	}
	if last := statuses[len(statuses)-1]; last != "built 2/2" {
		t.Errorf("last status = %q, want the build total to stay", last)
	}
	for i := 1; i < len(statuses); i++ {
		if statuses[i] == statuses[i-1] {
			t.Errorf("status %q repeated", statuses[i])
		}
	}
	for _, w := range []string{"building '/nix/store/", "-dep-1.0.drv'", "dep-1.0> building dep\n"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	for _, bad := range []string{"@nix", "evaluating file", "\x1b"} {
		if strings.Contains(log, bad) {
			t.Errorf("log contains %q:\n%s", bad, log)
		}
	}
	if len(m.Errors()) != 0 {
		t.Errorf("errors = %q", m.Errors())
	}
	// Byte-at-a-time writes give the same result.
	log2, statuses2, _ := feed(t, "testdata/build-ok.log", 1)
	if log2 != log || !slices.Equal(statuses2, statuses) {
		t.Errorf("chunked writes differ:\n%s\n%q", log2, statuses2)
	}
}

// TestMonitorFailedBuild replays failed builds captured from nix 2.8 (the
// message 2.8–2.28 print) and 2.34 ("Cannot build", after the build's
// stop): the error names the derivation and its builder's last line.
func TestMonitorFailedBuild(t *testing.T) {
	tests := []struct {
		file string
		want string // a regexp for the message
	}{
		{"testdata/build-fail.log",
			`^builder for '/nix/store/[0-9a-z]{32}-dep-1\.0\.drv' failed with exit code 3; last log line: building dep$`},
		{"testdata/build-fail-2.34.log",
			`^Cannot build '/nix/store/[0-9a-z]{32}-dep-1\.0\.drv'\. Reason: builder failed with exit code 3; last log line: ld: cannot find -lfoo$`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			log, _, m := feed(t, tt.file, 4096)
			errs := m.Errors()
			if len(errs) != 2 {
				t.Fatalf("errors = %q, want nix's two", errs)
			}
			if got := buildFailure(errs, m.LogTail); !regexp.MustCompile(tt.want).MatchString(got) {
				t.Errorf("message = %q\nwant match %s", got, tt.want)
			}
			if !strings.Contains(log, "error: ") || !strings.Contains(log, "dep-1.0> building dep\n") || strings.Contains(log, "\x1b") {
				t.Errorf("log should hold the builder's output and the error without colour codes:\n%s", log)
			}
		})
	}
}

func TestBuildFailure(t *testing.T) {
	const drv = "/nix/store/swqf7gjar91i3zx6l2cw430w0rb0zlgb-dep-1.0.drv"
	tails := map[string][]string{drv: {"building", "error: foo.c:3: bar undeclared", ""}}
	tail := func(d string) []string { return tails[d] }
	tests := []struct {
		name string
		errs []string
		want string
	}{
		{"2.8 form", []string{"error: builder for '" + drv + "' failed with exit code 2"},
			"builder for '" + drv + "' failed with exit code 2; last log line: error: foo.c:3: bar undeclared"},
		{"2.29 form, with the log excerpt nix prints without -v", []string{"error: Cannot build '" + drv + "'.\n       Reason: builder failed with exit code 2.\n       Output paths:\n         /nix/store/x-dep-1.0\n       Last 3 log lines:\n       > building"},
			"Cannot build '" + drv + "'. Reason: builder failed with exit code 2; last log line: error: foo.c:3: bar undeclared"},
		{"the dependent first, then the builder", []string{"error: 1 dependencies of derivation '/nix/store/aaaa-sys.drv' failed to build", "error: builder for '" + drv + "' failed with exit code 2"},
			"builder for '" + drv + "' failed with exit code 2; last log line: error: foo.c:3: bar undeclared"},
		{"a derivation that printed nothing", []string{"error: builder for '/nix/store/bbbb-quiet.drv' failed with exit code 1"}, ""},
		{"an evaluation error", []string{"error:\n       … while evaluating\n\n       error: undefined variable 'x'"}, ""},
		{"nothing", nil, ""},
	}
	for _, tt := range tests {
		if got := buildFailure(tt.errs, tail); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestMonitorTailBounds: a tail keeps the last lines of each derivation,
// and only so many derivations are kept.
func TestMonitorTailBounds(t *testing.T) {
	m := newMonitor(nil, nil)
	for d := 0; d <= tailDrvs; d++ {
		drv := fmt.Sprintf("/nix/store/%032d-d.drv", d)
		m.Handle(event{Action: "start", ID: uint64(d + 1), Type: actBuild, Fields: []field{{Str: drv, IsStr: true}}})
		for i := 0; i < tailLines+5; i++ {
			m.Handle(event{Action: "result", ID: uint64(d + 1), Type: resBuildLogLine, Fields: []field{{Str: fmt.Sprint("line ", i), IsStr: true}}})
		}
		m.Handle(event{Action: "stop", ID: uint64(d + 1)})
	}
	if got := m.LogTail(fmt.Sprintf("/nix/store/%032d-d.drv", 0)); got != nil {
		t.Errorf("the oldest derivation's tail was kept: %q", got)
	}
	got := m.LogTail(fmt.Sprintf("/nix/store/%032d-d.drv", tailDrvs))
	if len(got) != tailLines || got[0] != "line 5" || got[tailLines-1] != fmt.Sprint("line ", tailLines+4) {
		t.Errorf("tail = %q", got)
	}
	if len(m.tails) != tailDrvs {
		t.Errorf("%d tails kept, want %d", len(m.tails), tailDrvs)
	}
}

// TestMonitorDownloads uses the event shapes nix emits when substituting
// from a binary cache (no cache is reachable offline, so it is hand-built
// from libstore's substitution goal and progress bar).
func TestMonitorDownloads(t *testing.T) {
	lines := []string{
		`@nix {"action":"start","id":1,"level":0,"text":"","type":102}`,
		`@nix {"action":"start","id":2,"level":0,"text":"","type":103}`,
		`@nix {"action":"result","id":1,"type":106,"fields":[100,3145728]}`,
		`@nix {"action":"result","id":2,"type":105,"fields":[0,3,0,0]}`,
		`@nix {"action":"start","id":3,"level":4,"text":"substituting","type":108,"fields":["/nix/store/aaaa-hello-2.12","https://cache.nixos.org"]}`,
		`@nix {"action":"start","id":4,"level":3,"text":"copying path '/nix/store/aaaa-hello-2.12' from 'https://cache.nixos.org'","type":100,"fields":["/nix/store/aaaa-hello-2.12","https://cache.nixos.org","local"]}`,
		`@nix {"action":"result","id":4,"type":105,"fields":[1048576,2097152,0,0]}`,
		`garbage that is not json`,
		`@nix {"action":"result","id":99,"type":105,"fields":[1,2,3,4]}`,
		`@nix {"action":"stop","id":4}`,
		`@nix {"action":"stop","id":3}`,
		`@nix {"action":"result","id":2,"type":105,"fields":[1,3,0,0]}`,
	}
	var out bytes.Buffer
	var statuses []string
	m := newMonitor(&out, func(s string) { statuses = append(statuses, s) })
	for _, l := range lines {
		m.Write([]byte(l + "\n"))
	}
	want := "downloading 1/3: hello-2.12 (1.0/3.0 MiB)"
	if !slices.Contains(statuses, want) {
		t.Errorf("statuses %q lack %q", statuses, want)
	}
	if !strings.Contains(out.String(), "copying path '/nix/store/aaaa-hello-2.12'") || !strings.Contains(out.String(), "garbage that is not json") {
		t.Errorf("log:\n%s", out.String())
	}
	if strings.Contains(out.String(), "substituting") {
		t.Errorf("level-4 activity text logged:\n%s", out.String())
	}
}

func TestStoreName(t *testing.T) {
	tests := map[string]string{
		"/nix/store/0m99yqyq7ba0030jsh1g66lzdnfjdi20-dep-1.0.drv": "dep-1.0",
		"/nix/store/aaaa-hello-2.12":                              "hello-2.12",
		"nohash":                                                  "nohash",
		"":                                                        "",
	}
	for in, want := range tests {
		if got := storeName(in); got != want {
			t.Errorf("storeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, file := range []string{"testdata/build-ok.log", "testdata/build-fail.log", "testdata/build-fail-2.34.log"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte(`@nix {"action":"result","id":1,"type":105,"fields":[null,"x",1e308,-5]}`))
	f.Add([]byte(`@nix {"action":"start","id":0,"type":105,"fields":[]}`))
	f.Add([]byte("@nix \x1b[31m"))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok, err := parseLine(line)
		if !ok && (err != nil || e.Action != "") {
			t.Fatalf("a line without the prefix gave %+v, %v", e, err)
		}
		m := newMonitor(nil, nil)
		if ok && err == nil {
			// Replaying the event several times exercises start/stop pairs.
			m.Handle(e)
			m.Handle(e)
		}
		m.Write(line)
		m.Write([]byte("\n"))
		if strings.ContainsAny(m.Status(), "\n\r") {
			t.Fatalf("status %q spans lines", m.Status())
		}
	})
}
