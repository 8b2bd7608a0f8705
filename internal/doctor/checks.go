package doctor

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/state"
)

// minNix is the oldest Nix that evaluates nixpkgs: nixpkgs' lib/minver.nix
// says "2.18.0", and its default.nix aborts with "This version of Nixpkgs
// requires Nix >= 2.18.0" below it. Lix numbers its releases from 2.90
// (forked from Nix 2.18), so every Lix passes.
var minNix = [2]int{2, 18}

// ScheduledPath is the PATH cron and launchd give a job that sets none:
// launchd's default; cron's (/usr/bin:/bin) is shorter still.
const ScheduledPath = "/usr/bin:/bin:/usr/sbin:/sbin"

// needsNix reports whether nix matters here: a nix step applies on this
// machine, or there is no config but a flake.
func needsNix(in *Input) bool {
	for _, s := range in.Steps {
		if s.isNix() && s.Applies(in.M.GOOS()) {
			return true
		}
	}
	return in.Config == "" && in.Flake
}

func checkConfig(in *Input) []Finding {
	if in.Config != "" {
		return nil
	}
	return []Finding{{
		Problem: "no sysinit.toml here or in any parent directory: only the machine was checked",
		Fix:     "run `sysinit init` in your config repository (or pass -C DIR)",
	}}
}

func checkNixVersion(in *Input) []Finding {
	if !needsNix(in) {
		return nil
	}
	v, err := in.M.Nix()
	var nf *command.NotFoundError
	switch {
	case errors.As(err, &nf):
		return []Finding{{
			Problem: "nix is not installed (not on PATH), and the config's nix steps need it",
			Fix:     "install Nix (the Determinate Systems installer, or nixos.org's), then open a new shell",
		}}
	case err != nil:
		return []Finding{{Problem: "could not tell which nix is installed: " + err.Error(), Fix: "run `nix --version` and see why it fails"}}
	}
	if v.Flavour == nix.FlavourLix || v.AtLeast(minNix[0], minNix[1]) {
		return nil
	}
	return []Finding{{
		Problem: fmt.Sprintf("%s is older than Nix %d.%d, the oldest that evaluates nixpkgs (its lib/minver.nix); nixpkgs-unstable aborts with \"This version of Nixpkgs requires Nix >= %d.%d.0\"", v, minNix[0], minNix[1], minNix[0], minNix[1]),
		Fix:     "upgrade Nix: `sudo determinate-nixd upgrade` (Determinate), `sudo -i nix upgrade-nix` (nixos.org installer), or your distribution's newer package",
	}}
}

// nixConfig reads nix's settings once per check, or the finding that says
// why it cannot.
func nixConfig(in *Input) (NixConfig, *Finding) {
	if _, err := in.M.Nix(); err != nil {
		return NixConfig{}, &Finding{}
	}
	c, err := in.M.NixConfig()
	if err != nil {
		return NixConfig{}, &Finding{Problem: "could not read nix's settings: " + err.Error(), Fix: "run `nix config show` (`nix show-config` before Nix 2.20) and see why it fails"}
	}
	return c, nil
}

