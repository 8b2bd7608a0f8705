package scaffold

import (
	"maps"
	"os"
	"os/user"
	"path"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/sysinit/sysinit/internal/command"
)

// Action kinds: what one command of an old refresh did, as sysinit sees it.
const (
	actFlakeUpdate = "flake-update"
	actDarwin      = "nix-darwin"
	actNixOS       = "nixos"
	actHome        = "home-manager"
	actBrewBundle  = "brew-bundle"
	actBrewUpdate  = "brew-update"  // brew update: becomes update-every
	actBrewUpgrade = "brew-upgrade" // brew upgrade: becomes upgrade = true
	actCopy        = "file"         // cp/install SRC DEST
	actRestart     = "restart"      // restart the nix daemon
	actIgnore      = "ignore"       // echo, cd, sysinit itself: nothing to do
	actCommand     = "command"      // anything else
)

// action is one command of an old refresh, mapped.
type action struct {
	kind string
	text string   // the command as written
	argv []string // its words past sudo, env and the like

	// nix system steps
	flake     string // the flake reference given, "" = none
	flakeNote string // why init cannot tell the flake, for a comment
	hostAttr  bool   // its configuration is this machine's ($(hostname), nh's default)
	impure    bool
	env       map[string]string
	extraArgs []string
	maxJobs   int
	cores     int
	nixAction string   // nixos: switch | boot | test
	remote    bool     // --target-host: another machine
	dropped   []string // flags left out, for the comment
	logFlags  []string // flags about output, which sysinit has its own of
	sudo      bool     // ran under sudo
	chdir     *word    // the directory env -C or sudo -D ran it in

	// flake-update
	inputs []string
	commit bool

	// brew-bundle
	brewfile string
	cleanup  bool

	// file
	source, dest string

	note string // why it was ignored
}

func (a action) recognized() bool {
	return a.kind != actCommand && a.kind != actIgnore
}

// classify maps one shell command line to the actions its simple commands
// perform. A relative flake after a cd is that directory's, as the shell
// ran it: a cd lasts in its own shell only (not past a subshell, a
// pipeline, a background job, a command substitution or an uncalled
// function), and one that may or may not have run (in an if, a loop, past
// ||) leaves a directory init cannot tell.
func classify(line string) []action {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		return []action{{kind: actCommand, text: line}}
	}
	w := &cdWalk{funcs: map[string]bool{}}
	w.stmts(f.Stmts, "")
	if len(w.out) == 0 {
		return []action{{kind: actIgnore, text: line}}
	}
	return w.out
}

// unknownDir is a directory init cannot tell.
const unknownDir = "?"

// cdWalk follows the working directory through a command line: "" the
// repository (the task runner's directory), unknownDir one init cannot
// tell, else a path relative to the repository or absolute.
type cdWalk struct {
	out   []action
	funcs map[string]bool // functions whose body moves the directory
	stack []string        // pushd's
	dry   bool            // only where it ends: no action kept
}

// stmts walks stmts from dir, and reports where they leave the shell.
func (w *cdWalk) stmts(stmts []*syntax.Stmt, dir string) string {
	for _, s := range stmts {
		dir = w.stmt(s, dir)
	}
	return dir
}

func (w *cdWalk) stmt(s *syntax.Stmt, dir string) string {
	for _, r := range s.Redirs {
		w.nested(r, dir)
	}
	if s.Cmd == nil {
		return dir
	}
	if s.Background || s.Coprocess || s.Disown {
		w.sub(func() { w.cmd(s.Cmd, dir) })
		return dir
	}
	return w.cmd(s.Cmd, dir)
}

// sub runs f as a subshell: what it does to the directory stays in it.
func (w *cdWalk) sub(f func()) {
	stack, funcs := slices.Clone(w.stack), w.funcs
	w.funcs = maps.Clone(funcs)
	f()
	w.stack, w.funcs = stack, funcs
}

// ends is where stmts leave the shell from dir, without keeping their
// actions.
func (w *cdWalk) ends(dir string, stmts ...[]*syntax.Stmt) string {
	d := &cdWalk{funcs: maps.Clone(w.funcs), stack: slices.Clone(w.stack), dry: true}
	for _, ss := range stmts {
		dir = d.stmts(ss, dir)
	}
	return dir
}

