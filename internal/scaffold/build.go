package scaffold

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sysinit/sysinit/internal/command"
)

// Keys says which of the keys init can write the config loader accepts.
// Init writes only keys that load: a key the loader does not know is a
// config error.
type Keys struct {
	// BrewFromNixDarwin: `nix-darwin = "STEP"` on a brew-bundle step, which
	// takes the Brewfile and homebrew.onActivation settings from that
	// nix-darwin step's evaluation (issue #13). Init then writes a brew
	// step for a flake whose nix-darwin configuration declares Homebrew.
	BrewFromNixDarwin bool
	// Entry: `entry = ["hosts/lv426", "modules/darwin"]` on nix steps,
	// where a configuration starts (issue #16). Init then writes the
	// paths of each configuration's modules list.
	Entry bool
}

// LoaderKeys reports which of those keys the loader accepts today. Turn
// each on when its key lands in internal/config; TestLoaderKeys fails
// while this and the loader disagree.
func LoaderKeys() Keys {
	return Keys{BrewFromNixDarwin: true, Entry: true}
}

// The daemon restarts, by the system the file is for.
const (
	restartDarwin            = "launchctl kickstart -k system/org.nixos.nix-daemon"
	restartDarwinDeterminate = "launchctl kickstart -k system/systems.determinate.nix-daemon"
	restartLinux             = "systemctl restart nix-daemon"
	determinateDaemonPlist   = "/Library/LaunchDaemons/systems.determinate.nix-daemon.plist"
	flakeUpdateEvery         = "7d"
	brewUpdateEvery          = "24h"
	stepFlakeUpdate          = "flake-update"
	nixConfDest              = "/etc/nix/nix.custom.conf"
	nixConfStep              = "nix-conf"
	commandHowTo             = "not a step sysinit knows, so it is off. A command step runs when its definition or `inputs` change or its `every` expires: add those, then uncomment"
)

// otherHostHowTo says how to turn on the step of another machine's
// configuration; active is this machine's step of the same kind, "" when
// there is none.
func otherHostHowTo(active string) string {
	if active == "" {
		return "another configuration of this flake: on that machine, uncomment this step (or run `sysinit init` there)"
	}
	return "another configuration of this flake: on that machine, uncomment this step and comment out step " + active + " (or run `sysinit init` there)"
}

// homebrewModuleExplanation says what nix-darwin's Homebrew module does;
// step is the nix-darwin step that switches this machine, "" when none does.
func homebrewModuleExplanation(step string) string {
	if step == "" {
		return "nix-darwin runs `brew bundle` inside darwin-rebuild's activation, serially, on every switch"
	}
	return "nix-darwin runs `brew bundle` inside step " + step + "'s activation, serially, on every switch"
}

// Build decides the steps of a first sysinit.toml for r on machine m,
// writing only the keys in keys.
func Build(r *Repo, m Machine, keys Keys) *File {
	b := &builder{r: r, m: m, keys: keys, f: &File{}, names: map[string]bool{}}
	if r.Refresh != nil {
		for _, c := range r.Refresh.Commands {
			b.acts = append(b.acts, classify(c)...)
		}
	}
	b.header()
	daemon := b.files()
	update := b.flakeUpdate()
	after := slices.DeleteFunc([]string{update}, func(s string) bool { return s == "" })
	after = append(after, daemon...)
	b.systems(after)
	b.brew()
	b.commands()
	b.footer()
	b.f.NoneActive = !b.r.Configs.Empty() && !slices.ContainsFunc(b.f.Steps, func(s *Step) bool { return !s.Off && outOf(s) != "" })
	// This machine's steps first, then the ones commented out.
	slices.SortStableFunc(b.f.Steps, func(x, y *Step) int {
		switch {
		case x.Off == y.Off:
			return 0
		case y.Off:
			return -1
		}
		return 1
	})
	return b.f
}

type builder struct {
	r     *Repo
	m     Machine
	keys  Keys
	f     *File
	acts  []action
	names map[string]bool
	used  map[int]bool // actions that became keys of a step

	darwinStep string // the active nix-darwin step, for the brew step
}

func (b *builder) use(i int) {
	if b.used == nil {
		b.used = map[int]bool{}
	}
	b.used[i] = true
}