func checkFlakes(in *Input) []Finding {
	if !needsNix(in) {
		return nil
	}
	if v, err := in.M.Nix(); err == nil && v.Flavour == nix.FlavourDeterminate {
		return nil // flakes are stable in Determinate Nix
	}
	c, f := nixConfig(in)
	if f != nil {
		return nonEmpty(f)
	}
	var missing []string
	for _, want := range []string{"nix-command", "flakes"} {
		if !slices.Contains(c.Features, want) {
			missing = append(missing, want)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []Finding{{
		Problem: "nix's experimental features lack " + strings.Join(missing, " and ") + ": every nix step fails with \"experimental Nix feature '" + missing[0] + "' is disabled\"",
		Fix:     "add `experimental-features = nix-command flakes` to /etc/nix/nix.conf (nix.custom.conf under Determinate Nix) or ~/.config/nix/nix.conf, then restart the nix daemon if one runs (a single-user install has none)",
	}}
}

func nonEmpty(f *Finding) []Finding {
	if f.Problem == "" {
		return nil // nix is missing: checkNixVersion said so
	}
	return []Finding{*f}
}

func checkBinaryCache(in *Input) []Finding {
	if !needsNix(in) {
		return nil
	}
	c, f := nixConfig(in)
	if f != nil {
		return nonEmpty(f)
	}
	if len(c.Substituters) > 0 {
		return nil
	}
	return []Finding{{
		Problem: "nix has no binary cache (substituters is empty): everything is built from source, which turns a minutes-long system build into hours",
		Fix:     "set `substituters = https://cache.nixos.org` and `trusted-public-keys = cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=` in /etc/nix/nix.conf, then restart the nix daemon if one runs (a single-user install has none)",
	}}
}

// argValue finds the value of a flag in extra-args: --max-jobs 4, -j4,
// --max-jobs=4.
func argValue(args []string, names ...string) (string, bool) {
	for i, a := range args {
		for _, n := range names {
			switch {
			case a == n && i+1 < len(args):
				return args[i+1], true
			case strings.HasPrefix(a, n+"="):
				return strings.TrimPrefix(a, n+"="), true
			case len(n) == 2 && strings.HasPrefix(a, n) && len(a) > 2:
				return a[2:], true
			}
		}
	}
	return "", false
}

func checkParallelism(in *Input) []Finding {
	if !needsNix(in) {
		return nil
	}
	cpus := in.M.NumCPU()
	var conf *NixConfig
	nixConf := func() *Finding {
		if conf != nil {
			return nil
		}
		c, f := nixConfig(in)
		if f != nil {
			return f
		}
		conf = &c
		return nil
	}
	var out []Finding
	building := false
	for _, s := range in.Steps {
		if !s.builds() || !s.Applies(in.M.GOOS()) {
			continue
		}
		building = true
		p := parallel{jobs: s.MaxJobs, cores: s.Cores, jobsFrom: "the step's max-jobs", coresFrom: "the step's cores"}
		if v, ok := argValue(s.ExtraArgs, "--max-jobs", "-j"); ok && p.jobs == 0 {
			p.jobs, p.jobsFrom = cpus, "--max-jobs in extra-args"
			if v != "auto" {
				p.jobs, _ = strconv.Atoi(v)
			}
		}
		if v, ok := argValue(s.ExtraArgs, "--cores"); ok && p.cores == 0 {
			p.cores, _ = strconv.Atoi(v)
			p.coresFrom = "--cores in extra-args"
			if p.cores == 0 {
				p.cores = -1 // --cores 0: every CPU, set explicitly
			}
		}
		if p.jobs == 0 || p.cores == 0 {
			if f := nixConf(); f != nil {
				return nonEmpty(f)
			}
			if p.jobs == 0 {
				p.jobs, p.jobsFrom = conf.MaxJobs, "nix's max-jobs"
			}
			if p.cores == 0 {
				p.cores, p.coresFrom = conf.Cores, "nix's cores"
			}
		}
		if f := p.finding(cpus); f != nil {
			f.Step, f.Fix = s.Name, p.fix(s.Name)
			out = append(out, *f)
		}
	}
	if building {
		return out
	}
	// No step builds here (no config yet): nix's own settings.
	if f := nixConf(); f != nil {
		return nonEmpty(f)
	}
	p := parallel{jobs: conf.MaxJobs, cores: conf.Cores, jobsFrom: "nix's max-jobs", coresFrom: "nix's cores"}
	if f := p.finding(cpus); f != nil {
		f.Fix = p.fix("")
		return []Finding{*f}
	}
	return nil
}

// parallel is how many derivations nix builds at once and with how many
// cores each, and where each number comes from.
type parallel struct {
	jobs, cores         int // cores: 0 or less = every CPU
	jobsFrom, coresFrom string
}

func (p parallel) finding(cpus int) *Finding {
	eff := p.cores
	if eff <= 0 || eff > cpus {
		eff = cpus
	}
	shown := strconv.Itoa(p.cores)
	if p.cores <= 0 {
		shown = "all"
	}
	switch {
	case p.jobs*eff < cpus:
		return &Finding{Problem: fmt.Sprintf("builds use at most %d of this machine's %d CPUs: %d jobs at a time (%s) with %s cores each (%s)", p.jobs*eff, cpus, p.jobs, p.jobsFrom, shown, p.coresFrom)}
	case p.jobs == 1 && cpus > 2:
		return &Finding{Problem: fmt.Sprintf("builds one derivation at a time (%s is 1) on a %d-CPU machine: most builds are single-threaded, so a system rebuild leaves CPUs idle", p.jobsFrom, cpus)}
	}
	return nil
}

func (p parallel) fix(step string) string {
	var fix []string
	if strings.HasPrefix(p.jobsFrom, "the step") || strings.HasPrefix(p.coresFrom, "the step") {
		fix = append(fix, "remove max-jobs and cores from step "+step+" (nix's own settings then apply)")
	}
	if strings.Contains(p.jobsFrom, "extra-args") || strings.Contains(p.coresFrom, "extra-args") {
		fix = append(fix, "remove --max-jobs and --cores from step "+step+"'s extra-args")
	}
	if strings.HasPrefix(p.jobsFrom, "nix's") || strings.HasPrefix(p.coresFrom, "nix's") {
		fix = append(fix, "set `max-jobs = auto` and `cores = 0` in /etc/nix/nix.conf (nix.custom.conf under Determinate Nix) and restart the nix daemon if one runs")
	}
	return strings.Join(fix, "; ")
}

func checkImpure(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Steps {
		if !s.builds() {
			continue
		}
		if s.Impure || slices.Contains(s.ExtraArgs, "--impure") {
			out = append(out, Finding{Step: s.Name,
				Problem: "impure evaluation turns off nix's evaluation cache (nix keeps it for pure evaluations only), so every evaluation of this configuration starts from scratch",
				Fix:     "make the configuration pure — nixpkgs.config.allowUnfree = true instead of NIXPKGS_ALLOW_UNFREE, flake inputs or relative paths instead of absolute ones and builtins.getEnv — then remove `impure = true` from step " + s.Name,
			})
		}
	}
	return out
}

func checkDarwinRoot(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Steps {
		switch {
		case s.Kind == "nix-darwin" && s.SudoSet && !s.Sudo:
			out = append(out, Finding{Step: s.Name,
				Problem: "nix-darwin activation must run as root (current nix-darwin refuses: \"system activation must now be run as root\"), and this step sets sudo = false",
				Fix:     "remove `sudo = false` from step " + s.Name + ": sysinit builds as you and uses sudo only for the profile and activation",
			})
		case s.Kind == "command" && runsDarwinRebuild(s.Run) && !s.Sudo:
			out = append(out, Finding{Step: s.Name,
				Problem: "runs darwin-rebuild without root; current nix-darwin refuses: \"system activation must now be run as root\"",
				Fix:     "make it a nix-darwin step (kind = \"nix-darwin\", flake = \".#HOST\"), which builds as you and activates through sudo; or set sudo = true",
			})
		}
	}
	return out
}

// runsDarwinRebuild reports whether a command switches with darwin-rebuild
// outside sudo.
func runsDarwinRebuild(run string) bool {
	f := strings.Fields(run)
	for i, w := range f {
		if filepath.Base(w) != "darwin-rebuild" || i+1 >= len(f) {
			continue
		}
		if v := f[i+1]; v != "switch" && v != "activate" {
			continue
		}
		if i > 0 && (f[i-1] == "sudo" || strings.HasPrefix(f[i-1], "-") && slices.Contains(f[:i], "sudo")) {
			continue
		}
		return true
	}
	return false
}

func brewSteps(in *Input, goos string) []Step {
	var out []Step
	for _, s := range in.Steps {
		if s.Kind == "brew-bundle" && s.Applies(goos) {
			out = append(out, s)
		}
	}
	return out
}

func checkHomebrewTwice(in *Input) []Finding {
	steps := brewSteps(in, "darwin")
	if len(steps) == 0 || in.Dir == "" {
		return nil
	}
	where := in.M.HomebrewModule(in.Dir)
	if where == "" {
		return nil
	}
	s := steps[0]
	file := strings.SplitN(where, ":", 2)[0]
	fix := "set homebrew.enable = false in " + file + " and keep your declarations there: step " + s.Name + " takes its Brewfile from nix-darwin and runs beside the build"
	if s.NixDarwin == "" {
		system := "SYSTEM"
		for _, o := range in.Steps {
			if o.Kind == "nix-darwin" {
				system = o.Name
				break
			}
		}
		fix = "set homebrew.enable = false in " + file + " and let brew-bundle step " + s.Name + " take the Brewfile from nix-darwin (nix-darwin = \"" + system + "\" instead of brewfile): it then runs beside the nix build"
	}
	return []Finding{{Step: s.Name,
		Problem: where + " turns on nix-darwin's Homebrew module while step " + s.Name + " runs brew bundle too: brew bundle runs twice, the first time serially inside the system step's activation",
		Fix:     fix,
	}}
}

func checkBrewRoot(in *Input) []Finding {
	steps := brewSteps(in, in.M.GOOS())
	if len(steps) == 0 || in.M.Euid() != 0 || in.M.Getenv("SUDO_USER") != "" && in.M.Getenv("SUDO_USER") != "root" {
		return nil
	}
	return []Finding{{Step: steps[0].Name,
		Problem: "sysinit runs as root with no SUDO_USER: Homebrew refuses root, so step " + steps[0].Name + " fails",
		Fix:     "run sysinit as your own user (steps that need root ask sudo themselves), or through `sudo` from your user so that brew runs as you",
	}}
}

func checkSudo(in *Input) []Finding {
	if in.M.Euid() == 0 {
		return nil
	}
	var need []string
	for _, s := range in.Steps {
		if s.Sudo && s.Applies(in.M.GOOS()) {
			need = append(need, s.Name)
		}
	}
	if len(need) == 0 {
		return nil
	}
	if err := in.M.SudoNoPassword(); err == nil {
		return nil
	}
	return []Finding{{
		Problem: "steps " + strings.Join(need, ", ") + " need root, and sudo asks for a password: from a terminal sysinit asks once, but a refresh started by cron or launchd (no terminal) fails before anything runs",
		Fix:     "refresh from a terminal; or, for scheduled refreshes, allow the commands without a password in a sudoers file (`sudo visudo -f /etc/sudoers.d/sysinit`: " + in.M.Getenv("USER") + " ALL=(root) NOPASSWD: /nix/var/nix/profiles/default/bin/nix-env, /nix/store/*/activate, …)",
	}}
}

// hostKinds are the kinds whose default configuration is picked by the
// host name, with the output it is in.
var hostKinds = map[string]string{"nix-darwin": "darwinConfigurations", "nixos": "nixosConfigurations", "home-manager": "homeConfigurations"}

func checkHostName(in *Input) []Finding {
	var out []Finding
	host := in.M.HostName()
	configs := map[string]*configSet{} // by flake directory
	for _, s := range in.Steps {
		output, ok := hostKinds[s.Kind]
		if !ok || !s.Applies(in.M.GOOS()) || s.Remote {
			continue
		}
		base, frag, _ := strings.Cut(s.Flake, "#")
		if base == "" {
			base = "."
		}
		if strings.Contains(base, ":") && !strings.HasPrefix(base, "path:") && !strings.HasPrefix(base, "git+file:") {
			continue // a remote flake: not read here
		}
		base = strings.TrimPrefix(strings.TrimPrefix(base, "path:"), "git+file://")
		dir := base
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(in.Dir, dir)
		}
		cs, ok := configs[dir]
		if !ok {
			cs = readConfigs(in, dir)
			configs[dir] = cs
		}
		if cs.err != nil {
			out = append(out, Finding{Step: s.Name, Problem: "could not read the flake's configurations: " + cs.err.Error(), Fix: "run `nix eval " + base + "#" + output + " --apply builtins.attrNames` and see why it fails"})
			continue
		}
		names := cs.names[output]
		frag = strings.Trim(frag, `"`)
		if cs.dynamic[output] && !slices.Contains(names, frag) {
			continue // some names could not be read: no claim
		}
		switch {
		case frag != "" && !slices.Contains(names, frag):
			out = append(out, Finding{Step: s.Name,
				Problem: fmt.Sprintf("builds %s.%s, which the flake does not define (%s)", output, frag, listOrNone(output, names)),
				Fix:     "set flake = \".#NAME\" in step " + s.Name + " to one of them",
			})
		case frag == "":
			want := []string{host}
			if s.Kind == "home-manager" {
				user := in.M.Getenv("USER")
				want = []string{user + "@" + host, user}
			}
			if slices.ContainsFunc(names, func(n string) bool { return slices.Contains(want, n) }) {
				continue
			}
			fix := "name the configuration in step " + s.Name + ": flake = \".#NAME\""
			if s.Kind == "nix-darwin" {
				fix += ", or rename the Mac: `sudo scutil --set LocalHostName NAME`"
			}
			out = append(out, Finding{Step: s.Name,
				Problem: fmt.Sprintf("flake = %q picks %s by the host name %s, which names none of them (%s)", s.Flake, output, quoteOr(want), listOrNone(output, names)),
				Fix:     fix,
			})
		}
	}
	return append(out, unbuilt(in, configs)...)
}

// unbuilt finds this machine's configurations that no step builds: the
// flake's configuration named for this host (or user), or, when the host
// name names none, the machine with no step that builds anything (init
// wrote every configuration commented out). A step that names a
// configuration is the user's choice of it, whatever the host's name. Only a config
// with nix steps and a flake beside it is looked at; a nixos
// configuration only on NixOS, where one is this machine's.
func unbuilt(in *Input, configs map[string]*configSet) []Finding {
	goos := in.M.GOOS()
	if in.Config == "" || !in.Flake || !slices.ContainsFunc(in.Steps, func(s Step) bool { return s.isNix() && !s.Remote && s.Applies(goos) }) {
		return nil
	}
	host, user := in.M.HostName(), in.M.Getenv("USER")
	type kindOut struct{ kind, output string }
	var kinds []kindOut
	switch {
	case goos == "darwin":
		kinds = append(kinds, kindOut{"nix-darwin", "darwinConfigurations"})
	case goos == "linux" && in.M.NixOS():
		kinds = append(kinds, kindOut{"nixos", "nixosConfigurations"})
	}
	kinds = append(kinds, kindOut{"home-manager", "homeConfigurations"})
	builds := slices.ContainsFunc(in.Steps, func(s Step) bool { return s.builds() && !s.Remote && s.Applies(goos) })
	var out []Finding
	for _, k := range kinds {
		if slices.ContainsFunc(in.Steps, func(s Step) bool { return s.Kind == k.kind && !s.Remote && s.Applies(goos) }) {
			continue
		}
		dir := filepath.Join(in.Dir, ".")
		cs, ok := configs[dir]
		if !ok {
			cs = readConfigs(in, dir)
			configs[dir] = cs
		}
		if cs.err != nil {
			continue // the steps that read it said so; without one, no claim
		}
		names := cs.names[k.output]
		if len(names) == 0 {
			continue
		}
		want, named := []string{host}, "this host"
		if k.kind == "home-manager" {
			want, named = []string{user + "@" + host, user}, "this user and host"
		}
		i := slices.IndexFunc(names, func(n string) bool { return slices.Contains(want, n) })
		switch {
		case i >= 0:
			out = append(out, Finding{
				Problem: fmt.Sprintf("the flake defines %s.%s, named for %s, and no step builds it: a refresh leaves this machine's %s as it is", k.output, names[i], named, what(k.kind)),
				Fix:     fmt.Sprintf("add a step for it to %s: kind = %q, flake = \".#%s\" (`sysinit init --print` shows the one init writes)", filepath.Base(in.Config), k.kind, names[i]),
			})
		case k.kind == "home-manager" || cs.dynamic[k.output] || builds:
			// Home configurations of other machines' users; this host's
			// may be among the names the flake computes; or a step builds
			// another kind here (home-manager alone on a Mac whose
			// flake has other Macs' systems): the user's choice.
		default:
			fix := fmt.Sprintf("if this machine is one of them, add its step to %s (kind = %q, flake = \".#NAME\"); `sysinit init --host NAME --print` shows the config for it", filepath.Base(in.Config), k.kind)
			if k.kind == "nix-darwin" {
				fix += "; or rename the Mac after its configuration: `sudo scutil --set LocalHostName NAME`"
			}
			out = append(out, Finding{
				Problem: fmt.Sprintf("the host name %q names none of the flake's %s (%s), and no step builds one: a refresh leaves this machine's system as it is", host, k.output, listOrNone(k.output, names)),
				Fix:     fix,
			})
		}
	}
	return out
}

func what(kind string) string {
	if kind == "home-manager" {
		return "home"
	}
	return "system"
}

// quoteOr renders ["a", "b"] as "a" or "b" (quoted).
func quoteOr(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " or ")
}

