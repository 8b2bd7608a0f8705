package step

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// A script of the repository that a step runs is read too, as the shell
// would run it, and what it sources, executes or hands to run-parts is an
// input in turn (see docs/decisions.md, "Scripts a step runs"). This file
// follows them.

const (
	// maxScripts bounds how deep scripts that run scripts are followed;
	// deeper than that, what runs is unknown and the repository is the
	// input.
	maxScripts = 8
	// maxAlts bounds the values a word may have (a variable assigned in
	// several places, a path under several candidate directories).
	maxAlts = 16
	// maxScriptSize is the largest script sysinit reads; a larger one
	// makes the repository the input.
	maxScriptSize = 4 << 20
)

// how says how a file is run: the verb why uses, and whether (and as
// which language) sysinit reads it as a shell script.
type how struct {
	verb   string
	follow int
	lang   syntax.LangVariant
}

const (
	noFollow  = iota // a data file, a Makefile, a Python script: listed only
	asProgram        // executed by path: a shell script when its #! says so
	asShell          // run by a shell (bash x.sh, sh < x.sh): a shell script
	asSource         // sourced: a shell script, in the caller's shell
)

// shellRuns is how a shell named base runs a script operand.
func shellRuns(base string) how {
	switch base {
	case "zsh":
		return how{verb: "run", follow: asShell, lang: syntax.LangZsh}
	case "mksh":
		return how{verb: "run", follow: asShell, lang: syntax.LangMirBSDKorn}
	case "fish":
		return how{verb: "run"} // not a POSIX shell: listed, not read
	}
	return how{verb: "run", follow: asShell, lang: syntax.LangBash}
}

// via is how a script brought a file in.
type via struct{ verb, by string }

// frame is the script being read, or the command line.
type frame struct {
	script string // relative to root; "" for the command line
	lang   syntax.LangVariant
	zero   []string // what $0 may be, absolute; unknown on the command line
	source string   // ${BASH_SOURCE[0]}, absolute
	parent *frame   // a sourced script sees its caller's variables
	vars   map[string][]string
	unset  map[string]bool // assigned something sysinit cannot read
	out    map[string]bool // always assigned a place outside the repo ("$HOME/x")
}

// prefix starts a note about what the frame's script runs.
func (fr *frame) prefix() string {
	if fr.script == "" {
		return ""
	}
	return "in " + fr.script + ", "
}

func (fr *frame) lookup(name string) []string {
	for f := fr; f != nil; f = f.parent {
		if f.unset[name] {
			return nil
		}
		if v, ok := f.vars[name]; ok {
			return v
		}
	}
	return nil
}

// outside reports whether the variable name always holds a place outside
// the repository: one of outsideVars, or one the script sets from them.
func (fr *frame) outside(name string) bool {
	if slices.Contains(outsideVars, name) {
		return true
	}
	for f := fr; f != nil; f = f.parent {
		if f.out[name] {
			return true
		}
		if f.unset[name] || f.vars[name] != nil {
			return false
		}
	}
	return false
}