// nested walks the commands substituted inside n (its $(…), <(…)), each
// in a subshell.
func (w *cdWalk) nested(n syntax.Node, dir string) {
	syntax.Walk(n, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CmdSubst:
			w.sub(func() { w.stmts(n.Stmts, dir) })
			return false
		case *syntax.ProcSubst:
			w.sub(func() { w.stmts(n.Stmts, dir) })
			return false
		}
		return true
	})
}

// merge is the directory after branches that may each have run.
func merge(dirs ...string) string {
	for _, d := range dirs[1:] {
		if d != dirs[0] {
			return unknownDir
		}
	}
	return dirs[0]
}

func (w *cdWalk) cmd(c syntax.Command, dir string) string {
	switch c := c.(type) {
	case *syntax.CallExpr:
		return w.call(c, dir)
	case *syntax.Block:
		return w.stmts(c.Stmts, dir)
	case *syntax.Subshell:
		w.sub(func() { w.stmts(c.Stmts, dir) })
		return dir
	case *syntax.TimeClause:
		if c.Stmt != nil {
			return w.stmt(c.Stmt, dir)
		}
		return dir
	case *syntax.CoprocClause:
		w.sub(func() { w.stmt(c.Stmt, dir) })
		return dir
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.AndStmt:
			return w.stmt(c.Y, w.stmt(c.X, dir))
		case syntax.OrStmt:
			// Y runs where X failed, from where X began: `cd x || exit`
			// goes on in x; `cd x || cd y` in one of two.
			x := w.stmt(c.X, dir)
			if y := w.stmt(c.Y, dir); y != dir {
				return merge(x, y)
			}
			return x
		default:
			// A pipeline's commands run in subshells (zsh runs the last
			// in this one: a cd there is one init cannot tell).
			w.sub(func() { w.stmt(c.X, dir) })
			var y string
			w.sub(func() { y = w.stmt(c.Y, dir) })
			return merge(dir, y)
		}
	case *syntax.IfClause:
		if !c.ThenPos.IsValid() {
			return w.stmts(c.Then, dir) // else
		}
		cond := w.stmts(c.Cond, dir)
		then := w.stmts(c.Then, cond)
		if c.Else == nil {
			return merge(then, cond)
		}
		return merge(then, w.cmd(c.Else, cond))
	case *syntax.WhileClause:
		// A loop whose round moves the directory runs its rounds in
		// directories init cannot tell.
		if w.ends(dir, c.Cond, c.Do) != dir || w.ends(dir, c.Cond) != dir {
			dir = unknownDir
		}
		return w.stmts(c.Do, w.stmts(c.Cond, dir))
	case *syntax.ForClause:
		w.nested(c.Loop, dir)
		if w.ends(dir, c.Do) != dir {
			dir = unknownDir
		}
		return w.stmts(c.Do, dir)
	case *syntax.CaseClause:
		w.nested(c.Word, dir)
		ends := []string{dir}
		for _, it := range c.Items {
			ends = append(ends, w.stmts(it.Stmts, dir))
		}
		return merge(ends...)
	case *syntax.FuncDecl:
		// Its commands are read where it is defined; calling it moves
		// the directory when its body does.
		end := dir
		w.sub(func() { end = w.stmt(c.Body, dir) })
		if c.Name != nil && end != dir {
			w.funcs[c.Name.Value] = true
		}
		return dir
	default:
		// [[ … ]], (( … )), declare, let: only what they substitute.
		w.nested(c, dir)
		return dir
	}
}

// cdBuiltins are the commands that move the shell's directory.
var cdBuiltins = []string{"cd", "pushd", "popd"}

