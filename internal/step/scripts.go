package step

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/sysinit/sysinit/internal/fingerprint"
)

// Executed lists the files under root that the shell command line cmd,
// run in dir, executes: `./scripts/install.sh`, `bash scripts/x.sh`,
// `sh -c ./x`, `. ./env.sh`, `python3 tools/gen.py`. An edit of such a
// file changes what the step does as surely as an edit of its command
// line, so it is an input whether listed or not. The paths are relative
// to root, slash-separated and sorted; files that do not exist are listed
// too (their appearance is a change).
//
// The analysis reads the command statically and errs towards listing
// more: a relative path is taken relative to dir and to every directory
// an earlier `cd` named; wrappers (env, sudo, nice -n N, timeout DUR, …)
// are seen through; a heredoc or a file fed to a shell, and eval's
// arguments, are read as command lines; make -C DIR reads DIR/Makefile;
// and any other word of the command that names an existing file of the
// repository by a path (`conf/app.yaml`, `x.py`) is listed too. A program
// found through PATH is not a file of the repo. A program named by a
// variable is in Analyze's Dirs. A command line that does not parse lists
// nothing: the shell will fail on it too.
func Executed(cmd, dir, root string) []string {
	return Analyze(cmd, dir, root).Files
}

// Analysis is what a command line is known to run.
type Analysis struct {
	Files []string // see Executed
	// Dirs are directories under root (slash-separated, "." for root)
	// every file of which may be what the command runs: a program named by
	// a variable, under the static directory its path starts with.
	Dirs []string
	// Why says, for each of Dirs, what made it one.
	Why []string
}

// Analyze reads cmd as Executed does, and also says where a program named
// by a variable may be.
func Analyze(cmd, dir, root string) Analysis {
	e := &executed{root: root, dirs: []string{dir}}
	e.line(cmd, 0)
	slices.Sort(e.files)
	a := Analysis{Files: slices.Compact(e.files)}
	for i, d := range e.dyn {
		if !slices.Contains(a.Dirs, d) {
			a.Dirs = append(a.Dirs, d)
			a.Why = append(a.Why, e.why[i])
		}
	}
	return a
}

type executed struct {
	root  string
	dirs  []string // the working directory, then each `cd` target seen
	files []string
	dyn   []string // directories (relative to root) a dynamic program may be in
	why   []string
}

// maxDepth bounds `sh -c` within `sh -c`.
const maxDepth = 4

var (
	shells = []string{"sh", "bash", "zsh", "dash", "ksh", "mksh", "fish"}
	// interpreters run their first operand as a program; the flags listed
	// take inline code or a module instead.
	interpreters = map[string][]string{
		"python": {"-c", "-m"}, "python3": {"-c", "-m"}, "python2": {"-c", "-m"},
		"perl": {"-e", "-E"}, "ruby": {"-e"}, "node": {"-e", "-p", "--eval", "--print"},
		"osascript": {"-e"}, "lua": {"-e"}, "php": {"-r"}, "tclsh": {}, "nu": {"-c"},
	}
	// wrappers run the rest of their arguments as a command: the flags
	// that take a value, and how many operands come before the command.
	wrappers = map[string]wrapper{
		"exec": {flags: []string{"-a"}}, "command": {}, "builtin": {}, "nohup": {}, "setsid": {},
		"time": {}, "caffeinate": {flags: []string{"-t", "-w"}},
		"env":     {flags: []string{"-u", "-C", "--unset", "--chdir", "-S", "--split-string"}},
		"sudo":    {flags: []string{"-u", "-g", "-p", "-C", "-D", "-h", "-r", "-t", "-T", "-U"}},
		"doas":    {flags: []string{"-u", "-C"}},
		"nice":    {flags: []string{"-n", "--adjustment"}},
		"ionice":  {flags: []string{"-c", "-n", "--class", "--classdata"}},
		"stdbuf":  {flags: []string{"-i", "-o", "-e"}},
		"timeout": {flags: []string{"-s", "-k", "--signal", "--kill-after"}, operands: 1},
		"chrt":    {operands: 1},
		"flock":   {flags: []string{"-w", "-E", "--timeout", "--conflict-exit-code"}, operands: 1},
		"xargs":   {flags: []string{"-I", "-L", "-n", "-P", "-d", "-E", "-a", "-s"}},
		"watch":   {flags: []string{"-n", "-d", "--interval"}},
	}
	// makes read a build file in their directory (-C DIR) or -f FILE.
	makes = map[string][]string{
		"make": {"Makefile", "makefile", "GNUmakefile"}, "gmake": {"Makefile", "makefile", "GNUmakefile"},
		"just": {"justfile", "Justfile", ".justfile"},
	}
	// writers are programs whose file operands are what they create,
	// change, remove or test; copiers read all but their last operand.
	writers = []string{"touch", "mkdir", "rm", "rmdir", "tee", "chmod", "chown", "chgrp", "ln", "mktemp", "truncate", "test", "[", "[[", "shred", "unlink"}
	copiers = []string{"cp", "mv", "install", "rsync", "scp"}
	// outsideVars name directories that are never the repository's: a
	// program under one is not a file of the repo.
	outsideVars = []string{"SYSINIT_OUT", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "PREFIX", "HOMEBREW_PREFIX"}
)

