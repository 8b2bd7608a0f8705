package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/step"
)

// Run evaluates the configuration once, for its derivation and out path;
// when the out path is already active and is what sysinit last applied, it
// stops there. Otherwise it builds that derivation as the invoking user,
// without evaluating again, sets the profile and activates (with sudo
// where the kind needs it) and logs the closure diff. Offered a result
// built before for these inputs (rc.Reuse), it switches to it without
// evaluating at all.
func (sy *system) Run(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
	if sy.nixErr != nil {
		return step.Outcome{}, sy.nixErr
	}
	if sy.profileErr != nil {
		return step.Outcome{}, sy.profileErr
	}
	r := &runner{sys: sy, rc: rc, out: &syncWriter{w: rc.Out}}
	if sy.ref.local() {
		if src, err := sourceOf(sy.ref); err == nil && !src.inGit {
			fmt.Fprintln(r.out, "note: "+src.detail)
		}
	}
	before, err := activePath(sy.active, sy.store)
	if errors.Is(err, fs.ErrNotExist) {
		before = ""
	} else if err != nil {
		return step.Outcome{}, err
	}
	applied := sy.applied(before)
	// A result kept without the Brewfile its evaluation gave cannot tell
	// the brew-bundle step that follows: evaluate.
	if rc.Reuse != "" && !rc.Force && !rc.Redefined && (!sy.exportsHomebrew || rc.ReuseExport != "") {
		publish(rc, rc.ReuseExport)
		o, err := sy.switchBack(ctx, r, rc.Reuse, before, applied)
		if sy.exportsHomebrew {
			o.Export = rc.ReuseExport
		}
		return o, err
	}
	ev, err := sy.evaluate(ctx, r, "", "")
	if err != nil {
		return step.Outcome{}, err
	}
	export, err := sy.export(ev)
	if err != nil {
		return step.Outcome{}, err
	}
	publish(rc, export)
	out := ev.Out
	// The shortcut absorbs input edits only: a changed activation command,
	// env value, action, profile or flag acts after the build, so it must
	// run even when the out path is the active one.
	if !rc.Force && !rc.Redefined && alreadyApplied(out, applied, rc.Token) {
		fmt.Fprintf(r.out, "%s is already the active system\n", out)
		return step.Outcome{Token: out, Note: "evaluated: identical to the active system; nothing built or switched", Label: sy.label(out), Export: export}, nil
	}
	built, _, err := sy.buildFor(ctx, r, ev, nil) // build-on, push-to: remote.go
	if err != nil {
		return step.Outcome{}, err
	}
	if built != out {
		fmt.Fprintf(r.out, "note: evaluation gave %s but the build produced %s; using the build\n", out, built)
	}
	note, err := sy.switchWithDiff(ctx, r, before, built)
	if err != nil {
		return step.Outcome{}, err
	}
	return step.Outcome{Token: built, Note: note, Label: sy.label(built), Export: export}, nil
}

// evaluation is the configuration evaluated once: its record, the
// attribute it names and the version of nix that evaluated it, which
// decides the build's argv.
type evaluation struct {
	*evalRecord
	attr string
	v    Version
}

