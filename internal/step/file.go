package step

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
)

// FileKind installs one file.
var FileKind = &Kind{
	Kind: config.Kind{
		Name:    "file",
		Summary: "install a file, and run on-change when it really changed",
		Doc: `Inputs: ` + "`source`" + ` (plus any ` + "`inputs`" + `, and the script ` + "`on-change`" + ` runs).
The destination's content and mode are recorded after each success; if
someone edits or deletes it, the next refresh puts it back (` + "`probe-failed`" + `).
` + "`on-change`" + ` runs when the step just changed the destination, when it did not
hold this content at the last success (a previous ` + "`on-change`" + ` that failed is
followed up), or when someone changed it since; an ` + "`on-change`" + ` that rewrites
the file itself (a formatter) does not loop. With ` + "`sudo = true`" + ` the file is
written as root by sysinit's own careful installer, never through a path a
user could plant a link in. A destination edited by hand (or there before
sysinit's first run) is kept beside the new file, as
` + "`DEST.sysinit-backup-TIME`" + `. A first run that finds the file already in place
runs no ` + "`on-change`" + ` (` + "`--force`" + ` does). Two file steps with one ` + "`dest`" + ` are an
error.`,
		Keys:     &fileKeys{},
		Sudo:     true,
		Check:    checkFile,
		CheckAll: checkDests,
	},
	New: newFile,
}

type fileKeys struct {
	Source   string `key:"source" required:"true" path:"file" example:"source = \"nix.custom.conf\"" doc:"the file to install, in the repo (an absolute path for one elsewhere)"`
	Dest     string `key:"dest" required:"true" path:"dest" example:"dest = \"/etc/nix/nix.custom.conf\"" doc:"where it goes: absolute, ~/…, or relative to the config directory"`
	Mode     string `key:"mode" example:"mode = \"0644\"" doc:"octal permission bits; default: the source's"`
	OnChange string `key:"on-change" example:"on-change = \"launchctl kickstart -k system/org.nixos.nix-daemon\"" doc:"a command (sh -c) run after the destination's content changed, e.g. to restart what reads it"`
}

// checkFile checks what the loader cannot: the mode's digits.
func checkFile(_ *config.Config, s *config.Step, r config.Reporter) {
	k := config.KeysOf[fileKeys](s)
	if k.Mode != "" && !isOctalMode(k.Mode) {
		r.Fail("mode", `use 3 or 4 octal digits, like "0644"`, "mode = %q: not an octal permission", k.Mode)
	}
}

func isOctalMode(m string) bool {
	if len(m) != 3 && len(m) != 4 {
		return false
	}
	for _, c := range m {
		if c < '0' || c > '7' {
			return false
		}
	}
	return true
}

// checkDests refuses two file steps that install to one destination: each
// would overwrite the other's file, and each refresh would see the other's
// install as drift and run again.
func checkDests(_ *config.Config, steps []*config.Step, r config.StepReporter) {
	first := map[string]*config.Step{}
	for _, s := range steps {
		d := filepath.Clean(config.KeysOf[fileKeys](s).Dest)
		if o, ok := first[d]; ok {
			r.FailStep(s, "dest", fmt.Sprintf("give each step its own dest, or remove one of them (step %q installs it at %s)", o.Name, o.Keys["dest"]),
				"step %q: dest %s is also step %q's", s.Name, d, o.Name)
			continue
		}
		first[d] = s
	}
}

// File is the "file" kind: install a file, and run on-change only when the
// destination's content really changed.
type File struct {
	s      *config.Step
	keys   *fileKeys
	env    *Env
	dir    string // config dir
	source string // absolute
	dest   string // absolute
	mode   fs.FileMode
	shell  string
	sudo   bool
}

func newFile(cfg *config.Config, s *config.Step, env *Env) (Step, error) {
	k := config.KeysOf[fileKeys](s)
	f := &File{s: s, keys: k, env: env, dir: cfg.Dir, sudo: s.Sudo != nil && *s.Sudo}
	f.source = filepath.Join(cfg.Dir, k.Source)
	dest, err := config.ExpandHome("dest", k.Dest, env.Getenv)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(cfg.Dir, dest)
	}
	f.dest = dest
	if k.Mode != "" {
		m, err := strconv.ParseUint(k.Mode, 8, 32)
		if err != nil {
			return nil, fmt.Errorf("mode %q: not an octal mode", k.Mode)
		}
		f.mode = fs.FileMode(m)
	}
	if k.OnChange != "" {
		if f.shell, err = env.LookPath("sh"); err != nil {
			return nil, fmt.Errorf("finding sh: %w", err)
		}
	}
	return f, nil
}

