package nix

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// fleetKeys are the keys of the nix kinds that concern other machines:
// where a configuration builds, and which binary cache gets the result.
type fleetKeys struct {
	BuildOn string `key:"build-on" example:"build-on = \"box\"" doc:"build on this host (a [hosts.NAME]) instead of here: through nix's remote builders (--builders), whose result comes back to be copied on; or, for the pair that acts on that very host, in its own store (--store ssh-ng://), so that nothing travels"`
	PushTo  string `key:"push-to" example:"push-to = \"s3://nix-cache?region=eu-west-1\"" doc:"after a build, copy the closure to this binary cache (nix copy --to URL: file:///…, ssh://…, s3://…), so that other machines substitute it instead of building"`
}

// checkFleet checks the keys of fleetKeys: build-on names a host; push-to
// is a store URL nix copies to.
func checkFleet(cfg *config.Config, s *config.Step, r config.Reporter) {
	k := keysOf(s)
	if b := k.BuildOn; b != "" && cfg.Host(b) == nil {
		var names []string
		for _, h := range cfg.Hosts {
			names = append(names, h.Name)
		}
		hint := "declare it as [hosts." + b + "] with ssh = \"user@host\"; build-on names a host to build on"
		if len(names) > 0 {
			hint += " (hosts: " + strings.Join(names, ", ") + ")"
		}
		r.Fail("build-on", hint, "build-on = %q: no such host", b)
	}
	if u := k.PushTo; u != "" {
		scheme, rest, ok := strings.Cut(u, "://")
		switch {
		case !ok || scheme == "" || rest == "":
			r.Fail("push-to", `write a store URL, like "file:///srv/nix-cache", "ssh://cache.lan" or "s3://bucket?region=eu-west-1"`,
				"push-to = %q is not a store URL", u)
		case scheme == "file" && !strings.HasPrefix(rest, "/"):
			r.Fail("push-to", `a file:// cache is an absolute path: "file:///srv/nix-cache"`, "push-to = %q is not absolute", u)
		case strings.ContainsAny(u, " \t\r\n"):
			r.Fail("push-to", "remove the spaces", "push-to = %q holds a space", u)
		}
	}
}

// remoteSystem is a nix system step acting on another machine: it builds
// here (or on build-on's host), copies the closure there with nix copy
// over ssh-ng, sets the profile and activates over ssh, watched by a
// rollback that the machine runs by itself unless sysinit can reach it
// again afterwards.
type remoteSystem struct {
	*system
	host    *host
	profile remotePath // what nix-env sets there; empty for home-manager, whose activate sets it
	active  remotePath // the link whose target is the active system there
}

// newRemote turns a system step into one acting on t.
func newRemote(sy *system, t *config.Host) (step.Step, error) {
	f := fleetOf(sy.env)
	rs := &remoteSystem{system: sy, host: f.host(t)}
	if sy.name == "" && (sy.kind == KindNixOS || sy.kind == KindDarwin) {
		// Without #NAME, the configuration is the host's name, as
		// nixos-rebuild --target-host would have it with its own.
		sy.name = t.Name
	}
	if sy.k.Profile != "" {
		p, err := remotePathOf(sy.k.Profile)
		if err != nil {
			return nil, err
		}
		rs.profile = p
	} else {
		switch sy.kind {
		case KindHomeManager:
			rs.profile = homeManagerRemote
		case KindDarwin, KindNixOS:
			rs.profile = remotePath{expr: command.Quote(defaultSystemProfile), show: defaultSystemProfile}
		}
	}
	rs.active = rs.profile
	if sy.kind == KindDarwin || sy.kind == KindNixOS && sy.action() != "boot" {
		rs.active = remotePath{expr: command.Quote(defaultCurrentSystem), show: defaultCurrentSystem}
	}
	if rs.active.expr == "" {
		return nil, fmt.Errorf("a %s step needs `profile`", sy.kind)
	}
	rs.host.addLink(rs.active)
	if rs.profile.expr != "" && rs.profile.expr != rs.active.expr {
		rs.host.addLink(rs.profile)
	}
	return rs, nil
}

