package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The fleet group: one nix-profile step on N machines, nothing changed.
// sysinit's cost should be about one ssh connection and one round trip —
// each machine's master connection and its one probe, all machines at
// once — where refreshing a fleet host by host (as deploy-rs does) costs N
// evaluations and N connections one after another.
//
// The machines are directories: the stand-in ssh models the network — a
// new connection sleeps ssh-connect, a command through a connection
// sleeps ssh-round-trip — and runs the command it is given with sh, HOME
// pointing at the machine's directory, so that what sysinit reads and
// writes there (profiles, the deploy job's files) is real. nix copy
// sleeps one round trip and copies nothing: the store is shared.

// Fleet is the fleet scenario's name.
const Fleet = "fleet"

// DefaultFleetHosts is how many machines the fleet scenario refreshes.
const DefaultFleetHosts = 8

func fleetToml(hosts int) string {
	var b strings.Builder
	var names []string
	for i := 1; i <= hosts; i++ {
		name := fmt.Sprintf("h%d", i)
		names = append(names, fmt.Sprintf("%q", name))
		fmt.Fprintf(&b, "[hosts.%s]\nssh = \"bench@%s\"\n\n", name, name)
	}
	fmt.Fprintf(&b, `[steps.system]
kind     = "nix-profile"
flake    = ".#system"
profile  = "~/profiles/system"
activate = "true"
hosts    = [%s]
`, strings.Join(names, ", "))
	return b.String()
}

// fleetOld is the baseline: a refresh of each machine one after another,
// as deploy-rs and nixos-rebuild --target-host do it: evaluate and build
// (nothing new), copy (nothing to copy), switch over a new connection.
const fleetOld = `#!/bin/sh
set -e
for h in %s; do
	out=$(nix build --no-link --json .#system | sed 's/.*"out":"\([^"]*\)".*/\1/')
	nix copy --to "ssh-ng://bench@$h" "$out"
	ssh "bench@$h" nix-env -p '~/profiles/system' --set "$out"
done
`

func runFleet(ctx context.Context, o *Options, r *Report, work string, lat Latencies) (*Group, error) {
	n := o.FleetHosts
	if n <= 0 {
		n = DefaultFleetHosts
	}
	root := filepath.Join(work, "fleet")
	repo := filepath.Join(root, "repo")
	m, err := newMachine(root, repo, o.Self, lat, o.Environ)
	if err != nil {
		return nil, err
	}
	m.cfg.FleetHosts = filepath.Join(root, "hosts")
	if err := m.cfg.write(); err != nil {
		return nil, err
	}
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("h%d", i))
		if err := os.MkdirAll(filepath.Join(m.cfg.FleetHosts, names[i-1]), 0o755); err != nil {
			return nil, fmt.Errorf("creating machine %s: %w", names[i-1], err)
		}
	}
	if err := writeWrapper(filepath.Join(m.bin, "ssh"), o.Self, m.cfg.Path, "ssh"); err != nil {
		return nil, err
	}
	files := map[string]string{
		"flake.nix":        "{ outputs = { self }: { }; }\n",
		"modules/base.nix": "{ }\n",
		"sysinit.toml":     fleetToml(n),
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := writeRepoFile(repo, p, files[p], 0o644); err != nil {
			return nil, err
		}
	}
	if err := gitInit(ctx, repo); err != nil {
		return nil, err
	}
	e := &sizeEnv{o: o, m: m, repo: repo, changed: time.Now(), label: fmt.Sprintf("fleet of %d", n)}
	e.old = filepath.Join(root, "old-refresh.sh")
	if err := os.WriteFile(e.old, []byte(fmt.Sprintf(fleetOld, strings.Join(names, " "))), 0o755); err != nil {
		return nil, fmt.Errorf("writing the fleet's old refresh: %w", err)
	}
	o.progress("fleet of %d: first refresh (builds, copies and switches every machine)", n)
	if _, _, err := timed(ctx, repo, m.env, o.Self, "refresh", "--progress=never"); err != nil {
		return nil, err
	}
	expect := map[string]string{}
	for _, h := range names {
		expect["system@"+h] = "skipped"
	}
	sc := &scenario{name: Fleet, what: fmt.Sprintf("%d machines over ssh, nothing changed", n),
		tools: []string{ToolSysinit, ToolOld}, prepare: func(string, int) error { return nil }, expect: expect,
		calls: func(calls []Call) error { return fleetCalls(calls, n) }}
	res, err := e.run(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Fleet, err)
	}
	return &Group{Label: fmt.Sprintf("a fleet of %d machines, stand-in ssh", n), Files: len(files), Fleet: n, Scenarios: []ScenarioResult{*res}}, nil
}

