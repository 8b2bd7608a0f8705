//go:build reliability

package reliability_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// storeSpecs is the config of the store trials: quick steps, some chained.
var storeSpecs = []stepSpec{
	{name: "a"},
	{name: "b", after: []string{"a"}},
	{name: "c"},
	{name: "d", after: []string{"b", "c"}},
	{name: "e"},
	{name: "f", after: []string{"e"}},
}

// goldenStore sets up w with storeSpecs and two successful runs, one with
// inputs "v1", then one with "v2", and returns the store's file and a copy
// of its bytes. Setting the inputs back to v1 then makes every step due:
// its last success was v2. A damaged store may lose records, or show an
// older version of them (the v1 ones), but never one that matches v1 as
// the last success: so every step must run — any skip is a wrong skip.
func goldenStore(t *testing.T, w *world) (string, []byte) {
	t.Helper()
	writeFile(t, filepath.Join(w.repo, "sysinit.toml"), config(storeSpecs, w.fx), 0o644)
	for _, v := range []string{"v1", "v2"} {
		w.setInputs(storeSpecs, func(s string) string { return s + " " + v })
		if o := w.run("refresh", "--progress=never"); o.code != 0 {
			t.Fatalf("making the golden store: %v", o)
		}
	}
	dbs, err := filepath.Glob(filepath.Join(w.cache, "sysinit", "*.db"))
	if err != nil || len(dbs) != 1 {
		t.Fatalf("finding the store: %v %v", dbs, err)
	}
	data, err := os.ReadFile(dbs[0])
	if err != nil {
		t.Fatal(err)
	}
	return dbs[0], data
}

// resetRun puts w back before a trial: inputs v1, no effects, no events.
func (w *world) resetRun() map[string]string {
	ents, _ := os.ReadDir(w.fx)
	for _, e := range ents {
		if e.Name() != "notify" && e.Name() != "release" {
			os.Remove(filepath.Join(w.fx, e.Name()))
		}
	}
	return w.setInputs(storeSpecs, func(s string) string { return s + " v1" })
}

// startedSteps returns the steps that started, from fx/events.
func (w *world) startedSteps() map[string]bool {
	evs, _ := w.events(0)
	out := map[string]bool{}
	for _, e := range evs {
		if e.kind == "start" {
			out[e.step] = true
		}
	}
	return out
}

const (
	corruptPanic    = "panics"
	corruptSkip     = "wrong skips (a step whose last success is gone or older did not run)"
	corruptFailed   = "refreshes that failed"
	corruptUnusable = "stores unusable afterwards (plan still finds work)"
)