type wrapper struct {
	flags    []string // flags that take the next argument as their value
	operands int      // operands before the command (timeout's duration)
}

func (e *executed) line(cmd string, depth int) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		return
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if st, ok := n.(*syntax.Stmt); ok {
			e.stmt(cmd, st, depth)
		}
		return true
	})
}

// stmt looks at one statement: its simple command and what its
// redirections feed it.
func (e *executed) stmt(src string, st *syntax.Stmt, depth int) {
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return
	}
	var args []string
	for _, w := range c.Args {
		s, ok := staticWord(w)
		if !ok {
			s = "\x00" // a word sysinit cannot read: never a path
		}
		args = append(args, s)
	}
	args, words := unwrap(args, c.Args)
	stdinShell := false
	if len(args) > 0 {
		stdinShell = e.call(args, words, depth)
	}
	for _, r := range st.Redirs {
		switch {
		case r.Op == syntax.RdrIn && r.Word != nil:
			// A file read on stdin: a script when a shell reads it, data
			// otherwise; an input either way.
			if p, ok := staticWord(r.Word); ok {
				if stdinShell {
					e.file(p)
				} else {
					e.named(p)
				}
			}
		case (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc) && r.Hdoc != nil && stdinShell && depth < maxDepth:
			// A heredoc fed to a shell is a script: read its text as
			// written (an expansion in it stays one, and names nothing).
			if int(r.Hdoc.End().Offset()) <= len(src) {
				e.line(src[r.Hdoc.Pos().Offset():r.Hdoc.End().Offset()], depth+1)
			}
		}
	}
}

