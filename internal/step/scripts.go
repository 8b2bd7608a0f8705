package step

import (
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
// an earlier `cd` named. A program found through PATH is not a file of
// the repo; nor is a path built from variables, which it cannot follow.
// A command line that does not parse lists nothing: the shell will fail
// on it too.
func Executed(cmd, dir, root string) []string {
	e := &executed{root: root, dirs: []string{dir}}
	e.line(cmd, 0)
	slices.Sort(e.files)
	return slices.Compact(e.files)
}

type executed struct {
	root  string
	dirs  []string // the working directory, then each `cd` target seen
	files []string
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
	// wrappers run the rest of their arguments as a command.
	wrappers = []string{"exec", "command", "env", "sudo", "nice", "nohup", "time", "caffeinate"}
	// sudoValueFlags take a value.
	sudoValueFlags = []string{"-u", "-g", "-p", "-C", "-D", "-h", "-r", "-t", "-T", "-U"}
)

func (e *executed) line(cmd string, depth int) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		return
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok {
			e.call(c, depth)
		}
		return true
	})
}

// call looks at one simple command.
func (e *executed) call(c *syntax.CallExpr, depth int) {
	var args []string
	for _, w := range c.Args {
		s, ok := staticWord(w)
		if !ok {
			s = "\x00" // a word sysinit cannot read: never a path
		}
		args = append(args, s)
	}
	args = unwrap(args)
	if len(args) == 0 {
		return
	}
	prog, rest := args[0], args[1:]
	switch base := path.Base(prog); {
	case prog == "cd":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			e.cd(rest[0])
		}
		return
	case prog == "." || prog == "source":
		if len(rest) > 0 {
			e.file(rest[0])
		}
		return
	case slices.Contains(shells, base):
		e.program(prog)
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			switch {
			case a == "-c" || strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a[1:], "c"):
				if i+1 < len(rest) && depth < maxDepth {
					e.line(rest[i+1], depth+1)
				}
				return
			case a == "-o" || a == "+o":
				i++
			case a == "--":
				if i+1 < len(rest) {
					e.file(rest[i+1])
				}
				return
			case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
			default:
				e.file(a)
				return
			}
		}
		return
	}
	name := path.Base(prog)
	if _, ok := interpreters[name]; !ok {
		name = strings.TrimRight(name, "0123456789.") // python3.12
	}
	if inline, ok := interpreters[name]; ok {
		e.program(prog)
		for _, a := range rest {
			switch {
			case slices.Contains(inline, a):
				return
			case a == "--":
				continue
			case strings.HasPrefix(a, "-"):
			default:
				e.file(a)
				return
			}
		}
		return
	}
	e.program(prog)
}

// program records the program a command starts when it is a path: a bare
// name is looked up in PATH, not in the repo.
func (e *executed) program(p string) {
	if strings.Contains(p, "/") {
		e.file(p)
	}
}

// unwrap drops wrappers (`env A=1 sudo -u x ./run.sh` runs ./run.sh).
func unwrap(args []string) []string {
	for len(args) > 0 && slices.Contains(wrappers, path.Base(args[0])) {
		w := path.Base(args[0])
		args = args[1:]
		for len(args) > 0 {
			a := args[0]
			switch {
			case a == "--":
				args = args[1:]
			case strings.HasPrefix(a, "-"):
				args = args[1:]
				if w == "sudo" && slices.Contains(sudoValueFlags, a) && len(args) > 0 {
					args = args[1:]
				}
				continue
			case w == "env" && strings.Contains(a, "=") && !strings.HasPrefix(a, "="):
				args = args[1:]
				continue
			}
			break
		}
	}
	return args
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
		// A link is followed to what it runs, when that is in the repo too.
		if real, err := filepath.EvalSymlinks(c); err == nil && real != c {
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
	for _, f := range files {
		if spec.Root == "" || spec.Root == cfgDir {
			spec.Files = append(spec.Files, f)
			continue
		}
		abs := filepath.Join(cfgDir, f)
		rel, err := filepath.Rel(spec.Root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			spec.Files = append(spec.Files, abs)
			continue
		}
		spec.Files = append(spec.Files, filepath.ToSlash(rel))
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
// run to the key of the first script that runs each.
func ScriptsOf(cfgDir string, scripts ...Script) map[string]string {
	m := map[string]string{}
	for _, sc := range scripts {
		if sc.Cmd == "" {
			continue
		}
		for _, f := range Executed(sc.Cmd, sc.Dir, cfgDir) {
			if _, ok := m[f]; !ok {
				m[f] = sc.Key
			}
		}
	}
	return m
}

// AddScripts adds the files that scripts run to spec (see AddExecuted).
func AddScripts(spec *fingerprint.Spec, scripts map[string]string, cfgDir string) {
	AddExecuted(spec, cfgDir, slices.Sorted(maps.Keys(scripts)))
}