// fleetCalls checks what a no-change refresh of n machines started: for
// each machine one master connection and one command through it (the
// probe), and nothing else — no nix, no copy, no activation.
func fleetCalls(calls []Call, n int) error {
	masters, probes := 0, 0
	var other []string
	for _, c := range calls {
		switch {
		case c.Name == "ssh" && slices.Contains(c.Argv, "-M"):
			masters++
		case c.Name == "ssh" && slices.Contains(c.Argv, "sysinit-probe"):
			probes++
		default:
			other = append(other, c.Name+" "+strings.Join(c.Argv, " "))
		}
	}
	var bad []string
	if masters != n || probes != n {
		bad = append(bad, fmt.Sprintf("%d connections and %d probes for %d machines, want one of each per machine", masters, probes, n))
	}
	if len(other) > 0 {
		bad = append(bad, fmt.Sprintf("it started %s", strings.Join(other, "; ")))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// ssh stands in for OpenSSH's client: a master (-M) sleeps ssh-connect,
// runs its LocalCommand (sysinit waits for what it prints) and serves
// until it is stopped; any other ssh sleeps ssh-connect unless it goes
// through a master's ControlPath, then ssh-round-trip, then runs its
// command with sh in the machine's directory.
func (s *standin) ssh(args []string) int {
	var master bool
	controlPath, localCommand := "", ""
	var dest string
	var command []string
	withValue := "BbcDEeFIiJLlmOoPpQRSWw"
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case dest != "" && a == "--":
			command = args[i+1:]
			i = len(args)
		case a == "-M":
			master = true
		case len(a) == 2 && a[0] == '-' && strings.IndexByte(withValue, a[1]) >= 0:
			if i+1 >= len(args) {
				return s.fail("ssh stand-in: %s needs a value", a)
			}
			v := args[i+1]
			i++
			switch {
			case a == "-S":
				controlPath = v
			case a == "-o" && strings.HasPrefix(v, "ControlPath="):
				controlPath = strings.TrimPrefix(v, "ControlPath=")
			case a == "-o" && strings.HasPrefix(v, "LocalCommand="):
				localCommand = strings.TrimPrefix(v, "LocalCommand=")
			}
		case strings.HasPrefix(a, "-"):
		case dest == "":
			dest = a
		default:
			command = args[i:]
			i = len(args)
		}
	}
	if dest == "" {
		return s.fail("ssh stand-in: no destination")
	}
	_, host, _ := strings.Cut(dest, "@")
	if host == "" {
		host = dest
	}
	home := filepath.Join(s.cfg.FleetHosts, host)
	if s.cfg.FleetHosts == "" || !isDir(home) {
		fmt.Fprintf(s.stderr, "ssh: connect to host %s port 22: Connection refused\n", host)
		return 255
	}
	if master {
		s.sleep(s.cfg.Latency.SSHConnect)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		if localCommand != "" {
			c := exec.Command("/bin/sh", "-c", localCommand)
			c.Stdout, c.Stderr = s.stdout, s.stderr
			if err := c.Run(); err != nil {
				return s.fail("ssh stand-in: LocalCommand: %v", err)
			}
		}
		if s.logNow != nil {
			s.logNow(0)
		}
		<-stop
		return 0
	}
	if controlPath == "" || controlPath == "none" {
		s.sleep(s.cfg.Latency.SSHConnect)
	}
	s.sleep(s.cfg.Latency.SSHRoundTrip)
	if len(command) == 0 {
		return 0
	}
	c := exec.Command("/bin/sh", "-c", strings.Join(command, " "))
	c.Dir = home
	c.Env = append(os.Environ(), "HOME="+home)
	return s.pass(c, "ssh stand-in")
}