// call looks at one simple command, its wrappers removed; words are the
// syntax of args. It reports whether the command is a shell that reads its
// script from stdin.
func (e *executed) call(args []string, words []*syntax.Word, depth int) (stdinShell bool) {
	prog, rest := args[0], args[1:]
	if prog == "\x00" {
		e.dynamic(words[0], "its program")
		return false
	}
	switch base := path.Base(prog); {
	case slices.Contains(writers, base):
		// What they create, remove or test is their output, not what the
		// step reads: naming it would re-run the step once it exists.
	case slices.Contains(copiers, base):
		for i, a := range rest {
			if i < len(rest)-1 {
				e.named(a) // the sources; the last word is the destination
			}
		}
	default:
		for _, a := range rest {
			e.named(a)
		}
	}
	switch base := path.Base(prog); {
	case prog == "eval":
		for i, a := range rest {
			if a == "\x00" {
				e.dynamic(words[i+1], "eval's argument")
				return false
			}
		}
		if depth < maxDepth {
			e.line(strings.Join(rest, " "), depth+1)
		}
		return false
	case makes[base] != nil:
		e.program(prog)
		dir, file := ".", ""
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			switch {
			case (a == "-C" || a == "--directory") && i+1 < len(rest):
				dir, i = rest[i+1], i+1
			case strings.HasPrefix(a, "-C") && len(a) > 2:
				dir = a[2:]
			case (a == "-f" || a == "--file" || a == "--justfile") && i+1 < len(rest):
				file, i = rest[i+1], i+1
			}
		}
		if file != "" {
			e.file(path.Join(dir, file))
			return false
		}
		for _, f := range makes[base] {
			e.file(path.Join(dir, f))
		}
		return false
	}
	switch base := path.Base(prog); {
	case prog == "cd":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			e.cd(rest[0])
		}
		return false
	case prog == "." || prog == "source":
		if len(rest) > 0 {
			e.script(rest[0], words[1])
		}
		return false
	case slices.Contains(shells, base):
		e.program(prog)
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			switch {
			case a == "-c" || strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a[1:], "c"):
				if i+1 < len(rest) && rest[i+1] == "\x00" {
					e.dynamic(words[i+2], "the command line "+base+" -c runs")
				} else if i+1 < len(rest) && depth < maxDepth {
					e.line(rest[i+1], depth+1)
				}
				return false
			case a == "-o" || a == "+o":
				i++
			case a == "-s":
				return true // the script comes on stdin; the rest are its arguments
			case a == "--":
				if i+1 < len(rest) {
					e.script(rest[i+1], words[i+2])
					return false
				}
				return true
			case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
			default:
				e.script(a, words[i+1])
				return false
			}
		}
		return true
	}
	name := path.Base(prog)
	if _, ok := interpreters[name]; !ok {
		name = strings.TrimRight(name, "0123456789.") // python3.12
	}
	if inline, ok := interpreters[name]; ok {
		e.program(prog)
		for i, a := range rest {
			switch {
			case slices.Contains(inline, a):
				return false
			case a == "--":
				continue
			case strings.HasPrefix(a, "-"):
			default:
				e.script(a, words[i+1])
				return false
			}
		}
		return false
	}
	e.program(prog)
	return false
}

// script records the script a shell, an interpreter or `.` runs: a file,
// or, when a variable names it, a dynamic one.
func (e *executed) script(p string, w *syntax.Word) {
	if p == "\x00" {
		e.dynamic(w, "the script it runs")
		return
	}
	e.file(p)
}

// dynamic records that w, a word with an expansion, names a program or a
// script: every file under the static directory it starts with may be it;
// under the working directory, the whole repository. A word that starts
// with a variable naming a directory outside the repository ($SYSINIT_OUT,
// $HOME, ~) names no file of it.
func (e *executed) dynamic(w *syntax.Word, what string) {
	prefix := ""
	for i, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			prefix += unescape(p.Value)
			continue
		case *syntax.SglQuoted:
			prefix += p.Value
			continue
		case *syntax.ParamExp:
			if i == 0 && p.Param != nil && slices.Contains(outsideVars, p.Param.Value) {
				return
			}
		case *syntax.DblQuoted:
			if i == 0 && len(p.Parts) > 0 {
				if pe, ok := p.Parts[0].(*syntax.ParamExp); ok && pe.Param != nil && slices.Contains(outsideVars, pe.Param.Value) {
					return
				}
			}
			for _, q := range p.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					break
				}
				prefix += l.Value
			}
		}
		break
	}
	if strings.HasPrefix(prefix, "~") {
		return
	}
	text := wordText(w)
	dir := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i+1]
	}
	for _, base := range e.dirs {
		d := dir
		if !filepath.IsAbs(d) {
			d = filepath.Join(base, d)
		}
		rel, err := filepath.Rel(e.root, d)
		if err != nil {
			continue
		}
		if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			// Above the repository: the part of it sysinit watches is the
			// repository; elsewhere, none.
			if up, err := filepath.Rel(d, e.root); err != nil || up == ".." || strings.HasPrefix(up, ".."+string(filepath.Separator)) {
				continue
			}
			rel = "."
		}
		e.dyn = append(e.dyn, filepath.ToSlash(rel))
		where := "every file under " + filepath.ToSlash(rel)
		if rel == "." {
			where = "every file of the repository"
		}
		e.why = append(e.why, fmt.Sprintf("%s is %s, which sysinit cannot read before it runs: %s is an input", what, text, where))
	}
}

// wordText is w as written.
func wordText(w *syntax.Word) string {
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, w); err != nil {
		return "a word with expansions"
	}
	return b.String()
}

