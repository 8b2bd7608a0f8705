//go:build reliability

package reliability_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The stand-in step. sysinit runs it as a command step:
//
//	standin STEP FX INPUT MIN_MS MAX_MS [term0] [chatty]
//
// It takes FX/STEP.lock (flock) for its whole life, and appends "overlap"
// to FX/overlaps if another instance of STEP still holds it; appends
// "start STEP PID PGID" to FX/events; works for a random time between
// MIN_MS and MAX_MS, printing progress; then, as its very last effect,
// writes FX/STEP.done.<hash of INPUT> — the marker that its work for those
// inputs is complete — appends "end STEP PID" and tells FX/notify (a FIFO,
// when the test listens) that it ended. With term0 it exits 0 on SIGTERM,
// as some tools do, without its marker: sysinit must not take that exit
// for a success. It prints one line as it starts; with chatty, a line
// every 10 ms as it works — so it dies of SIGPIPE soon after sysinit
// does, as chatty programs do, where a quiet one (a build waiting on the
// network) lives on.
//
//	standin-hold FX NAME
//
// is a step that records the hash of $SYSINIT_TRIAL_SECRET in FX/NAME.env,
// says "holding NAME" on FX/notify, and waits until a line arrives on
// FX/release, so the test can look at the machine while it runs.
func standin(args []string) int {
	var err error
	switch args[0] {
	case "standin":
		err = standinStep(args[1:])
	case "standin-hold":
		err = standinHold(args[1:])
	default:
		err = fmt.Errorf("unknown stand-in %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		return 1
	}
	return 0
}

func standinStep(args []string) error {
	if len(args) < 5 {
		return errors.New("usage: standin STEP FX INPUT MIN_MS MAX_MS [term0]")
	}
	step, fx, input := args[0], args[1], args[2]
	lo, err1 := strconv.Atoi(args[3])
	hi, err2 := strconv.Atoi(args[4])
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	opts := args[5:]
	if slices.Contains(opts, "term0") {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			<-sigs
			os.Exit(0)
		}()
	}
	lock, err := os.OpenFile(filepath.Join(fx, step+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("locking: %w", err)
		}
		appendLine(filepath.Join(fx, "overlaps"), fmt.Sprintf("overlap %s %d", step, os.Getpid()))
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
			return fmt.Errorf("locking: %w", err)
		}
	}
	appendLine(filepath.Join(fx, "events"), fmt.Sprintf("start %s %d %d", step, os.Getpid(), syscall.Getpgrp()))
	data, err := os.ReadFile(input)
	if err != nil {
		return err
	}
	work := time.Duration(lo) * time.Millisecond
	if hi > lo {
		work += time.Duration(rand.IntN(hi-lo)) * time.Millisecond
	}
	fmt.Printf("%s: working for %s\n", step, work)
	chatty := slices.Contains(opts, "chatty")
	for end := time.Now().Add(work); time.Now().Before(end); {
		if chatty {
			fmt.Printf("%s: working\n", step)
		}
		time.Sleep(min(10*time.Millisecond, time.Until(end)))
	}
	if err := os.WriteFile(marker(fx, step, string(data)), data, 0o644); err != nil {
		return err
	}
	appendLine(filepath.Join(fx, "events"), fmt.Sprintf("end %s %d", step, os.Getpid()))
	notify(fx, step)
	return nil
}

func standinHold(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: standin-hold FX NAME")
	}
	fx, name := args[0], args[1]
	sum := sha256.Sum256([]byte(os.Getenv("SYSINIT_TRIAL_SECRET")))
	if err := os.WriteFile(filepath.Join(fx, name+".env"), []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
		return err
	}
	release, err := os.OpenFile(filepath.Join(fx, "release"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer release.Close()
	notify(fx, "holding "+name)
	buf := make([]byte, 1)
	_, err = release.Read(buf)
	return err
}

// marker is the file a stand-in step writes when its work for input is
// complete.
func marker(fx, step, input string) string {
	sum := sha256.Sum256([]byte(input))
	return filepath.Join(fx, step+".done."+hex.EncodeToString(sum[:6]))
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return
	}
	f.WriteString(line + "\n")
	f.Close()
}

