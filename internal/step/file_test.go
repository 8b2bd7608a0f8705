package step

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
)

// TestFileProbeUnreadableDest: a destination only root can read (sudoers,
// 0440) is judged by its stat signature: unchanged means no drift, a
// different signature (someone edited it) means drift — rather than "cannot
// tell" on every refresh. As root, the check runs in a child as nobody.
func TestFileProbeUnreadableDest(t *testing.T) {
	base := t.TempDir()
	// nobody must reach the file (and, as root, the test binary's copy).
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(base, "sudoers")
	if err := os.WriteFile(dst, []byte("root ALL=(ALL) ALL\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if err := os.Chmod(dst, 0); err != nil {
			t.Fatal(err)
		}
		checkUnreadableProbe(t, dst)
		return
	}
	if err := os.Chmod(dst, 0o440); err != nil {
		t.Fatal(err)
	}
	// The test binary's directory is closed to nobody: run a copy.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "step.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestFileProbeUnreadableHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "STEP_UNREADABLE_DEST="+dst)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFileProbeUnreadableHelper") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
}

// TestFileProbeUnreadableHelper is TestFileProbeUnreadableDest's child.
func TestFileProbeUnreadableHelper(t *testing.T) {
	dst := os.Getenv("STEP_UNREADABLE_DEST")
	if dst == "" {
		t.Skip("helper process for TestFileProbeUnreadableDest; runs only when it sets STEP_UNREADABLE_DEST")
	}
	checkUnreadableProbe(t, dst)
}

func checkUnreadableProbe(t *testing.T, dst string) {
	d, err := readDest(dst)
	if err != nil {
		t.Fatalf("readDest: %v", err)
	}
	if d.content != "" || d.sig == "" {
		t.Fatalf("readDest = %+v, want no content and a signature", d)
	}
	if _, err := fingerprint.HashFile(dst); err == nil {
		t.Fatal("the destination is readable: the test proves nothing")
	}
	f := &File{dest: dst}
	if drift, err := f.Probe(context.Background(), token{left: dest{content: "abc 0440", sig: d.sig}}.String()); err != nil || drift != "" {
		t.Errorf("same signature: drift %q, err %v; want none", drift, err)
	}
	if drift, err := f.Probe(context.Background(), token{left: dest{content: "abc 0440", sig: "1:2:3:4:5:6"}}.String()); err != nil || drift == "" {
		t.Errorf("another signature: drift %q, err %v; want drift", drift, err)
	}
}

// fileStep builds a file step of a config in dir.
func fileStep(t *testing.T, dir string, k *fileKeys, stepDir string) *File {
	t.Helper()
	cfg := &config.Config{Dir: dir}
	s := &config.Step{Name: "f", Kind: "file", Own: k, Dir: stepDir}
	st, err := newFile(cfg, s, &Env{Getenv: os.Getenv, LookPath: exec.LookPath, Exec: command.Exec{}})
	if err != nil {
		t.Fatal(err)
	}
	return st.(*File)
}