// name returns a free step name made from want.
func (b *builder) name(want string) string {
	want = sanitize(want)
	n := want
	for i := 2; b.names[n]; i++ {
		n = fmt.Sprintf("%s-%d", want, i)
	}
	b.names[n] = true
	return n
}

func sanitize(s string) string {
	var out strings.Builder
	for _, c := range s {
		if c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			out.WriteRune(c)
		} else {
			out.WriteByte('-')
		}
	}
	n := strings.Trim(out.String(), "-.")
	if n == "" {
		n = "step"
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

func (b *builder) from() string {
	if b.r.Refresh == nil {
		return ""
	}
	return fmt.Sprintf("%s task %s", b.r.Refresh.File, b.r.Refresh.Task)
}

func (b *builder) header() {
	h := []string{"sysinit.toml, written by `sysinit init`. `sysinit help config` lists every key."}
	var read []string
	if b.r.Flake {
		read = append(read, "flake.nix (configurations from "+b.r.ConfigsFrom+")")
	}
	if b.r.Refresh != nil {
		read = append(read, b.from())
	}
	read = append(read, b.r.Brewfiles...)
	read = append(read, b.r.NixConfs...)
	if len(read) > 0 {
		h = append(h, "Read from: "+strings.Join(read, ", ")+".")
	}
	if b.r.EvalNote != "" {
		h = append(h, "nix eval was not used: "+oneLine(b.r.EvalNote))
	}
	h = append(h, fmt.Sprintf("This machine: host %q, user %q, %s.", b.m.Host, b.m.User, b.m.GOOS))
	h = append(h, "Check it with `sysinit plan` (runs nothing), then refresh with `sysinit`.")
	b.f.Header = h
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		// At a space: nix's message cut inside a word reads as garbage.
		cut := strings.LastIndexByte(s[:157], ' ')
		if cut < 80 {
			cut = 157
			for !utf8.RuneStart(s[cut]) {
				cut--
			}
		}
		s = s[:cut] + " …"
	}
	return s
}

// files makes a file step for each file the refresh copied and each
// nix.custom.conf, with the daemon restart as on-change. It returns the
// steps that restart the nix daemon: nix steps come after them.
func (b *builder) files() []string {
	var daemon []string
	copied := map[string]bool{}
	for i, a := range b.acts {
		if a.kind != actCopy {
			continue
		}
		if _, err := os.Stat(filepath.Join(b.r.Dir, a.source)); err != nil {
			continue // not a file of the repository: stays a command
		}
		b.use(i)
		copied[a.source] = true
		s := &Step{Comment: []string{"was: " + a.text + " (" + b.from() + ")"}}
		name := path.Base(a.dest)
		if strings.HasPrefix(a.dest, "/etc/nix/") {
			name = nixConfStep
		}
		s.Name = b.name(name)
		s.set("kind", "file", "")
		s.set("source", a.source, "")
		s.set("dest", a.dest, "")
		if a.sudo || strings.HasPrefix(a.dest, "/etc/") {
			s.set("sudo", true, "")
		}
		// The restart that followed, before the next copy.
		for j := i + 1; j < len(b.acts) && b.acts[j].kind != actCopy; j++ {
			if b.acts[j].kind == actRestart {
				b.use(j)
				run := command.Join(b.acts[j].argv)
				s.set("on-change", run, "")
				s.Comment = append(s.Comment, "was: "+b.acts[j].text)
				if osName := restartOS(b.acts[j].argv); osName != "" {
					s.set("os", []string{osName}, "")
				}
				daemon = append(daemon, s.Name)
				break
			}
		}
		s.Comment = append(s.Comment, "installs the file only when its content changed, and runs on-change only then")
		b.f.Steps = append(b.f.Steps, s)
	}
	for _, conf := range b.r.NixConfs {
		if copied[conf] {
			continue
		}
		if slices.ContainsFunc(b.f.Steps, func(s *Step) bool { d, _ := s.get("dest"); return d == nixConfDest }) {
			// One file step per destination: the one nearest the top
			// (or the one the old refresh copied) is it.
			b.f.Notes = append(b.f.Notes, "", conf+" is another nix.custom.conf: it is not installed (one file may go to "+nixConfDest+")")
			continue
		}
		s := &Step{Name: b.name(nixConfStep), Comment: []string{
			conf + ": nix reads it through `!include nix.custom.conf` in /etc/nix/nix.conf;",
			"installed only when its content changed, and the daemon restarted only then",
		}}
		s.set("kind", "file", "")
		s.set("source", conf, "")
		s.set("dest", nixConfDest, "")
		s.set("sudo", true, "")
		run, osName := b.daemonRestart()
		s.set("on-change", run, "")
		s.set("os", []string{osName}, "")
		daemon = append(daemon, s.Name)
		b.f.Steps = append(b.f.Steps, s)
	}
	return daemon
}

