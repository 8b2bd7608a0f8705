package scaffold

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// Refresh is what a repository's task runner runs to refresh the machine:
// the commands of one task, with the tasks it calls flattened in, in order.
type Refresh struct {
	File     string   // the Taskfile or justfile, relative to the repository
	Task     string   // the task chosen, e.g. "nix:refresh"
	Commands []string // shell text, templates resolved where they could be
}

// taskfileNames and justfileNames are the names go-task and just look for.
var (
	taskfileNames = []string{"Taskfile.yml", "taskfile.yml", "Taskfile.yaml", "taskfile.yaml", "Taskfile.dist.yml", "taskfile.dist.yml", "Taskfile.dist.yaml", "taskfile.dist.yaml"}
	justfileNames = []string{"justfile", "Justfile", ".justfile"}
	miseNames     = []string{"mise.toml", ".mise.toml"}
)

// refreshNames rank task names: the task a person runs to refresh.
var refreshNames = map[string]int{
	"refresh": 6, "switch": 5, "rebuild": 5, "apply": 4, "update": 4, "up": 3, "deploy": 3,
	"install": 2, "sync": 2, "bootstrap": 1, "default": 1, "all": 1,
}

// switchBonus ranks a task that switches a system above every name of
// refreshNames, and below a task doing one more thing.
const switchBonus = 7