func (w *cdWalk) call(c *syntax.CallExpr, dir string) string {
	if len(c.Args) == 0 {
		return dir
	}
	ws := words(c)
	for len(ws) > 1 && (ws[0].s == "builtin" || ws[0].s == "command") && slices.Contains(cdBuiltins, ws[1].s) {
		ws = ws[1:]
	}
	switch ws[0].s {
	case "cd", "pushd":
		if ws[0].s == "pushd" {
			if len(ws) == 1 || strings.HasPrefix(ws[1].s, "+") || strings.HasPrefix(ws[1].s, "-") && ws[1].s != "-" {
				return unknownDir // pushd alone swaps; +N, -N rotate
			}
			w.stack = append(w.stack, dir)
		}
		if !w.dry {
			w.out = append(w.out, classifyCall(c))
		}
		return cdTo(dir, ws[1:])
	case "popd":
		if !w.dry {
			w.out = append(w.out, classifyCall(c))
		}
		if len(ws) > 1 || len(w.stack) == 0 {
			return unknownDir
		}
		to := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		return to
	}
	a := classifyCall(c)
	at := dir
	if a.chdir != nil {
		at = cdTo(dir, []word{*a.chdir})
	}
	if at != "" {
		a.inDir(at)
	}
	if !w.dry {
		w.out = append(w.out, a)
	}
	if w.funcs[ws[0].s] {
		return unknownDir
	}
	return dir
}

// word is one argument: its static value, or its source text when it
// expands something.
type word struct {
	s      string
	static bool
}

func words(c *syntax.CallExpr) []word {
	var out []word
	for _, w := range c.Args {
		if s, ok := staticWord(w); ok {
			out = append(out, word{s: s, static: true})
			continue
		}
		var b strings.Builder
		_ = syntax.NewPrinter().Print(&b, w)
		out = append(out, word{s: b.String()})
	}
	return out
}