// TestFileProbeNeverFollowsDestLink: a link at the destination (planted in
// a directory someone else may write) is drift in itself; the probe does not
// read what it leads to, even when that holds the very content installed.
func TestFileProbeNeverFollowsDestLink(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "src.conf"), []byte("real\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "out", "dest.conf")
	f := fileStep(t, dir, &fileKeys{Source: "src.conf", Dest: dest}, "")
	out, err := f.Run(context.Background(), &RunContext{Out: &strings.Builder{}, Progress: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); drift != "" || err != nil {
		t.Fatalf("probe after install: %q, %v", drift, err)
	}
	twin := filepath.Join(dir, "twin")
	if err := os.Rename(dest, twin); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(twin, dest); err != nil {
		t.Fatal(err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); err != nil || !strings.Contains(drift, dest+" is a symbolic link") {
		t.Errorf("probe of a link to the same content: %q, %v; want drift naming the link", drift, err)
	}
	// A file of another size is drift without reading it.
	if err := os.Remove(dest); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dest, []byte("something longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := readDest(dest, 5)
	if err != nil || !d.unread || d.content != "" {
		t.Errorf("readDest of a file of another size: %+v, %v; want it left unread", d, err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); err != nil || !strings.Contains(drift, "changed outside sysinit") {
		t.Errorf("probe of another size: %q, %v", drift, err)
	}
}

// TestFileStepOnChangeRewriteDoesNotLoop: when the destination is rewritten
// while on-change runs (a formatter; sysinit cannot tell it from someone
// else's write), the run says so and what on-change left counts as in
// place: the next probe sees no drift and the next run neither installs
// nor runs on-change again (issue 10: no loop). A later change of it is
// drift, and the source is installed again with no backup of on-change's
// version; a new source is installed whatever on-change left before.
func TestFileStepOnChangeRewriteDoesNotLoop(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "src.conf"), []byte("real\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "dest.conf")
	f := fileStep(t, dir, &fileKeys{Source: "src.conf", Dest: dest, OnChange: "echo ran >> calls; echo normalised > dest.conf"}, "")
	run := func(tok string) (Outcome, string) {
		t.Helper()
		var log strings.Builder
		out, err := f.Run(context.Background(), &RunContext{Out: &log, Progress: func(string) {}, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		return out, log.String()
	}
	calls := func() int {
		data, _ := os.ReadFile(filepath.Join(dir, "calls"))
		return strings.Count(string(data), "ran")
	}
	out, log := run("")
	if !strings.Contains(log, dest+" changed while on-change ran; what it holds now counts as in place") {
		t.Errorf("the run does not say the file changed under on-change:\n%s", log)
	}
	if drift, err := f.Probe(context.Background(), out.Token); err != nil || drift != "" {
		t.Fatalf("probe after on-change rewrote the file: drift %q, %v; want none", drift, err)
	}
	again, log := run(out.Token)
	if calls() != 1 || strings.Contains(log, "installed src.conf") || again.Token != out.Token {
		t.Errorf("second run (on-change ran %d times; token %q, was %q):\n%s", calls(), again.Token, out.Token, log)
	}
	// The source's own bytes put back undo what on-change did: drift, and
	// both run again (a chmod 600 by on-change must not stay undone).
	if err := os.WriteFile(dest, []byte("real\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); err != nil || !strings.Contains(drift, "not what on-change left there") {
		t.Fatalf("probe with the source put back: %q, %v", drift, err)
	}
	if _, log = run(out.Token); !strings.Contains(log, "installed src.conf") || calls() != 2 {
		t.Errorf("run with the source put back (on-change ran %d times):\n%s", calls(), log)
	}
	// A link in its place is never taken for what on-change left.
	if err := os.Remove(dest); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "src.conf"), dest); err != nil {
		t.Fatal(err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); err != nil || !strings.Contains(drift, "symbolic link") {
		t.Fatalf("probe with a link at dest: %q, %v", drift, err)
	}
	if _, log = run(out.Token); !strings.Contains(log, "installed src.conf") || calls() != 3 {
		t.Errorf("run with a link at dest (on-change ran %d times):\n%s", calls(), log)
	}
	if fi, err := os.Lstat(dest); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
		t.Errorf("dest after the run: %v, %v; want the file, not the link", fi, err)
	}
	// Edited by hand afterwards: drift, and the source is installed again.
	if err := os.WriteFile(dest, []byte("by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); err != nil || !strings.Contains(drift, "changed outside sysinit") {
		t.Fatalf("probe after a hand edit: %q, %v", drift, err)
	}
	third, log := run(out.Token)
	if !strings.Contains(log, "installed src.conf") || calls() != 4 {
		t.Errorf("third run (on-change ran %d times):\n%s", calls(), log)
	}
	// A new source is installed even though the file holds what on-change
	// made of the old one.
	if err := os.WriteFile(filepath.Join(dir, "src.conf"), []byte("real 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, log = run(third.Token); !strings.Contains(log, "installed src.conf") || calls() != 5 {
		t.Errorf("run with a new source (on-change ran %d times):\n%s", calls(), log)
	}
}

// TestFileStepAbsoluteSource: an absolute source is read where it is (not
// below the config directory), and fingerprinted from its own directory; an
// on-change runs in the step's dir, a relative source stays relative to the
// config directory.
func TestFileStepAbsoluteSource(t *testing.T) {
	repo := t.TempDir()
	elsewhere := t.TempDir()
	abs := filepath.Join(elsewhere, "app.conf")
	if err := os.WriteFile(abs, []byte("from elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(repo, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(repo, "out.conf")
	f := fileStep(t, repo, &fileKeys{Source: abs, Dest: dest, OnChange: "pwd > where"}, "sub")
	if f.source != abs {
		t.Errorf("source %s, want %s", f.source, abs)
	}
	spec, err := f.Inputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	realElsewhere, _ := filepath.EvalSymlinks(elsewhere)
	if spec.Root != realElsewhere || len(spec.Files) != 1 || spec.Files[0] != "app.conf" {
		t.Errorf("inputs %+v, want app.conf in %s", spec, realElsewhere)
	}
	if _, err := f.Run(context.Background(), &RunContext{Out: &strings.Builder{}, Progress: func(string) {}}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(dest); err != nil || string(data) != "from elsewhere\n" {
		t.Errorf("dest holds %q, %v", data, err)
	}
	where, err := os.ReadFile(filepath.Join(repo, "sub", "where"))
	if err != nil || strings.TrimSpace(string(where)) != filepath.Join(repo, "sub") {
		t.Errorf("on-change ran in %q (%v), want the step's dir %s", where, err, filepath.Join(repo, "sub"))
	}
	// The definition names the dir on-change runs in.
	if !strings.Contains(strings.Join(f.Definition(), "\n"), "dir=sub") {
		t.Errorf("definition %q does not name dir", f.Definition())
	}

	// A relative source is the config directory's, whatever dir says.
	if err := os.WriteFile(filepath.Join(repo, "rel.conf"), []byte("relative\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := fileStep(t, repo, &fileKeys{Source: "rel.conf", Dest: dest}, "sub")
	if g.source != filepath.Join(repo, "rel.conf") {
		t.Errorf("relative source %s, want %s", g.source, filepath.Join(repo, "rel.conf"))
	}
}

// TestFileStepSetuidModeInPlace: a mode with setuid (mode = "4755") is read
// back as installed, so the next run finds the file in place rather than
// installing it again every time.
func TestFileStepSetuidModeInPlace(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := fileStep(t, dir, &fileKeys{Source: "tool", Dest: filepath.Join(dir, "bin", "tool"), Mode: "4755"}, "")
	var log strings.Builder
	out, err := f.Run(context.Background(), &RunContext{Out: &log, Progress: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	if drift, err := f.Probe(context.Background(), out.Token); drift != "" || err != nil {
		t.Errorf("probe after install: %q, %v", drift, err)
	}
	out, err = f.Run(context.Background(), &RunContext{Out: &log, Progress: func(string) {}, Token: out.Token})
	if err != nil || out.Note != "already in place" {
		t.Errorf("second run: %q, %v\n%s", out.Note, err, log.String())
	}
}