// daemonRestart is how the nix daemon is restarted where a nix.custom.conf
// is meant to go: macOS when the flake has nix-darwin configurations or
// this is a Mac, else Linux (NixOS writes /etc/nix itself).
func (b *builder) daemonRestart() (run, osName string) {
	if len(b.r.Configs.Darwin) > 0 || b.m.GOOS == "darwin" {
		if _, err := os.Stat(determinateDaemonPlist); err == nil {
			return restartDarwinDeterminate, "darwin"
		}
		return restartDarwin, "darwin"
	}
	return restartLinux, "linux"
}

func restartOS(argv []string) string {
	switch path.Base(argv[0]) {
	case "launchctl":
		return "darwin"
	case "systemctl":
		return "linux"
	}
	return ""
}

// flakeUpdate makes the flake-update step; it returns its name, or "".
func (b *builder) flakeUpdate() string {
	if !b.r.Flake {
		return ""
	}
	s := &Step{Name: b.name(stepFlakeUpdate)}
	s.set("kind", "flake-update", "")
	s.set("every", flakeUpdateEvery, "move the pins at most once a week; `sysinit refresh --update` forces it")
	s.Comment = []string{"an edit of flake.nix only locks new inputs (nix flake lock); pins move when `every` is due"}
	for i, a := range b.acts {
		if a.kind != actFlakeUpdate {
			continue
		}
		b.use(i)
		s.Comment = append([]string{"was: " + a.text + ", on every refresh (" + b.from() + ")"}, s.Comment...)
		if f := flakeBase(a.flake); a.flake != "" && !b.isRepo(f) {
			s.set("flake", f, "")
		}
		if a.flakeNote != "" {
			s.Comment = append(s.Comment, unknownFlake(a.flakeNote))
		}
		if len(a.inputs) > 0 {
			s.set("inputs", a.inputs, "")
		}
		if a.commit {
			s.set("commit", true, "")
		}
		break
	}
	b.f.Steps = append(b.f.Steps, s)
	return s.Name
}

// isRepo reports whether a flake reference names the repository itself.
func (b *builder) isRepo(ref string) bool {
	ref = strings.TrimPrefix(ref, "path:")
	ref = strings.TrimPrefix(ref, "git+file://")
	switch ref {
	case "", ".", "./":
		return true
	}
	if filepath.IsAbs(ref) {
		a, err1 := filepath.EvalSymlinks(ref)
		r, err2 := filepath.EvalSymlinks(b.r.Dir)
		return err1 == nil && err2 == nil && a == r
	}
	return false
}

// systemKinds are the nix kinds with configurations, this machine's OS's
// kind first.
func (b *builder) systemKinds() []string {
	if b.m.GOOS == "darwin" {
		return []string{outDarwin, outNixOS, outHome}
	}
	return []string{outNixOS, outDarwin, outHome}
}

var kindOf = map[string]string{outDarwin: actDarwin, outNixOS: actNixOS, outHome: actHome}