// staticWord is a word's value when it expands nothing.
func staticWord(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
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

func printed(n syntax.Node) string {
	var b strings.Builder
	_ = syntax.NewPrinter().Print(&b, n)
	return strings.TrimSpace(b.String())
}

// sudoValueFlags are sudo's options that take a value, and env's.
var (
	sudoValueFlags = []string{"-u", "-g", "-p", "-C", "-D", "-h", "-r", "-t", "-T", "-U",
		"--user", "--group", "--prompt", "--close-from", "--chdir", "--host", "--role", "--type", "--command-timeout", "--other-user"}
	envValueFlags = []string{"-u", "--unset", "-C", "--chdir"}
)

// chdirFlag reads a wrapper's option that sets the directory the command
// runs in (env -C DIR, --chdir=DIR; sudo -D DIR, --chdir DIR): its value,
// and how many words it took.
func chdirFlag(ws []word) (*word, int) {
	f := ws[0]
	switch {
	case f.s == "-C" && len(ws) > 1 && f.static, f.s == "-D" && len(ws) > 1 && f.static, f.s == "--chdir" && len(ws) > 1:
		return &ws[1], 2
	case strings.HasPrefix(f.s, "--chdir="):
		return &word{s: strings.TrimPrefix(f.s, "--chdir="), static: f.static}, 1
	case len(f.s) > 2 && (strings.HasPrefix(f.s, "-C") || strings.HasPrefix(f.s, "-D")) && f.static:
		return &word{s: f.s[2:], static: true}, 1
	}
	return nil, 0
}

func classifyCall(c *syntax.CallExpr) action {
	a := action{kind: actCommand, text: printed(c), env: map[string]string{}}
	for _, as := range c.Assigns {
		if as.Value != nil {
			if v, ok := staticWord(as.Value); ok {
				a.env[as.Name.Value] = v
			}
		}
	}
	ws := words(c)
	// Unwrap sudo, env, time, nice, command, exec.
	for len(ws) > 0 {
		switch ws[0].s {
		case "sudo", "doas":
			a.sudo = true
			ws = ws[1:]
			for len(ws) > 0 && strings.HasPrefix(ws[0].s, "-") {
				if ws[0].s == "--" {
					ws = ws[1:]
					break
				}
				if d, n := chdirFlag(ws); n > 0 && ws[0].s != "-C" {
					a.chdir, ws = d, ws[n:] // sudo -C is --close-from
					continue
				}
				if slices.Contains(sudoValueFlags, ws[0].s) && len(ws) > 1 {
					ws = ws[1:]
				}
				ws = ws[1:]
			}
			continue
		case "env":
			ws = ws[1:]
			for len(ws) > 0 && (strings.HasPrefix(ws[0].s, "-") || strings.Contains(ws[0].s, "=")) {
				if ws[0].s == "--" {
					ws = ws[1:]
					break
				}
				if d, n := chdirFlag(ws); n > 0 && ws[0].s != "-D" && !strings.HasPrefix(ws[0].s, "-D") {
					a.chdir, ws = d, ws[n:]
					continue
				}
				if k, v, ok := strings.Cut(ws[0].s, "="); ok && !strings.HasPrefix(k, "-") {
					a.env[k] = v
				}
				if slices.Contains(envValueFlags, ws[0].s) && len(ws) > 1 {
					ws = ws[1:]
				}
				ws = ws[1:]
			}
			continue
		case "time", "nice", "command", "exec", "caffeinate", "nohup":
			ws = ws[1:]
			continue
		}
		break
	}
	if len(ws) == 0 {
		a.kind = actIgnore
		return a
	}
	for _, w := range ws {
		a.argv = append(a.argv, w.s)
	}
	prog := path.Base(ws[0].s)
	args := ws[1:]
	switch prog {
	case "echo", "printf", "true", ":", "cd", "set", "sleep", "clear", "say", "osascript", "terminal-notifier", "notify-send",
		"[", "test": // a test changes nothing ([[ … ]] is no command at all)
		a.kind = actIgnore
	case "sysinit":
		a.kind, a.note = actIgnore, "already sysinit"
	case "nix-collect-garbage":
		a.note = "garbage collection is not part of a refresh; keep it as a task of its own, or a command step with every = \"7d\""
	case "nix":
		classifyNix(&a, args)
	case "darwin-rebuild":
		classifyRebuild(&a, actDarwin, args)
	case "nixos-rebuild", "nixos-rebuild-ng":
		classifyRebuild(&a, actNixOS, args)
	case "home-manager":
		classifyRebuild(&a, actHome, args)
	case "nh":
		classifyNH(&a, args)
	case "brew":
		classifyBrew(&a, args)
	case "cp", "install", "rsync":
		classifyCopy(&a, prog, args)
	case "launchctl", "systemctl", "pkill", "killall":
		if restartsNixDaemon(args) {
			a.kind = actRestart
		}
	}
	return a
}

// classifyNix handles `nix flake update`, `nix flake lock --update-input`
// and `nix run nix-darwin -- switch …`.
func classifyNix(a *action, args []word) {
	// Global options before the subcommand (--extra-experimental-features X).
	for len(args) > 0 && strings.HasPrefix(args[0].s, "-") {
		if len(args) > 1 && !strings.HasPrefix(args[1].s, "-") && nixValueFlag(args[0].s) {
			args = args[1:]
		}
		args = args[1:]
	}
	if len(args) == 0 {
		return
	}
	switch {
	case args[0].s == "flake" && len(args) > 1 && (args[1].s == "update" || args[1].s == "lock"):
		lock := args[1].s == "lock"
		rest := args[2:]
		updates := false
		for i := 0; i < len(rest); i++ {
			switch w := rest[i].s; {
			case w == "--commit-lock-file":
				a.commit = true
			case w == "--update-input" && i+1 < len(rest):
				a.inputs = append(a.inputs, rest[i+1].s)
				updates = true
				i++
			case w == "--flake" && i+1 < len(rest):
				a.setFlake(rest[i+1])
				i++
			case strings.HasPrefix(w, "-"):
				a.dropped = append(a.dropped, w)
			case !lock && a.flake == "" && looksLikeFlake(w) && i == 0:
				// Nix ≤ 2.18: nix flake update FLAKE.
				a.flake = w
			case !lock:
				a.inputs = append(a.inputs, w)
			}
		}
		if lock && !updates {
			// nix flake lock alone moves no pin: the flake-update step
			// does it whenever flake.nix changes.
			a.kind, a.note = actIgnore, "nix flake lock: the flake-update step locks new inputs when flake.nix changes"
			return
		}
		a.kind = actFlakeUpdate
	case args[0].s == "run" && len(args) > 1 && strings.Contains(args[1].s, "nix-darwin"):
		for i, w := range args {
			if w.s == "--" {
				classifyRebuild(a, actDarwin, args[i+1:])
				return
			}
		}
	case args[0].s == "run" && len(args) > 1 && strings.Contains(args[1].s, "home-manager"):
		for i, w := range args {
			if w.s == "--" {
				classifyRebuild(a, actHome, args[i+1:])
				return
			}
		}
	case args[0].s == "build" && slices.ContainsFunc(args[1:], func(w word) bool { return buildsConfiguration(w.s) }):
		// The build before a switch (nix build, then
		// ./result/sw/bin/darwin-rebuild switch): the nix step builds the
		// configuration itself, as you, before it switches.
		a.kind, a.note = actIgnore, "building the configuration before a switch: the nix step builds it itself"
	case args[0].s == "store" && len(args) > 1 && (args[1].s == "gc" || args[1].s == "optimise"):
		a.note = "garbage collection is not part of a refresh; keep it as a task of its own, or a command step with every = \"7d\""
	}
}

// configBuilds are the attributes of a configuration a switch builds:
// nix-darwin's system, NixOS's toplevel, home-manager's activation package.
var configBuilds = []string{".system", ".config.system.build.toplevel", ".activationPackage"}

// buildsConfiguration reports whether installable w is what a switch of a
// flake's configuration builds: FLAKE#darwinConfigurations.NAME.system and
// the like.
func buildsConfiguration(w string) bool {
	_, attr, ok := strings.Cut(w, "#")
	if !ok {
		return false
	}
	out, rest, ok := strings.Cut(attr, ".")
	if !ok || !slices.Contains([]string{"darwinConfigurations", "nixosConfigurations", "homeConfigurations"}, out) {
		return false
	}
	return slices.ContainsFunc(configBuilds, func(s string) bool { return strings.HasSuffix(rest, s) })
}

// looksLikeFlake reports whether w is a flake reference rather than an
// input name: a path or a URL-like reference.
func looksLikeFlake(w string) bool {
	return w == "." || strings.HasPrefix(w, "./") || strings.HasPrefix(w, "/") || strings.HasPrefix(w, "~") || strings.Contains(w, ":")
}

// nixValueFlag reports whether a global nix option takes a value.
func nixValueFlag(f string) bool {
	switch f {
	case "--extra-experimental-features", "--experimental-features", "--option", "--log-format", "--store", "--max-jobs", "-j", "--cores":
		return true
	}
	return false
}

// classifyRebuild reads `darwin-rebuild switch --flake REF …` and its
// NixOS and home-manager siblings.
func classifyRebuild(a *action, kind string, args []word) {
	if len(args) == 0 {
		return
	}
	verb := args[0].s
	switch {
	case verb == "switch", kind == actDarwin && verb == "activate", kind == actNixOS && (verb == "boot" || verb == "test"):
	default:
		// build, check, dry-run, edit, rollback: not what a refresh does.
		a.note = verb + " does not switch"
		return
	}
	a.kind = kind
	if kind == actNixOS {
		a.nixAction = verb
	}
	readNixFlags(a, args[1:], true)
}

// readNixFlags sets what the flags of a rebuild command mean for the step.
func readNixFlags(a *action, args []word, flakeFlag bool) {
	for i := 0; i < len(args); i++ {
		w := args[i]
		next := func() (word, bool) {
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return word{}, false
		}
		switch w.s {
		case "--flake", "-f":
			if v, ok := next(); ok && flakeFlag {
				a.setFlake(v)
			}
		case "--impure":
			a.impure = true
		case "--show-trace", "--accept-flake-config", "--fallback", "--keep-going", "--refresh", "--no-write-lock-file", "--offline":
			a.extraArgs = append(a.extraArgs, w.s)
		case "--option":
			k, ok1 := next()
			v, ok2 := next()
			if ok1 && ok2 {
				a.extraArgs = append(a.extraArgs, "--option", k.s, v.s)
			}
		case "--override-input":
			k, ok1 := next()
			v, ok2 := next()
			if ok1 && ok2 {
				a.extraArgs = append(a.extraArgs, "--override-input", k.s, v.s)
			}
		case "--max-jobs", "-j":
			if v, ok := next(); ok {
				a.maxJobs, _ = strconv.Atoi(v.s)
				if v.s == "auto" {
					a.dropped = append(a.dropped, "--max-jobs auto")
				}
			}
		case "--cores":
			if v, ok := next(); ok {
				a.cores, _ = strconv.Atoi(v.s)
			}
		case "--target-host", "--build-host":
			if _, ok := next(); ok {
				a.remote = true
			}
		case "--builders", "--substituters", "--extra-substituters", "--store", "--eval-store":
			if v, ok := next(); ok {
				a.extraArgs = append(a.extraArgs, w.s, v.s)
			}
		case "-L", "--print-build-logs", "-v", "--verbose", "--no-nom", "--quiet", "-q", "--log-format":
			if w.s == "--log-format" {
				next()
			}
			a.logFlags = append(a.logFlags, w.s)
		case "-b", "--backup", "--profile-name", "-p", "--specialisation", "-c":
			if v, ok := next(); ok {
				a.dropped = append(a.dropped, w.s+" "+command.Quote(v.s))
			}
		default:
			a.dropped = append(a.dropped, w.s)
		}
	}
}

// sudoHome is the home directory of user name when init runs as root
// (under sudo); a variable for tests.
var sudoHome = lookupSudoHome

func lookupSudoHome(name string) (string, bool) {
	if os.Geteuid() != 0 {
		return "", false
	}
	return userHome(name)
}

// userHome is the home directory of user name (~name).
func userHome(name string) (string, bool) {
	u, err := user.Lookup(name)
	if err != nil || u.HomeDir == "" {
		return "", false
	}
	return u.HomeDir, true
}

// shellHome is the home directory ~ and $HOME were in the old command:
// under sudo (HOME is root's) that of the user who ran sudo, whose
// command it was; else HOME.
func shellHome() (string, bool) {
	if name := os.Getenv("SUDO_USER"); name != "" && name != "root" {
		if h, ok := sudoHome(name); ok {
			return h, true
		}
	}
	h, err := os.UserHomeDir()
	return h, err == nil && h != ""
}

// cdTo is where `cd args` goes from dir (see classify); unknownDir when
// init cannot tell.
func cdTo(dir string, args []word) string {
	for len(args) > 0 && (args[0].s == "-P" || args[0].s == "-L" || args[0].s == "--") {
		args = args[1:]
	}
	to := word{s: "~", static: true} // cd alone: home
	switch {
	case len(args) > 1 || dir == unknownDir:
		return unknownDir
	case len(args) == 1:
		to = args[0]
	}
	if to.s == "-" {
		return unknownDir
	}
	p, ok := expandRef(to.s, to.static)
	switch {
	case !ok || strings.Contains(p, "#") || strings.Contains(p, "{{"):
		return unknownDir // {{?}}: a template the task file left unread
	case path.IsAbs(p):
		return path.Clean(p)
	case path.IsAbs(dir):
		return path.Join(dir, p)
	}
	return path.Join(".", dir, p)
}

// inDir makes the flake of a command run after a cd to dir (classify)
// that directory's: `cd /srv/nix && darwin-rebuild switch --flake .#x`
// applied /srv/nix's flake, and `cd nix && nix flake update` locked
// nix/flake.lock.
func (a *action) inDir(dir string) {
	switch a.kind {
	case actFlakeUpdate, actDarwin, actNixOS, actHome:
	default:
		return
	}
	base, frag, hasFrag := strings.Cut(a.flake, "#")
	scheme, rest, _ := strings.Cut(base, ":")
	if rest == "" {
		scheme, rest = "", base
	} else {
		scheme += ":"
	}
	switch {
	case a.flake == "" && a.kind != actFlakeUpdate:
		return // no flake given: the tool's own default, not the directory
	case strings.HasPrefix(rest, "//."):
		// git+file://$PWD: a URL of the directory, which a step's flake
		// cannot name relatively.
		if a.flakeNote == "" {
			a.flakeNote = a.flake + " named the directory a cd took it to"
		}
		return
	case a.flake != "" && !strings.HasPrefix(rest, ".") && !(rest == "" && hasFrag):
		return // absolute, or not a path (github:…, a registry name)
	case dir == unknownDir:
		if a.flakeNote == "" {
			a.flakeNote = "it ran in a directory a cd took it to"
		}
		return
	}
	rest = path.Join(dir, rest)
	if !path.IsAbs(rest) && rest != "." && !strings.HasPrefix(rest, "../") && rest != ".." {
		rest = "./" + rest
	}
	a.flake = scheme + rest
	if hasFrag {
		a.flake += "#" + frag
	}
}

// setFlake takes the flake reference the old command gave, expanded as
// the shell expanded it where init can tell how (expandRef). A fragment
// the shell computed, .#$(hostname), means this machine's configuration.
func (a *action) setFlake(v word) {
	ref, ok := expandRef(v.s, v.static)
	if !ok {
		// $DOTFILES unset here, $(git rev-parse …): the step applies
		// this repository's flake and says what it was.
		a.flakeNote, ref = v.s+" expands to what it cannot read here", "."
		if _, frag, found := strings.Cut(strings.Trim(v.s, `"`), "#"); found {
			ref += "#" + frag
		}
	}
	a.flake = ref
	if _, frag, _ := strings.Cut(ref, "#"); strings.ContainsAny(frag, "$`") {
		a.flake, a.hostAttr = flakeBase(ref), true
	}
}

// expandRef expands what the shell expanded in a flake reference's path
// for the old command, and nix would not for the step: ~ and $HOME; the
// working directory ($(pwd), $PWD), the task runner's, which is the
// repository; any other variable set where init runs ($DOTFILES). It
// reports false for a path computed otherwise, or from a variable not
// set here. A static word has only its ~ expanded: '$PWD' is literal.
func expandRef(ref string, static bool) (string, bool) {
	if !static && len(ref) >= 2 && ref[0] == '"' && ref[len(ref)-1] == '"' {
		ref = ref[1 : len(ref)-1]
	}
	base, frag, hasFrag := strings.Cut(ref, "#")
	join := func(base string) string {
		if hasFrag {
			return base + "#" + frag
		}
		return base
	}
	if r, ok := strings.CutPrefix(base, "~"); ok {
		name, rest, _ := strings.Cut(r, "/")
		if rest != "" || strings.Contains(r, "/") {
			rest = "/" + rest
		}
		h, ok := shellHome()
		if name != "" {
			h, ok = userHome(name) // ~sam/dotfiles: sam's home
		}
		if !ok {
			return "", false
		}
		base = h + rest
		if static {
			return join(base), true
		}
	}
	if static {
		return ref, true
	}
	for _, pwd := range []string{"$(pwd)", "`pwd`"} {
		if r, ok := strings.CutPrefix(base, pwd); ok {
			base = "$PWD" + r
		}
	}
	if strings.ContainsAny(base, "`'\"\\") || strings.Contains(base, "$(") {
		return "", false
	}
	known := true
	base = os.Expand(base, func(name string) string {
		switch name {
		case "PWD":
			return "."
		case "HOME":
			h, ok := shellHome()
			known = known && ok
			return h
		}
		v, ok := os.LookupEnv(name)
		known = known && ok && v != ""
		return v
	})
	if !known {
		return "", false
	}
	if scheme, rest, ok := strings.Cut(base, "://"); ok && strings.HasPrefix(rest, ".") {
		// git+file://$PWD is this repository's URL; a path under it has
		// no relative URL a step could give nix.
		if path.Clean(rest) != "." {
			return "", false
		}
		return join(scheme + "://."), true
	}
	if base != "" {
		base = path.Clean(base) // ./. is the repository too
	}
	return join(base), true
}

// flakeBase is the flake of a reference whose attribute is computed:
// .#$(scutil --get LocalHostName) → ".".
func flakeBase(ref string) string {
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	ref = strings.Trim(ref, `"'`)
	if ref == "" {
		return "."
	}
	return ref
}

// classifyNH reads nh: `nh darwin switch [FLAKE] [-H HOST]`, `nh os switch`,
// `nh home switch [-c CONFIG]`.
func classifyNH(a *action, args []word) {
	if len(args) < 2 {
		return
	}
	kinds := map[string]string{"darwin": actDarwin, "os": actNixOS, "home": actHome}
	kind, ok := kinds[args[0].s]
	verb := args[1].s
	if !ok {
		return
	}
	if verb != "switch" && !(kind == actNixOS && (verb == "boot" || verb == "test")) {
		a.note = "nh " + args[0].s + " " + verb + " does not switch"
		return
	}
	a.kind = kind
	if kind == actNixOS {
		a.nixAction = verb
	}
	a.hostAttr = true
	rest := args[2:]
	var nixArgs []word
	base, attr := "", ""
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		switch {
		case w.s == "--":
			nixArgs = append(nixArgs, rest[i+1:]...)
			i = len(rest)
		case (w.s == "-H" || w.s == "--hostname" || w.s == "-c" || w.s == "--configuration") && i+1 < len(rest):
			if rest[i+1].static {
				a.hostAttr = false
				attr = rest[i+1].s
			}
			i++
		case w.s == "--ask" || w.s == "-a" || w.s == "--dry" || w.s == "-n":
			a.logFlags = append(a.logFlags, w.s)
		case w.s == "--impure":
			a.impure = true
		case strings.HasPrefix(w.s, "-"):
			a.dropped = append(a.dropped, w.s)
		default:
			if w.static {
				base = w.s
			}
		}
	}
	switch {
	case attr != "":
		if base == "" {
			base = "."
		}
		a.flake = base + "#" + attr
	default:
		a.flake = base
	}
	readNixFlags(a, nixArgs, false)
}

