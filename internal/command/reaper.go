package command

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

// reaperScript is the reaper: it reads "a ID" and "r ID" lines, adding ID
// to its list or taking it off, and at the end of its input — sysinit
// closed it, or died and the kernel did — kills every ID still listed
// (kill(1) reads "-PGID" as a process group, "PID" as one process). The
// list lives in a shell variable and is kept with what the shell has built
// in (read, case, parameter expansion, kill): no program is started after
// the shell itself, so neither a missing program nor a failed fork (a
// process limit reached) can make it lose or garble the list. It ignores
// the signals a terminal or a killed session sends, so that only its input
// ends it.
const reaperScript = `trap '' INT TERM HUP PIPE
list=' '
while IFS= read -r line; do
	id=${line#? }
	case $line in
	'a '*) list="$list$id " ;;
	'r '*) case $list in *" $id "*) list="${list%% $id *} ${list#* $id }" ;; esac ;;
	esac
done
for id in $list; do kill -s KILL -- "$id" 2>/dev/null; done
`

// Reaper ends the process groups of the steps still running when sysinit
// itself dies without ending them (kill -9, a crash, an OOM kill). The
// kernel's parent-death signal (Linux only) reaches a step's first program
// but not what that program started, and nothing reaches them on macOS; a
// tiny sh process, started with the first child and holding a pipe from
// sysinit, kills the groups it was told of when the pipe closes. An
// interactive program, which shares sysinit's group, is listed by its pid
// instead (sudo asking for a password must not outlive sysinit). A group
// whose program ended is taken off its list first, so a normal exit kills
// nothing. It runs as the user: what runs as root is ended by the lifeline
// (see Exec.Lifeline). The zero Reaper is ready to use; Close it when the run ends.
type Reaper struct {
	Shell string // path of sh; "" = found on PATH

	mu     sync.Mutex
	w      io.WriteCloser
	cmd    *exec.Cmd
	err    error // starting the reaper failed: groups are not covered
	closed bool
}

// add lists target — a process group as -PGID, or one process as PID —
// starting the reaper with the first one.
func (r *Reaper) add(target int) {
	r.send("a " + strconv.Itoa(target) + "\n")
}

// remove takes target off the list: its program ended, its group was
// killed.
func (r *Reaper) remove(target int) {
	r.send("r " + strconv.Itoa(target) + "\n")
}

func (r *Reaper) send(line string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		return
	}
	if r.w == nil {
		if r.err = r.start(); r.err != nil {
			return
		}
	}
	if _, err := io.WriteString(r.w, line); err != nil {
		r.err = fmt.Errorf("telling the reaper: %w", err)
	}
}

func (r *Reaper) start() error {
	sh := r.Shell
	if sh == "" {
		var err error
		if sh, err = exec.LookPath("sh"); err != nil {
			return &NotFoundError{Name: "sh"}
		}
	}
	cmd := exec.Command(sh, "-c", reaperScript)
	// A group of its own: a Ctrl-C at the terminal, meant for sysinit,
	// must not end it; and no parent-death signal, since it must outlive
	// sysinit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("starting the reaper: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the reaper: %w", err)
	}
	r.w, r.cmd = w, cmd
	return nil
}

// Err reports why groups are not covered, if starting the reaper failed.
func (r *Reaper) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close ends the reaper: every child has ended, so its list is empty and
// it exits. It waits for it, so that no process outlives a clean run.
func (r *Reaper) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.err != nil {
		return fmt.Errorf("%w: had sysinit been killed, the programs it started would not be ended", r.err)
	}
	if r.w == nil {
		return nil
	}
	r.w.Close()
	if err := r.cmd.Wait(); err != nil {
		return fmt.Errorf("ending the reaper: %w", err)
	}
	return nil
}