func listOrNone(output string, names []string) string {
	if len(names) == 0 {
		return "it defines no " + output
	}
	return "it defines " + strings.Join(names, ", ")
}

type configSet struct {
	names   map[string][]string
	dynamic map[string]bool
	err     error
}

func readConfigs(in *Input, dir string) *configSet {
	cs := &configSet{names: map[string][]string{}, dynamic: map[string]bool{}}
	c, err := in.M.Configurations(dir)
	if err != nil {
		cs.err = err
		return cs
	}
	for _, conf := range c.Darwin {
		cs.names["darwinConfigurations"] = append(cs.names["darwinConfigurations"], conf.Name)
	}
	for _, conf := range c.NixOS {
		cs.names["nixosConfigurations"] = append(cs.names["nixosConfigurations"], conf.Name)
	}
	for _, conf := range c.Home {
		cs.names["homeConfigurations"] = append(cs.names["homeConfigurations"], conf.Name)
	}
	for _, d := range c.Dynamic {
		cs.dynamic[d.Output] = true
	}
	return cs
}

func checkScheduledPath(in *Input) []Finding {
	if !needsNix(in) {
		return nil
	}
	here, err := in.M.LookPath("nix", in.M.Getenv("PATH"))
	if err != nil {
		return nil // not installed: checkNixVersion says so
	}
	if _, err := in.M.LookPath("nix", ScheduledPath); err == nil {
		return nil
	}
	dir := filepath.Dir(here)
	self := in.M.Executable()
	if self == "" {
		self = "sysinit"
	}
	return []Finding{{
		Problem: fmt.Sprintf("cron and launchd start jobs with PATH=%s (cron's is shorter still), where nix is not (it is %s): a scheduled refresh fails on its nix steps", ScheduledPath, here),
		Fix:     fmt.Sprintf("give the job a PATH: in a crontab, a line `PATH=%s:%s` above the job; in a launchd plist, EnvironmentVariables with that PATH; and start sysinit by its full path (%s)", dir, ScheduledPath, self),
	}}
}

func checkStateDirs(in *Input) []Finding {
	dirs := in.M.StateDirs()
	keys := make([]string, 0, len(dirs))
	for d := range dirs {
		keys = append(keys, d)
	}
	sort.Strings(keys)
	var out []Finding
	for _, d := range keys {
		err := dirs[d]
		if err == nil {
			continue
		}
		f := Finding{Problem: err.Error(), Fix: "make " + d + " a directory of yours that no one else can write: chmod 700 " + d}
		var ue *state.UnsafeDirError
		if errors.As(err, &ue) {
			f.Problem = fmt.Sprintf("sysinit refuses its directory %s: %s", ue.Dir, ue.Problem)
			f.Fix = ue.Fix
		}
		out = append(out, f)
	}
	return out
}