// evaluate evaluates the step's configuration, asking nix its version
// beside it, which costs no time. Steps that evaluate the same
// configuration the same way (the pairs of a step with hosts) share one
// evaluation. user and host name whose home-manager configuration a step
// without #NAME picks; "" is whoever runs sysinit here.
func (sy *system) evaluate(ctx context.Context, r *runner, user, host string) (*evaluation, error) {
	q, err := sy.query(ctx, r, user, host)
	if err != nil {
		return nil, err
	}
	key := sy.buildKey(q.flake.installable(q.config) + "\x00" + q.name + "\x00" + q.conf + "\x00" + q.pick + "\x00" + q.apply())
	r.progress("evaluating " + q.what())
	ev, by, err := fleetOf(sy.env).evals.do(ctx, key, sy.s.Name, func() (*evaluation, error) {
		type versionResult struct {
			v   Version
			err error
		}
		ver := make(chan versionResult, 1)
		go func() {
			v, err := nixVersion(ctx, sy.env.Exec, sy.nix)
			ver <- versionResult{v, err}
		}()
		rec, err := r.evaluate(ctx, q)
		vr := <-ver
		if err != nil {
			return nil, err
		}
		if vr.err != nil {
			return nil, vr.err
		}
		ev := &evaluation{evalRecord: rec, attr: q.attr, v: vr.v}
		if ev.attr == "" {
			ev.attr = sy.attrFor(rec.Name)
		}
		return ev, nil
	})
	if err != nil {
		return nil, sharedErr(err, by, sy.s.Name)
	}
	if by != sy.s.Name {
		fmt.Fprintf(r.out, "evaluated by %s: %s\n", by, ev.Out)
	}
	if q.attr == "" {
		fmt.Fprintf(r.out, "configuration: %s\n", ev.Name)
	}
	return ev, nil
}

// switchWithDiff switches to out and returns the run's note, with the
// closure diff against before; with --ask the user sees the diff and says
// yes first. Otherwise the diff needs the two store paths, not
// the switch: it runs beside setting the profile and activating, off the
// critical path.
func (sy *system) switchWithDiff(ctx context.Context, r *runner, before, out string) (string, error) {
	diff := func(bool) string { return "" }
	switch {
	case r.rc.Confirm != nil:
		// --ask: the diff is shown, and the user says yes, before
		// anything is set or activated.
		var err error
		if diff, err = r.confirm(ctx, before, out); err != nil {
			return "", err
		}
	case before != "" && before != out:
		diff = r.diffClosuresBeside(ctx, before, out)
	}
	note, err := sy.switchTo(ctx, r, out)
	if err != nil {
		diff(false)
		return "", err
	}
	if d := diff(true); d != "" {
		note += "; " + d
	}
	return note, nil
}

// switchBack applies out, the result a success built for exactly these
// inputs and definition: no evaluation, no build (a revert, a branch
// built before).
func (sy *system) switchBack(ctx context.Context, r *runner, out, before, applied string) (step.Outcome, error) {
	if alreadyApplied(out, applied, r.rc.Token) {
		fmt.Fprintf(r.out, "%s, built before for these inputs, is already the active system\n", out)
		return step.Outcome{Token: out, Note: "built before: identical to the active system; nothing evaluated or switched", Label: sy.label(out)}, nil
	}
	fmt.Fprintf(r.out, "these inputs were built before: switching to %s without evaluating\n", out)
	note, err := sy.switchWithDiff(ctx, r, before, out)
	if err != nil {
		return step.Outcome{}, err
	}
	return step.Outcome{Token: out, Note: "built before, nothing evaluated or built: " + note, Label: sy.label(out)}, nil
}

// label names out for a later reuse: the profile generation that holds
// it, when the profile points at it.
func (sy *system) label(out string) string {
	if sy.profile == "" {
		return ""
	}
	if p, err := activePath(sy.profile, sy.store); err != nil || p != out {
		return ""
	}
	if gen := generation(sy.profile); gen > 0 {
		return fmt.Sprintf("generation %d", gen)
	}
	return ""
}

// Reusable reports whether out, recorded by an earlier success, is still
// in the store. Nix gives every valid store path the modification time 1
// (canonicalisePathMetaData), so a stat tells: missing is gone, time 1 is
// there; anything else (a path being built or half deleted, a stat that
// fails) is asked of `nix-store --check-validity`.
func (sy *system) Reusable(ctx context.Context, out string) (bool, error) {
	if filepath.Dir(out) != sy.store || sy.nixErr != nil {
		return false, nil
	}
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil && fi.ModTime().Unix() == 1 {
		return true, nil
	}
	nixStore := filepath.Join(filepath.Dir(sy.nix), "nix-store")
	if _, err := os.Stat(nixStore); err != nil {
		if nixStore, err = sy.env.LookPath("nix-store"); err != nil {
			return false, &command.NotFoundError{Name: "nix-store"}
		}
	}
	err = sy.env.Exec.Run(ctx, &command.Cmd{Argv: []string{nixStore, "--check-validity", out}})
	var xe *command.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &xe):
		return false, nil
	}
	return false, fmt.Errorf("checking %s: %w", out, err)
}