// ReadRefresh finds the task runner file in repo (a Taskfile, else a
// justfile) and the task in it that refreshes the machine: the one whose
// commands switch a system, update the flake or run brew bundle, preferring
// among as many one that switches, then names like refresh and switch. It
// returns nil when there is no such file or no such task.
//
// goos picks among a justfile's recipes of one name the one for this
// system ([macos], [linux], [unix]).
func ReadRefresh(repo, goos string) (*Refresh, error) {
	for _, n := range taskfileNames {
		if _, err := os.Stat(filepath.Join(repo, n)); err == nil {
			tf := &taskfile{repo: repo, tasks: map[string]*task{}}
			if err := tf.load(filepath.Join(repo, n), "", "", nil, nil, 0); err != nil {
				return nil, fmt.Errorf("reading %s: %w", n, err)
			}
			return choose(n, tf.flatten), nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, n := range justfileNames {
		data, err := readFile(filepath.Join(repo, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		jf := parseJustfile(string(data), goos)
		return choose(n, jf.flatten), nil
	}
	for _, n := range miseNames {
		data, err := readFile(filepath.Join(repo, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		mf, err := parseMise(data)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
		if ref := choose(n, mf.flatten); ref != nil {
			return ref, nil
		}
	}
	return nil, nil
}

// choose picks the refresh task among all, by what its commands do and
// then by its name.
func choose(file string, flatten func() map[string][]string) *Refresh {
	all := flatten()
	best, bestScore := "", 0
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kinds := map[string]bool{}
		for _, c := range all[n] {
			for _, a := range classify(c) {
				if a.recognized() {
					kinds[a.kind] = true
				}
			}
		}
		if len(kinds) == 0 {
			continue
		}
		base := n[strings.LastIndexByte(n, ':')+1:]
		score := 10*len(kinds) + refreshNames[base]
		// Among tasks doing as many things, one that switches a system is
		// the refresh before any name: an `up` that only updates the flake
		// is not what a person runs to refresh the machine. The bonus
		// outweighs every name's rank, never another thing done.
		if kinds[actDarwin] || kinds[actNixOS] || kinds[actHome] {
			score += switchBonus
		}
		if score > bestScore || score == bestScore && len(n) < len(best) {
			best, bestScore = n, score
		}
	}
	if best == "" {
		return nil
	}
	return &Refresh{File: file, Task: best, Commands: all[best]}
}

// A Taskfile (go-task v3): tasks with cmds and deps, vars, includes
// under a namespace.

type taskfile struct {
	repo  string
	tasks map[string]*task // by full name, "nix:refresh"
}

type task struct {
	ns    string // namespace, "" or "nix:"
	dir   string // dir: where its commands run (under its include's dir:), "" the repository
	cmds  []taskCmd
	deps  []string // full names
	vars  map[string]string
	fvars map[string]string // the file's vars
}

type taskCmd struct {
	shell string
	call  string // full name of a task called
}

type taskfileDoc struct {
	Vars     map[string]yaml.Node `yaml:"vars"`
	Includes map[string]yaml.Node `yaml:"includes"`
	Tasks    map[string]yaml.Node `yaml:"tasks"`
}

// load reads file, included under namespace ns; dir is the include's dir:
// (relative to the repository), where its tasks run, "" the repository.
func (tf *taskfile) load(file, ns, dir string, vars, includeVars map[string]string, depth int) error {
	data, err := readFile(file)
	if err != nil {
		return err
	}
	var doc taskfileDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	// A file sees the vars of the files that include it, then its own
	// (which the include's vars override).
	fvars := map[string]string{"ROOT_DIR": tf.repo, "USER_WORKING_DIR": tf.repo, "CLI_ARGS": ""}
	for k, v := range vars {
		fvars[k] = v
	}
	fvars["TASKFILE_DIR"] = filepath.Dir(file)
	for k, n := range doc.Vars {
		if _, set := includeVars[k]; !set {
			fvars[k] = varValue(&n)
		}
	}
	for name, n := range doc.Tasks {
		t := &task{ns: ns, vars: map[string]string{}, fvars: fvars}
		tf.decodeTask(t, &n)
		t.dir = joinDir(dir, t.dir)
		tf.tasks[ns+name] = t
	}
	if depth >= 3 {
		return nil
	}
	for name, n := range doc.Includes {
		inc, incDir := "", dir
		sub := ns + name + ":"
		ivars := map[string]string{}
		inherited := map[string]string{}
		for k, v := range fvars {
			inherited[k] = v
		}
		switch n.Kind {
		case yaml.ScalarNode:
			inc = n.Value
		case yaml.MappingNode:
			var m struct {
				Taskfile string               `yaml:"taskfile"`
				Flatten  bool                 `yaml:"flatten"`
				Dir      string               `yaml:"dir"`
				Vars     map[string]yaml.Node `yaml:"vars"`
			}
			if err := n.Decode(&m); err != nil {
				continue
			}
			inc = m.Taskfile
			if m.Dir != "" {
				// Its tasks run in dir:, relative to the including file.
				incDir = expand(m.Dir, fvars)
				if !strings.Contains(incDir, "{{") {
					abs := filepath.IsAbs(incDir)
					if !abs {
						incDir = filepath.Join(filepath.Dir(file), incDir)
					}
					if r, err := filepath.Rel(tf.repo, incDir); err == nil && (!abs || r != ".." && !strings.HasPrefix(r, "../")) {
						incDir = filepath.ToSlash(r)
					}
				}
			}
			if m.Flatten {
				sub = ns
			}
			for k, v := range m.Vars {
				ivars[k] = varValue(&v)
			}
		}
		inc = expand(inc, fvars)
		if inc == "" || strings.Contains(inc, "{{") {
			continue
		}
		p := resolvePath(filepath.Dir(file), inc)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			for _, tn := range taskfileNames {
				if _, err := os.Stat(filepath.Join(p, tn)); err == nil {
					p = filepath.Join(p, tn)
					break
				}
			}
		}
		// An include that cannot be read is passed over: the tasks of the
		// files that could be read still say what the refresh ran.
		for k, v := range ivars {
			inherited[k] = v
		}
		_ = tf.load(p, sub, incDir, inherited, ivars, depth+1)
	}
	return nil
}

// varValue is a var's static value, or $(CMD) for a `sh:` var, which a
// command reads as a command substitution.
func varValue(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.MappingNode:
		var m struct {
			Sh string `yaml:"sh"`
		}
		if n.Decode(&m) == nil && m.Sh != "" {
			return "$(" + strings.TrimSpace(m.Sh) + ")"
		}
	}
	return "{{?}}"
}

func (tf *taskfile) decodeTask(t *task, n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode: // task: echo hi
		t.cmds = append(t.cmds, taskCmd{shell: n.Value})
		return
	case yaml.SequenceNode: // task: [a, b]
		for _, c := range n.Content {
			tf.decodeCmd(t, c)
		}
		return
	}
	var m struct {
		Cmds []yaml.Node          `yaml:"cmds"`
		Cmd  yaml.Node            `yaml:"cmd"`
		Dir  string               `yaml:"dir"`
		Deps []yaml.Node          `yaml:"deps"`
		Vars map[string]yaml.Node `yaml:"vars"`
	}
	if err := n.Decode(&m); err != nil {
		return
	}
	for k, v := range m.Vars {
		t.vars[k] = varValue(&v)
	}
	t.dir = m.Dir
	for _, d := range m.Deps {
		switch d.Kind {
		case yaml.ScalarNode:
			t.deps = append(t.deps, t.ref(d.Value))
		case yaml.MappingNode:
			var c struct {
				Task string `yaml:"task"`
			}
			if d.Decode(&c) == nil && c.Task != "" {
				t.deps = append(t.deps, t.ref(c.Task))
			}
		}
	}
	if m.Cmd.Kind != 0 {
		tf.decodeCmd(t, &m.Cmd)
	}
	for i := range m.Cmds {
		tf.decodeCmd(t, &m.Cmds[i])
	}
}

func (tf *taskfile) decodeCmd(t *task, n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		t.cmds = append(t.cmds, taskCmd{shell: n.Value})
	case yaml.MappingNode:
		var c struct {
			Cmd   string    `yaml:"cmd"`
			Task  string    `yaml:"task"`
			Defer yaml.Node `yaml:"defer"`
		}
		if n.Decode(&c) != nil || c.Defer.Kind != 0 {
			return
		}
		switch {
		case c.Task != "":
			t.cmds = append(t.cmds, taskCmd{call: t.ref(c.Task)})
		case c.Cmd != "":
			t.cmds = append(t.cmds, taskCmd{shell: c.Cmd})
		}
	}
}

// ref is the full name of a task named in t's file: ":x" is the root's x.
func (t *task) ref(name string) string {
	if strings.HasPrefix(name, ":") {
		return name[1:]
	}
	return t.ns + name
}

// flatten lists, for every task, the shell commands it runs with its deps
// and called tasks expanded in place (`task X` in a command too).
func (tf *taskfile) flatten() map[string][]string {
	out := map[string][]string{}
	for name := range tf.tasks {
		out[name] = tf.expand(name, map[string]bool{})
	}
	return out
}

func (tf *taskfile) expand(name string, seen map[string]bool) []string {
	t, ok := tf.tasks[name]
	if !ok || seen[name] {
		return nil
	}
	seen[name] = true
	defer delete(seen, name)
	vars := map[string]string{"TASK": name}
	for k, v := range t.fvars {
		vars[k] = v
	}
	for k, v := range t.vars {
		vars[k] = v
	}
	var out []string
	for _, d := range t.deps {
		out = append(out, tf.expand(d, seen)...)
	}
	for _, c := range t.cmds {
		if c.call != "" {
			out = append(out, tf.expand(c.call, seen)...)
			continue
		}
		sh := expand(c.shell, vars)
		// `task other` inside a command runs that task.
		if called := calledTask(sh, "task"); called != "" {
			if _, ok := tf.tasks[called]; ok {
				out = append(out, tf.expand(called, seen)...)
				continue
			}
			if _, ok := tf.tasks[t.ns+called]; ok {
				out = append(out, tf.expand(t.ns+called, seen)...)
				continue
			}
		}
		out = append(out, inDir(expand(t.dir, vars), sh))
	}
	return out
}

// inDir is sh run in dir, as a task runner runs a command of a task whose
// directory is set: `cd DIR && sh`, which classify follows. A dir with a
// template left in it stays one, which classify takes for a directory it
// cannot tell.
func inDir(dir, sh string) string {
	if dir == "" || dir == "." {
		return sh
	}
	return "cd " + shellQuote(dir) + " && " + sh
}

// joinDir is dir d (a task's, a template or a path) under the directory
// base its Taskfile's include gives, "" none.
func joinDir(base, d string) string {
	switch {
	case base == "" || base == ".":
		return d
	case d == "":
		return base
	case strings.HasPrefix(d, "{{"), path.IsAbs(d), strings.HasPrefix(d, "~"):
		return d
	}
	return path.Join(base, d)
}

// shellQuote quotes s for sh, as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var goTemplate = lazyregexp.New(`\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}`)

// expand substitutes {{.VAR}} with vars; other templates are left as they
// are.
func expand(s string, vars map[string]string) string {
	return goTemplate().ReplaceAllStringFunc(s, func(m string) string {
		name := goTemplate().FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// calledTask returns NAME when the whole command is `RUNNER NAME` (task
// nix:switch, just switch).
func calledTask(sh, runner string) string {
	f := strings.Fields(sh)
	if len(f) == 2 && f[0] == runner && !strings.HasPrefix(f[1], "-") {
		return f[1]
	}
	return ""
}

// A justfile: recipes with dependencies and indented bodies, := variables,
// {{name}} interpolation.

type justfile struct {
	workdir string // set working-directory: where recipes run, "" the justfile's
	vars    map[string]string
	recipes map[string]*recipe
	aliases map[string]string
}

type recipe struct {
	osMatch bool              // its OS attributes name this system, or it has none
	params  map[string]string // parameter defaults; "" when none
	deps    []string
	body    []string
	script  bool   // a #! recipe: its body is one script, not a command a line
	workdir string // [working-directory: …]: where it runs, "" the justfile's
}

var (
	justAssign = lazyregexp.New(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*:=\s*(.*)$`)
	justAlias  = lazyregexp.New(`^alias\s+([A-Za-z_][A-Za-z0-9_-]*)\s*:=\s*([A-Za-z_][A-Za-z0-9_-]*)`)
	justHeader = lazyregexp.New(`^@?([A-Za-z_][A-Za-z0-9_-]*)((?:\s+[^:]*?)?)\s*:([^=].*)?$`)
	// set working-directory := 'x', [working-directory: 'x'] (and ('x')).
	justWorkdir     = lazyregexp.New(`^set\s+working-directory\s*:=\s*(.+)$`)
	justWorkdirAttr = lazyregexp.New(`^working-directory\s*(?::\s*(.+)|\(\s*(.+?)\s*\))$`)
	justInterp      = lazyregexp.New(`\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}`)
)

// justOS are just's OS attributes and the systems they select.
var justOS = map[string][]string{"macos": {"darwin"}, "linux": {"linux"}, "unix": {"darwin", "linux", "freebsd", "openbsd", "netbsd"}, "windows": {"windows"}, "openbsd": {"openbsd"}, "freebsd": {"freebsd"}}

func parseJustfile(src, goos string) *justfile {
	jf := &justfile{vars: map[string]string{}, recipes: map[string]*recipe{}, aliases: map[string]string{}}
	var cur *recipe
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var cont string
	var attrs []string // the attributes above the next recipe
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if cur != nil && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) {
			body := strings.TrimSpace(line)
			if strings.HasSuffix(body, "\\") {
				cont += strings.TrimSpace(strings.TrimSuffix(body, "\\")) + " "
				continue
			}
			body, cont = cont+body, ""
			if strings.HasPrefix(body, "#!") && len(cur.body) == 0 {
				cur.script = true
				continue
			}
			if body == "" || strings.HasPrefix(body, "#") {
				continue
			}
			cur.body = append(cur.body, strings.TrimLeft(body, "@-"))
			continue
		}
		if line == "" {
			continue
		}
		cur = nil
		switch {
		case strings.HasPrefix(line, "["):
			for _, a := range strings.Split(strings.Trim(line, "[] "), ",") {
				attrs = append(attrs, strings.TrimSpace(a))
			}
		case justWorkdir().MatchString(line):
			jf.workdir = justValue(justWorkdir().FindStringSubmatch(line)[1])
		case strings.HasPrefix(line, "#"), strings.HasPrefix(line, "set "), strings.HasPrefix(line, "import "), strings.HasPrefix(line, "mod "):
		case justAlias().MatchString(line):
			m := justAlias().FindStringSubmatch(line)
			jf.aliases[m[1]] = m[2]
		case justAssign().MatchString(line):
			m := justAssign().FindStringSubmatch(line)
			jf.vars[m[1]] = justValue(m[2])
		case justHeader().MatchString(line):
			m := justHeader().FindStringSubmatch(line)
			r := &recipe{params: map[string]string{}, osMatch: true}
			hasOS := false
			for _, a := range attrs {
				if m := justWorkdirAttr().FindStringSubmatch(a); m != nil {
					r.workdir = justValue(m[1] + m[2])
				}
				if systems, ok := justOS[a]; ok {
					if !hasOS {
						r.osMatch = false
					}
					hasOS = true
					if slices.Contains(systems, goos) {
						r.osMatch = true
					}
				}
			}
			attrs = nil
			for _, p := range strings.Fields(m[2]) {
				p = strings.TrimLeft(p, "+*$")
				name, def, _ := strings.Cut(p, "=")
				r.params[name] = def
			}
			deps := m[3]
			if i := strings.Index(deps, "&&"); i >= 0 {
				deps = deps[:i] + " " + deps[i+2:]
			}
			for _, d := range strings.Fields(deps) {
				if d = strings.Trim(d, "()"); d != "" && isIdentStart(d[0]) {
					r.deps = append(r.deps, d)
				}
			}
			// Recipes of one name for several systems: this system's.
			if old, ok := jf.recipes[m[1]]; !ok || r.osMatch && !old.osMatch {
				jf.recipes[m[1]] = r
			}
			cur = r
		}
	}
	return jf
}

// justValue reads a string literal, or a backtick command as $(CMD).
func justValue(v string) string {
	v = strings.TrimSpace(v)
	if parts := strings.Split(v, " / "); len(parts) > 1 {
		// justfile_dir() / "nix": just's path join.
		for i, p := range parts {
			if parts[i] = justValue(p); strings.Contains(parts[i], "{{?}}") || parts[i] == "" {
				return "{{?}}"
			}
		}
		j := path.Join(parts...)
		if parts[0] == "." && j != "." && j != ".." && !strings.HasPrefix(j, "../") {
			j = "./" + j // nix takes a bare name for a registry's flake
		}
		return j
	}
	if len(v) >= 2 {
		switch {
		case v[0] == '"' && v[len(v)-1] == '"', v[0] == '\'' && v[len(v)-1] == '\'':
			return v[1 : len(v)-1]
		case v[0] == '`' && v[len(v)-1] == '`':
			return "$(" + v[1:len(v)-1] + ")"
		}
	}
	switch v {
	case "":
		return ""
	case "justfile_dir()", "justfile_directory()", "source_dir()", "source_directory()":
		// The justfile's directory, the repository's root, where just
		// runs a recipe by default.
		return "."
	}
	return "{{?}}"
}

func (jf *justfile) flatten() map[string][]string {
	out := map[string][]string{}
	for name := range jf.recipes {
		out[name] = jf.expand(name, map[string]bool{})
	}
	return out
}

func (jf *justfile) expand(name string, seen map[string]bool) []string {
	if a, ok := jf.aliases[name]; ok {
		name = a
	}
	r, ok := jf.recipes[name]
	if !ok || seen[name] {
		return nil
	}
	seen[name] = true
	defer delete(seen, name)
	var out []string
	for _, d := range r.deps {
		out = append(out, jf.expand(d, seen)...)
	}
	dir := cmp.Or(r.workdir, jf.workdir)
	var script []string
	for _, b := range r.body {
		sh := justInterp().ReplaceAllStringFunc(b, func(m string) string {
			v := justInterp().FindStringSubmatch(m)[1]
			if d, ok := r.params[v]; ok && d != "" {
				if val, isVar := jf.vars[d]; isVar {
					return val
				}
				return justValue(d)
			}
			if d, ok := jf.vars[v]; ok {
				return d
			}
			return m
		})
		if r.script {
			script = append(script, sh)
			continue
		}
		if called := calledTask(sh, "just"); called != "" {
			if _, ok := jf.recipes[called]; ok {
				out = append(out, jf.expand(called, seen)...)
				continue
			}
		}
		out = append(out, inDir(dir, sh))
	}
	if len(script) > 0 {
		out = append(out, inDir(dir, strings.Join(script, "\n")))
	}
	return out
}

// A mise.toml: [tasks.NAME] with run (a string or a list) and depends.

type misefile struct {
	tasks map[string]*miseTask
}

type miseTask struct {
	run     []string // each a command line, or a script of many
	depends []string
	dir     string // dir: where it runs, "" the project's directory
}

// miseDir is a mise task's dir with the templates that name the project's
// directory read ({{config_root}}, {{cwd}} where sysinit runs); another
// template is left in, which classify takes for a directory it cannot
// tell.
func miseDir(d string) string {
	for _, t := range []string{"{{config_root}}", "{{ config_root }}", "{{cwd}}", "{{ cwd }}"} {
		d = strings.ReplaceAll(d, t, ".")
	}
	if d == "" || strings.Contains(d, "{{") {
		return d
	}
	return path.Clean(d)
}

// miseScript splits a run string into what mise runs: the script it is
// (one shell, so a cd moves the lines after it), apart from a line
// `mise run TASK`, which runs that task in its own.
func miseScript(run string) []string {
	var out, cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(run), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "mise" && f[1] == "run" {
			flush()
			out = append(out, line)
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

func parseMise(data []byte) (*misefile, error) {
	var doc struct {
		Tasks map[string]struct {
			Run     any      `toml:"run"`
			Depends []string `toml:"depends"`
			Dir     string   `toml:"dir"`
		} `toml:"tasks"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	mf := &misefile{tasks: map[string]*miseTask{}}
	for name, t := range doc.Tasks {
		mt := &miseTask{depends: t.Depends, dir: miseDir(t.Dir)}
		switch run := t.Run.(type) {
		case string:
			mt.run = miseScript(run)
		case []any:
			for _, r := range run {
				if s, ok := r.(string); ok {
					mt.run = append(mt.run, s)
				}
			}
		}
		mf.tasks[name] = mt
	}
	return mf, nil
}

func (mf *misefile) flatten() map[string][]string {
	out := map[string][]string{}
	for name := range mf.tasks {
		out[name] = mf.expand(name, map[string]bool{})
	}
	return out
}

func (mf *misefile) expand(name string, seen map[string]bool) []string {
	t, ok := mf.tasks[name]
	if !ok || seen[name] {
		return nil
	}
	seen[name] = true
	defer delete(seen, name)
	var out []string
	for _, d := range t.depends {
		out = append(out, mf.expand(d, seen)...)
	}
	for _, line := range t.run {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// mise run X (or mise X) inside a task runs that task.
		if f := strings.Fields(line); len(f) == 3 && f[0] == "mise" && f[1] == "run" {
			if _, ok := mf.tasks[f[2]]; ok {
				out = append(out, mf.expand(f[2], seen)...)
				continue
			}
		}
		out = append(out, inDir(t.dir, line))
	}
	return out
}
