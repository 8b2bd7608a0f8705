package command_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/sudotest"
)

// The program the real-sudo tests run: it records who it runs as and the
// secret it was given, says it runs, and waits to be released.
var secretProgram = []string{"sh", "-c", `id -u > "$1/uid" && printf %s "$SYSINIT_TEST_SECRET" > "$1/seen" && touch "$1/running" &&
	while [ ! -e "$1/release" ]; do sleep 0.05; done`, "sh"}

const (
	helperSudoDir    = "SYSINIT_COMMAND_TEST_SUDO_DIR"
	helperSudoSecret = "SYSINIT_COMMAND_TEST_SUDO_SECRET"
)

// TestHelperSudo is not a test: TestRealSudoKeepsSecretsOffCommandLines
// runs the test binary with it as an unprivileged user, to run a Sudo
// command as sysinit does.
func TestHelperSudo(t *testing.T) {
	dir := os.Getenv(helperSudoDir)
	if dir == "" {
		t.Skip("helper process; runs only when a test re-executes the test binary")
	}
	err := command.Exec{Lifeline: os.Getenv(helperLifelineEnv)}.Run(context.Background(), &command.Cmd{
		Argv:   append(secretProgram, dir),
		Env:    []string{"SYSINIT_TEST_SECRET=" + os.Getenv(helperSudoSecret)},
		Sudo:   true,
		Stderr: os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealSudoKeepsSecretsOffCommandLines runs, through Debian's sudo, a
// program whose env holds a secret: as root from a user (Sudo), and as a
// user from root (AsUser). While it runs, no process's command line (what
// ps shows every user) holds the secret, nor does sudo's log; the program
// sees it, with the lifeline around it and without.
func TestRealSudoKeepsSecretsOffCommandLines(t *testing.T) {
	u := sudotest.New(t, sudotest.Options{Log: true})
	bin := u.Copy(t, os.Args[0], 0o755)

	for _, lifeline := range []bool{false, true} {
		t.Run(fmt.Sprintf("sudo lifeline=%v", lifeline), func(t *testing.T) {
			dir := u.Mkdir(t, fmt.Sprintf("sudo-%v", lifeline))
			secret := "sudo-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			env := []string{helperSudoDir + "=" + dir, helperSudoSecret + "=" + secret}
			if lifeline {
				env = append(env, helperLifelineEnv+"="+bin)
			}
			helper := u.Command(env, bin, "-test.run=^TestHelperSudo$")
			var out bytes.Buffer
			helper.Stdout, helper.Stderr = &out, &out
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- helper.Wait() }()
			watch(t, dir, secret, errc, &out)
			if uid := readFile(t, filepath.Join(dir, "uid")); uid != "0\n" {
				t.Errorf("the program ran as uid %q, want root", uid)
			}
		})
	}

	t.Run("as user", func(t *testing.T) {
		dir := u.Mkdir(t, "asuser")
		secret := "user-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		var out bytes.Buffer
		errc := make(chan error, 1)
		go func() {
			errc <- command.Exec{Root: true}.Run(context.Background(), &command.Cmd{
				Argv:   append(secretProgram, dir),
				Env:    []string{"SYSINIT_TEST_SECRET=" + secret},
				AsUser: u.Name,
				Stderr: &out,
			})
		}()
		watch(t, dir, secret, errc, &out)
		if uid := readFile(t, filepath.Join(dir, "uid")); uid != strconv.Itoa(u.UID)+"\n" {
			t.Errorf("the program ran as uid %q, want the user's %d", uid, u.UID)
		}
	})

	log := readFile(t, u.Log)
	if !strings.Contains(log, "COMMAND=") {
		t.Errorf("sudo's log has no command in it:\n%s", log)
	}
	for _, s := range []string{"sudo-secret-", "user-secret-"} {
		if strings.Contains(log, s) {
			t.Errorf("sudo's log holds a secret:\n%s", log)
		}
	}
}

// watch waits for the program in dir to run, reads every process's
// command line, releases the program and waits for it (errc). sudo itself
// must be among the command lines read, and the secret in none; the
// program must have seen it.
func watch(t *testing.T, dir, secret string, errc <-chan error, out *bytes.Buffer) {
	t.Helper()
	running := filepath.Join(dir, "running")
	// The bound only turns a program that never started into a failure.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(running); err == nil {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("the command ended before it ran: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program did not start\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sawSudo := false
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		args := strings.Split(string(data), "\x00")
		if filepath.Base(args[0]) == "sudo" {
			sawSudo = true
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("%s shows the secret: %q", p, args)
		}
	}
	if !sawSudo {
		t.Error("no sudo among the processes: the command lines were read at the wrong time")
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("the command failed: %v\n%s", err, out)
	}
	if seen := readFile(t, filepath.Join(dir, "seen")); seen != secret {
		t.Errorf("the program saw %q, want the secret %q", seen, secret)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestRealSudoStepDiesWithSysinit: a sudo step's program runs as root,
// where the user's reaper cannot kill it. When the sysinit that started it
// is killed with SIGKILL (no terminal, nothing to relay a hang-up), the
// program still dies: its lifeline, run as root by sudo around it, sees
// sysinit's pipe close and kills its group. The program ignores SIGTERM
// and SIGHUP, so only that SIGKILL ends it.
func TestRealSudoStepDiesWithSysinit(t *testing.T) {
	u := sudotest.New(t, sudotest.Options{})
	bin := u.Copy(t, os.Args[0], 0o755)
	dir := u.Mkdir(t, "lifeline")
	helper := u.Command([]string{helperScenarioEnv + "=sudo-sleep", helperDirEnv + "=" + dir, helperLifelineEnv + "=" + bin},
		bin, "-test.run=^TestHelperScenario$")
	var out bytes.Buffer
	helper.Stdout, helper.Stderr = &out, &out
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- helper.Wait() }()
	pidFile := filepath.Join(dir, "root.pid")
	waitFile(t, pidFile, errc)
	pid := readPID(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if uid := procUID(t, pid); uid != "0" {
		t.Fatalf("the program runs as uid %s, want root", uid)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-errc
	waitGone(t, pid)
	if t.Failed() {
		t.Logf("helper output:\n%s", &out)
	}
}

// procUID is the real uid pid runs as.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	for _, line := range strings.Split(readFile(t, fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}

// TestExecProcessLimit: when the user's process limit (ulimit -u) is
// reached, starting a program fails with an error that says so, rather
// than a bare EAGAIN. The limit binds only an unprivileged user, so the
// program runs as one.
func TestExecProcessLimit(t *testing.T) {
	u := sudotest.New(t, sudotest.Options{})
	bin := u.Copy(t, os.Args[0], 0o755)
	helper := u.Command([]string{helperScenarioEnv + "=nproc"}, bin, "-test.run=^TestHelperScenario$")
	out, err := helper.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	const want = "error: starting /bin/true: fork/exec /bin/true: resource temporarily unavailable: the limit on processes (ulimit -u "
	if !strings.Contains(string(out), want) {
		t.Errorf("helper said:\n%s\nwant %q", out, want)
	}
}