// systems makes a step for each configuration: this machine's active, the
// others commented out.
func (b *builder) systems(after []string) {
	system := false // the name "system" is taken
	for _, out := range b.systemKinds() {
		kind := kindOf[out]
		confs := *b.r.Configs.of(out)
		// The refresh's command for this kind, if it had one.
		ai := -1
		for i, a := range b.acts {
			if a.kind == kind && !a.remote {
				ai = i
				break
			}
		}
		var act action
		if ai >= 0 {
			act = b.acts[ai]
			b.use(ai)
		}
		active := b.activeConfig(out, confs, act, ai >= 0)
		byHost := false
		if len(confs) == 0 && ai >= 0 {
			// The flake's configurations could not be read; the old
			// command names the one to build, or left it to the host name.
			byHost = active == ""
			confs = []Configuration{{Name: active}}
		}
		// The steps of other machines' configurations, and where their
		// how-to goes: it names this machine's step, made in this loop.
		type offStep struct {
			s     *Step
			where string
		}
		var offs []offStep
		activeStep := ""
		for _, c := range confs {
			isActive := c.Name == active || byHost
			base := map[string]string{outDarwin: "darwin", outNixOS: "nixos", outHome: "home"}[out] + "-" + c.Name
			if byHost {
				base = kind
			}
			if isActive {
				switch {
				case kind == actHome:
					base = "home"
				case !system:
					base, system = "system", true
				}
			}
			s := &Step{Name: b.name(base), Off: !isActive}
			s.set("kind", kind, "")
			flake := "."
			if ai >= 0 && act.flake != "" {
				if f := flakeBase(act.flake); !b.isRepo(f) {
					flake = f
				}
			}
			where := out + "." + c.Name
			if c.Where != "" {
				where += " (" + c.Where + ")"
			}
			switch {
			case byHost:
				s.set("flake", flake, "the host name picks the configuration, as the old command did")
				where = out + " by the host name (" + b.m.Host + ")"
				s.Comment = append(s.Comment, "init could not read the flake's "+out+"; name yours once you know it: flake = \""+flake+"#NAME\"")
			default:
				s.set("flake", flake+"#"+quoteFragment(c.Name), "")
			}
			if isActive {
				s.Comment = append(s.Comment, "this machine: "+where)
				activeStep = s.Name
				if kind == actDarwin {
					b.darwinStep = s.Name
				}
			} else {
				s.Comment = append(s.Comment, "") // the how-to, below
				offs = append(offs, offStep{s, where})
			}
			if ai >= 0 && (isActive || len(confs) == 1) {
				b.nixFlags(s, act)
				if act.flakeNote != "" {
					s.Comment = append(s.Comment, unknownFlake(act.flakeNote))
				}
			}
			// The entries are those of this repository's flake.nix: for
			// another flake they name nothing, and the loader refuses
			// them for one not on this machine.
			if b.keys.Entry && len(c.Entry) > 0 && flake == "." {
				s.set("entry", c.Entry, "where this configuration starts")
			}
			if deps := b.afterFor(kind, after); len(deps) > 0 {
				s.set("after", deps, "")
			}
			b.f.Steps = append(b.f.Steps, s)
		}
		for _, o := range offs {
			o.s.Comment[0] = o.where + ": " + otherHostHowTo(activeStep)
		}
		b.computedNotes(out, kind, byHost)
	}
	if b.r.Flake && b.r.ConfigsFrom != "nix eval" && len(b.r.Configs.Dynamic) == 0 && !slices.ContainsFunc(b.f.Steps, func(s *Step) bool { return outOf(s) != "" }) {
		b.unnamedSystem(after)
	}
	// Remote deployments stay commands: sysinit refreshes the machine it runs on.
	for i, a := range b.acts {
		if a.remote && !b.used[i] {
			b.acts[i].note = "deploys to another machine (--target-host); run sysinit on that machine instead"
		}
	}
}

// computedNotes says, at the end of the file, which parts of the flake's
// output out the static read could not name: their configurations have
// no step, and the user names the one this machine needs.
func (b *builder) computedNotes(out, kind string, byHost bool) {
	read := *b.r.Configs.of(out)
	listCmd := "(`nix eval .#" + out + " --apply builtins.attrNames` lists them)"
	for _, d := range b.r.Configs.Dynamic {
		if d.Output != out || byHost {
			continue
		}
		what := out
		if d.Text != "" {
			what += " (`" + d.Text + "`)"
		}
		if len(read) == 0 {
			b.f.Notes = append(b.f.Notes, "", d.Where+" computes "+what+", which a static read cannot name; "+
				"add a "+kind+" step with flake = \".#NAME\" "+listCmd)
			continue
		}
		names := make([]string, len(read))
		for i, c := range read {
			names[i] = c.Name
		}
		b.f.Notes = append(b.f.Notes, "", d.Where+" computes part of "+what+", which a static read cannot name: "+
			"the steps above are for "+strings.Join(names, ", ")+" only. If this machine's configuration is another, "+
			"add a "+kind+" step with flake = \".#NAME\" "+listCmd)
	}
}

