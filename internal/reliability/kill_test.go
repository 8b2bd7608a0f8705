//go:build reliability

package reliability_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killSpecs is the config of the kill trials: independent steps, chains
// and joins, some of whose programs exit 0 on SIGTERM.
var killSpecs = []stepSpec{
	{name: "a", lo: 0, hi: 150, chatty: true},
	{name: "b", lo: 0, hi: 150, term0: true},
	{name: "c", lo: 0, hi: 150},
	{name: "d", after: []string{"a"}, lo: 0, hi: 150, term0: true, chatty: true},
	{name: "e", after: []string{"b", "d"}, lo: 0, hi: 150},
	{name: "f", after: []string{"e"}, lo: 0, hi: 150, chatty: true},
	{name: "g", lo: 100, hi: 400},
	{name: "h", after: []string{"c"}, lo: 0, hi: 150, term0: true},
}

// Failure counts of the kill trials.
const (
	wrongRecord   = "wrong records"
	orphanTrials  = "trials leaving orphans"
	overlapping   = "overlapping runs of a step"
	unhandled     = "signal not handled (INT/TERM/HUP)"
	rerunFailed   = "immediate re-run failed"
	wrongSkip     = "steps left undone after the re-run"
	hung          = "sysinit hung after the signal"
	planFailed    = "plan after the kill failed"
	otherExit     = "unexpected exit after the signal"
	panicAfterSig = "panics"
)

// TestKillTrials: sysinit refreshes a config of stand-in steps and gets
// SIGKILL, SIGTERM, SIGINT or SIGHUP at a random moment: uniformly within
// a run's length, a few milliseconds after a step ended (while sysinit
// records its success), or in its first 30 ms (while it starts). Right after it dies, its store is copied
// and the markers listed, and a second refresh starts at once. Counted:
//
//   - wrong records: a step the copied store calls up to date whose marker
//     (written only at the very end of the step's work) is missing;
//   - orphans: a step process of the killed run still alive 2 s after
//     sysinit died, or that finished its work after sysinit died;
//   - overlaps: a step that started while an instance of it from the
//     killed run still ran;
//   - signals that killed sysinit although it handles them (INT, TERM,
//     HUP must end it with exit 130), hangs and panics;
//   - the re-run failing, or leaving a step undone.
func TestKillTrials(t *testing.T) {
	requireLinux(t)
	rng := newRand(t)
	c := newTally(wrongRecord, orphanTrials, overlapping, unhandled, rerunFailed, wrongSkip, hung, planFailed, otherExit, panicAfterSig)
	calib := calibrate(t)
	t.Logf("a full run of the trial config takes about %s", calib.Round(time.Millisecond))
	startup := startupTime(t)
	t.Logf("starting sysinit (sysinit version) takes up to %s here", startup.Round(time.Millisecond))
	signals := []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
	landed := 0
	for attempt := 0; landed < *flagKill; attempt++ {
		if attempt > 3**flagKill+20 {
			t.Fatalf("only %d of %d signals landed in %d attempts", landed, *flagKill, attempt)
		}
		sig := signals[landed%len(signals)]
		mode := []string{uniform, uniform, aimed, aimed, early}[rng.IntN(5)]
		if killTrial(t, rng, c, sig, mode, rng.IntN(3) == 0, calib, startup) {
			landed++
		} else {
			c.add("signals that came after the run ended (not counted)", 1)
		}
	}
	c.add("trials", landed)
	c.report(t, "kill and signal trials")
}

// startupTime returns the longest of five `sysinit version` runs: the
// time before sysinit's own code runs (the Go runtime, package
// initialisation). No program can handle a signal before then; a death
// by a signal sent within it is excused only if nothing had started.
func startupTime(t *testing.T) time.Duration {
	w := newWorld(t)
	defer os.RemoveAll(w.root)
	var longest time.Duration
	for range 5 {
		start := time.Now()
		if o := w.run("version"); o.code != 0 {
			t.Fatalf("sysinit version: %v", o)
		}
		longest = max(longest, time.Since(start))
	}
	return longest
}

