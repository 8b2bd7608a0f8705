package step

import (
	"fmt"
	"maps"
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
// nothing: the shell will fail on it too. A shell script of the repo that
// the command runs is read the same way, transitively: what it sources,
// executes or hands to run-parts is listed too (see follow).
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
	// By says, for each of Files a script of the repository brought in
	// rather than the command line itself, how: "sourced by
	// scripts/install.sh", or a chain of them ("sourced by lib/a.sh,
	// executed by scripts/install.sh"), the last named by the command line.
	By map[string]string
}

// Analyze reads cmd as Executed does, and also says where a program named
// by a variable may be.
func Analyze(cmd, dir, root string) Analysis {
	a, _ := derive(cmd, dir, root)
	return a
}

// derive is Analyze, and the look-ups of the filesystem it made.
func derive(cmd, dir, root string) (Analysis, *fsys) {
	derivations.Add(1)
	e := &executed{root: root, dirs: []string{dir}, in: &frame{}, fs: &fsys{}}
	e.line(cmd, 0)
	slices.Sort(e.files)
	a := Analysis{Files: slices.Compact(e.files)}
	for _, f := range a.Files {
		if by := e.chain(f); by != "" {
			if a.By == nil {
				a.By = map[string]string{}
			}
			a.By[f] = by
		}
	}
	for i, d := range e.dyn {
		j := slices.Index(a.Dirs, d)
		switch {
		case j < 0:
			a.Dirs = append(a.Dirs, d)
			a.Why = append(a.Why, e.why[i])
		case a.Why[j] == "":
			a.Why[j] = e.why[i] // a note beats none
		}
	}
	return a, e.fs
}

type executed struct {
	fs    *fsys // every look-up of the filesystem goes through it
	root  string
	dirs  []string // the working directory, then each `cd` target seen
	files []string
	dyn   []string // directories (relative to root) a dynamic program may be in
	why   []string

	in    *frame          // the script being read; its script is "" for the command line
	top   map[string]bool // files the command line itself names
	via   map[string]via  // how a script brought in each other file, the first time
	stack []string        // the scripts being read, by real path: a cycle ends
	done  map[string]bool // scripts read already, by real path and context
	// lost is the target of a `cd` sysinit cannot read (`cd "$(git
	// rev-parse --show-toplevel)/x"`): a relative path run after it may
	// be anywhere, so it makes what lost may name an input (see relative).
	lost   *syntax.Word
	lostIn *frame // the script whose variables lost's word reads
	// pathDirs are directories of the repository a script put in PATH,
	// where a program it runs by name may be; pathLost, a part of PATH
	// sysinit cannot read.
	pathDirs []string
	pathLost *syntax.Word
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
	sum := summarize(f)
	if depth == 0 {
		e.in.assigned(sum.assigns, e)
	}
	e.path(sum.paths)
	e.env(sum.envs)
	e.walk(cmd, sum.stmts, depth)
}

// walk looks at statements parsed from src.
func (e *executed) walk(src string, stmts []*syntax.Stmt, depth int) {
	for _, st := range stmts {
		e.stmt(src, st, depth)
	}
}

// summary is what of a parsed script may run or name a file, in order:
// the statements that may, and the variables it assigns.
type summary struct {
	stmts   []*syntax.Stmt
	assigns []assignment
	// paths are the values the script assigns PATH: a program it runs
	// by name may be found in a directory of the repository.
	paths []*syntax.Word
	// envs are the values it assigns BASH_ENV or ENV: a file every bash
	// (or sh -i) it starts sources.
	envs []*syntax.Word
}

