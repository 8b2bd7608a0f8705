package step

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
