package brew

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// Installing only what is missing. brew bundle install walks the whole
// Brewfile, loading every formula and cask to ask whether it is installed
// and up to date, then installs each missing one with its own
// `brew install` (bundle/installer.rb, bundle/brew.rb, bundle/cask.rb).
// sysinit already knows from Cellar, Caskroom and Library/Taps what is
// missing, so it makes the calls brew bundle would make for those entries
// alone, batched: one `brew tap` per missing tap (brew tap takes one),
// then one `brew install --formula` and one `brew install --cask` for each
// set of flags. brew install fetches what it is given together, as brew
// bundle itself does since it fetches before installing.
//
// An entry whose options only brew bundle applies (services, link,
// conflicts, postinstall, trust, …), of a type brew install does not
// install (mas, vscode, go, cargo, …), or listed in a
// HOMEBREW_BUNDLE_<TYPE>_SKIP is left to brew bundle, and the log says
// which and why.

// missing is what a Brewfile needs that Homebrew's directories lack, as
// brew calls, and what is left to brew bundle.
type missing struct {
	calls  []brewCall
	bundle []string // `mas "Xcode"`: why brew bundle must do it
	// present lists the entries sysinit maps and which must be found
	// installed after the calls.
	present []installed
}

// brewCall is one brew process: its arguments after "brew" and what it
// is to install.
type brewCall struct {
	args []string
	what []installed
}

// installed names an entry as Homebrew's directories hold it.
type installed struct {
	kind string // tap, formula, cask
	name string // user/repo for a tap; the formula or cask name without its tap
	line int
}

func (i installed) String() string {
	if i.kind == "formula" {
		return i.name
	}
	return i.kind + " " + i.name
}

// The names brew bundle's DSL keeps (Homebrew::Bundle::Dsl.sanitize_*).
var (
	tapArgs    = lazyregexp.New(`^([\w-]+)/(homebrew-)?([\w-]+)$`)
	coreName   = lazyregexp.New(`^homebrew/homebrew/([\w+\-.@]+)$`)
	tapFormula = lazyregexp.New(`^([\w-]+)/([\w-]+)/([\w+\-.@]+)$`)
)

func sanitizeTap(name string) string {
	name = strings.ToLower(name)
	if m := tapArgs().FindStringSubmatch(name); m != nil {
		return m[1] + "/" + m[3]
	}
	return name
}

func sanitizeFormula(name string) string {
	name = strings.ToLower(name)
	if m := coreName().FindStringSubmatch(name); m != nil {
		return m[1]
	}
	if m := tapFormula().FindStringSubmatch(name); m != nil {
		return m[1] + "/" + strings.TrimPrefix(m[2], "homebrew-") + "/" + m[3]
	}
	return name
}

// shortName is a formula or cask name without its tap, as Cellar and
// Caskroom hold it.
func shortName(name string) string {
	return strings.ToLower(name[strings.LastIndexByte(name, '/')+1:])
}

// bundleOnly are the options brew bundle acts on beyond `brew install`:
// services, linking, conflicts, scripts, version files, tap trust.
var bundleOnly = map[string]string{
	"restart_service": "services", "start_service": "services", "conflicts_with": "unlinks conflicts",
	"postinstall": "runs a command", "version_file": "writes a version file", "trusted": "trusts the tap",
	"link": "links or unlinks",
}