// assigned records the variables f assigns (`DIR=$(dirname "$0")`,
// `readonly LIB=./lib`, `for f in hooks/*.sh`) and the values sysinit can
// read: a literal, another such variable, or the script's own directory
// (see resolve). A variable assigned anything else, in any place, is
// unknown; so is one the script never assigns (the environment's) or
// assigns only under a condition (it may keep the environment's value).
func (fr *frame) assigned(as []assignment, e *executed) {
	if len(as) == 0 {
		return
	}
	// Each pass reads values with the variables the last one could read:
	// a value may name a variable assigned further down, or one that
	// names another.
	for range 3 {
		vars, unset, out := map[string][]string{}, map[string]bool{}, map[string]bool{}
		outs := map[string]int{}
		count := map[string]int{}
		sure := map[string]bool{}
		fr.unset = nil
		for _, a := range as {
			count[a.name]++
			sure[a.name] = sure[a.name] || a.sure
			if a.words == nil {
				unset[a.name] = true
				continue
			}
			var vals []string
			ok := len(a.words) > 0
			for _, w := range a.words {
				if startsOutside(w, fr) {
					outs[a.name]++
					ok = false
					break
				}
				v := fr.resolve(w, e)
				if len(v) == 0 {
					ok = false
					break
				}
				vals = append(vals, v...)
			}
			if !ok {
				unset[a.name] = true
				continue
			}
			vars[a.name] = append(vars[a.name], vals...)
		}
		for name, v := range vars {
			slices.Sort(v)
			v = slices.Compact(v)
			vars[name] = v
			if unset[name] || len(v) > maxAlts {
				delete(vars, name)
				unset[name] = true
			}
		}
		for name := range vars {
			if !sure[name] {
				delete(vars, name) // it may keep the environment's value
				unset[name] = true
			}
		}
		for name, n := range outs {
			if n == count[name] && sure[name] {
				out[name] = true
			}
		}
		fr.vars, fr.unset, fr.out = vars, unset, out
	}
}

// assignment is a variable and the words it is set to; nil words: a value
// sysinit cannot read. A sure one is made whenever the script (or the
// function) runs; another (in an if, after &&) may leave the value the
// variable had, from the environment.
type assignment struct {
	name  string
	words []*syntax.Word
	sure  bool
}

// plain is an assignment of one word, or one sysinit cannot read (+=, an
// array, an index).
func plain(a *syntax.Assign, sure bool) assignment {
	r := assignment{name: a.Name.Value, sure: sure}
	if a.Value != nil && !a.Append && a.Array == nil && a.Index == nil {
		r.words = []*syntax.Word{a.Value}
	} else if a.Value == nil && a.Array == nil && !a.Append && a.Index == nil {
		r.words = []*syntax.Word{{Parts: []syntax.WordPart{&syntax.Lit{}}}} // X=
	}
	return r
}

// startsOutside reports whether w starts with a place outside the
// repository: $HOME/…, ~/…, or a variable set to one.
func startsOutside(w *syntax.Word, fr *frame) bool {
	if len(w.Parts) == 0 {
		return false
	}
	p := w.Parts[0]
	if dq, ok := p.(*syntax.DblQuoted); ok && len(dq.Parts) > 0 {
		p = dq.Parts[0]
	}
	switch p := p.(type) {
	case *syntax.ParamExp:
		return p.Param != nil && fr.outside(p.Param.Value)
	case *syntax.Lit:
		return strings.HasPrefix(p.Value, "~")
	}
	return false
}

// positional reports whether w is "$@", $1 or the like: the words the
// script or function was given.
func positional(w *syntax.Word) bool {
	if len(w.Parts) != 1 {
		return false
	}
	p := w.Parts[0]
	if dq, ok := p.(*syntax.DblQuoted); ok && len(dq.Parts) == 1 {
		p = dq.Parts[0]
	}
	pe, ok := p.(*syntax.ParamExp)
	if !ok || pe.Param == nil {
		return false
	}
	v := pe.Param.Value
	if v == "@" || v == "*" {
		return true
	}
	_, err := strconv.Atoi(v)
	return err == nil && v != "0"
}

// resolve is what w may be, when sysinit can tell: its literal text, with
// variables the script assigns readable values (see assigned), $PWD, and
// the script's own directory the ways scripts name it — $0 and
// ${BASH_SOURCE[0]}, through ${X%/*}, $(dirname X), $(realpath X),
// $(readlink -f X) and $(cd X && pwd). nil when it cannot.
func (fr *frame) resolve(w *syntax.Word, e *executed) []string {
	return fr.parts(w.Parts, false, e)
}

