package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysinit/sysinit/internal/cli"
)

// TestRefreshDiskFull: a step whose success cannot be recorded because the
// disk holding the state is full makes the refresh fail (exit 1), saying
// "no space left on device" with the store's path and that the step will
// run again — not that bbolt panicked, and without moving the store aside.
// Once there is room, the step runs again and is recorded.
func TestRefreshDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system to fill needs root")
	}
	repo := homeAndRepo(t)
	cache := os.Getenv("XDG_CACHE_HOME")
	must(t, os.MkdirAll(cache, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", cache).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", cache).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})
	// Enough input files that the step's record needs the store to grow.
	for i := range 400 {
		write(t, filepath.Join(repo, "src", fmt.Sprintf("file-%03d", i)), "v1")
	}
	write(t, filepath.Join(repo, "sysinit.toml"), "[steps.s]\nkind = \"command\"\ninputs = [\"src/**\"]\nrun = \"true\"\n")
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := cli.Main(append([]string{"-C", repo}, args...), strings.NewReader(""), &out, &out)
		return code, out.String()
	}
	if code, out := run("refresh"); code != 0 {
		t.Fatalf("first refresh: %d\n%s", code, out)
	}

	// Fill the disk, leaving a page for the run lock's pid.
	var st syscall.Statfs_t
	must(t, syscall.Statfs(cache, &st))
	filler := filepath.Join(cache, "filler")
	must(t, os.WriteFile(filler, make([]byte, (int64(st.Bavail)-1)*int64(st.Bsize)), 0o600))
	for i := range 400 {
		write(t, filepath.Join(repo, "src", fmt.Sprintf("file-%03d", i)), "v2")
	}
	code, out := run("refresh", "--progress=never")
	if code != 1 {
		t.Errorf("refresh on a full disk exited %d, want 1", code)
	}
	if !strings.Contains(out, "s: failed") || !strings.Contains(out, "ran, but its success could not be recorded") ||
		!strings.Contains(out, "no space left on device") || !strings.Contains(out, cache+"/sysinit/") || !strings.Contains(out, "it will run again") {
		t.Errorf("output does not say the record failed for want of space, naming the store:\n%s", out)
	}
	if strings.Contains(out, "panicked") || strings.Contains(out, "unreadable") || strings.Contains(out, "moved it") {
		t.Errorf("a full disk was taken for damage:\n%s", out)
	}

	must(t, os.Remove(filler))
	code, out = run("plan")
	if code != 0 || !strings.Contains(out, "run  s  inputs changed") || strings.Contains(out, "warning") {
		t.Errorf("plan after freeing space: %d\n%s", code, out)
	}
	if code, out := run("refresh"); code != 0 {
		t.Fatalf("refresh after freeing space: %d\n%s", code, out)
	}
	if code, out := run("plan"); code != 0 || !strings.Contains(out, "skip  s") {
		t.Errorf("the step was not recorded once there was room: %d\n%s", code, out)
	}
}