// Target names the machine the step acts on.
func (rs *remoteSystem) Target() string { return rs.host.cfg.Name }

// Platform is the machine's GOOS, from the one read of it that also finds
// its active systems.
func (rs *remoteSystem) Platform(ctx context.Context) (string, error) {
	f, err := rs.host.read(ctx)
	if err != nil {
		return "", err
	}
	return f.goos, nil
}

// NeedsSudo is false: nothing runs as root here. On the machine, sysinit
// logs in as root, or runs the profile's commands through `sudo -n` there.
func (rs *remoteSystem) NeedsSudo() bool { return false }

// Definition is the local one, less where this machine keeps its system,
// plus the host and where the system lives there.
func (rs *remoteSystem) Definition() []string {
	var l step.Lines
	for _, line := range rs.system.Definition() {
		switch k, _, _ := strings.Cut(line, "="); {
		case k == "profile", k == "active", k == "nix-env":
			continue
		case k == "attr" && rs.kind == KindHomeManager && rs.name == "":
			continue
		}
		l = append(l, line)
	}
	l.Add("host", rs.host.cfg.Name)
	if rs.profile.show != "" {
		l.Add("profile", rs.profile.show)
	}
	l.Add("active", rs.active.show)
	if rs.kind == KindHomeManager && rs.name == "" {
		u := rs.host.cfg.User
		if u == "" {
			u = "USER, the user ssh logs in as"
		}
		l.Add("attr", fmt.Sprintf("%s or %s (%s)", rs.attrFor("USER@"+rs.host.cfg.Name), rs.attrFor("USER"), u))
	}
	return l.Sorted()
}

// Probe compares the machine's active system with what the last success
// applied there, from the one read of the machine.
func (rs *remoteSystem) Probe(ctx context.Context, token string) (string, error) {
	f, err := rs.host.read(ctx)
	if err != nil {
		return "", err
	}
	a := f.active[rs.active.expr]
	switch {
	case a.missing:
		return fmt.Sprintf("changed outside sysinit: %s is missing on %s, last applied %s", rs.active.show, rs.host.cfg.Name, token), nil
	case a.path != token:
		return fmt.Sprintf("changed outside sysinit: active on %s %s, last applied %s", rs.host.cfg.Name, a.path, token), nil
	}
	return "", nil
}

