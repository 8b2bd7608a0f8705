package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/step"
)

// Run evaluates the out path; when it is already active and is what
// sysinit last applied, it stops there. Otherwise it builds as the invoking
// user, sets the profile and activates (with sudo where the kind needs it)
// and logs the closure diff.
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
	attr, err := sy.resolveAttr(ctx, r)
	if err != nil {
		return step.Outcome{}, err
	}
	inst := sy.ref.installable(attr)
	r.progress("evaluating " + attr)
	out, err := r.eval(ctx, inst+".outPath")
	if err != nil {
		return step.Outcome{}, err
	}
	before, err := activePath(sy.active, sy.store)
	if errors.Is(err, fs.ErrNotExist) {
		before = ""
	} else if err != nil {
		return step.Outcome{}, err
	}
	// The shortcut absorbs input edits only: a changed activation command,
	// env value, action, profile or flag acts after the build, so it must
	// run even when the out path is the active one.
	if !rc.Force && !rc.Redefined && alreadyApplied(out, before, rc.Token) {
		fmt.Fprintf(r.out, "%s is already the active system\n", out)
		return step.Outcome{Token: out, Note: "evaluated: identical to the active system; nothing built or switched"}, nil
	}
	r.progress("building " + attr)
	built, err := r.build(ctx, inst)
	if err != nil {
		return step.Outcome{}, err
	}
	if built != out {
		fmt.Fprintf(r.out, "note: evaluation gave %s but the build produced %s; using the build\n", out, built)
	}
	// The closure diff needs the two store paths, not the switch: it runs
	// beside setting the profile and activating, off the critical path.
	diff := func(bool) string { return "" }
	switch {
	case rc.Confirm != nil:
		// --ask: the diff is shown, and the user says yes, before
		// anything is set or activated.
		if diff, err = r.confirm(ctx, before, built); err != nil {
			return step.Outcome{}, err
		}
	case before != "" && before != built:
		diff = r.diffClosuresBeside(ctx, before, built)
	}
	note, err := sy.switchTo(ctx, r, built)
	if err != nil {
		diff(false)
		return step.Outcome{}, err
	}
	if d := diff(true); d != "" {
		note += "; " + d
	}
	return step.Outcome{Token: built, Note: note}, nil
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

// resolveAttr settles the default configuration name: the host for
// nix-darwin (scutil, as darwin-rebuild) and nixos, user@host or user for
// home-manager, whichever the flake defines.
func (sy *system) resolveAttr(ctx context.Context, r *runner) (string, error) {
	if sy.name != "" {
		return sy.attrFor(sy.name), nil
	}
	switch sy.kind {
	case KindDarwin:
		sy.hostOnce.Do(func() { sy.host = sy.localHostName(ctx) })
		fmt.Fprintf(r.out, "configuration: %s (this host)\n", sy.host)
		return sy.attrFor(sy.host), nil
	case KindHomeManager:
		u, err := userName(sy.env.Getenv)
		if err != nil {
			return "", err
		}
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("finding the host name: %w", err)
		}
		long := u + "@" + h
		expr := fmt.Sprintf(`c: if c ? %s then %s else if c ? %s then %s else ""`, nixString(long), nixString(long), nixString(u), nixString(u))
		name, err := r.evalApply(ctx, sy.ref.installable("homeConfigurations"), expr)
		if err != nil {
			return "", err
		}
		if name == "" {
			return "", fmt.Errorf("flake %s defines neither homeConfigurations.%s nor homeConfigurations.%s", sy.ref.base, quoteAttr(long), quoteAttr(u))
		}
		fmt.Fprintf(r.out, "configuration: %s\n", name)
		return sy.attrFor(name), nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("finding the host name: %w", err)
	}
	return sy.attrFor(h), nil
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