// findMissing works out the brew calls that install what entries (a
// Brewfile read on p) need and in lacks. skip holds the names listed in
// HOMEBREW_BUNDLE_<TYPE>_SKIP, by type.
func findMissing(entries []entry, in *install, p platform, skip map[string][]string) missing {
	var m missing
	seen := map[string]bool{}
	type group struct {
		flags []string
		names []string
		what  []installed
	}
	var taps []brewCall
	var formulae, casks []*group
	add := func(groups *[]*group, flags []string, name string, what installed) {
		key := strings.Join(flags, "\x00")
		for _, g := range *groups {
			if strings.Join(g.flags, "\x00") == key {
				g.names = append(g.names, name)
				g.what = append(g.what, what)
				return
			}
		}
		*groups = append(*groups, &group{flags: flags, names: []string{name}, what: []installed{what}})
	}
	leave := func(e entry, why string) {
		m.bundle = append(m.bundle, fmt.Sprintf("%s %s (line %d): %s", e.Type, quote(e.Name), e.Line, why))
	}
	for _, e := range entries {
		if len(skip[e.Type]) > 0 {
			// brew bundle matches the list against names it sanitizes
			// and ids; it alone decides what it skips.
			leave(e, "HOMEBREW_BUNDLE_"+strings.ToUpper(e.Type)+"_SKIP is set")
			continue
		}
		switch e.Type {
		case "tap":
			name := sanitizeTap(e.Name)
			args := []string{"tap", name}
			if why := optionsBeyond(e, "clone_target"); why != "" {
				leave(e, why)
				continue
			}
			if !tapArgs().MatchString(name) {
				leave(e, "not a user/repo tap name")
				continue
			}
			if ct, ok := e.Options["clone_target"]; ok {
				if ct.Kind != String {
					leave(e, "clone target is not a string")
					continue
				}
				args = append(args, ct.Text)
			}
			want := installed{kind: "tap", name: name, line: e.Line}
			if seen[want.String()] {
				continue
			}
			seen[want.String()] = true
			m.present = append(m.present, want)
			if !in.has(want) {
				taps = append(taps, brewCall{args: args, what: []installed{want}})
			}
		case "brew":
			flags, why := formulaFlags(e)
			if why != "" {
				leave(e, why)
				continue
			}
			full := sanitizeFormula(e.Name)
			want := installed{kind: "formula", name: shortName(full), line: e.Line}
			if seen[want.String()] {
				continue
			}
			seen[want.String()] = true
			m.present = append(m.present, want)
			if !in.has(want) {
				add(&formulae, flags, full, want)
			}
		case "cask":
			if p.OS != "darwin" {
				// brew bundle skips a cask that does not support Linux
				// (extend/os/linux/bundle/skipper.rb); only loading it
				// tells.
				leave(e, "off macOS only brew knows whether a cask supports the platform")
				continue
			}
			flags, why := caskFlags(e)
			if why != "" {
				leave(e, why)
				continue
			}
			want := installed{kind: "cask", name: shortName(e.Name), line: e.Line}
			if seen[want.String()] {
				continue
			}
			seen[want.String()] = true
			m.present = append(m.present, want)
			if !in.has(want) {
				// brew bundle installs a cask by its name as written.
				add(&casks, flags, e.Name, want)
			}
		default:
			leave(e, "brew install does not install "+e.Type+" entries")
		}
	}
	m.calls = taps
	for _, g := range formulae {
		m.calls = append(m.calls, brewCall{args: append(append([]string{"install", "--formula"}, g.names...), g.flags...), what: g.what})
	}
	for _, g := range casks {
		m.calls = append(m.calls, brewCall{args: append(append([]string{"install", "--cask"}, g.names...), g.flags...), what: g.what})
	}
	return m
}

// optionsBeyond says which option of e, other than those allowed, only
// brew bundle applies; "" when there is none.
func optionsBeyond(e entry, allowed ...string) string {
	for _, k := range e.sortedOptionKeys() {
		if slices.Contains(allowed, k) {
			continue
		}
		if what, ok := bundleOnly[k]; ok {
			return fmt.Sprintf("%s: brew bundle %s", k, what)
		}
		return k + ": an option sysinit does not map to brew install"
	}
	return ""
}