func summarize(f *syntax.File) summary {
	var sum summary
	sure := map[*syntax.Assign]bool{}
	var top func([]*syntax.Stmt)
	top = func(stmts []*syntax.Stmt) {
		for _, st := range stmts {
			switch c := st.Cmd.(type) {
			case *syntax.CallExpr:
				if len(c.Args) == 0 {
					for _, a := range c.Assigns {
						sure[a] = true
					}
				}
			case *syntax.DeclClause:
				for _, a := range c.Args {
					sure[a] = true
				}
			case *syntax.Block:
				top(c.Stmts)
			case *syntax.FuncDecl:
				if c.Body != nil {
					top([]*syntax.Stmt{c.Body})
				}
			}
		}
	}
	top(f.Stmts)
	var calls []*syntax.Stmt // every simple command, or one that is not inert
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Stmt:
			if _, call := n.Cmd.(*syntax.CallExpr); !inert(n) || call {
				calls = append(calls, n)
			}
			if !inert(n) {
				sum.stmts = append(sum.stmts, n)
			}
		case *syntax.CallExpr:
			if len(n.Args) > 0 {
				// FOO=x cmd: for cmd only. But cmd may set variables
				// itself (read F, printf -v F): to what sysinit cannot
				// read.
				for _, name := range setBy(n.Args) {
					sum.assigns = append(sum.assigns, assignment{name: name})
				}
				return true
			}
			for _, a := range n.Assigns {
				sum.assigns = append(sum.assigns, plain(a, sure[a]))
			}
		case *syntax.DeclClause:
			// declare -n F=G: F stands for G, whose value sysinit does
			// not follow.
			ref := n.Variant.Value == "nameref"
			for _, a := range n.Args {
				if a.Name != nil || a.Value == nil {
					continue
				}
				if f, ok := staticWord(a.Value); a.Naked && ok && strings.HasPrefix(f, "-") && strings.Contains(f, "n") {
					ref = true
				}
			}
			for _, a := range n.Args {
				switch {
				case a.Name != nil && ref:
					sum.assigns = append(sum.assigns, assignment{name: a.Name.Value})
				case a.Name != nil && !a.Naked:
					sum.assigns = append(sum.assigns, plain(a, sure[a]))
				}
			}
		case *syntax.BinaryArithm:
			// let F=1, ((F+=1)): a number, but one sysinit does not work out.
			if w, ok := n.X.(*syntax.Word); ok && arithAssigns(n.Op) {
				if name, ok := staticWord(w); ok {
					sum.assigns = append(sum.assigns, assignment{name: name})
				}
			}
		case *syntax.UnaryArithm:
			if w, ok := n.X.(*syntax.Word); ok && (n.Op == syntax.Inc || n.Op == syntax.Dec) {
				if name, ok := staticWord(w); ok {
					sum.assigns = append(sum.assigns, assignment{name: name})
				}
			}
		case *syntax.ParamExp:
			// ${F:=x} assigns F when it is unset: a value that depends on
			// the environment.
			if n.Param != nil && n.Exp != nil && (n.Exp.Op == syntax.AssignUnset || n.Exp.Op == syntax.AssignUnsetOrNull) {
				sum.assigns = append(sum.assigns, assignment{name: n.Param.Value})
			}
		case *syntax.Assign:
			if n.Name != nil && (n.Name.Value == "BASH_ENV" || n.Name.Value == "ENV") {
				if n.Value != nil {
					sum.envs = append(sum.envs, n.Value)
				} else {
					sum.envs = append(sum.envs, &syntax.Word{Parts: []syntax.WordPart{&syntax.CmdSubst{}}})
				}
			}
			if n.Name != nil && n.Name.Value == "PATH" {
				if n.Value != nil {
					sum.paths = append(sum.paths, n.Value)
				} else {
					sum.paths = append(sum.paths, &syntax.Word{Parts: []syntax.WordPart{&syntax.CmdSubst{}}})
				}
			}
		case *syntax.WordIter:
			if n.Name != nil {
				// Set for the body it runs, the only place it is used.
				sum.assigns = append(sum.assigns, assignment{n.Name.Value, n.Items, true})
			}
		}
		return true
	})
	if len(sum.paths) > 0 {
		// A name the script runs may be a program of the repository.
		sum.stmts = calls
	}
	return sum
}

// arithAssigns reports whether op assigns its left operand (=, +=, …).
func arithAssigns(op syntax.BinAritOperator) bool {
	return op == syntax.Assgn || op >= syntax.AddAssgn && op <= syntax.PowAssgn
}

// setBy names the variables the command args sets by itself, rather than
// by an assignment: read's, printf -v's, mapfile's, getopts', and
// those eval's static text assigns.
func setBy(args []*syntax.Word) []string {
	words := make([]string, len(args))
	for i, w := range args {
		words[i], _ = staticWord(w) // "" when not static: names nothing
	}
	isName := func(s string) bool {
		if s == "" || s[0] >= '0' && s[0] <= '9' {
			return false
		}
		for _, c := range s {
			if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
				return false
			}
		}
		return true
	}
	// operands is the words after options, those in valued taking the
	// next word (and -a NAME, whose value is a name set).
	operands := func(rest []string, valued string) (names, ops []string) {
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			switch {
			case a == "--":
				return names, append(ops, rest[i+1:]...)
			case strings.HasPrefix(a, "-") && len(a) > 1:
				if f := a[len(a)-1:]; strings.Contains(valued, f) && i+1 < len(rest) {
					if f == "a" || f == "v" {
						names = append(names, rest[i+1])
					}
					i++
				}
			default:
				ops = append(ops, a)
			}
		}
		return names, ops
	}
	var out []string
	switch words[0] {
	case "read":
		names, ops := operands(words[1:], "adinNptu")
		out = append(append(out, names...), ops...)
		out = append(out, "REPLY")
	case "printf":
		names, _ := operands(words[1:], "v")
		out = names
	case "mapfile", "readarray":
		_, ops := operands(words[1:], "dnOsuCc")
		out = append(ops, "MAPFILE")
	case "getopts":
		if len(words) > 2 {
			out = append(out, words[2], "OPTARG")
		}
	case "eval":
		code := strings.Join(words[1:], " ")
		if f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(code), ""); err == nil {
			for _, a := range summarize(f).assigns {
				out = append(out, a.name)
			}
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return !isName(s) })
}