// Run evaluates the configuration (once for every host that uses it) and,
// unless the machine already runs it, builds it (once), copies it there
// and activates it.
func (rs *remoteSystem) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	if rs.nixErr != nil {
		return step.Outcome{}, rs.nixErr
	}
	r := &runner{sys: rs.system, rc: rc, out: &syncWriter{w: rc.Out}}
	h := rs.host
	r.progress("connecting to " + h.cfg.Name)
	// Read afresh: the plan's read may be stale. A host that did not
	// answer it moments ago is not asked again (each try may wait out
	// ssh's connect timeout, and each of its steps would try).
	if err := h.failedRead(); err != nil {
		return step.Outcome{}, fmt.Errorf("%w (as the plan found it; not asked again in this run)", err)
	}
	h.forget()
	f, err := h.read(ctx)
	if err != nil {
		return step.Outcome{}, err
	}
	fmt.Fprintf(r.out, "%s: %s, logged in as %s\n", h.spec(), f.nixSystem(), f.user)
	before := f.active[rs.active.expr]
	var built string
	var place place
	if rc.Reuse != "" && !rc.Force && !rc.Redefined {
		// Built before for these inputs and still in this machine's
		// store: copy and activate it, with nothing evaluated or built.
		built = rc.Reuse
		if alreadyApplied(built, before.path, rc.Token) {
			fmt.Fprintf(r.out, "%s, built before for these inputs, is already the active system on %s\n", built, h.cfg.Name)
			return step.Outcome{Token: built, Note: "built before: identical to the active system on " + h.cfg.Name + "; nothing evaluated, copied or switched"}, nil
		}
		if err := rs.checkSudo(ctx, r, f); err != nil {
			return step.Outcome{}, err
		}
		fmt.Fprintf(r.out, "these inputs were built before: copying %s to %s without evaluating\n", built, h.cfg.Name)
	} else {
		ev, err := rs.evaluate(ctx, r, f.user, h.cfg.Name)
		if err != nil {
			return step.Outcome{}, err
		}
		if !rc.Force && !rc.Redefined && alreadyApplied(ev.Out, before.path, rc.Token) {
			fmt.Fprintf(r.out, "%s is already the active system on %s\n", ev.Out, h.cfg.Name)
			return step.Outcome{Token: ev.Out, Note: "evaluated: identical to the active system on " + h.cfg.Name + "; nothing built, copied or switched"}, nil
		}
		// Before building or copying anything for it: a machine whose
		// sudo would refuse the activation fails now, not after a build.
		if err := rs.checkSudo(ctx, r, f); err != nil {
			return step.Outcome{}, err
		}
		if built, place, err = rs.buildFor(ctx, r, ev, h); err != nil {
			return step.Outcome{}, err
		}
	}
	if place.store != h {
		r.progress("copying to " + h.cfg.Name)
		if err := r.run(ctx, "copying to "+h.cfg.Name, &command.Cmd{
			Argv: []string{rs.nix, "copy", "--to", h.storeURI(), "--substitute-on-destination", "--no-check-sigs", built},
			Env:  h.nixEnv(),
		}); err != nil {
			return step.Outcome{}, rs.copyFailure(err)
		}
	}
	defer h.forget() // what the machine runs has changed
	note, err := rs.deploy(ctx, r, f, built, before)
	if err != nil {
		return step.Outcome{}, err
	}
	return step.Outcome{Token: built, Note: note}, nil
}

// copyFailure adds what most often makes nix copy fail to a machine.
func (rs *remoteSystem) copyFailure(err error) error {
	var xe *command.ExitError
	if errors.As(err, &xe) {
		tail := strings.Join(xe.Tail, "\n")
		switch {
		case strings.Contains(tail, "lacks a signature by a trusted key"):
			return fmt.Errorf("%w: %s does not trust what this machine builds: log in as a user in its trusted-users, or sign the paths with a key it trusts", err, rs.host.cfg.Name)
		case strings.Contains(tail, "nix-daemon") && strings.Contains(tail, "not found"):
			return fmt.Errorf("%w: %s has no nix-daemon on the PATH of a non-interactive ssh login; add nix to it there", err, rs.host.cfg.Name)
		}
	}
	return err
}

// buildKey is what makes two steps' evaluations or builds of what the
// same one: what, nix's flags, the environment and directory.
func (sy *system) buildKey(what string) string {
	parts := append([]string{what, sy.workDir}, sy.k.ExtraArgs...)
	parts = append(parts, "impure="+strconv.FormatBool(sy.k.Impure))
	if sy.k.MaxJobs != nil {
		parts = append(parts, "max-jobs="+strconv.Itoa(*sy.k.MaxJobs))
	}
	if sy.k.Cores != nil {
		parts = append(parts, "cores="+strconv.Itoa(*sy.k.Cores))
	}
	parts = append(parts, step.Environ(sy.s.Env)...)
	return strings.Join(parts, "\x00")
}

// sharedErr says which step's evaluation or build an error came from when
// it was not this one's.
func sharedErr(err error, by, self string) error {
	if by == "" || by == self {
		return err
	}
	return fmt.Errorf("%w (in %s, which this step shares the configuration with)", err, by)
}