func (fr *frame) parts(ps []syntax.WordPart, quoted bool, e *executed) []string {
	out := []string{""}
	for _, p := range ps {
		var vals []string
		switch p := p.(type) {
		case *syntax.Lit:
			if quoted {
				vals = []string{p.Value}
			} else {
				vals = []string{unescape(p.Value)}
			}
		case *syntax.SglQuoted:
			if p.Dollar {
				return nil
			}
			vals = []string{p.Value}
		case *syntax.DblQuoted:
			vals = fr.parts(p.Parts, true, e)
		case *syntax.ParamExp:
			vals = fr.param(p, e)
		case *syntax.CmdSubst:
			vals = fr.subst(p, e)
		}
		if len(vals) == 0 || len(out)*len(vals) > maxAlts {
			return nil
		}
		var next []string
		for _, o := range out {
			for _, v := range vals {
				next = append(next, o+v)
			}
		}
		out = next
	}
	return out
}

func (fr *frame) param(p *syntax.ParamExp, e *executed) []string {
	if p.Param == nil || p.Excl || p.Length || p.Width || p.IsSet || p.Flags != nil || p.NestedParam != nil ||
		len(p.Modifiers) > 0 || p.Slice != nil || p.Repl != nil || p.Names != 0 {
		return nil
	}
	var vals []string
	switch name := p.Param.Value; name {
	case "0":
		vals = fr.zero
	case "BASH_SOURCE":
		if p.Index != nil {
			w, ok := p.Index.(*syntax.Word)
			if s, static := staticWord(w); !ok || !static || s != "0" {
				return nil
			}
		}
		if fr.source != "" {
			vals = []string{fr.source}
		}
	case "PWD":
		if p.Index == nil {
			vals = slices.Clone(e.dirs)
		}
	default:
		if p.Index == nil {
			vals = fr.lookup(name)
		}
	}
	if p.Exp == nil || len(vals) == 0 {
		return vals
	}
	// ${0%/*}: the directory of a path that has one.
	if pat, ok := staticWord(p.Exp.Word); ok && p.Exp.Op == syntax.RemSmallSuffix && pat == "/*" {
		var out []string
		for _, v := range vals {
			if i := strings.LastIndexByte(v, '/'); i >= 0 {
				v = v[:i]
			}
			out = append(out, v)
		}
		return out
	}
	return nil
}

// subst reads the command substitutions that name a directory: $(dirname
// X), $(realpath X), $(readlink -f X), $(cd X && pwd), $(pwd).
func (fr *frame) subst(cs *syntax.CmdSubst, e *executed) []string {
	call := func(st *syntax.Stmt) (string, []*syntax.Word) {
		c, ok := st.Cmd.(*syntax.CallExpr)
		if !ok || len(c.Args) == 0 || len(c.Assigns) > 0 {
			return "", nil
		}
		name, _ := staticWord(c.Args[0])
		var ops []*syntax.Word
		for _, w := range c.Args[1:] {
			if s, ok := staticWord(w); ok && strings.HasPrefix(s, "-") {
				continue // --, -P, -f, -e
			}
			ops = append(ops, w)
		}
		return name, ops
	}
	abs := func(vals []string) []string {
		var out []string
		for _, v := range vals {
			if filepath.IsAbs(v) {
				out = append(out, filepath.Clean(v))
				continue
			}
			for _, d := range e.dirs {
				out = append(out, filepath.Join(d, v))
			}
		}
		return out
	}
	var stmts []*syntax.Stmt
	switch {
	case len(cs.Stmts) == 1:
		if b, ok := cs.Stmts[0].Cmd.(*syntax.BinaryCmd); ok && b.Op == syntax.AndStmt {
			stmts = []*syntax.Stmt{b.X, b.Y}
		} else {
			stmts = cs.Stmts
		}
	case len(cs.Stmts) == 2:
		stmts = cs.Stmts
	default:
		return nil
	}
	if len(stmts) == 2 {
		// $(cd X && pwd)
		name, ops := call(stmts[0])
		last, _ := call(stmts[1])
		if name != "cd" || len(ops) != 1 || last != "pwd" {
			return nil
		}
		return abs(fr.resolve(ops[0], e))
	}
	if e.gitTopLevel(stmts[0]) {
		return e.gitTop()
	}
	name, ops := call(stmts[0])
	switch name {
	case "pwd":
		return slices.Clone(e.dirs)
	case "dirname":
		if len(ops) == 1 {
			var out []string
			for _, v := range fr.resolve(ops[0], e) {
				out = append(out, filepath.Dir(v))
			}
			return out
		}
	case "realpath", "readlink":
		if len(ops) == 1 {
			var out []string
			for _, v := range abs(fr.resolve(ops[0], e)) {
				if r, ok := e.fs.evalSymlinks(v); ok {
					v = r
				}
				out = append(out, v)
			}
			return out
		}
	}
	return nil
}

