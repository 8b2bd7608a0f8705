package nix

import (
	"strings"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/step"
)

// Register adds the nix kinds to r.
func Register(r *step.Registry) {
	r.Add(darwinKind, nixosKind, homeManagerKind, profileKind, flakeUpdateKind)
}

const systemDoc = `Inputs: what nix sees of the flake — the files git tracks in its
repository (working-tree contents) and flake.lock — plus any ` + "`inputs`" + `.
With ` + "`entry`" + `, only the tracked files the configuration can read from there
(and flake.nix, flake.lock): editing another host's module, or the README,
no longer evaluates this one. A step that must run evaluates the configuration first; when the result is
already the active system and only inputs changed, nothing is built or
switched. Otherwise it builds as you and elevates only setting the profile
and activating. See docs/nix.md.`

var (
	darwinKind = &step.Kind{
		Kind: config.Kind{
			Name:        KindDarwin,
			Summary:     "build a nix-darwin configuration and switch to it",
			Doc:         systemDoc + " A nix-darwin step runs on macOS only unless `os` says more.",
			Keys:        &darwinKeys{},
			Sudo:        true,
			SudoDefault: true,
			OS:          []string{"darwin"},
			Targets:     true,
			Check:       checkSystem,
			CheckAll:    checkProfiles,
		},
		New: newSystem,
	}
	nixosKind = &step.Kind{
		Kind: config.Kind{
			Name:        KindNixOS,
			Summary:     "build a NixOS configuration and switch to it",
			Doc:         systemDoc + " A nixos step runs on Linux only unless `os` says more.",
			Keys:        &nixosKeys{},
			Sudo:        true,
			SudoDefault: true,
			OS:          []string{"linux"},
			Targets:     true,
			Check:       checkSystem,
			CheckAll:    checkProfiles,
		},
		New: newSystem,
	}
	homeManagerKind = &step.Kind{
		Kind: config.Kind{
			Name:     KindHomeManager,
			Summary:  "build a home-manager configuration and activate it",
			Doc:      systemDoc,
			Keys:     &homeKeys{},
			Sudo:     true,
			Targets:  true,
			Check:    checkSystem,
			CheckAll: checkProfiles,
		},
		New: newSystem,
	}
	profileKind = &step.Kind{
		Kind: config.Kind{
			Name:     KindProfile,
			Summary:  "build a flake attribute into a nix profile",
			Doc:      systemDoc,
			Keys:     &profileKeys{},
			Sudo:     true,
			Targets:  true,
			Check:    checkSystem,
			CheckAll: checkProfiles,
		},
		New: newSystem,
	}
	flakeUpdateKind = &step.Kind{
		Kind: config.Kind{
			Name:    KindFlakeUpdate,
			Summary: "move flake.lock's pins to the newest revisions",
			Doc: `Inputs: flake.nix alone. When due — its ` + "`every`" + ` passed, or ` + "`sysinit refresh --update`" + ` —
it runs ` + "`nix flake update`" + `; run because flake.nix changed, it only locks
inputs missing from flake.lock (` + "`nix flake lock`" + `) and moves no other pin. An
input name that matches nothing fails the step.`,
			Keys:   &flakeUpdateKeys{},
			NoSudo: "remove it; flake-update rewrites flake.lock in the repo as you",
			Check:  checkFlakeUpdate,
		},
		New: newFlakeUpdate,
	}
)

// checkSystem checks what a system step's keys name beyond their own
// values: the files of its entry and the hosts it acts on or builds on.
func checkSystem(cfg *config.Config, s *config.Step, r config.Reporter) {
	checkEntry(cfg, s, r)
	checkFleet(cfg, s, r)
}

// buildKeys are the keys of every kind that builds with nix.
type buildKeys struct {
	Entry     []string `key:"entry" items:"paths in the flake" example:"entry = [\"hosts/lv426\", \"modules/darwin\"]" doc:"where the configuration starts: the files and directories flake.nix lists in its modules (relative to the flake); the inputs are then the tracked files reachable from them, flake.nix and flake.lock (docs/graph.md); default: every tracked file"`
	Impure    bool     `key:"impure" example:"impure = true" doc:"pass --impure (nix's evaluation cache is then off)"`
	ExtraArgs []string `key:"extra-args" items:"arguments" empty:"ok" example:"extra-args = [\"--show-trace\"]" doc:"more arguments for nix build and nix eval"`
	MaxJobs   *int     `key:"max-jobs" example:"max-jobs = 4" doc:"nix's --max-jobs; default: nix's setting"`
	Cores     *int     `key:"cores" example:"cores = 4" doc:"nix's --cores; default: nix's setting"`
}

