package step

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

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
An absolute ` + "`source`" + ` outside the repo is read and fingerprinted where it is;
a relative one lies in the config directory. ` + "`on-change`" + ` runs in the step's
` + "`dir`" + ` (default: the config directory).
The destination's content and mode are recorded after each success; if
someone edits or deletes it, or puts a link in its place, the next refresh
puts it back (` + "`probe-failed`" + `).
` + "`on-change`" + ` runs when the step just changed the destination, when it did not
hold this content at the last success (a previous ` + "`on-change`" + ` that failed is
followed up), or when someone changed it since. If the destination is
another file after ` + "`on-change`" + ` (a formatter that rewrites it), the run says so
and what ` + "`on-change`" + ` left (a regular file, read) is what counts as in place, so
it does not loop; any later change is drift, the source's own bytes put back
included. (A write by someone else while ` + "`on-change`" + ` runs cannot be told
from on-change's own.) With ` + "`sudo = true`" + ` the file is written as root by sysinit's own careful
installer, which never follows a link or enters a directory that another
user owns or may write (other than the one who ran sudo) on the way to the
destination. A destination edited by hand (or there before
sysinit's first run) is kept beside the new file, as
` + "`DEST.sysinit-backup-TIME`" + `. A first run that finds the file already in place
runs no ` + "`on-change`" + ` (` + "`--force`" + ` does). Two file steps with one ` + "`dest`" + ` are an
error, also when one reaches it through a linked directory.`,
		Keys:     &fileKeys{},
		Sudo:     true,
		Check:    checkFile,
		CheckAll: checkDests,
	},
	New: newFile,
}

type fileKeys struct {
	Source   string `key:"source" required:"true" path:"file" example:"source = \"nix.custom.conf\"" doc:"the file to install: relative to the config directory, or an absolute path for one outside the repo"`
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
// install as drift and run again. One destination may be written two ways
// (~/b/x.conf where ~/b is a link to ~/a, a bind mount, a case-insensitive
// file system): dests that share a file name are compared as the file
// system sees them, by the device and inode of their directory (of the
// nearest one that exists, when it is not made yet), and, when both files
// exist, of the files. Only those are looked at, so a config whose file
// names all differ costs no system call here.
func checkDests(_ *config.Config, steps []*config.Step, r config.StepReporter) {
	first := map[string]*config.Step{}
	byName := map[string]int{}
	var distinct []*config.Step
	for _, s := range steps {
		d := filepath.Clean(config.KeysOf[fileKeys](s).Dest)
		if o, ok := first[d]; ok {
			r.FailStep(s, "dest", fmt.Sprintf("give each step its own dest, or remove one of them (step %q installs it at %s)", o.Name, o.Keys["dest"]),
				"step %q: dest %s is also step %q's", s.Name, d, o.Name)
			continue
		}
		first[d] = s
		distinct = append(distinct, s)
		byName[strings.ToLower(filepath.Base(d))]++
	}
	seen := map[string]*config.Step{}
	for _, s := range distinct {
		d := filepath.Clean(config.KeysOf[fileKeys](s).Dest)
		if byName[strings.ToLower(filepath.Base(d))] < 2 {
			continue
		}
		for _, id := range fileIDs(d) {
			if o, ok := seen[id]; ok {
				od := filepath.Clean(config.KeysOf[fileKeys](o).Dest)
				how := "through a linked directory"
				if strings.HasPrefix(id, "file ") {
					how = "the same file by another name"
				}
				r.FailStep(s, "dest", fmt.Sprintf("give each step its own dest, or remove one of them (step %q installs it at %s)", o.Name, o.Keys["dest"]),
					"step %q: dest %s is also step %q's (%s, %s)", s.Name, d, o.Name, od, how)
				break
			}
			seen[id] = s
		}
	}
}

// fileIDs names the file path as the file system sees it: by the device
// and inode of its directory, or of the nearest one that exists, and the
// rest of the path; and, when the file exists, by its own device and inode.
func fileIDs(path string) []string {
	var ids []string
	var st unix.Stat_t
	dir, rest := filepath.Dir(path), filepath.Base(path)
	for {
		if unix.Stat(dir, &st) == nil {
			ids = append(ids, fmt.Sprintf("dir %d:%d %s", st.Dev, st.Ino, rest))
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			ids = append(ids, "path "+path)
			break
		}
		dir, rest = parent, filepath.Base(dir)+"/"+rest
	}
	if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		ids = append(ids, fmt.Sprintf("file %d:%d", st.Dev, st.Ino))
	}
	return ids
}

// File is the "file" kind: install a file, and run on-change only when the
// destination's content really changed.
type File struct {
	s      *config.Step
	keys   *fileKeys
	env    *Env
	dir    string // config dir
	runDir string // where on-change runs: the step's dir, or the config dir
	source string // absolute
	dest   string // absolute
	mode   fs.FileMode
	shell  string
	sudo   bool
}

func newFile(cfg *config.Config, s *config.Step, env *Env) (Step, error) {
	k := config.KeysOf[fileKeys](s)
	f := &File{s: s, keys: k, env: env, dir: cfg.Dir, runDir: cfg.Dir, sudo: s.Sudo != nil && *s.Sudo}
	// An absolute source is read where it is (the loader checked that it
	// exists there); a relative one lies in the repo, whatever dir says:
	// dir is where on-change runs.
	f.source = cfg.Path(k.Source)
	if s.Dir != "" {
		f.runDir = cfg.Path(s.Dir)
	}
	dest, err := config.ExpandHome("dest", k.Dest, env.Getenv)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(cfg.Dir, dest)
	}
	f.dest = dest
	// A dest that is the source (the same path, a link to it, a hard
	// link) would read "already in place" forever while nothing is
	// installed anywhere.
	if si, err := os.Stat(f.source); err == nil {
		if di, err := os.Stat(dest); err == nil && os.SameFile(si, di) {
			return nil, fmt.Errorf("dest %s is the source %s itself: name where the file is to be installed", dest, f.source)
		}
	}
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
	if f.s.Dir != "" {
		// Where on-change runs. Named only when set, so that the steps
		// without one keep their definition.
		l.Add("dir", f.s.Dir)
	}
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
	return f.env.analyses().ScriptsOf(f.dir, Script{Key: "on-change", Cmd: f.keys.OnChange, Dir: f.runDir})
}

// Advice names the programs of on-change that a variable names: every file
// where they may be is an input.
func (f *File) Advice(string) []string {
	return f.env.analyses().ScriptNotes(f.dir, Script{Key: "on-change", Cmd: f.keys.OnChange, Dir: f.runDir})
}

// dest is what sysinit can see of the destination: its content (hash and
// permission bits; "" when only root may read it, or when it was not worth
// reading: unread) and its stat signature
// (of the name itself: a link is described, not followed). The probe
// compares the content when it can read it and the signature otherwise, so
// a root-only file (sudoers, 0440) is neither re-installed on every refresh
// nor missed when someone edits it.
type dest struct {
	content, sig string
	link         bool
	unread       bool // of a size none of the compared contents have
}

func (d dest) exists() bool { return d.content != "" || d.sig != "" }

// hashed reports whether d's content is a hash of a regular file's bytes
// and mode ("HASH MODE"), not a word standing for what could not be read.
func (d dest) hashed() bool {
	h, m, ok := strings.Cut(d.content, " ")
	return ok && len(h) == 32 && len(m) == 4 && !strings.ContainsAny(h, " ")
}

// same reports whether d is what o describes: by content when both were
// read, else by stat signature.
func (d dest) same(o dest) bool {
	if d.content != "" && o.content != "" {
		return d.content == o.content
	}
	return d.sig == o.sig
}

// size is the size the signature recorded, or -1.
func (d dest) size() int64 {
	f := strings.Split(d.sig, ":")
	if len(f) != 6 {
		return -1
	}
	n, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// token is what a success records, as
// "CONTENT|SIGNATURE|INSTALLED[|AFTER-CONTENT|AFTER-SIGNATURE]": the
// destination as sysinit installed it (or found it in place), the content
// it installed ("HASH MODE"), and, when on-change rewrote the file (a
// formatter, a daemon that normalises its config), what was there after.
// The probe takes either for the file in place: installing the source
// again would make on-change rewrite it again, on every run. The cost is
// that a write by someone else during on-change — which sysinit cannot
// tell from on-change's own — counts as on-change's; the run says that the
// file changed under on-change, and any later change is drift.
type token struct {
	left      dest
	installed string
	after     dest
}

func (t token) String() string {
	s := t.left.content + "|" + t.left.sig + "|" + t.installed
	if t.after.exists() {
		s += "|" + t.after.content + "|" + t.after.sig
	}
	return s
}

// leftByOnChange reports whether d is what on-change left of the file
// sysinit installed at the last success: a regular file whose content was
// read and is that one (a link, a FIFO or a file read while it changed is
// never taken for it: their "content" is a word, not a hash).
func (t token) leftByOnChange(d dest) bool {
	return t.after.hashed() && d.hashed() && d.content == t.after.content
}

// rewritten reports whether on-change left something other than what
// sysinit installed at the last success; then only that counts as in
// place (putting the source back undoes what on-change did: a chmod 600,
// a normalisation).
func (t token) rewritten() bool { return t.after.exists() && t.after.content != "missing" }

func parseToken(s string) token {
	f := strings.Split(s, "|")
	var t token
	t.left.content = f[0]
	if len(f) > 1 {
		t.left.sig = f[1]
	}
	t.installed = t.left.content // recorded before the installed content was kept
	if len(f) > 2 {
		t.installed = f[2]
	}
	if len(f) > 4 {
		t.after = dest{content: f[3], sig: f[4]}
	}
	return t
}

// sizes is what sizes of the destination are worth reading: the ones d
// recorded.
func sizes(ds ...dest) []int64 {
	var out []int64
	for _, d := range ds {
		if n := d.size(); n >= 0 {
			out = append(out, n)
		}
	}
	return out
}

// readDest looks at path; a missing file is an error wrapping fs.ErrNotExist.
// A link at path is never followed (someone who can write the directory
// may have planted one to a huge file, a FIFO or a secret), and a file of a
// size not among sizes is not read: its content is none of the ones it is
// compared with, and it is judged by its signature (sizes nil: read
// whatever the size).
func readDest(path string, sizes ...int64) (dest, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return dest{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	sig := fingerprint.Signature(&st)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return dest{content: "symbolic link", sig: sig, link: true}, nil
	default:
		// Reading a FIFO or a device would block or never end; it is
		// not the file.
		return dest{content: "not a regular file", sig: sig}, nil
	}
	if sizes != nil && !slices.Contains(sizes, st.Size) {
		return dest{sig: sig, unread: true}, nil
	}
	sum, err := fingerprint.HashFileOfSize(path, st.Size)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return dest{sig: sig}, nil
	case errors.Is(err, fingerprint.ErrChanged), errors.Is(err, unix.ELOOP):
		return dest{content: "changed while read", sig: sig}, nil
	case err != nil:
		return dest{}, err
	}
	return dest{content: contentOf(sum, uint32(st.Mode)), sig: sig}, nil
}

// contentOf is how a destination's content is recorded: hash and
// permission bits, setuid, setgid and sticky included.
func contentOf(sum fingerprint.Sum, mode uint32) string {
	return fmt.Sprintf("%x %04o", sum[:], mode&0o7777)
}

func (f *File) Probe(_ context.Context, tok string) (string, error) {
	last := parseToken(tok)
	d, err := readDest(f.dest, sizes(last.left, last.after)...)
	if errors.Is(err, fs.ErrNotExist) {
		return f.dest + " is missing", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", f.dest, err)
	}
	switch {
	case d.link:
		return f.dest + " is a symbolic link, not the file sysinit installed", nil
	case last.leftByOnChange(d):
		return "", nil
	case last.rewritten():
		return f.dest + " was changed outside sysinit (it is not what on-change left there)", nil
	case d.content != "" && d.content != last.installed || d.content == "" && d.sig != last.left.sig:
		return f.dest + " was changed outside sysinit", nil
	}
	return "", nil
}

// wantMode returns the permission bits the destination gets, and the
// source's size.
func (f *File) wantMode() (fs.FileMode, int64, error) {
	fi, err := os.Stat(f.source)
	if err != nil {
		return 0, 0, err
	}
	if f.mode != 0 {
		return f.mode, fi.Size(), nil
	}
	return fi.Mode().Perm(), fi.Size(), nil
}

func (f *File) Run(ctx context.Context, rc *RunContext) (Outcome, error) {
	mode, size, err := f.wantMode()
	if err != nil {
		return Outcome{}, fmt.Errorf("reading %s: %w", f.source, err)
	}
	sum, err := fingerprint.HashFile(f.source)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading %s: %w", f.source, err)
	}
	want := contentOf(sum, uint32(mode))
	last := parseToken(rc.Token)
	have, err := readDest(f.dest, append(sizes(last.left, last.after), size)...)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Outcome{}, fmt.Errorf("reading %s: %w", f.dest, err)
	}
	note := "already in place"
	// A destination only root can read is installed again: sysinit
	// cannot tell what it holds.
	changed := have.content != want
	left := have
	var after dest
	if last.installed == want && last.rewritten() {
		// on-change made something of this very source last time: that,
		// and only that, is in place (the source's own bytes back there
		// undo it).
		changed = !last.leftByOnChange(have)
		if !changed {
			left, after = last.left, last.after
		}
	}
	if changed {
		// A destination that holds neither what the last success left
		// there nor what on-change made of it then was edited by hand (or
		// was there before sysinit): it is kept beside the new one.
		backup := ""
		if have.exists() && !have.same(last.left) && !have.same(last.after) {
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
		if left, err = readDest(f.dest, size); err != nil {
			return Outcome{}, fmt.Errorf("reading %s after installing it: %w", f.dest, err)
		}
		if left.content != "" && left.content != want {
			// Rewritten already, between the rename and this look.
			fmt.Fprintf(rc.Out, "warning: %s was rewritten as soon as it was installed; it will be installed again next run\n", f.dest)
			note += "; rewritten at once by someone else"
			left = dest{content: want, sig: left.sig}
		}
	} else {
		fmt.Fprintf(rc.Out, "%s already holds %s\n", f.dest, f.keys.Source)
	}
	sameAsLast := have.content == last.left.content || last.leftByOnChange(have)
	// on-change runs only when the file changed: sysinit just changed it;
	// or, since the last success, its content is another or someone changed
	// it (what reads it may hold the other version); or the step's last run
	// did not finish (it installed the file and then on-change failed, or
	// was stopped: nothing was recorded); or the user forced the step. A
	// first run that finds the file already in place leaves what reads it
	// alone.
	sinceLast := rc.Token != "" && (last.installed != want || !sameAsLast)
	if f.keys.OnChange != "" && (changed || sinceLast || rc.Unfinished || rc.Force) {
		rc.Progress("on-change: " + f.keys.OnChange)
		err := f.env.Exec.Run(ctx, &command.Cmd{
			Argv: []string{f.shell, "-c", f.keys.OnChange}, Dir: f.runDir, Env: Environ(f.s.Env),
			Stdout: rc.Out, Stderr: rc.Out, Sudo: f.sudo,
		})
		if err != nil {
			return Outcome{}, fmt.Errorf("on-change after installing %s: %w", f.dest, err)
		}
		note += ", on-change ran"
		// If the file is another now, on-change rewrote it (or someone
		// wrote it meanwhile: sysinit cannot tell which). What it left
		// counts as in place (see token); the run says so.
		after = dest{}
		a, err := readDest(f.dest)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			a = dest{content: "missing"}
		case err != nil:
			return Outcome{}, fmt.Errorf("reading %s after on-change: %w", f.dest, err)
		}
		if !a.same(left) {
			after = a
			fmt.Fprintf(rc.Out, "%s changed while on-change ran; what it holds now counts as in place (a later change is drift)\n", f.dest)
			note += "; " + f.dest + " changed while on-change ran"
		}
	}
	return Outcome{Token: token{left: left, installed: want, after: after}.String(), Note: note}, nil
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
	if err := checkSource(f.source, src, rootTrust()); err != nil {
		return fmt.Errorf("installing %s: %w", f.dest, err)
	}
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