// gitTopLevel reports whether st is `git rev-parse --show-toplevel`, which
// scripts cd to before naming the repository's files.
func (e *executed) gitTopLevel(st *syntax.Stmt) bool {
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Assigns) > 0 || len(c.Args) != 3 {
		return false
	}
	for i, want := range []string{"git", "rev-parse", "--show-toplevel"} {
		if w, ok := staticWord(c.Args[i]); !ok || w != want {
			return false
		}
	}
	return true
}

// gitTop is what `git rev-parse --show-toplevel` prints in each of the
// directories the script may be in: the nearest one up that holds .git (a
// directory, or the file of a worktree or submodule), its links resolved
// as git resolves them. A directory with none above it gives nothing: the
// path stays unknown. (GIT_DIR or GIT_WORK_TREE in the environment would
// move it; sysinit does not read the environment here.)
func (e *executed) gitTop() []string {
	var out []string
	for _, d := range e.dirs {
		for a := filepath.Clean(d); ; a = filepath.Dir(a) {
			if _, ok := e.fs.evalSymlinks(filepath.Join(a, ".git")); ok {
				if real, ok := e.fs.evalSymlinks(a); ok {
					out = append(out, real)
				}
				break
			}
			if a == filepath.Dir(a) {
				break
			}
		}
	}
	return out
}

// combinations is every choice of one value per word.
func combinations(alts [][]string) [][]string {
	out := [][]string{nil}
	for _, vals := range alts {
		var next [][]string
		for _, o := range out {
			for _, v := range vals {
				next = append(next, append(slices.Clone(o), v))
			}
		}
		out = next
	}
	return out
}