// inert reports whether st can neither run nor name a file of the
// repository, whatever its context: a compound statement (its parts are
// statements of their own), or a simple command of literal words whose
// program is found through PATH and is none that stmt looks into, and
// whose arguments name no path. Most of a script is; skipping it keeps a
// plan cheap.
func inert(st *syntax.Stmt) bool {
	for _, r := range st.Redirs {
		if r.Op == syntax.RdrIn || r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc || r.Op == syntax.WordHdoc {
			return false
		}
	}
	if _, ok := pipedShell(st); ok {
		return false
	}
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return true
	}
	if len(c.Args) > 0 {
		if s, ok := staticWord(c.Args[0]); ok && slices.Contains(writers, s) {
			return true // what they name is their output (see call)
		}
	}
	for i, w := range c.Args {
		s, ok := staticWord(w)
		if !ok || strings.Contains(s, "/") {
			return false
		}
		if i > 0 {
			if slices.Contains(scriptExts, path.Ext(s)) {
				return false
			}
			continue
		}
		name := strings.TrimRight(s, "0123456789.")
		switch {
		case s == "." || s == "source" || s == "cd" || s == "pushd" || s == "eval" || s == "trap" || s == "find" || s == "run-parts",
			s == "alias" || s == "su" || s == "runuser" || s == "script",
			slices.Contains(shells, s), isWrapper(s),
			makes[s] != nil, interpreters[s] != nil || interpreters[name] != nil:
			return false
		}
	}
	return true
}

func isWrapper(name string) bool {
	_, ok := wrappers[name]
	return ok
}

// pipedShell reports whether st is a pipe into a shell that reads its
// script from it (`cat x | bash`, `… | sh -s`), and returns the command
// that writes the script.
func pipedShell(st *syntax.Stmt) (*syntax.Stmt, bool) {
	b, ok := st.Cmd.(*syntax.BinaryCmd)
	if !ok || b.Op != syntax.Pipe && b.Op != syntax.PipeAll {
		return nil, false
	}
	c, ok := b.Y.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) == 0 {
		return nil, false
	}
	args := make([]string, len(c.Args))
	for i, w := range c.Args {
		args[i], _ = staticWord(w)
	}
	args, _ = unwrap(args, c.Args)
	if len(args) == 0 || !slices.Contains(shells, path.Base(args[0])) {
		return nil, false
	}
	for _, a := range args[1:] {
		switch {
		case a == "-s" || a == "--":
			return b.X, true
		case a == "-c" || strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a[1:], "c"):
			return nil, false
		case !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+"):
			return nil, false // a script operand: it reads that
		}
	}
	return b.X, true
}

// piped looks at what writes the script a shell reads from a pipe: the
// files `cat` gives it, nothing from the network, and otherwise what
// sysinit cannot read.
func (e *executed) piped(x *syntax.Stmt) {
	if c, ok := x.Cmd.(*syntax.CallExpr); ok && len(c.Args) > 0 {
		if len(c.Args) > 0 && fetched(&syntax.CmdSubst{Stmts: []*syntax.Stmt{x}}) {
			return
		}
		if name, ok := staticWord(c.Args[0]); ok && name == "cat" {
			known := true
			for _, w := range c.Args[1:] {
				vals := e.in.resolve(w, e)
				if len(vals) == 0 {
					known = false
					break
				}
				for _, p := range vals {
					if !strings.HasPrefix(p, "-") {
						e.file(p, how{verb: "run", follow: asShell})
					}
				}
			}
			if known && len(c.Args) > 1 {
				return
			}
		}
	}
	e.anywhere("a shell runs what a pipe feeds it, which sysinit cannot read before it runs")
}

