package command

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// LifelineArg, as sysinit's first argument, makes it the lifeline of an
// elevated program (see Lifeline). It is not for people: the command line
// starts it through sudo.
const LifelineArg = "__lifeline"

// The lifeline reads frames on standard input: a type byte, a big-endian
// uint32 length, and that many bytes.
const (
	// frameHeader comes first: 1 if frameInput may follow (0 and the
	// program reads /dev/null), then the program's env as K=V\0 entries.
	frameHeader = 'h'
	frameInput  = 'i' // bytes for the program's standard input
	frameEnd    = 'e' // the program's standard input ends
	// maxFrame bounds a frame, so that a garbled stream cannot make the
	// lifeline allocate without end.
	maxFrame = 1 << 20
)

// Lifeline runs argv — as root, under sudo — and ends it if sysinit dies.
//
// The reaper, which runs as the user, cannot kill root's processes, and
// the kernel's parent-death signal does not survive sudo (a set-user-ID
// program). So sysinit runs an elevated program as `sudo -n -- SYSINIT
// __lifeline ARGV…` and keeps the write end of a pipe to it, its standard
// input (sudo closes every other descriptor), open until sudo has exited.
// End of input therefore means only one thing: sysinit is gone (killed,
// crashed, or it gave up on a sudo it killed) — and the lifeline, root
// itself, kills the program's process group at once. The pipe also
// carries the program's env (never a command line: every user can read
// those) and its standard input, framed.
//
// The program runs in a process group of its own. SIGTERM, SIGINT, SIGHUP
// and SIGQUIT, which sudo relays from sysinit, go to that group; when the
// program exits, what it left in its group is killed, as Exec does for the
// programs it starts. The lifeline exits as the program did: with its
// status, or by the signal that killed it.
func Lifeline(argv []string) int {
	in := bufio.NewReader(os.Stdin)
	env, input, err := readHeader(in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sysinit: lifeline: %v\n", err)
		return 126
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "sysinit: lifeline: no program to run")
		return 126
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "sysinit: %s: not found on root's PATH\n", argv[0])
		return 127
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = procAttr(false)
	var stdin *os.File
	if input {
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintf(os.Stderr, "sysinit: lifeline: %v\n", err)
			return 126
		}
		defer r.Close()
		cmd.Stdin, stdin = r, w
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	// The parent-death signal (Linux) is tied to the starting thread; see
	// Exec.Run.
	runtime.LockOSThread()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "sysinit: starting %s: %v\n", argv[0], err)
		return 126
	}
	if input {
		cmd.Stdin.(*os.File).Close()
	}
	group := -cmd.Process.Pid
	go func() {
		for s := range sigs {
			_ = syscall.Kill(group, s.(syscall.Signal))
		}
	}()
	go func() {
		feedInput(in, stdin)
		// sysinit is gone: nothing else ends sysinit's end early.
		_ = syscall.Kill(group, syscall.SIGKILL)
	}()
	err = cmd.Wait()
	_ = syscall.Kill(group, syscall.SIGKILL)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// Die of the same signal, as sudo does, so sysinit sees it.
			signal.Reset(ws.Signal())
			_ = syscall.Kill(os.Getpid(), ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "sysinit: running %s: %v\n", argv[0], err)
		return 126
	}
}

// readHeader reads the first frame: the env, and whether input follows.
func readHeader(in *bufio.Reader) (env []string, input bool, err error) {
	typ, body, err := readFrame(in)
	if err != nil {
		return nil, false, fmt.Errorf("reading the header: %w", err)
	}
	if typ != frameHeader || len(body) == 0 {
		return nil, false, fmt.Errorf("reading the header: frame %q is no header", typ)
	}
	for _, kv := range strings.Split(string(body[1:]), "\x00") {
		if kv != "" {
			env = append(env, kv)
		}
	}
	return env, body[0] == 1, nil
}

// feedInput copies input frames to the program's standard input (nil:
// it has none) until the stream ends.
func feedInput(in *bufio.Reader, stdin *os.File) {
	for {
		typ, body, err := readFrame(in)
		if err != nil {
			return
		}
		if stdin == nil {
			continue
		}
		switch typ {
		case frameInput:
			// A program that stopped reading does not stop the lifeline.
			if _, err := stdin.Write(body); err != nil {
				stdin.Close()
				stdin = nil
			}
		case frameEnd:
			stdin.Close()
			stdin = nil
		}
	}
}

func readFrame(in *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(in, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(in, body); err != nil {
		return 0, nil, err
	}
	return head[0], body, nil
}

func writeFrame(w io.Writer, typ byte, body []byte) error {
	var head [5]byte
	head[0] = typ
	binary.BigEndian.PutUint32(head[1:], uint32(len(body)))
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// feedLifeline is sysinit's side: the header, then stdin (nil: none) as
// input frames. It returns at the first error (the lifeline is gone); the
// pipe stays open — the caller closes it once sudo has exited.
func feedLifeline(w io.Writer, env []string, stdin io.Reader) {
	var h strings.Builder
	h.WriteByte(0)
	if stdin != nil {
		h.Reset()
		h.WriteByte(1)
	}
	for _, kv := range env {
		h.WriteString(kv)
		h.WriteByte(0)
	}
	if writeFrame(w, frameHeader, []byte(h.String())) != nil || stdin == nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := stdin.Read(buf)
		if n > 0 && writeFrame(w, frameInput, buf[:n]) != nil {
			return
		}
		if err != nil {
			_ = writeFrame(w, frameEnd, nil)
			return
		}
	}
}

// checkEnv refuses what cannot be passed as an environment variable.
func checkEnv(env []string) error {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !isName(k) {
			return fmt.Errorf("passing the environment to sudo: %q is not a variable name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("passing the environment to sudo: the value of %s holds a NUL byte", k)
		}
	}
	return nil
}