// follow reads the script at c (as the caller named it), run as h says,
// and records what it runs in turn. A script already being read (a cycle)
// or already read in the same context is not read again; one sysinit
// cannot read (too deep, too large, not parsable) makes the repository
// the input, with a note.
func (e *executed) follow(c string, h how) {
	if !e.fs.regular(c) {
		return // a missing one is listed: its appearance is a change
	}
	real, ok := e.fs.evalSymlinks(c)
	if !ok || !e.inRoot(real) && !e.inRoot(c) {
		// Outside the repository: an input itself, not read. One the
		// repository links to (ext -> ~/src/tools) is read: what it runs
		// from the repository is an input.
		return
	}
	if slices.Contains(e.stack, real) {
		return
	}
	rel := e.relName(c, real)
	sf, err := e.fs.script(real)
	if err != nil {
		e.unknown(rel, "sysinit cannot read it: "+err.Error())
		return
	}
	lang := h.lang
	if h.follow == asProgram {
		l, ok := sf.shebang()
		if !ok {
			return // a Python script, a binary: listed, not read
		}
		lang = l
	}
	if lang == 0 {
		lang = syntax.LangBash
	}
	if len(e.stack) >= maxScripts {
		e.unknown(rel, fmt.Sprintf("it is run by a chain of %d scripts, deeper than sysinit follows", len(e.stack)))
		return
	}
	if sf.src == "" && sf.size > maxScriptSize {
		e.unknown(rel, fmt.Sprintf("it is larger than %d MiB", maxScriptSize>>20))
		return
	}
	sum, err := sf.parse(lang)
	if err != nil {
		e.unknown(rel, "it does not parse as a shell script ("+err.Error()+")")
		return
	}
	fr := &frame{script: rel, lang: lang, source: c, zero: []string{c}}
	if h.follow == asSource {
		// bash's $0 in a sourced file is its caller's (on the command
		// line, the shell's name: the working directory for dirname);
		// zsh's is the sourced file.
		fr.parent = e.in
		if e.in.script == "" {
			fr.zero = nil
			for _, d := range e.dirs {
				fr.zero = append(fr.zero, filepath.Join(d, "sh"))
			}
		} else {
			fr.zero = slices.Clone(e.in.zero)
		}
		fr.zero = append(fr.zero, c)
	}
	ctx := real + "\x00" + strconv.Itoa(h.follow)
	if h.follow == asSource {
		ctx += fmt.Sprintf("\x00%p", e.in) // it sees its caller's variables
	}
	key := strings.Join(append([]string{ctx}, append(slices.Clone(e.dirs), fr.zero...)...), "\x00")
	if e.done[key] {
		return
	}
	if e.done == nil {
		e.done = map[string]bool{}
	}
	e.done[key] = true
	saved, savedDirs, savedLost := e.in, e.dirs, e.lost
	savedPath, savedPathLost := e.pathDirs, e.pathLost
	if h.follow != asSource {
		// A script run as a program has its own working directory; a
		// sourced one's `cd` moves its caller's.
		e.dirs = slices.Clone(e.dirs)
	}
	e.in = fr
	e.stack = append(e.stack, real)
	fr.assigned(sum.assigns, e)
	e.path(sum.paths)
	e.env(sum.envs)
	e.walk(sf.src, sum.stmts, 0)
	e.stack = e.stack[:len(e.stack)-1]
	e.in = saved
	if h.follow != asSource {
		e.dirs, e.lost = savedDirs, savedLost
		e.pathDirs, e.pathLost = savedPath, savedPathLost
	}
}

// relName is c relative to root, or real's when c is reached from
// outside.
func (e *executed) relName(c, real string) string {
	for _, p := range []string{c, real} {
		if rel, err := filepath.Rel(e.root, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	if r, ok := e.fs.evalSymlinks(e.root); ok {
		if rel, err := filepath.Rel(r, real); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(real)
}

// unknown records that what script rel runs cannot be told: every file of
// the repository is an input.
func (e *executed) unknown(rel, reason string) {
	e.dyn = append(e.dyn, ".")
	e.why = append(e.why, fmt.Sprintf("%s is a script the step runs, but %s: every file of the repository is an input", rel, reason))
}

// runPartsDir is the index in args (run-parts' arguments) of the
// directory it runs, or -1.
func runPartsDir(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-a" || a == "-u":
			i++
		case a == "--":
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		case strings.HasPrefix(a, "-"):
		default:
			return i
		}
	}
	return -1
}

// runParts records that every file of dir is run: the files there now,
// read as scripts, and the directory itself, where a new one is a change.
func (e *executed) runParts(d string, w *syntax.Word) {
	if d == "\x00" {
		e.dynamic(w, "the directory run-parts runs")
		return
	}
	if strings.ContainsAny(d, "$~") {
		return
	}
	for _, base := range slices.Clone(e.dirs) {
		abs := d
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(base, abs)
		}
		e.dirFiles(abs, "", how{verb: "run with run-parts", follow: asProgram})
	}
}