// stmt looks at one statement: its simple command and what its
// redirections feed it.
func (e *executed) stmt(src string, st *syntax.Stmt, depth int) {
	if x, ok := pipedShell(st); ok {
		e.piped(x)
		return
	}
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		// `while read -r l; do …; done < list.txt`: data it reads.
		for _, r := range st.Redirs {
			if r.Op == syntax.RdrIn && r.Word != nil {
				for _, p := range e.in.resolve(r.Word, e) {
					e.named(p)
				}
			}
		}
		return
	}
	// Each word is what it surely is, or one of the few values a
	// variable of the script takes; each combination is looked at.
	args := make([]string, len(c.Args))
	var alts [][]string // only when a word has several values
	n := 1
	for i, w := range c.Args {
		if s, ok := staticWord(w); ok {
			args[i] = s
			continue
		}
		vals := e.in.resolve(w, e)
		if len(vals) == 0 || n*len(vals) > maxAlts {
			vals = []string{"\x00"} // a word sysinit cannot read: never a path
		}
		args[i] = vals[0]
		if len(vals) > 1 {
			if alts == nil {
				alts = make([][]string, len(c.Args))
				for j := range args[:i] {
					alts[j] = []string{args[j]}
				}
			}
			n *= len(vals)
		}
		if alts != nil {
			alts[i] = vals
		}
	}
	for j := range alts { // the static words after the first with several values
		if alts[j] == nil {
			alts[j] = []string{args[j]}
		}
	}
	all := [][]string{args}
	if alts != nil {
		all = combinations(alts)
	}
	stdinShell := false
	for _, args := range all {
		fed := slices.ContainsFunc(args, func(a string) bool { return path.Base(a) == "xargs" })
		args, words := unwrap(args, c.Args)
		if fed && len(args) > 0 && runsOperand(args[0]) {
			// xargs adds the words it reads to the command: a script
			// sysinit cannot name.
			e.anywhere("xargs hands " + path.Base(args[0]) + " what it reads on stdin, which sysinit cannot read before it runs")
		}
		if len(args) > 0 && e.call(args, words, depth) {
			stdinShell = true
		}
	}
	for _, r := range st.Redirs {
		switch {
		case r.Op == syntax.RdrIn && r.Word != nil:
			// A file read on stdin: a script when a shell reads it, data
			// otherwise; an input either way.
			for _, p := range e.in.resolve(r.Word, e) {
				if stdinShell {
					e.file(p, how{verb: "run", follow: asShell})
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
		case r.Op == syntax.WordHdoc && r.Word != nil && stdinShell && depth < maxDepth:
			// bash <<< '. ./x': the word is the script.
			if code, ok := staticWord(r.Word); ok {
				e.line(code, depth+1)
			} else if len(r.Word.Parts) == 0 || !fetched(r.Word.Parts[0]) {
				e.dynamicLine(r.Word, "the script a here-string feeds a shell")
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
		if e.in.script != "" && positional(words[0]) {
			// "$@" in a script runs the words it was given, which the
			// command or script that called it names, and so lists.
			return false
		}
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
				e.dynamicLine(words[i+1], "eval's argument")
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
			e.file(path.Join(dir, file), how{verb: "read"})
			return false
		}
		for _, f := range makes[base] {
			e.file(path.Join(dir, f), how{verb: "read"})
		}
		return false
	case base == "run-parts":
		if i := runPartsDir(rest); i >= 0 {
			e.runParts(rest[i], words[i+1])
		}
		return false
	case prog == "trap":
		// trap CMD SIGNAL…: CMD is a command line, run later.
		for i, a := range rest {
			switch {
			case a == "--":
				continue
			case a == "\x00":
				e.dynamicLine(words[i+1], "the command line trap runs")
			case !strings.HasPrefix(a, "-") && depth < maxDepth:
				e.line(a, depth+1)
			}
			break
		}
		return false
	case base == "find":
		e.find(rest, words[1:], depth)
		return false
	case prog == "alias":
		// alias NAME='. ./x': with expand_aliases, NAME runs the value.
		for i, a := range rest {
			if _, code, ok := strings.Cut(a, "="); ok && !strings.HasPrefix(a, "-") {
				if strings.Contains(a, "\x00") {
					e.dynamicLine(words[i+1], "the command line an alias runs")
				} else if depth < maxDepth {
					e.line(code, depth+1)
				}
			}
		}
		return false
	case base == "su" || base == "runuser" || base == "script":
		// su -c CMD, runuser -c CMD, script -c CMD: a command line.
		for i, a := range rest {
			if (a == "-c" || a == "--command" || base == "script" && strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.HasSuffix(a, "c")) && i+1 < len(rest) {
				if rest[i+1] == "\x00" {
					e.dynamicLine(words[i+2], "the command line "+base+" -c runs")
				} else if depth < maxDepth {
					e.line(rest[i+1], depth+1)
				}
				return false
			}
		}
		if base == "runuser" {
			// runuser -u USER -- CMD…
			if i := slices.Index(rest, "--"); i >= 0 && i+1 < len(rest) {
				return e.call(rest[i+1:], words[i+2:], depth)
			}
		}
		return false
	}
	switch base := path.Base(prog); {
	case prog == "cd" || prog == "pushd":
		for i, a := range rest {
			if a == "--" || strings.HasPrefix(a, "-") && a != "-" {
				continue
			}
			if a == "\x00" {
				if !startsOutside(words[i+1], e.in) && !fetched(words[i+1].Parts[0]) {
					e.lost, e.lostIn = words[i+1], e.in
				}
			} else if a != "-" {
				e.cd(a)
			}
			break
		}
		return false
	case prog == "." || prog == "source":
		if len(rest) > 0 {
			e.script(rest[0], words[1], how{verb: "sourced", follow: asSource, lang: e.in.lang})
		}
		return false
	case slices.Contains(shells, base):
		e.program(prog)
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			switch {
			case a == "-c" || strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a[1:], "c"):
				// The command string is the first operand after the
				// options (sh -c -e CMD, sh -c -- CMD).
				j := i + 1
				for ; j < len(rest) && rest[j] != "\x00" && (strings.HasPrefix(rest[j], "-") || strings.HasPrefix(rest[j], "+")) && rest[j] != "-" && rest[j] != "+"; j++ {
					if rest[j] == "--" {
						j++
						break
					}
					if rest[j] == "-o" || rest[j] == "+o" {
						j++
					}
				}
				if j < len(rest) && rest[j] == "\x00" {
					e.dynamicLine(words[j+1], "the command line "+base+" -c runs")
				} else if j < len(rest) && depth < maxDepth {
					e.line(rest[j], depth+1)
				}
				return false
			case a == "-o" || a == "+o":
				i++
			case a == "-s":
				return true // the script comes on stdin; the rest are its arguments
			case a == "--":
				if i+1 < len(rest) {
					e.script(rest[i+1], words[i+2], shellRuns(base))
					return false
				}
				return true
			case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
			default:
				e.script(a, words[i+1], shellRuns(base))
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
				e.script(a, words[i+1], how{verb: "run"})
				return false
			}
		}
		return false
	}
	e.program(prog)
	return false
}