// scriptExts are the extensions of files a command line names as scripts
// or configuration when it names them without a directory.
var scriptExts = []string{".sh", ".bash", ".zsh", ".fish", ".py", ".rb", ".pl", ".js", ".mjs", ".cjs", ".ts", ".lua", ".nu", ".php", ".tcl", ".awk", ".sed", ".jq", ".mk", ".yaml", ".yml", ".toml", ".json", ".conf", ".cfg", ".ini", ".nix", ".txt", ".env"}

// named records a word of a command that names an existing regular file of
// the repository by a path ("conf/app.yaml", "./x") or by a name with a
// known extension ("setup.py"): what the command reads, as far as a word
// can tell. Over-listing costs a run; a miss, a wrong skip.
func (e *executed) named(p string) {
	if p == "" || strings.HasPrefix(p, "-") || strings.ContainsAny(p, "\x00$~*?[=") {
		return
	}
	if !strings.Contains(p, "/") && !slices.Contains(scriptExts, path.Ext(p)) {
		return
	}
	cands := []string{p}
	if !filepath.IsAbs(p) {
		cands = cands[:0]
		for _, d := range e.dirs {
			cands = append(cands, filepath.Join(d, p))
		}
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			e.add(c)
		}
	}
}

// program records the program a command starts when it is a path: a bare
// name is looked up in PATH, not in the repo.
func (e *executed) program(p string) {
	if strings.Contains(p, "/") {
		e.file(p)
	}
}

// unwrap drops wrappers (`env A=1 sudo -u x nice -n 5 timeout 9 ./run.sh`
// runs ./run.sh), and the words of what it dropped.
func unwrap(args []string, words []*syntax.Word) ([]string, []*syntax.Word) {
	for len(args) > 0 {
		w, ok := wrappers[path.Base(args[0])]
		if !ok {
			break
		}
		name := path.Base(args[0])
		args, words = args[1:], words[1:]
		operands := w.operands
	flags:
		for len(args) > 0 {
			a := args[0]
			switch {
			case a == "--":
				args, words = args[1:], words[1:]
				break flags
			case strings.HasPrefix(a, "-") && len(a) > 1:
				args, words = args[1:], words[1:]
				if slices.Contains(w.flags, a) && len(args) > 0 {
					args, words = args[1:], words[1:]
				}
				continue
			case name == "env" && strings.Contains(a, "=") && !strings.HasPrefix(a, "="):
				args, words = args[1:], words[1:]
				continue
			}
			break
		}
		for ; operands > 0 && len(args) > 0; operands-- {
			args, words = args[1:], words[1:]
		}
	}
	return args, words
}

// cd follows a static `cd`.
func (e *executed) cd(d string) {
	if strings.ContainsAny(d, "\x00$~") {
		return
	}
	for _, base := range slices.Clone(e.dirs) {
		target := d
		if !filepath.IsAbs(target) {
			target = filepath.Join(base, target)
		}
		if !slices.Contains(e.dirs, target) {
			e.dirs = append(e.dirs, target)
		}
	}
}

// file records p when it names a file under root. A bare name counts:
// `bash install.sh` reads it from the working directory.
func (e *executed) file(p string) {
	if p == "" || strings.ContainsAny(p, "\x00$~*?[") {
		return
	}
	var cands []string
	if filepath.IsAbs(p) {
		cands = []string{p}
	} else {
		for _, d := range e.dirs {
			cands = append(cands, filepath.Join(d, p))
		}
	}
	for _, c := range cands {
		e.add(c)
		// A link is followed to what it runs: in the repo, or outside it
		// through a linked file or directory (ext -> /elsewhere), where
		// it is an input by its absolute path.
		if real, err := filepath.EvalSymlinks(c); err == nil && real != c {
			if !e.inRoot(real) {
				if e.inRoot(c) { // a repo path the user wrote, not /bin/bash
					e.files = append(e.files, filepath.ToSlash(real))
				}
				continue
			}
			e.add(real)
		}
	}
}

func (e *executed) add(abs string) {
	rel, err := filepath.Rel(e.root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return
	}
	e.files = append(e.files, filepath.ToSlash(rel))
}