func (e entry) sortedOptionKeys() []string {
	keys := make([]string, 0, len(e.Options))
	for k := range e.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// formulaFlags maps a brew entry's options to brew install's flags as
// Homebrew::Bundle::Brew#install_formula! does: each of args as --ARG,
// and link: false as --skip-link.
func formulaFlags(e entry) ([]string, string) {
	var flags []string
	for _, k := range e.sortedOptionKeys() {
		v := e.Options[k]
		switch {
		case k == "args":
			args, ok := v.Strings()
			if !ok {
				return nil, "args is not a list of strings"
			}
			for _, a := range args {
				flags = append(flags, "--"+a)
			}
		case k == "link" && v.Kind == Bool && !v.Bool:
			flags = append(flags, "--skip-link")
		default:
			return nil, optionsBeyond(entry{Options: map[string]value{k: v}})
		}
	}
	return flags, ""
}

// caskFlags maps a cask entry's args (cask_args merged in) to brew
// install's flags as Homebrew::Bundle::Cask.install! does: true as --KEY,
// false and nil left out, anything else as --KEY=VALUE, and --adopt
// unless --force is among them. greedy only changes upgrades.
func caskFlags(e entry) ([]string, string) {
	var flags []string
	for _, k := range e.sortedOptionKeys() {
		v := e.Options[k]
		switch k {
		case "greedy":
		case "args":
			if v.Kind != Hash {
				return nil, "args is not a hash"
			}
			for _, pr := range v.Pairs {
				switch pr.Value.Kind {
				case Bool:
					if pr.Value.Bool {
						flags = append(flags, "--"+pr.Key)
					}
				case Nil:
				case String, Symbol, Int, Float:
					flags = append(flags, "--"+pr.Key+"="+pr.Value.Text)
				default:
					return nil, fmt.Sprintf("args %s: %s is not one value", pr.Key, pr.Value)
				}
			}
		default:
			return nil, optionsBeyond(entry{Options: map[string]value{k: v}})
		}
	}
	if !slices.Contains(flags, "--force") {
		flags = append(flags, "--adopt")
	}
	return slices.Compact(flags), ""
}

// has reports whether Homebrew's directories hold i, as brew itself
// decides: a formula's rack in the Cellar with a keg in it
// (Formula.racks), or an opt link into the Cellar under that name — brew
// links each alias and old name of an installed formula there
// (Keg#optlink); a cask's directory in the Caskroom; a tap's checkout.
func (in *install) has(i installed) bool {
	switch i.kind {
	case "tap":
		user, repo, _ := strings.Cut(i.name, "/")
		return isDir(filepath.Join(in.taps(), user, "homebrew-"+repo))
	case "cask":
		return isDir(filepath.Join(in.caskroom(), i.name))
	}
	if hasKeg(filepath.Join(in.cellar, i.name)) {
		return true
	}
	target, err := filepath.EvalSymlinks(filepath.Join(in.prefix, "opt", i.name))
	if err != nil {
		return false
	}
	cellar, err := filepath.EvalSymlinks(in.cellar)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(cellar, target)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..") && isDir(target)
}

// hasKeg reports whether rack holds an installed version.
func hasKeg(rack string) bool {
	ents, err := os.ReadDir(rack)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			return true
		}
	}
	return false
}

// absent lists what of want Homebrew's directories do not hold.
func (in *install) absent(want []installed) []installed {
	var out []installed
	for _, w := range want {
		if !in.has(w) {
			out = append(out, w)
		}
	}
	return out
}

// skipLists reads HOMEBREW_BUNDLE_<TYPE>_SKIP, which brew bundle honours
// for these types (bundle/skipper.rb), from the step's env and then the
// environment.
func skipLists(getenv func(string) string, env map[string]string) map[string][]string {
	out := map[string][]string{}
	for _, typ := range []string{"brew", "cask", "mas", "tap", "flatpak", "winget"} {
		key := "HOMEBREW_BUNDLE_" + strings.ToUpper(typ) + "_SKIP"
		v, ok := env[key]
		if !ok {
			v = getenv(key)
		}
		if f := strings.Fields(v); len(f) > 0 {
			out[typ] = f
		}
	}
	return out
}