// runsOperand reports whether prog runs a file it is given as code: a
// shell, an interpreter, `.`, or a program its argument names.
func runsOperand(prog string) bool {
	base := path.Base(prog)
	name := strings.TrimRight(base, "0123456789.")
	return prog == "." || prog == "source" || prog == "\x00" || slices.Contains(shells, base) ||
		interpreters[base] != nil || interpreters[name] != nil
}

// find looks at `find START… EXPR`: the commands its -exec, -execdir, -ok
// and -okdir run, and, when one is handed the files found ({}) to run or
// read, every file under the starting points.
func (e *executed) find(args []string, words []*syntax.Word, depth int) {
	var starts []int
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "-H" || a == "-L" || a == "-P" {
			continue
		}
		if strings.HasPrefix(a, "-") || a == "(" || a == "!" {
			break
		}
		starts = append(starts, i)
	}
	for ; i < len(args); i++ {
		switch args[i] {
		case "-exec", "-execdir", "-ok", "-okdir":
		default:
			continue
		}
		j := i + 1
		for j < len(args) && args[j] != ";" && args[j] != "+" {
			j++
		}
		cmd, ws := slices.Clone(args[i+1:j]), words[i+1:j]
		i = j
		if len(cmd) == 0 {
			continue
		}
		handed := false
		for k, a := range cmd {
			if strings.Contains(a, "{}") {
				handed = true
				cmd[k] = ""
			}
		}
		if handed && !slices.Contains(writers, path.Base(args[i-len(cmd)])) {
			what := "find hands the files it finds to " + wordText(ws[0])
			if len(starts) == 0 {
				e.anywhereUnder(".", what)
			}
			for _, k := range starts {
				if args[k] == "\x00" {
					e.dynamic(words[k], "where "+what+" starts")
					continue
				}
				e.anywhereUnder(args[k], what)
			}
		}
		if cmd[0] != "" {
			e.call(cmd, ws, depth)
		}
	}
}

// anywhere records that what a command runs may be any file of the
// repository, and why.
func (e *executed) anywhere(why string) {
	e.dyn = append(e.dyn, ".")
	e.why = append(e.why, e.in.prefix()+why+": every file of the repository is an input")
}

// anywhereUnder records that what a command runs may be any file under
// dir (relative to the working directories), and why.
func (e *executed) anywhereUnder(dir, why string) {
	if strings.ContainsAny(dir, "$~") {
		return
	}
	bases := e.dirs
	if e.lost != nil && !filepath.IsAbs(dir) {
		bases = []string{e.root}
		dir = "."
	}
	for _, base := range bases {
		d := dir
		if !filepath.IsAbs(d) {
			d = filepath.Join(base, d)
		}
		rel, err := filepath.Rel(e.root, d)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		e.dyn = append(e.dyn, filepath.ToSlash(rel))
		if rel == "." {
			e.why = append(e.why, e.in.prefix()+why+": every file of the repository is an input")
		} else {
			e.why = append(e.why, e.in.prefix()+why+": every file under "+filepath.ToSlash(rel)+" is an input")
		}
	}
}