// inRoot reports whether abs lies below the repository, as reached or
// as it really is (/tmp and /private/tmp on macOS).
func (e *executed) inRoot(abs string) bool {
	below := func(root string) bool {
		rel, err := filepath.Rel(root, abs)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if below(e.root) {
		return true
	}
	r, err := filepath.EvalSymlinks(e.root)
	return err == nil && below(r)
}

// staticWord is w's value when it holds no expansion.
func staticWord(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value))
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unescape removes the backslashes of an unquoted literal.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// AddExecuted adds files, relative to cfgDir, to spec's explicit files.
// A spec rooted elsewhere (a file step's source outside the repo, a flake
// whose repository starts above it) takes them relative to its root when
// they fall under it, and by absolute path when they do not.
func AddExecuted(spec *fingerprint.Spec, cfgDir string, files []string) {
	// A program the step runs is an input whatever the step's patterns
	// exclude (`inputs = ["**", "!*.sh"]` means the other scripts): each
	// is included again after them.
	patterned := len(spec.Patterns) > 0
	for _, f := range files {
		switch {
		case filepath.IsAbs(f):
			// outside the repo, through a link
		case spec.Root == "" || spec.Root == cfgDir:
		default:
			abs := filepath.Join(cfgDir, f)
			rel, err := filepath.Rel(spec.Root, abs)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				f = abs
			} else {
				f = filepath.ToSlash(rel)
			}
		}
		spec.Files = append(spec.Files, f)
		if patterned {
			spec.Patterns = append(spec.Patterns, escapeGlob(filepath.ToSlash(f)))
		}
	}
}

// Scripted is implemented by kinds whose command lines may run files of
// the repository: `why` and `plan` say which command runs a changed file.
type Scripted interface {
	// Scripts maps each file its commands run (relative to the config
	// directory) to the key of the command that runs it.
	Scripts() map[string]string
}

// Script is a command line of a step, under the key that holds it.
type Script struct {
	Key, Cmd string
	Dir      string // where it runs
}

// ScriptsOf maps the files of the repository at cfgDir that the scripts
// run to the key of the first script that runs each. A directory a
// program named by a variable may be in is there as a pattern, DIR/** (**
// for the whole repository).
func ScriptsOf(cfgDir string, scripts ...Script) map[string]string {
	m := map[string]string{}
	for _, sc := range scripts {
		if sc.Cmd == "" {
			continue
		}
		a := Analyze(sc.Cmd, sc.Dir, cfgDir)
		for _, f := range a.Files {
			if _, ok := m[f]; !ok {
				m[f] = sc.Key
			}
		}
		for _, d := range a.Dirs {
			if _, ok := m[dirPattern(d)]; !ok {
				m[dirPattern(d)] = sc.Key
			}
		}
	}
	return m
}

func dirPattern(d string) string {
	if d == "." {
		return "**"
	}
	return d + "/**"
}

// ScriptNotes says, for plan and why, which of the scripts' programs are
// named by variables, and what became an input for each.
func ScriptNotes(cfgDir string, scripts ...Script) []string {
	var notes []string
	for _, sc := range scripts {
		if sc.Cmd == "" {
			continue
		}
		for _, w := range Analyze(sc.Cmd, sc.Dir, cfgDir).Why {
			notes = append(notes, sc.Key+": "+w)
		}
	}
	return notes
}

// AddScripts adds the files that scripts run to spec (see AddExecuted),
// and the directories a program named by a variable may be in as patterns.
func AddScripts(spec *fingerprint.Spec, scripts map[string]string, cfgDir string) {
	var files []string
	for _, f := range slices.Sorted(maps.Keys(scripts)) {
		if f != "**" && !strings.HasSuffix(f, "/**") {
			files = append(files, f)
			continue
		}
		// Relative to the spec's root, or absolute when the spec is
		// rooted elsewhere.
		if spec.Root == "" || spec.Root == cfgDir {
			spec.Patterns = append(spec.Patterns, f)
			continue
		}
		spec.Patterns = append(spec.Patterns, filepath.ToSlash(filepath.Join(cfgDir, f)))
	}
	AddExecuted(spec, cfgDir, files)
}