// dirFiles records dir (when it is under root) as a pattern, without a
// note, and follows its files whose names match glob ("" for all).
func (e *executed) dirFiles(dir, glob string, h how) {
	if !e.inRoot(dir) {
		return
	}
	rel, err := filepath.Rel(e.root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return
	}
	e.dyn = append(e.dyn, filepath.ToSlash(rel))
	if rel == "." {
		// Every file of the repository, which is worth saying.
		what := "run-parts runs every file of the repository's top directory"
		if glob != "" {
			what = "a script it runs is any file matching " + glob + " at the top of the repository"
		}
		e.why = append(e.why, e.in.prefix()+what+": every file of the repository is an input")
	} else {
		e.why = append(e.why, "") // a directory the command names: expected, not worth a note
	}
	names, ok := e.fs.readDir(dir)
	if !ok {
		return
	}
	for _, name := range names {
		if glob != "" {
			if ok, _ := filepath.Match(glob, name); !ok {
				continue
			}
		}
		p := filepath.Join(dir, name)
		if e.fs.regular(p) {
			e.file(p, h)
		}
	}
}

// pattern records what a glob the script runs may match (`for f in
// hooks/*.sh; do . "$f"; done`): the directory its pattern starts in,
// when only its last element has wildcards; the whole repository
// otherwise (hooks/*/run.sh).
func (e *executed) pattern(p string, h how) {
	dir, glob := filepath.Split(p)
	if strings.ContainsAny(dir, "*?[") {
		e.dyn = append(e.dyn, ".")
		e.why = append(e.why, e.in.prefix()+fmt.Sprintf("a script it runs is any of %s: every file of the repository is an input", p))
		return
	}
	for _, base := range slices.Clone(e.dirs) {
		d := dir
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(base, d)
		}
		e.dirFiles(filepath.Clean(d), glob, h)
	}
}

// chain says how a script brought in f: "" when the command line names
// it, "sourced by lib/a.sh, executed by scripts/install.sh" when scripts
// did, the last named by the command line.
func (e *executed) chain(f string) string {
	if e.top[f] {
		return ""
	}
	var parts []string
	for cur := f; len(parts) <= maxScripts+1; {
		v, ok := e.via[cur]
		if !ok {
			break
		}
		parts = append(parts, v.verb+" by "+v.by)
		if e.top[v.by] {
			break
		}
		cur = v.by
	}
	return strings.Join(parts, ", ")
}

// shebang is the language of a file executed as a program, when a POSIX
// shell runs it: its #! names sh, bash, dash, ash, ksh, mksh or zsh
// (directly or through env), or it has none and is text (a shell runs a
// text file without #! as a script of its own).
func (sf *scriptFile) shebang() (syntax.LangVariant, bool) {
	if !bytes.HasPrefix(sf.head, []byte("#!")) {
		return syntax.LangBash, !bytes.Contains(sf.head, []byte{0})
	}
	line, _, _ := bytes.Cut(sf.head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return 0, false
	}
	interp := filepath.Base(fields[0])
	if interp == "env" {
		interp = ""
		for _, f := range fields[1:] {
			if strings.HasPrefix(f, "-") || strings.Contains(f, "=") {
				continue
			}
			interp = filepath.Base(f)
			break
		}
	}
	switch interp {
	case "sh", "bash", "dash", "ash", "ksh", "ksh93":
		return syntax.LangBash, true
	case "mksh":
		return syntax.LangMirBSDKorn, true
	case "zsh":
		return syntax.LangZsh, true
	}
	return 0, false
}

func (sf *scriptFile) parse(lang syntax.LangVariant) (summary, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if p, ok := sf.trees[lang]; ok {
		return p.sum, p.err
	}
	var p parsed
	parses.Add(1)
	f, err := syntax.NewParser(syntax.Variant(lang)).Parse(strings.NewReader(sf.src), "")
	if err != nil {
		p.err = err
	} else {
		p.sum = summarize(f)
	}
	if sf.trees == nil {
		sf.trees = map[syntax.LangVariant]parsed{}
	}
	sf.trees[lang] = p
	return p.sum, p.err
}