// script records the script a shell, an interpreter or `.` runs: a file,
// or, when a variable names it, a dynamic one.
func (e *executed) script(p string, w *syntax.Word, h how) {
	if p == "\x00" {
		if h.follow == asSource {
			e.dynamic(w, "the script it sources")
			return
		}
		e.dynamic(w, "the script it runs")
		return
	}
	e.file(p, h)
}

// dynamic records that w, a word with an expansion, names a program or a
// script: every file under the static directory it starts with may be it;
// under the working directory, the whole repository. A word that starts
// with a variable naming a directory outside the repository ($SYSINIT_OUT,
// $HOME, ~) names no file of it.
func (e *executed) dynamic(w *syntax.Word, what string) {
	e.dynamicWord(w, what, false)
}

// dynamicLine is dynamic for a command line (sh -c, eval, trap, su -c, a
// here-string fed to a shell) that expands something: what it runs may be
// anywhere in the repository. Its static start is no directory to narrow
// to: "sh scripts/run.sh $X" runs scripts/run.sh, not a file under
// "sh scripts"; "scripts/$X.sh; . ./lib.sh" sources lib.sh too; and
// "scripts/$X" runs whatever command $X completes, ../lib.sh; . ./x
// included.
func (e *executed) dynamicLine(w *syntax.Word, what string) {
	e.dynamicWord(w, what, true)
}

func (e *executed) dynamicWord(w *syntax.Word, what string, line bool) {
	// The static start of the word: literals, and what the script's
	// variables surely hold ("$SCRIPT_DIR/lib/$NAME.sh" starts in lib/).
	type part struct {
		p      syntax.WordPart
		quoted bool
	}
	var flat []part
	for _, p := range w.Parts {
		if dq, ok := p.(*syntax.DblQuoted); ok {
			for _, q := range dq.Parts {
				flat = append(flat, part{q, true})
			}
			continue
		}
		flat = append(flat, part{p, false})
	}
	if len(flat) > 0 && fetched(flat[0].p) {
		return
	}
	prefix, known := "", 0
	for i, p := range flat {
		if pe, ok := p.p.(*syntax.ParamExp); ok && i == 0 && pe.Param != nil && e.in.outside(pe.Param.Value) {
			return
		}
		vals := e.in.parts([]syntax.WordPart{p.p}, p.quoted, e)
		if len(vals) != 1 {
			break
		}
		prefix += vals[0]
		known++
	}
	if strings.HasPrefix(prefix, "~") {
		return
	}
	text := wordText(w)
	dir := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i+1]
	}
	bases := e.dirs
	if known == 0 && len(flat) > 0 || e.lost != nil && !filepath.IsAbs(dir) || line {
		// It starts with what sysinit cannot read, which may be an
		// absolute path ("$(git rev-parse --show-toplevel)/x"), or counts
		// from a directory sysinit cannot read: anywhere in the
		// repository, not only under the working directory.
		dir, bases = e.root, []string{e.root}
	}
	for _, base := range bases {
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
		e.why = append(e.why, e.in.prefix()+fmt.Sprintf("%s is %s, which sysinit cannot read before it runs: %s is an input", what, text, where))
	}
}

// fetched reports whether p is the output of curl or wget
// (`sh -c "$(curl -fsSL https://…/install.sh)"`): a program from the
// network, not a file of the repository.
func fetched(p syntax.WordPart) bool {
	cs, ok := p.(*syntax.CmdSubst)
	if !ok || len(cs.Stmts) != 1 {
		return false
	}
	c, ok := cs.Stmts[0].Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) == 0 {
		return false
	}
	name, ok := staticWord(c.Args[0])
	if !ok {
		return false
	}
	for _, a := range c.Args[1:] {
		if s, ok := staticWord(a); ok && strings.HasPrefix(s, "file:") {
			return false // a file after all, maybe the repo's
		}
	}
	return name == "curl" || name == "wget"
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
		if e.fs.regular(c) {
			e.add(c, "named")
		}
	}
}

// program records the program a command starts when it is a path: a bare
// name is looked up in PATH, not in the repo.
func (e *executed) program(p string) {
	if strings.Contains(p, "/") {
		e.file(p, how{verb: "executed", follow: asProgram})
		return
	}
	// Unless a script put a directory of the repository in PATH.
	if e.pathLost != nil {
		e.dynamic(e.pathLost, "the PATH it finds "+p+" in")
	}
	for _, d := range e.pathDirs {
		e.file(filepath.Join(d, p), how{verb: "executed", follow: asProgram})
	}
}