func (f *File) Definition() []string {
	var l Lines
	l.Add("kind", "file")
	l.Add("source", f.keys.Source)
	l.Add("dest", f.dest)
	l.Add("mode", f.keys.Mode)
	if f.mode == 0 {
		// The destination takes the source's permission bits, which the
		// inputs record only as far as the exec bit: record them here, so
		// `chmod 600` of a secret re-installs it.
		l.Add("source-mode", sourceMode(f.source))
	}
	l.Add("on-change", f.keys.OnChange)
	l.Add("sudo", strconv.FormatBool(f.sudo))
	for _, kv := range Environ(f.s.Env) {
		l.Add("env", kv)
	}
	return l.Sorted()
}

func sourceMode(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "unreadable"
	}
	return fmt.Sprintf("%04o", fi.Mode().Perm())
}

func (f *File) Inputs(context.Context) (fingerprint.Spec, error) {
	spec, err := FileSpec(f.dir, f.source, f.s.Inputs)
	if err != nil {
		return spec, err
	}
	AddScripts(&spec, f.Scripts(), f.dir)
	return spec, nil
}

// Scripts is the files of the repo that `on-change` executes.
func (f *File) Scripts() map[string]string {
	return ScriptsOf(f.dir, Script{Key: "on-change", Cmd: f.keys.OnChange, Dir: f.dir})
}

// Advice names the programs of on-change that a variable names: every file
// where they may be is an input.
func (f *File) Advice(string) []string {
	return ScriptNotes(f.dir, Script{Key: "on-change", Cmd: f.keys.OnChange, Dir: f.dir})
}

// dest is what sysinit can see of the destination: its content (hash and
// permission bits, "" when only root may read it) and its stat signature.
// The probe compares the content when it can read it and the signature
// otherwise, so a root-only file (sudoers, 0440) is neither re-installed on
// every refresh nor missed when someone edits it.
type dest struct {
	content, sig string
}

func (d dest) exists() bool { return d.content != "" || d.sig != "" }

// same reports whether d is what o describes: by content when sysinit can
// read it, else by stat signature.
func (d dest) same(o dest) bool {
	if d.content != "" {
		return d.content == o.content
	}
	return d.sig == o.sig
}

// token is what a success records: the destination as the step left it
// (after on-change, which may rewrite it — a formatter, a daemon that
// normalises its config) and the content the step installed, as
// "CONTENT|SIGNATURE|INSTALLED". The probe compares the first two, so an
// on-change that rewrites the file does not read as drift on every run.
type token struct {
	left      dest
	installed string
}

func (t token) String() string { return t.left.content + "|" + t.left.sig + "|" + t.installed }

func parseToken(s string) token {
	content, rest, _ := strings.Cut(s, "|")
	sig, installed, ok := strings.Cut(rest, "|")
	if !ok {
		installed = content // recorded before on-change's rewrites were kept
	}
	return token{left: dest{content: content, sig: sig}, installed: installed}
}

// readDest looks at path; a missing file is an error wrapping fs.ErrNotExist.
func readDest(path string) (dest, error) {
	sig, err := fingerprint.StatSignature(path)
	if err != nil {
		return dest{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return dest{}, err
	}
	// Reading a FIFO or a device (a link to one planted in a directory
	// others can write) would block or never end; it is not the file.
	if !fi.Mode().IsRegular() {
		return dest{content: "not a regular file", sig: sig}, nil
	}
	sum, err := fingerprint.HashFile(path)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return dest{sig: sig}, nil
	case err != nil:
		return dest{}, err
	}
	return dest{content: fmt.Sprintf("%x %04o", sum[:], fi.Mode().Perm()), sig: sig}, nil
}

func (f *File) Probe(_ context.Context, token string) (string, error) {
	d, err := readDest(f.dest)
	if errors.Is(err, fs.ErrNotExist) {
		return f.dest + " is missing", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", f.dest, err)
	}
	last := parseToken(token).left
	if d.content != "" && d.content != last.content || d.content == "" && d.sig != last.sig {
		return f.dest + " was changed outside sysinit", nil
	}
	return "", nil
}

func (f *File) wantMode() (fs.FileMode, error) {
	if f.mode != 0 {
		return f.mode, nil
	}
	fi, err := os.Stat(f.source)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}