// place is where a configuration builds: here (nothing set), on a builder
// host through nix's remote builders (the result comes back here), or in
// the store of store, the host a step acts on (the result stays there).
type place struct {
	key   string
	args  []string
	env   []string
	store *host
}

// buildPlace decides where sy's configuration builds for a step acting on
// target (nil: this machine).
func (sy *system) buildPlace(ctx context.Context, target *host) (place, error) {
	name := sy.k.BuildOn
	if name == "" {
		return place{key: "here"}, nil
	}
	if sy.buildOn == nil {
		return place{}, fmt.Errorf("build-on = %q: no such host", name)
	}
	b := fleetOf(sy.env).host(sy.buildOn)
	f, err := b.read(ctx)
	if err != nil {
		return place{}, err
	}
	if b == target {
		return place{key: "store:" + name, args: []string{"--eval-store", "auto", "--store", b.storeURI()}, env: b.nixEnv(), store: b}, nil
	}
	machine := fmt.Sprintf("%s %s - %d", b.storeURI(), f.nixSystem(), max(f.cpus, 1))
	return place{key: "builders:" + name, args: []string{"--builders", machine, "--max-jobs", "0"}, env: b.nixEnv()}, nil
}

// buildFor builds the evaluated configuration for a step acting on target
// (nil: here), once per session and place, pushing the result to push-to
// when set; it says where the result is.
func (sy *system) buildFor(ctx context.Context, r *runner, ev *evaluation, target *host) (string, place, error) {
	pl, err := sy.buildPlace(ctx, target)
	if err != nil {
		return "", pl, err
	}
	self := sy.s.Name
	built, by, err := fleetOf(sy.env).builds.do(ctx, "build\x00"+pl.key+"\x00"+sy.buildKey(ev.Drv+"^"+ev.Output), self, func() (string, error) {
		br := &runner{sys: r.sys, rc: r.rc, out: r.out, buildArgs: pl.args, env: pl.env}
		if pl.store != nil {
			// The derivation was evaluated here; a build in another store
			// needs it there first (nix 2.8 reads it from the build
			// store, not the eval store).
			if err := r.run(ctx, "copying the derivation to "+pl.store.cfg.Name, &command.Cmd{
				Argv: []string{sy.nix, "copy", "--derivation", "--to", pl.store.storeURI(), ev.Drv},
				Env:  pl.env,
			}); err != nil {
				return "", err
			}
		}
		out, err := sy.buildEvaluated(ctx, br, ev)
		if err != nil {
			return "", err
		}
		if err := sy.push(ctx, r, out, pl); err != nil {
			return "", err
		}
		return out, nil
	})
	if err != nil {
		return "", pl, sharedErr(err, by, self)
	}
	if by != self {
		fmt.Fprintf(r.out, "built by %s: %s\n", by, built)
	}
	return built, pl, nil
}

// push copies a built closure to push-to. A result built in a host's store
// is copied from there; to an ssh cache by way of this machine, since nix
// gives both ends of one copy the same ssh options.
func (sy *system) push(ctx context.Context, r *runner, out string, pl place) error {
	url := sy.k.PushTo
	if url == "" {
		return nil
	}
	r.progress("pushing to " + url)
	if pl.store != nil {
		if !strings.HasPrefix(url, "ssh") {
			return r.run(ctx, "pushing to "+url, &command.Cmd{
				Argv: []string{sy.nix, "copy", "--from", pl.store.storeURI(), "--to", url, out},
				Env:  pl.store.nixEnv(),
			})
		}
		if err := r.run(ctx, "copying the build back from "+pl.store.cfg.Name, &command.Cmd{
			Argv: []string{sy.nix, "copy", "--from", pl.store.storeURI(), "--no-check-sigs", out},
			Env:  pl.store.nixEnv(),
		}); err != nil {
			return err
		}
	}
	return r.run(ctx, "pushing to "+url, &command.Cmd{Argv: []string{sy.nix, "copy", "--to", url, out}})
}