// path records the directories of the repository the values ws put in
// PATH (`PATH="$(dirname "$0")/bin:$PATH"`), and, when one holds what
// sysinit cannot read, that word. $PATH itself, and directories outside
// the repository, add nothing.
func (e *executed) path(ws []*syntax.Word) {
	for _, w := range ws {
		// The word's parts, split at each ':' of its literals.
		var comps [][]syntax.WordPart
		cur := []syntax.WordPart{}
		var split func(ps []syntax.WordPart, quoted bool)
		split = func(ps []syntax.WordPart, quoted bool) {
			for _, p := range ps {
				switch p := p.(type) {
				case *syntax.Lit:
					fields := strings.Split(p.Value, ":")
					for i, f := range fields {
						if i > 0 {
							comps, cur = append(comps, cur), []syntax.WordPart{}
						}
						if f != "" {
							cur = append(cur, &syntax.Lit{Value: f})
						}
					}
				case *syntax.DblQuoted:
					split(p.Parts, true)
				default:
					cur = append(cur, p)
				}
			}
		}
		split(w.Parts, false)
		comps = append(comps, cur)
		for _, c := range comps {
			if len(c) == 0 {
				continue
			}
			if pe, ok := c[0].(*syntax.ParamExp); ok && pe.Param != nil && len(c) == 1 && pe.Param.Value == "PATH" {
				continue
			}
			cw := &syntax.Word{Parts: c}
			if startsOutside(cw, e.in) {
				continue
			}
			vals := e.in.resolve(cw, e)
			if len(vals) == 0 {
				if e.pathLost == nil {
					e.pathLost = cw
				}
				continue
			}
			for _, v := range vals {
				if !filepath.IsAbs(v) {
					for _, d := range e.dirs {
						e.pathDir(filepath.Join(d, v))
					}
					continue
				}
				e.pathDir(filepath.Clean(v))
			}
		}
	}
}

// env records the files the values ws give BASH_ENV or ENV, which a
// shell the script starts sources first.
func (e *executed) env(ws []*syntax.Word) {
	for _, w := range ws {
		if len(w.Parts) == 0 || startsOutside(w, e.in) {
			continue
		}
		vals := e.in.resolve(w, e)
		if len(vals) == 0 {
			e.dynamic(w, "the file BASH_ENV names")
			continue
		}
		for _, v := range vals {
			if v != "" {
				e.file(v, how{verb: "sourced", follow: asShell, lang: syntax.LangBash})
			}
		}
	}
}