func (f *File) Run(ctx context.Context, rc *RunContext) (Outcome, error) {
	mode, err := f.wantMode()
	if err != nil {
		return Outcome{}, fmt.Errorf("reading %s: %w", f.source, err)
	}
	sum, err := fingerprint.HashFile(f.source)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading %s: %w", f.source, err)
	}
	want := fmt.Sprintf("%x %04o", sum[:], mode)
	have, err := readDest(f.dest)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Outcome{}, fmt.Errorf("reading %s: %w", f.dest, err)
	}
	note := "already in place"
	last := parseToken(rc.Token)
	// A destination only root can read is installed again: sysinit
	// cannot tell what it holds. One that holds what on-change made of
	// this very content is in place too.
	changed := have.content != want && !(have.content != "" && have.content == last.left.content && last.installed == want)
	if changed {
		// A destination that holds neither what the last success left
		// there nor the new content was edited by hand (or was there
		// before sysinit): it is kept beside the new one.
		backup := ""
		if have.exists() && !have.same(last.left) {
			backup = filepath.Base(f.dest) + ".sysinit-backup-" + time.Now().UTC().Format("20060102T150405Z")
		}
		if err := f.install(ctx, rc, mode, backup); err != nil {
			return Outcome{}, err
		}
		fmt.Fprintf(rc.Out, "installed %s -> %s\n", f.keys.Source, f.dest)
		note = "installed"
		if backup != "" {
			fmt.Fprintf(rc.Out, "it held something else, edited by hand: kept as %s\n", filepath.Join(filepath.Dir(f.dest), backup))
			note += "; the old file kept as " + backup
		}
	} else {
		fmt.Fprintf(rc.Out, "%s already holds %s\n", f.dest, f.keys.Source)
	}
	// on-change runs only when the file changed: sysinit just changed it;
	// or, since the last success, its content is another or someone changed
	// it (what reads it may hold the other version); or the step's last run
	// did not finish (it installed the file and then on-change failed, or
	// was stopped: nothing was recorded); or the user forced the step. A
	// first run that finds the file already in place leaves what reads it
	// alone.
	sinceLast := rc.Token != "" && (last.installed != want || have.content != last.left.content)
	if f.keys.OnChange != "" && (changed || sinceLast || rc.Unfinished || rc.Force) {
		rc.Progress("on-change: " + f.keys.OnChange)
		err := f.env.Exec.Run(ctx, &command.Cmd{
			Argv: []string{f.shell, "-c", f.keys.OnChange}, Dir: f.dir, Env: Environ(f.s.Env),
			Stdout: rc.Out, Stderr: rc.Out, Sudo: f.sudo,
		})
		if err != nil {
			return Outcome{}, fmt.Errorf("on-change after installing %s: %w", f.dest, err)
		}
		note += ", on-change ran"
	}
	left, err := readDest(f.dest)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading %s after installing it: %w", f.dest, err)
	}
	return Outcome{Token: token{left: left, installed: want}.String(), Note: note}, nil
}

// install puts the source in place (see Install). With sudo it is
// sysinit's own privileged helper, `sysinit install-file`, that writes:
// sysinit opens the source as the user and hands its content over on
// standard input, so root never opens a path of the user's.
func (f *File) install(ctx context.Context, rc *RunContext, mode fs.FileMode, backup string) error {
	src, err := os.Open(f.source)
	if err != nil {
		return fmt.Errorf("installing %s: %w", f.dest, err)
	}
	defer src.Close()
	if !f.sudo {
		return Install(f.dest, mode, src, backup)
	}
	if f.env.Self == nil {
		return fmt.Errorf("installing %s as root: sysinit's own executable is unknown", f.dest)
	}
	self, err := f.env.Self()
	if err != nil {
		return fmt.Errorf("installing %s as root: finding sysinit's own executable: %w", f.dest, err)
	}
	return f.env.Exec.Run(ctx, &command.Cmd{
		Argv:  append([]string{self, InstallCommand, "--mode", fmt.Sprintf("%04o", uint32(mode)&0o7777)}, backupArgs(backup, f.dest)...),
		Stdin: src, Stdout: rc.Out, Stderr: rc.Out, Sudo: true,
	})
}

func backupArgs(backup, dest string) []string {
	if backup == "" {
		return []string{"--", dest}
	}
	return []string{"--backup", backup, "--", dest}
}

// InstallCommand is the hidden sysinit command that runs Install as root
// for a file step with sudo: `sysinit install-file --mode MODE -- DEST`,
// the content on standard input.
const InstallCommand = "install-file"

// NeedsSudo reports whether installing the file needs root.
func (f *File) NeedsSudo() bool { return f.sudo }
