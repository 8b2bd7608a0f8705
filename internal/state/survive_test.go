package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/bbolt"
)

// scribbleRunsPage overwrites the root page of the history bucket of the
// store at path with garbage: a bad page that only writing the history
// reads.
func scribbleRunsPage(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var page int64
	db.View(func(tx *bbolt.Tx) error {
		page = int64(tx.Bucket(bucketRuns).Root())
		return nil
	})
	size := int64(db.Info().PageSize)
	db.Close()
	if page == 0 {
		t.Fatal("the history is inline: no page of its own to damage")
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, int(size)), page*size); err != nil {
		t.Fatal(err)
	}
}

// TestLateDamageKeepsThisRunsRecords: damage found at the end of a run,
// while writing the history, moves the store aside as ever — but the
// successes this run recorded before are written again into the fresh
// store, with the history, so those steps do not run again.
func TestLateDamageKeepsThisRunsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sysinit", "dots-0123.db")
	prev, _ := openAt(t, path, false)
	mustPut(t, prev, sampleRecord("old"), []byte("old manifest"))
	for i := range 40 {
		if err := prev.AddRun(Run{ID: fmt.Sprintf("r%d", i), Steps: []RunStep{{Name: "old", Status: "done", Reason: strings.Repeat("x", 100)}}}); err != nil {
			t.Fatal(err)
		}
	}
	prev.Close()

	s, warnings := openAt(t, path, false)
	mustRecords(t, s)
	mustPut(t, s, sampleRecord("a"), []byte("manifest of a"))
	mustPut(t, s, sampleRecord("b"), nil)
	mustPut(t, s, sampleRecord("forgotten"), nil)
	if err := s.Forget("forgotten"); err != nil {
		t.Fatal(err)
	}
	scribbleRunsPage(t, path)

	if err := s.AddRun(Run{ID: "this"}); err != nil {
		t.Fatalf("AddRun: %v", err)
	}
	if len(*warnings) != 1 || !strings.Contains((*warnings)[0], "was unreadable") ||
		!strings.HasSuffix((*warnings)[0], "; kept what this run recorded (2 steps); every other step will run") {
		t.Errorf("warnings %q", *warnings)
	}
	if got := sorted(keys(mustRecords(t, s))); strings.Join(got, ",") != "a,b" {
		t.Errorf("records %v, want a and b (old went with the damaged file)", got)
	}
	if m, err := s.Manifest("a"); err != nil || string(m) != "manifest of a" {
		t.Errorf("manifest of a: %q, %v", m, err)
	}
	if runs, err := s.Runs(0); err != nil || len(runs) != 1 || runs[0].ID != "this" {
		t.Errorf("runs %v, %v; want this run only", runs, err)
	}
	// A second Store (the next run) sees the same.
	next, _ := openAt(t, path, true)
	if got := sorted(keys(mustRecords(t, next))); strings.Join(got, ",") != "a,b" {
		t.Errorf("next run reads records %v", got)
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// fullDisk mounts a small tmpfs at a new directory and returns it, with a
// func that fills it to leave about free bytes, and one that empties the
// filler again.
func fullDisk(t *testing.T) (dir string, fill func(free int64), unfill func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system to fill needs root")
	}
	dir = t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// -l: a mapping a faulting bbolt left must not keep it mounted.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})
	filler := filepath.Join(dir, "filler")
	fill = func(free int64) {
		t.Helper()
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		n := int64(st.Bavail)*int64(st.Bsize) - free
		if n <= 0 {
			return
		}
		if err := os.WriteFile(filler, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unfill = func() { os.Remove(filler) }
	return dir, fill, unfill
}

// TestDiskFull: writing to a store on a full disk fails saying so, with the
// path — never as damage: nothing is moved aside, no half-written store is
// left to be taken for a damaged one later, and once there is room again
// the store works and keeps what it held.
func TestDiskFull(t *testing.T) {
	mnt, fill, unfill := fullDisk(t)
	for _, free := range []int64{0, 4096, 8192, 12288, 16384, 32768} {
		t.Run(fmt.Sprint(free), func(t *testing.T) {
			path := filepath.Join(mnt, fmt.Sprint(free), "sysinit", "dots-0123.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			s, warnings := openAt(t, path, false)
			fill(free)
			var failed bool
			for i := range 20 {
				err := s.Put(sampleRecord(fmt.Sprintf("s%d", i)), bytes.Repeat([]byte{1}, 3000))
				if err == nil {
					continue
				}
				failed = true
				if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), path) {
					t.Errorf("Put: %v; want no space left on device, naming %s", err, path)
				}
			}
			if !failed {
				t.Fatal("the disk never filled up: the test proves nothing")
			}
			if _, err := s.Records(); err != nil {
				t.Errorf("Records on a full disk: %v", err)
			}
			unfill()
			mustPut(t, s, sampleRecord("after"), nil)
			if _, ok := mustRecords(t, s)["after"]; !ok {
				t.Error("the store lost a record put once there was room")
			}
			if len(*warnings) != 0 {
				t.Errorf("warnings %q: a full disk is not damage", *warnings)
			}
			ents, _ := os.ReadDir(filepath.Dir(path))
			for _, e := range ents {
				if strings.Contains(e.Name(), ".corrupt-") || strings.Contains(e.Name(), ".new-") {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}