func (e *executed) pathDir(d string) {
	if e.inRoot(d) && !slices.Contains(e.pathDirs, d) {
		e.pathDirs = append(e.pathDirs, d)
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
		repl := "" // xargs -I R: R in a word stands for what xargs reads
	flags:
		for len(args) > 0 {
			a := args[0]
			switch {
			case name == "command" && (a == "-v" || a == "-V"):
				return nil, nil // says what a name is; runs nothing
			case a == "--":
				args, words = args[1:], words[1:]
				break flags
			case name == "xargs" && (a == "-i" || a == "--replace"):
				repl = "{}"
			case name == "xargs" && strings.HasPrefix(a, "-I") && len(a) > 2:
				repl = a[2:]
			case name == "xargs" && strings.HasPrefix(a, "--replace="):
				repl = strings.TrimPrefix(a, "--replace=")
			case name == "xargs" && a == "-I" && len(args) > 1:
				repl = args[1]
			}
			switch {
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
		if repl != "" {
			// sh scripts/{}.sh names a script per line read: none that
			// sysinit can name (the caller saw xargs, and says so).
			args = slices.Clone(args)
			for i, a := range args {
				if strings.Contains(a, repl) {
					args[i] = "\x00"
				}
			}
		}
	}
	return args, words
}

// relative records, for a relative path p a script runs after a `cd`
// sysinit cannot read, that the directory it changed to may be anywhere
// its word may name: the whole repository when nothing of it is static.
func (e *executed) relative(p string) {
	if e.lost == nil || filepath.IsAbs(p) {
		return
	}
	in := e.in
	e.in = e.lostIn
	e.dynamic(e.lost, "the directory it changes to before it runs "+p)
	e.in = in
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

// file records p when it names a file under root, and reads it as h says
// when it is a script. A bare name counts: `bash install.sh` reads it from
// the working directory. A pattern (`for f in hooks/*.sh; do . "$f"`)
// names every file it may match.
func (e *executed) file(p string, h how) {
	if p == "" || strings.ContainsAny(p, "\x00$~") {
		return
	}
	e.relative(p)
	if strings.ContainsAny(p, "*?[") {
		e.pattern(p, h)
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
		e.add(c, h.verb)
		// A link is followed to what it runs: in the repo, or outside it
		// through a linked file or directory (ext -> /elsewhere), where
		// it is an input by its absolute path.
		if real, ok := e.fs.evalSymlinks(c); ok && real != c {
			switch {
			case e.inRoot(real):
				e.add(real, h.verb)
			case e.inRoot(c): // a repo path the user wrote, not /bin/bash
				e.files = append(e.files, filepath.ToSlash(real))
			default:
				continue
			}
		}
		if h.follow != noFollow {
			e.follow(c, h)
		}
	}
}

// add records abs when it lies under root, and, when a script of the
// repository (not the command line) names it, which one and how.
func (e *executed) add(abs, verb string) {
	rel, err := filepath.Rel(e.root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return
	}
	rel = filepath.ToSlash(rel)
	e.files = append(e.files, rel)
	if e.in.script == "" {
		if e.top == nil {
			e.top = map[string]bool{}
		}
		e.top[rel] = true
		return
	}
	// The first script to bring rel in says how; one that runs it beats
	// one that merely names it (`. ./lib.sh` names ./lib.sh, then sources it).
	if v, ok := e.via[rel]; (!ok || v.verb == "named" && verb != "named") && rel != e.in.script {
		if e.via == nil {
			e.via = map[string]via{}
		}
		e.via[rel] = via{verb: verb, by: e.in.script}
	}
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
	r, ok := e.fs.evalSymlinks(e.root)
	return ok && below(r)
}

// staticWord is w's value when it holds no expansion.
func staticWord(w *syntax.Word) (string, bool) {
	if len(w.Parts) == 1 {
		if l, ok := w.Parts[0].(*syntax.Lit); ok {
			return unescape(l.Value), true
		}
	}
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
			spec.Patterns = append(spec.Patterns, fingerprint.EscapeGlob(filepath.ToSlash(f)))
		}
	}
}

// Scripted is implemented by kinds whose command lines may run files of
// the repository: `why` and `plan` say which command runs a changed file.
type Scripted interface {
	// Scripts maps each file its commands run (relative to the config
	// directory) to why it is an input: "run executes it", "sourced by
	// scripts/install.sh, which run executes" (see ScriptsOf).
	Scripts() map[string]string
}

// Script is a command line of a step, under the key that holds it.
type Script struct {
	Key, Cmd string
	Dir      string // where it runs
}

// ScriptsOf maps the files of the repository at cfgDir that the scripts
// run to why each is an input, after the first script that runs it: "run
// executes it", "sourced by scripts/install.sh, which run executes". A
// directory a program named by a variable may be in is there as a
// pattern, DIR/** (** for the whole repository).
func ScriptsOf(cfgDir string, scripts ...Script) map[string]string {
	return (*Analyses)(nil).ScriptsOf(cfgDir, scripts...)
}

// ScriptsOf is the package's ScriptsOf, with the analyses found in c when
// they still hold.
func (c *Analyses) ScriptsOf(cfgDir string, scripts ...Script) map[string]string {
	m := map[string]string{}
	for _, sc := range scripts {
		if sc.Cmd == "" {
			continue
		}
		a := c.Analyze(sc.Cmd, sc.Dir, cfgDir)
		for _, f := range a.Files {
			if _, ok := m[f]; ok {
				continue
			}
			if by, ok := a.By[f]; ok {
				m[f] = by + ", which " + sc.Key + " executes"
				continue
			}
			m[f] = sc.Key + " executes it"
		}
		for _, d := range a.Dirs {
			if _, ok := m[dirPattern(d)]; !ok {
				m[dirPattern(d)] = sc.Key
			}
		}
	}
	return m
}

// dirPattern is the pattern of everything under d, a directory of the
// repository: its name is escaped, so that "!tools" is no exclude and
// "[x]" or "a{b,c}" name that directory alone.
func dirPattern(d string) string {
	if d == "." {
		return "**"
	}
	return fingerprint.EscapeGlob(filepath.ToSlash(d)) + "/**"
}

// ScriptNotes says, for plan and why, which of the scripts' programs are
// named by variables, and what became an input for each.
func ScriptNotes(cfgDir string, scripts ...Script) []string {
	return (*Analyses)(nil).ScriptNotes(cfgDir, scripts...)
}

// ScriptNotes is the package's ScriptNotes, with the analyses found in c
// when they still hold.
func (c *Analyses) ScriptNotes(cfgDir string, scripts ...Script) []string {
	var notes []string
	for _, sc := range scripts {
		if sc.Cmd == "" {
			continue
		}
		for _, w := range c.Analyze(sc.Cmd, sc.Dir, cfgDir).Why {
			if w != "" {
				notes = append(notes, sc.Key+": "+w)
			}
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
		// f is a pattern already: only cfgDir is escaped.
		spec.Patterns = append(spec.Patterns, strings.TrimSuffix(fingerprint.EscapeGlob(filepath.ToSlash(cfgDir)), "/")+"/"+f)
	}
	AddExecuted(spec, cfgDir, files)
}