// TestStoreCorruption damages the store between runs — truncated to a
// random length, 1 to 16 random bytes flipped, or a random 4 KiB page
// zeroed (bbolt's page size) — and refreshes: sysinit must not panic, must
// run every step (see goldenStore), must succeed, and must leave a store
// that the next plan reads as up to date.
func TestStoreCorruption(t *testing.T) {
	rng := newRand(t)
	c := newTally(corruptPanic, corruptSkip, corruptFailed, corruptUnusable)
	w := newWorld(t)
	db, golden := goldenStore(t, w)
	t.Logf("golden store: %d bytes", len(golden))
	kinds := []string{"truncate", "flip bytes", "zero a page"}
	for i := range *flagCorrupt {
		kind := kinds[i%len(kinds)]
		ents, _ := os.ReadDir(filepath.Dir(db))
		for _, e := range ents {
			os.Remove(filepath.Join(filepath.Dir(db), e.Name()))
		}
		damaged, what := corrupt(rng, golden, kind)
		if err := os.WriteFile(db, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		w.resetRun()
		label := fmt.Sprintf("trial %d: %s", i, what)
		c.add("trials: "+kind, 1)

		o := w.run("refresh", "--progress=never")
		if o.panicked() {
			c.fail(corruptPanic, label+": "+o.String())
			continue
		}
		if o.code != 0 {
			c.fail(corruptFailed, label+": "+o.String())
			keep(t, fmt.Sprintf("corrupt-trial-%d.db", i), damaged)
		}
		if strings.Contains(o.stderr, "moving it aside") || strings.Contains(o.stderr, "moved") {
			c.add("stores moved aside, with a warning", 1)
		}
		ran := w.startedSteps()
		for _, s := range storeSpecs {
			if !ran[s.name] {
				c.fail(corruptSkip, fmt.Sprintf("%s: %s skipped", label, s.name))
				keep(t, fmt.Sprintf("corrupt-trial-%d.db", i), damaged)
			}
		}
		if p := w.run("plan", "--exit-code"); p.code != 0 {
			if p.panicked() {
				c.fail(corruptPanic, label+": plan: "+p.String())
			} else {
				c.fail(corruptUnusable, fmt.Sprintf("%s: the refresh said: %s; then plan: %s", label, tail(o.stderr, 3), tail(p.stdout, 2)))
				keep(t, fmt.Sprintf("corrupt-trial-%d.db", i), damaged)
			}
		}
	}
	c.add("trials", *flagCorrupt)
	c.report(t, "store corruption trials")
}

// keep saves data as name in the -reliability.keep directory, if set.
func keep(t *testing.T, name string, data []byte) {
	if *flagKeep == "" {
		return
	}
	if err := os.MkdirAll(*flagKeep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*flagKeep, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %s", filepath.Join(*flagKeep, name))
}

// corrupt returns a damaged copy of data and says what was done.
func corrupt(rng *rand.Rand, data []byte, kind string) ([]byte, string) {
	out := append([]byte(nil), data...)
	switch kind {
	case "truncate":
		n := rng.IntN(len(data))
		return out[:n], fmt.Sprintf("truncated to %d bytes", n)
	case "flip bytes":
		k := 1 + rng.IntN(16)
		var at []string
		for range k {
			i := rng.IntN(len(out))
			out[i] ^= byte(1 + rng.IntN(255))
			at = append(at, fmt.Sprint(i))
		}
		return out, "flipped bytes at " + strings.Join(at, ",")
	default:
		const page = 4096
		p := rng.IntN(max(len(out)/page, 1))
		clear(out[p*page : min((p+1)*page, len(out))])
		return out, fmt.Sprintf("zeroed page %d", p)
	}
}

const (
	fullPanic      = "panics"
	fullUnclear    = "errors that do not say the disk is full"
	fullBboltPanic = "errors that say bbolt panicked"
	fullSilent     = "exit 0 with steps left unrecorded"
	fullWrong      = "wrong records"
)

// TestDiskFull runs refreshes whose store (and, in half the trials, logs)
// live on a small tmpfs filled to leave a random 0-96 KiB, starting with
// or without a store: sysinit must not panic; a run that
// could not write what it had to must exit non-zero and say the disk is
// full; no step may be recorded without its work done; and once space is
// back, the steps not recorded run.
func TestDiskFull(t *testing.T) {
	requireRoot(t)
	requireLinux(t)
	rng := newRand(t)
	c := newTally(fullPanic, fullUnclear, fullBboltPanic, fullSilent, fullWrong)
	w := newWorld(t)
	db, golden := goldenStore(t, w)
	mnt := filepath.Join(w.root, "full")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("SYSINIT_REQUIRE_ROOT") == "1" {
			t.Fatalf("mounting a tmpfs: %v\n%s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s); set SYSINIT_REQUIRE_ROOT=1 to make this a failure", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	roomyState := filepath.Join(w.root, "state")
	w.cache = filepath.Join(mnt, "cache")
	fullDB := filepath.Join(w.cache, "sysinit", filepath.Base(db))

	for i := range *flagDiskFull {
		ents, _ := os.ReadDir(mnt)
		for _, e := range ents {
			os.RemoveAll(filepath.Join(mnt, e.Name()))
		}
		label := fmt.Sprintf("trial %d", i)
		// Half the trials keep the logs on the full disk too; the others
		// only the store, so that steps run and only their records fail.
		if i%4 < 2 {
			w.state = filepath.Join(mnt, "state")
			label += ", logs on the full disk"
			c.add("trials with the logs on the full disk", 1)
		} else {
			os.RemoveAll(roomyState)
			w.state = roomyState
		}
		if i%2 == 0 {
			writeFile(t, fullDB, string(golden), 0o600)
			label += ", with a store"
			c.add("trials with a store", 1)
		}
		in := w.resetRun()
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		avail := int64(st.Bavail) * st.Bsize
		free := rng.Int64N(96 << 10)
		filler := filepath.Join(mnt, "filler")
		if n := avail - free; n > 0 {
			writeFile(t, filler, strings.Repeat("x", int(n)), 0o644)
		}
		label += fmt.Sprintf(", %d KiB free", free>>10)

		o := w.run("refresh", "--progress=never")
		os.Remove(filler)
		said := o.stdout + o.stderr
		switch {
		case o.panicked():
			c.fail(fullPanic, label+": "+o.String())
		case strings.Contains(said, "panicked"):
			c.fail(fullBboltPanic, label+": "+tail(said, 4))
		}
		up, po := w.upToDate()
		if up == nil {
			t.Fatalf("%s: plan once space is back: %v", label, po)
		}
		unrecorded := 0
		for _, s := range storeSpecs {
			switch {
			case up[s.name] && !w.markers()[marker(w.fx, s.name, in[s.name])]:
				c.fail(fullWrong, fmt.Sprintf("%s: %s", label, s.name))
			case !up[s.name]:
				unrecorded++
			}
		}
		switch {
		case o.code == 0 && unrecorded > 0:
			c.fail(fullSilent, fmt.Sprintf("%s: %d steps unrecorded; %s", label, unrecorded, tail(said, 4)))
		case o.code != 0 && !strings.Contains(said, "no space left on device"):
			c.fail(fullUnclear, label+": "+o.String())
		}
		if o.code != 0 || unrecorded > 0 {
			c.add("runs that met the full disk", 1)
		} else {
			c.add("runs that had room", 1)
		}
		// With space back, whatever was not recorded runs.
		if o2 := w.run("refresh", "--progress=never"); o2.code != 0 {
			t.Fatalf("%s: refresh once space is back: %v", label, o2)
		}
		for _, s := range storeSpecs {
			if !w.markers()[marker(w.fx, s.name, in[s.name])] {
				c.fail(fullWrong, fmt.Sprintf("%s: %s not done once space was back", label, s.name))
			}
		}
	}
	c.add("trials", *flagDiskFull)
	c.report(t, "disk-full trials")
}