// alreadyApplied decides the semantic skip: the evaluated out path is both
// the active system and what the last success recorded. Run applies it only
// when the step is neither forced nor redefined.
//
//	evaluated  active  recorded  skip?
//	X          X       X         yes: a comment edit, a reformat
//	X          X       Y or ""   no:  the profile moved but activation may have
//	                                  failed after it (nothing was recorded), or
//	                                  sysinit never applied it: activate again
//	X          Y       X         no:  drift (rolled back by hand): re-apply
//	X          Y       Y         no:  a real change
//	X          none    any       no:  nothing active yet
func alreadyApplied(evaluated, active, recorded string) bool {
	return evaluated != "" && evaluated == active && evaluated == recorded
}

// query is the run's one evaluation: the configuration the step names,
// the derivation to build in it, and its name when the flake decides it.
// The default name is the host for nix-darwin (scutil, as darwin-rebuild)
// and nixos, and user@host or user for home-manager, whichever the flake
// defines — picked inside the same evaluation.
func (sy *system) query(ctx context.Context, r *runner, u, h string) (*evalQuery, error) {
	name := sy.name
	if name == "" {
		switch sy.kind {
		case KindDarwin:
			sy.hostOnce.Do(func() { sy.host = sy.localHostName(ctx) })
			fmt.Fprintf(r.out, "configuration: %s (this host)\n", sy.host)
			name = sy.host
		case KindHomeManager:
			var err error
			if u == "" {
				if u, err = userName(sy.env.Getenv); err != nil {
					return nil, err
				}
			}
			if h == "" {
				if h, err = os.Hostname(); err != nil {
					return nil, fmt.Errorf("finding the host name: %w", err)
				}
			}
			long := u + "@" + h
			return &evalQuery{
				flake:  sy.ref,
				config: "homeConfigurations",
				name:   fmt.Sprintf(`if root ? %s then %s else if root ? %s then %s else null`, nixString(long), nixString(long), nixString(u), nixString(u)),
				conf:   "root.${name}",
				pick:   "c.activationPackage",
				none:   fmt.Sprintf("flake %s defines neither homeConfigurations.%s nor homeConfigurations.%s", sy.ref.base, quoteAttr(long), quoteAttr(u)),
			}, nil
		default:
			h, err := os.Hostname()
			if err != nil {
				return nil, fmt.Errorf("finding the host name: %w", err)
			}
			name = h
		}
	}
	q := &evalQuery{flake: sy.ref, name: nixString(name), conf: "root", attr: sy.attrFor(name)}
	switch sy.kind {
	case KindDarwin:
		// darwin-rebuild splices the name in unquoted.
		q.config, q.pick = "darwinConfigurations."+name, "c.system"
		if sy.exportsHomebrew {
			q.fields = map[string]string{"homebrew": homebrewField}
		}
	case KindNixOS:
		q.config, q.pick = "nixosConfigurations."+quoteAttr(name), "c.config.system.build.toplevel"
	case KindHomeManager:
		q.config, q.pick = "homeConfigurations."+quoteAttr(name), "c.activationPackage"
	default:
		q.config, q.pick = name, "c"
	}
	return q, nil
}

// localHostName asks scutil, falling back to the short host name where
// there is no scutil (or it fails).
func (sy *system) localHostName(ctx context.Context) string {
	var out bytes.Buffer
	err := sy.env.Exec.Run(ctx, &command.Cmd{Argv: []string{"scutil", "--get", "LocalHostName"}, Stdout: &out})
	if h := strings.TrimSpace(out.String()); err == nil && h != "" {
		return h
	}
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// nixString quotes s as a nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