// outOf is the flake output a step's kind builds from, "" for other kinds.
func outOf(s *Step) string {
	k, _ := s.get("kind")
	for out, kind := range kindOf {
		if k == kind {
			return out
		}
	}
	return ""
}

// unnamedSystem writes, commented out, the step for this machine's
// configuration when flake.nix names none that init could read (they come
// from a file it imports, or nix could not evaluate them): the user names
// it and turns it on, rather than finding no nix step and no reason.
func (b *builder) unnamedSystem(after []string) {
	out := b.systemKinds()[0]
	kind := kindOf[out]
	s := &Step{Name: b.name("system"), Off: true}
	s.set("kind", kind, "")
	s.set("flake", ".#"+quoteFragment(b.m.Host), "the name of this machine's configuration")
	if deps := b.afterFor(kind, after); len(deps) > 0 {
		s.set("after", deps, "")
	}
	s.Comment = append(s.Comment,
		"init found no "+out+" in flake.nix itself; a file it imports may define them",
		"(`nix eval .#"+out+" --apply builtins.attrNames` lists them): name this machine's, then uncomment")
	b.f.Steps = append(b.f.Steps, s)
}

// afterFor leaves out of after the steps that never apply where a step
// of kind runs (a darwin-only nix-conf before a nixos step).
func (b *builder) afterFor(kind string, after []string) []string {
	var out []string
	for _, name := range after {
		st := b.step(name)
		if st != nil {
			if v, ok := st.get("os"); ok {
				osList := v.([]string)
				if kind == actDarwin && !slices.Contains(osList, "darwin") || kind == actNixOS && !slices.Contains(osList, "linux") {
					continue
				}
			}
		}
		out = append(out, name)
	}
	return out
}