type darwinKeys struct {
	Flake string `key:"flake" default:"." example:"flake = \".#lv426\"" doc:"the flake and configuration: .#NAME builds darwinConfigurations.NAME.system; without #NAME, the host's LocalHostName picks it"`
	buildKeys
	Profile string `key:"profile" example:"profile = \"/nix/var/nix/profiles/system\"" doc:"the profile to set; default /nix/var/nix/profiles/system"`
	fleetKeys
}

type nixosKeys struct {
	Flake string `key:"flake" default:"." example:"flake = \".#box\"" doc:"the flake and configuration: .#NAME builds nixosConfigurations.NAME; without #NAME, the host name picks it"`
	buildKeys
	Profile string `key:"profile" example:"profile = \"/nix/var/nix/profiles/system\"" doc:"the profile to set; default /nix/var/nix/profiles/system"`
	Action  string `key:"action" default:"switch" enum:"switch,boot,test" example:"action = \"boot\"" doc:"switch-to-configuration's action: switch, boot (the next boot's default only) or test (not added to the boot menu)"`
	fleetKeys
}

type homeKeys struct {
	Flake string `key:"flake" default:"." example:"flake = \".#me@laptop\"" doc:"the flake and configuration: .#NAME builds homeConfigurations.\"NAME\"; without #NAME, USER@HOST or USER, whichever the flake defines"`
	buildKeys
	Profile string `key:"profile" example:"profile = \"~/.local/state/nix/profiles/home-manager\"" doc:"the profile home-manager keeps its generations in; default as home-manager does"`
	fleetKeys
}

type profileKeys struct {
	Flake string `key:"flake" required:"true" example:"flake = \".#tools\"" doc:"the flake attribute to build, e.g. .#tools for packages.SYSTEM.tools"`
	buildKeys
	Profile  string `key:"profile" required:"true" example:"profile = \"~/.local/state/nix/profiles/tools\"" doc:"the profile to set"`
	Activate string `key:"activate" example:"activate = \"$SYSINIT_OUT/bin/setup\"" doc:"a command (sh -c) run after the profile is set, with the out path in $SYSINIT_OUT"`
	fleetKeys
}

// systemKeys is any nix system kind's keys, as one struct.
type systemKeys struct {
	Flake string
	buildKeys
	Profile, Activate, Action string
	fleetKeys
}

// keysOf returns s's keys whatever its kind; tests may hand a
// *systemKeys directly.
func keysOf(s *config.Step) *systemKeys {
	switch k := s.Own.(type) {
	case *systemKeys:
		return k
	case *darwinKeys:
		return &systemKeys{Flake: k.Flake, buildKeys: k.buildKeys, Profile: k.Profile, fleetKeys: k.fleetKeys}
	case *nixosKeys:
		return &systemKeys{Flake: k.Flake, buildKeys: k.buildKeys, Profile: k.Profile, Action: k.Action, fleetKeys: k.fleetKeys}
	case *homeKeys:
		return &systemKeys{Flake: k.Flake, buildKeys: k.buildKeys, Profile: k.Profile, fleetKeys: k.fleetKeys}
	case *profileKeys:
		return &systemKeys{Flake: k.Flake, buildKeys: k.buildKeys, Profile: k.Profile, Activate: k.Activate, fleetKeys: k.fleetKeys}
	}
	return &systemKeys{}
}

type flakeUpdateKeys struct {
	Flake  string   `key:"flake" default:"." example:"flake = \".\"" doc:"the flake directory"`
	Inputs []string `key:"inputs" items:"flake input names" example:"inputs = [\"nixpkgs\"]" doc:"update only these inputs (names as in flake.nix); a name that matches no input fails the step"`
	Commit bool     `key:"commit" example:"commit = true" doc:"commit flake.lock when it changed"`
}

// checkFlakeUpdate checks the input names: they become arguments of nix
// flake update, so one that starts with '-' would be read as a flag.
func checkFlakeUpdate(_ *config.Config, s *config.Step, r config.Reporter) {
	for _, in := range config.KeysOf[flakeUpdateKeys](s).Inputs {
		if strings.ContainsAny(in, " \t\r\n") || strings.HasPrefix(in, "-") {
			r.Fail("inputs", `name inputs as flake.nix does, like inputs = ["nixpkgs"]`, "input %q: not a flake input name", in)
		}
	}
}