// classifyBrew reads brew bundle, brew update and brew upgrade.
func classifyBrew(a *action, args []word) {
	if len(args) == 0 {
		return
	}
	switch args[0].s {
	case "update":
		a.kind = actBrewUpdate
	case "upgrade":
		if len(args) == 1 {
			a.kind = actBrewUpgrade
		}
	case "bundle":
		rest := args[1:]
		sub := "install"
		if len(rest) > 0 && !strings.HasPrefix(rest[0].s, "-") {
			sub, rest = rest[0].s, rest[1:]
		}
		for i := 0; i < len(rest); i++ {
			w := rest[i].s
			switch {
			case w == "--file" && i+1 < len(rest):
				a.brewfile = rest[i+1].s
				i++
			case strings.HasPrefix(w, "--file="):
				a.brewfile = strings.TrimPrefix(w, "--file=")
			case w == "--cleanup", w == "--force" && sub == "cleanup", w == "--zap":
				a.cleanup = true
			case w == "--global":
				a.brewfile = "~/.Brewfile"
			}
		}
		switch sub {
		case "install", "cleanup":
			a.kind = actBrewBundle
		case "check", "list", "dump":
			a.kind, a.note = actIgnore, "brew bundle "+sub+": the brew-bundle step checks"
		}
	}
}

// classifyCopy reads `cp SRC DEST` (and install, rsync): a file step when
// there is one source and it is a relative path in the repository.
func classifyCopy(a *action, prog string, args []word) {
	var operands []string
	for i := 0; i < len(args); i++ {
		w := args[i]
		if !w.static {
			return
		}
		if strings.HasPrefix(w.s, "-") {
			if prog == "install" && (w.s == "-m" || w.s == "-o" || w.s == "-g") {
				i++
			}
			continue
		}
		operands = append(operands, w.s)
	}
	if len(operands) != 2 || strings.HasPrefix(operands[0], "/") || strings.HasPrefix(operands[0], "~") {
		return
	}
	a.kind = actCopy
	a.source = strings.TrimPrefix(operands[0], "./")
	a.dest = operands[1]
	if strings.HasSuffix(a.dest, "/") {
		a.dest += path.Base(a.source)
	}
}

// restartsNixDaemon reports whether launchctl/systemctl/pkill arguments
// restart the nix daemon.
func restartsNixDaemon(args []word) bool {
	for _, w := range args {
		if strings.Contains(w.s, "nix-daemon") {
			return true
		}
	}
	return false
}