// notify writes a line to fx/notify if someone listens, without waiting.
func notify(fx, line string) {
	f, err := os.OpenFile(filepath.Join(fx, "notify"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	f.WriteString(line + "\n")
	f.Close()
}

// listen makes fx/notify and returns the lines stand-ins write to it.
func listen(t *testing.T, fx string) <-chan string {
	t.Helper()
	path := filepath.Join(fx, "notify")
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	// Read-write: the open does not wait for a writer, and reads wait for
	// lines instead of seeing end-of-file between writers.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		var part []byte
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			part = append(part, buf[:n]...)
			for {
				i := strings.IndexByte(string(part), '\n')
				if i < 0 {
					break
				}
				select {
				case lines <- string(part[:i]):
				default: // nobody is waiting for this many
				}
				part = part[i+1:]
			}
		}
	}()
	t.Cleanup(func() { f.Close() })
	return lines
}

// stepSpec is one stand-in step of a trial config.
type stepSpec struct {
	name   string
	after  []string
	lo, hi int // work time, ms
	term0  bool
	chatty bool
}

// config is the sysinit.toml running specs as stand-in steps whose effects
// go to fx; each step's input is in/NAME.txt.
func config(specs []stepSpec, fx string) string {
	var b strings.Builder
	for _, s := range specs {
		run := fmt.Sprintf("%s standin %s %s in/%s.txt %d %d", shellQuote(bin.standin), s.name, shellQuote(fx), s.name, s.lo, s.hi)
		if s.term0 {
			run += " term0"
		}
		if s.chatty {
			run += " chatty"
		}
		fmt.Fprintf(&b, "[steps.%s]\nkind = \"command\"\nrun = %q\ninputs = [\"in/%s.txt\"]\n", s.name, run, s.name)
		if len(s.after) > 0 {
			fmt.Fprintf(&b, "after = [\"%s\"]\n", strings.Join(s.after, `", "`))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// setInputs writes in/NAME.txt of each step and returns what it wrote.
func (w *world) setInputs(specs []stepSpec, version func(step string) string) map[string]string {
	w.t.Helper()
	in := map[string]string{}
	for _, s := range specs {
		in[s.name] = version(s.name)
		writeFile(w.t, filepath.Join(w.repo, "in", s.name+".txt"), in[s.name], 0o644)
	}
	return in
}

// markers lists the marker files in fx.
func (w *world) markers() map[string]bool {
	ents, err := os.ReadDir(w.fx)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".done.") {
			out[filepath.Join(w.fx, e.Name())] = true
		}
	}
	return out
}

// event is one line of fx/events.
type event struct {
	kind, step string
	pid, pgid  int
}

// events reads fx/events from byte offset from; it returns the events and
// the offset of its end.
func (w *world) events(from int64) ([]event, int64) {
	data, err := os.ReadFile(filepath.Join(w.fx, "events"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		w.t.Fatal(err)
	}
	if from > int64(len(data)) {
		from = int64(len(data))
	}
	var out []event
	for _, l := range strings.Split(string(data[from:]), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		e := event{kind: f[0], step: f[1]}
		e.pid, _ = strconv.Atoi(f[2])
		if len(f) > 3 {
			e.pgid, _ = strconv.Atoi(f[3])
		}
		out = append(out, e)
	}
	return out, int64(len(data))
}

// liveGroups returns which of the process groups have a process that is
// not a zombie, by reading /proc.
func liveGroups(pgids map[int]bool) map[int]bool {
	live := map[int]bool{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return live
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pg, err := strconv.Atoi(f[2]); err == nil && pgids[pg] {
			live[pg] = true
		}
	}
	return live
}