// calibrate returns how long a full refresh of killSpecs takes here.
func calibrate(t *testing.T) time.Duration {
	var ds []time.Duration
	for range 3 {
		w := newWorld(t)
		writeFile(t, filepath.Join(w.repo, "sysinit.toml"), config(killSpecs, w.fx), 0o644)
		w.setInputs(killSpecs, func(s string) string { return s })
		start := time.Now()
		if o := w.run("refresh", "--progress=never"); o.code != 0 {
			t.Fatalf("calibration run: %v", o)
		}
		ds = append(ds, time.Since(start))
		os.RemoveAll(w.root)
	}
	slices.Sort(ds)
	return ds[1]
}

// When a kill trial sends its signal.
const (
	uniform = "at a uniform time"     // within a run's length
	aimed   = "aimed at a step's end" // 0-3 ms after a step's work ended: while sysinit records it
	early   = "in the first 30 ms"    // while sysinit starts: reads the config, takes the lock
)

// killTrial runs one trial and reports whether the signal landed while
// sysinit ran.
func killTrial(t *testing.T, rng *rand.Rand, c *tally, sig syscall.Signal, mode string, prep bool, calib, startup time.Duration) bool {
	w := newWorld(t)
	defer os.RemoveAll(w.root)
	writeFile(t, filepath.Join(w.repo, "sysinit.toml"), config(killSpecs, w.fx), 0o644)
	version := func(s string) string { return fmt.Sprintf("%s %d", s, rng.Int()) }
	in := w.setInputs(killSpecs, version)
	notes := listen(t, w.fx)
	toRun := len(killSpecs)
	how := mode
	if prep {
		// A run that succeeds, then edits: the killed run overwrites
		// records, and skips and rechecks steps.
		if o := w.run("refresh", "--progress=never"); o.code != 0 {
			t.Fatalf("preparing run: %v", o)
		}
		toRun = 0
		for _, s := range killSpecs {
			if rng.IntN(2) == 0 || toRun == 0 && s.name == killSpecs[len(killSpecs)-1].name {
				in[s.name] = version(s.name)
				writeFile(t, filepath.Join(w.repo, "in", s.name+".txt"), in[s.name], 0o644)
				toRun++
			}
		}
		how += ", after a successful run"
	}
	for len(notes) > 0 {
		<-notes
	}
	_, off := w.events(0)

	cmd, stdout, stderr := w.command("refresh", "--progress=never")
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	exited := false
	if mode == aimed {
		k := 1 + rng.IntN(toRun)
		for got := 0; got < k && !exited; {
			select {
			case <-notes:
				got++
			case <-done:
				exited = true
			}
		}
		if !exited {
			// The kill moment is the experiment's variable, not a wait.
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
	} else {
		within := calib * 6 / 5
		if mode == early {
			within = 30 * time.Millisecond
		}
		timer := time.NewTimer(time.Duration(rng.Int64N(int64(within) + 1)))
		select {
		case <-timer.C:
		case <-done:
			exited = true
		}
		timer.Stop()
	}
	if exited {
		return false
	}
	sentAfter := time.Since(started)
	_ = cmd.Process.Signal(sig)
	select {
	case waitErr = <-done:
	case <-time.After(2 * time.Minute):
		c.fail(hung, fmt.Sprintf("%v, %s", sig, how))
		_ = cmd.Process.Kill()
		waitErr = <-done
	}
	o := outcomeOf(waitErr, stdout, stderr)
	if o.code == 0 && o.signal == 0 {
		return false // it had finished
	}

	// The moment sysinit is gone: what it recorded, what was done.
	snapCache := filepath.Join(w.root, "snapshot-cache")
	copyDir(t, filepath.Join(w.cache, "sysinit"), filepath.Join(snapCache, "sysinit"))
	done1 := w.markers()
	evs, reapOff := w.events(off)

	// Run again at once, as someone pressing up-arrow and enter would.
	cmd2, stdout2, stderr2 := w.command("refresh", "--progress=never")
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	// Meanwhile: does anything of the killed run live on?
	groups := map[int]bool{}
	instances := map[int]event{}
	for _, e := range evs {
		if e.kind == "start" {
			groups[e.pgid] = true
			instances[e.pid] = e
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	live := liveGroups(groups)
	for len(live) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		live = liveGroups(groups)
	}
	o2 := waitFor(cmd2, stdout2, stderr2, 2*time.Minute)

	label := fmt.Sprintf("%v, %s", sig, how)
	c.add("trials: "+sig.String(), 1)
	c.add("trials: "+mode, 1)
	if prep {
		c.add("trials: after a successful run", 1)
	}
	switch {
	case o.panicked() || o2.panicked():
		c.fail(panicAfterSig, label+": "+o.String()+" / re-run: "+o2.String())
	case o.signal == syscall.SIGKILL && sig == syscall.SIGKILL:
	case o.signal != 0 && sentAfter < startup && len(groups) == 0:
		// Sent while sysinit was still starting, before its own code
		// could catch anything, and nothing had started: as if it had
		// never run (the records and the re-run are checked below).
		c.add("died of the signal while starting, before any step (sent within start-up)", 1)
	case o.signal != 0:
		c.fail(unhandled, fmt.Sprintf("%s: sysinit died of %v %s after it was started", label, o.signal, sentAfter.Round(time.Millisecond)))
		c.add(fmt.Sprintf("signal not handled: %v, %s", sig, mode), 1)
	case o.code == 130:
	default:
		c.fail(otherExit, label+": "+o.String())
	}

	after, _ := w.events(reapOff)
	livedOn := map[int]bool{}
	for _, e := range after {
		if _, ok := instances[e.pid]; ok && e.kind == "end" {
			livedOn[e.pid] = true
		}
	}
	orphans := 0
	var names []string
	for pid, e := range instances {
		if live[e.pgid] || livedOn[pid] {
			orphans++
			names = append(names, e.step)
		}
	}
	c.add("step processes running at the signal", countRunning(evs))
	if orphans > 0 {
		slices.Sort(names)
		c.add("orphaned step processes, in all", orphans)
		c.fail(orphanTrials, fmt.Sprintf("%s: %s outlived sysinit", label, strings.Join(names, ", ")))
	}
	if data, err := os.ReadFile(filepath.Join(w.fx, "overlaps")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			c.fail(overlapping, label+": "+l)
		}
	}

	// Wrong records: what the killed run left, as sysinit reads it.
	snap := *w
	snap.cache = snapCache
	up, po := snap.upToDate()
	if up == nil {
		c.fail(planFailed, label+": "+po.String())
	}
	ended := map[string]bool{}
	for _, e := range evs {
		if e.kind == "end" {
			ended[e.step] = true
		}
	}
	for _, s := range killSpecs {
		m := marker(w.fx, s.name, in[s.name])
		switch {
		case up[s.name] && !done1[m]:
			c.fail(wrongRecord, fmt.Sprintf("%s: %s recorded, its work unfinished", label, s.name))
		case up[s.name]:
			c.add("steps recorded, work complete", 1)
		case ended[s.name]:
			c.add("steps ended, killed before their record", 1)
		}
	}

	if o2.code != 0 {
		c.fail(rerunFailed, label+": "+o2.String())
	}
	now := w.markers()
	for _, s := range killSpecs {
		if !now[marker(w.fx, s.name, in[s.name])] {
			c.fail(wrongSkip, fmt.Sprintf("%s: %s not done after the re-run", label, s.name))
		}
	}
	return true
}

// countRunning counts the instances that started and had not ended.
func countRunning(evs []event) int {
	n := 0
	for _, e := range evs {
		switch e.kind {
		case "start":
			n++
		case "end":
			n--
		}
	}
	return n
}

// copyDir copies the regular files of from into to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		if os.IsNotExist(err) {
			return
		}
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