func (b *builder) step(name string) *Step {
	for _, s := range b.f.Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// activeConfig names this machine's configuration of a kind: the one
// named for this host (for home-manager, user@host, then user), else the
// one the old refresh switched to by name.
func (b *builder) activeConfig(out string, confs []Configuration, act action, haveAct bool) string {
	var want []string
	switch out {
	case outHome:
		want = []string{b.m.User + "@" + b.m.Host, b.m.User}
	default:
		want = []string{b.m.Host}
	}
	for _, w := range want {
		for _, c := range confs {
			if c.Name == w {
				return c.Name
			}
		}
	}
	for _, w := range want {
		for _, c := range confs {
			if strings.EqualFold(c.Name, w) {
				return c.Name
			}
		}
	}
	// The configuration the old refresh switched to by name is this
	// machine's, unless the host name names one of the other system kind:
	// then this machine is that one (init --host nostromo, a NixOS box, on
	// a Taskfile written for the Mac lv426).
	if out != outHome {
		other := *b.r.Configs.of(outNixOS)
		if out == outNixOS {
			other = *b.r.Configs.of(outDarwin)
		}
		if slices.ContainsFunc(other, func(c Configuration) bool { return strings.EqualFold(c.Name, b.m.Host) }) {
			return ""
		}
	}
	if haveAct && !act.hostAttr {
		if _, frag, ok := strings.Cut(act.flake, "#"); ok && frag != "" {
			frag = strings.Trim(frag, `"`)
			if len(confs) == 0 {
				return frag
			}
			for _, c := range confs {
				if c.Name == frag {
					return c.Name
				}
			}
		}
	}
	return ""
}

// unknownFlake is the comment on a step whose old command's flake init
// could not tell, and why.
func unknownFlake(why string) string {
	return "init cannot tell the old command's flake: " + why + "; this step uses this repository's: set flake if that is another"
}

// quoteFragment quotes a configuration name that is not a bare Nix
// attribute name ("ripley@nostromo" is fine in a flake fragment; a name
// with a dot is not).
func quoteFragment(name string) string {
	if strings.ContainsAny(name, ".\" ") {
		return `"` + strings.ReplaceAll(name, `"`, `\"`) + `"`
	}
	return name
}

// nixFlags carries the old command's flags over to the step.
func (b *builder) nixFlags(s *Step, a action) {
	s.Comment = append(s.Comment, "was: "+a.text+" ("+b.from()+")")
	if a.impure {
		s.set("impure", true, "turns off nix's evaluation cache; drop it once the configuration is pure (sysinit doctor)")
	}
	if len(a.env) > 0 {
		s.set("env", a.env, "")
	}
	if len(a.extraArgs) > 0 {
		s.set("extra-args", a.extraArgs, "")
	}
	if a.maxJobs > 0 {
		s.set("max-jobs", a.maxJobs, "")
	}
	if a.cores > 0 {
		s.set("cores", a.cores, "")
	}
	if a.nixAction != "" && a.nixAction != "switch" {
		s.set("action", a.nixAction, "")
	}
	if len(a.logFlags) > 0 {
		s.Comment = append(s.Comment, "not carried over: "+strings.Join(slices.Compact(a.logFlags), " ")+" (sysinit logs every build and shows its progress; `sysinit plan` says what would run)")
	}
	if len(a.dropped) > 0 {
		s.Comment = append(s.Comment, "not carried over: "+strings.Join(slices.Compact(a.dropped), " ")+" (not an option of nix build; if nix needs it, add it to extra-args)")
	}
}

// brew makes the brew-bundle step.
func (b *builder) brew() {
	var bundle, update, upgrade = -1, -1, -1
	for i, a := range b.acts {
		switch {
		case a.kind == actBrewBundle && bundle < 0:
			bundle = i
		case a.kind == actBrewUpdate && update < 0:
			update = i
		case a.kind == actBrewUpgrade && upgrade < 0:
			upgrade = i
		}
	}
	brewfile := ""
	if bundle >= 0 && b.acts[bundle].brewfile != "" {
		if _, err := os.Stat(filepath.Join(b.r.Dir, b.acts[bundle].brewfile)); err == nil {
			brewfile = strings.TrimPrefix(b.acts[bundle].brewfile, "./")
		}
	}
	if brewfile == "" && len(b.r.Brewfiles) > 0 {
		brewfile = b.r.Brewfiles[0]
	}
	// A Brewfile the old refresh ran (or the repo holds) stays the step's:
	// the module's list is then the duplicate (the note says so). Without
	// one, the step takes nix-darwin's.
	fromNixDarwin := brewfile == "" && b.r.HomebrewModule != "" && b.keys.BrewFromNixDarwin && b.darwinStep != ""
	if brewfile == "" && !fromNixDarwin {
		if b.r.HomebrewModule != "" {
			when := "init writes it when this machine's nix-darwin configuration is named above (docs/brew.md)."
			if b.m.GOOS != "darwin" {
				when = "`sysinit init` on the Mac writes it (docs/brew.md)."
			}
			b.f.Notes = append(b.f.Notes, "",
				"Homebrew: "+b.r.HomebrewModule+" turns on nix-darwin's Homebrew module, so "+homebrewModuleExplanation(b.darwinStep)+".",
				"A brew-bundle step can take that Brewfile from the nix-darwin step that runs on the Mac",
				"(`nix-darwin = \"STEP\"`, with homebrew.enable = false), so that brew runs beside the build;",
				when)
		}
		for _, i := range []int{bundle, update, upgrade} {
			if i < 0 {
				continue
			}
			b.acts[i].note = "no Brewfile in the repository for a brew-bundle step"
			if b.r.HomebrewModule != "" {
				b.acts[i].note = "no Brewfile in the repository: nix-darwin's Homebrew module runs brew (see the note at the end)"
			}
		}
		return
	}
	for _, i := range []int{bundle, update, upgrade} {
		if i >= 0 {
			b.use(i)
		}
	}
	s := &Step{Name: b.name("brew")}
	s.set("kind", "brew-bundle", "")
	if fromNixDarwin {
		s.set("nix-darwin", b.darwinStep, "the Brewfile and onActivation settings of that step's configuration")
		s.Comment = append(s.Comment, "Homebrew as "+b.r.HomebrewModule+" declares it, run by sysinit in parallel with the nix build; "+
			"set homebrew.enable = false there, or "+homebrewModuleExplanation(b.darwinStep)+" as well")
	} else {
		s.set("brewfile", brewfile, "")
		if b.r.HomebrewModule != "" {
			s.Comment = append(s.Comment, "note: "+b.r.HomebrewModule+" also turns on nix-darwin's Homebrew module: "+homebrewModuleExplanation(b.darwinStep)+"; "+
				"keep one of the two (sysinit doctor)")
		}
	}
	if bundle >= 0 {
		s.Comment = append(s.Comment, "was: "+b.acts[bundle].text+" ("+b.from()+")")
	}
	switch {
	case fromNixDarwin:
		// homebrew.onActivation.cleanup and upgrade decide; the loader
		// refuses the keys beside nix-darwin.
	case bundle >= 0 && b.acts[bundle].cleanup:
		s.set("cleanup", "uninstall", "as brew bundle --cleanup: uninstalls what the Brewfile does not list")
	default:
		s.set("cleanup", "check", "report what is installed but not listed; \"uninstall\" removes it")
	}
	if update >= 0 {
		s.set("update-every", brewUpdateEvery, "was: brew update on every refresh; `sysinit refresh --update` forces it")
	} else {
		s.set("update-every", brewUpdateEvery, "brew update at most daily; `sysinit refresh --update` forces it")
	}
	if upgrade >= 0 && !fromNixDarwin {
		s.set("upgrade", true, "was: brew upgrade")
	}
	if !b.m.Linuxbrew {
		s.set("os", []string{"darwin"}, "")
	}
	s.Comment = append(s.Comment, "runs only when the Brewfile or what Homebrew has installed changed; installs only what is missing")
	b.f.Steps = append(b.f.Steps, s)
	for _, other := range b.r.Brewfiles {
		if other == brewfile {
			continue
		}
		o := &Step{Name: b.name("brew-" + path.Dir(other)), Off: true, Comment: []string{
			other + ": one brew-bundle step per Homebrew installation; merge it into " + brewfile + ", or give this step another `os`",
		}}
		o.set("kind", "brew-bundle", "")
		o.set("brewfile", other, "")
		b.f.Steps = append(b.f.Steps, o)
	}
}

// commands turns what the old refresh ran and sysinit has no step for
// into command steps, commented out.
func (b *builder) commands() {
	seen := map[string]bool{}
	for i, a := range b.acts {
		if b.used[i] || a.kind != actCommand && !(a.recognized() && a.note != "") || seen[a.text] {
			continue
		}
		seen[a.text] = true
		name := "cmd"
		if len(a.argv) > 0 {
			name = path.Base(a.argv[0])
			if len(a.argv) > 1 && !strings.HasPrefix(a.argv[1], "-") && !strings.Contains(a.argv[1], "/") {
				name += "-" + a.argv[1]
			}
		}
		s := &Step{Name: b.name(name), Off: true}
		s.Comment = []string{"was: " + a.text + " (" + b.from() + ")"}
		if a.note != "" {
			s.Comment = append(s.Comment, a.note)
		}
		s.Comment = append(s.Comment, commandHowTo)
		s.set("kind", "command", "")
		if a.sudo && len(a.argv) > 0 {
			s.set("run", command.Join(a.argv), "")
			s.set("sudo", true, "")
			if len(a.env) > 0 {
				s.set("env", a.env, "")
			}
		} else {
			s.set("run", a.text, "")
		}
		b.f.Steps = append(b.f.Steps, s)
	}
}

func (b *builder) footer() {
	var dropped []string
	for i, a := range b.acts {
		if b.used[i] || a.kind != actIgnore || a.note == "" {
			continue
		}
		dropped = append(dropped, "`"+a.text+"`: "+a.note)
	}
	if len(dropped) > 0 {
		b.f.Notes = append(b.f.Notes, "", "Not carried over from "+b.from()+":")
		for _, d := range dropped {
			b.f.Notes = append(b.f.Notes, "  "+d)
		}
	}
	if len(b.f.Steps) == 0 {
		b.f.Notes = append(b.f.Notes, "", "Found nothing to refresh here: no flake.nix, Brewfile, nix.custom.conf or refresh task (Taskfile, justfile, mise.toml).",
			"Add steps by hand (`sysinit help config` lists every key).")
	}
}
