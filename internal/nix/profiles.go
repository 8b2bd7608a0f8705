package nix

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/sysinit/sysinit/internal/config"
)

// systemKinds are the kinds that set a profile, in the order checkProfiles
// looks for the first one present.
var systemKinds = []string{KindDarwin, KindNixOS, KindHomeManager, KindProfile}

// kindOS is the systems each kind runs on unless `os` says more (nil: any).
var kindOS = map[string][]string{KindDarwin: {"darwin"}, KindNixOS: {"linux"}}

// checkProfiles refuses two nix steps that set one profile on one machine:
// each switch would undo the other, and each record would say its own out
// path is active, so one of them is always "changed outside sysinit" or,
// worse, up to date while the other's system runs. It is every system
// kind's CheckAll, and acts once: from the first system kind the config
// uses, over the steps of all of them.
func checkProfiles(cfg *config.Config, steps []*config.Step, r config.StepReporter) {
	var all []*config.Step
	for _, s := range cfg.Steps {
		if s.Decoded() && slices.Contains(systemKinds, s.Kind) {
			all = append(all, s)
		}
	}
	if len(all) == 0 || len(steps) == 0 || steps[0].Kind != all[0].Kind {
		return
	}
	type user struct {
		s       *config.Step
		profile string
	}
	first := map[string][]user{} // machine + profile → the steps seen
	for _, s := range all {
		p := profileKey(cfg, s)
		machines := s.Hosts
		if len(machines) == 0 {
			machines = []string{"local"}
		}
		reported := false
		for _, m := range machines {
			key := m + "\x00" + p
			for _, o := range first[key] {
				if reported || !osOverlap(o.s, s) {
					continue
				}
				at := o.s.Pos
				if pos, ok := o.s.Keys["profile"]; ok {
					at = pos
				}
				r.FailStep(s, "profile", "give each step its own profile, or merge them into one step",
					"two steps switch one profile: step %q and step %q (%s) both set %s; each would undo the other's switch", s.Name, o.s.Name, at, p)
				reported = true
			}
			first[key] = append(first[key], user{s, p})
		}
	}
}

// profileKey is the profile s sets, as config text can tell it: absolute,
// cleaned, relative ones from the config directory, ~ kept as written (the
// home directory is the same one for every step of a run). home-manager's
// default is named as its usual path.
func profileKey(cfg *config.Config, s *config.Step) string {
	p := keysOf(s).Profile
	if p == "" {
		switch s.Kind {
		case KindHomeManager:
			return "~/.local/state/nix/profiles/home-manager"
		case KindProfile:
			return "" // required: the loader reported it
		}
		return defaultSystemProfile
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		return "~" + filepath.Clean(strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(cfg.Dir, p)
	}
	return filepath.Clean(p)
}

// osOverlap reports whether a and b can both apply on one system.
func osOverlap(a, b *config.Step) bool {
	oa, ob := a.OS, b.OS
	if len(oa) == 0 {
		oa = kindOS[a.Kind]
	}
	if len(ob) == 0 {
		ob = kindOS[b.Kind]
	}
	if len(oa) == 0 || len(ob) == 0 {
		return true
	}
	for _, o := range oa {
		if slices.Contains(ob, o) {
			return true
		}
	}
	return false
}
