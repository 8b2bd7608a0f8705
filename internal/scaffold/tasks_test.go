package scaffold

import (
	"reflect"
	"testing"
)

func TestReadRefreshTaskfile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"Taskfile.yml": `version: '3'
vars:
  HOST:
    sh: scutil --get LocalHostName
includes:
  nix: ./taskfiles/nix.yml
  brew:
    taskfile: ./taskfiles/brew.yml
tasks:
  default:
    cmds:
      - task: nix:refresh
  lint: nixfmt .
  fmt: [nixfmt ., prettier -w .]
`,
		"taskfiles/nix.yml": `version: '3'
tasks:
  refresh:
    desc: refresh the machine
    deps: [conf]
    cmds:
      - nix flake update
      - sudo darwin-rebuild switch --flake .#{{.HOST}} --impure
      - task: :brew:bundle
      - cmd: echo done
  conf:
    cmds:
      - sudo cp nix.custom.conf /etc/nix/ && sudo launchctl kickstart -k system/org.nixos.nix-daemon
  build: darwin-rebuild build --flake .
`,
		"taskfiles/brew.yml": `version: '3'
tasks:
  bundle:
    cmds:
      - brew update && brew bundle --cleanup
`,
	})
	got, err := ReadRefresh(dir, "darwin")
	if err != nil {
		t.Fatal(err)
	}
	want := &Refresh{File: "Taskfile.yml", Task: "nix:refresh", Commands: []string{
		"sudo cp nix.custom.conf /etc/nix/ && sudo launchctl kickstart -k system/org.nixos.nix-daemon",
		"nix flake update",
		"sudo darwin-rebuild switch --flake .#$(scutil --get LocalHostName) --impure",
		"brew update && brew bundle --cleanup",
		"echo done",
	}}
	// default calls nix:refresh and does the same; nix:refresh wins by name.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestReadRefreshJustfile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"justfile": `host := ` + "`hostname -s`" + `
flake := "."

# rebuild and switch
[macos]
switch target=host: update
    @echo switching {{target}}
    sudo darwin-rebuild switch --flake {{flake}}#{{target}} \
      --show-trace

update:
    nix flake update

alias s := switch

[linux]
switch:
    sudo nixos-rebuild switch --flake .

gc:
    nix-collect-garbage -d
`,
	})
	got, err := ReadRefresh(dir, "darwin")
	if err != nil {
		t.Fatal(err)
	}
	want := &Refresh{File: "justfile", Task: "switch", Commands: []string{
		"nix flake update",
		"echo switching $(hostname -s)",
		"sudo darwin-rebuild switch --flake .#$(hostname -s) --show-trace",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestReadRefreshSwitchOverUpdate: of two recipes doing one thing each,
// the one that switches the system is the refresh, whatever their names;
// as in ryan4yin/nix-darwin-kickstarter's Justfile, where `up` (nix flake
// update) beat `darwin` (the build and switch) on its name alone.
func TestReadRefreshSwitchOverUpdate(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"Justfile": `hostname := "mac"

[group('desktop')]
darwin: darwin-set-proxy
  nix build .#darwinConfigurations.{{hostname}}.system \
    --extra-experimental-features 'nix-command flakes'

  sudo -E ./result/sw/bin/darwin-rebuild switch --flake .#{{hostname}}

darwin-set-proxy:
  sudo python3 scripts/darwin_set_proxy.py

[group('nix')]
up:
  nix flake update
`,
	})
	got, err := ReadRefresh(dir, "darwin")
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Task != "darwin" {
		t.Fatalf("got %+v, want the darwin recipe", got)
	}
}

func TestReadRefreshMise(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"mise.toml": `[tasks.switch]
run = "sudo -E darwin-rebuild switch --flake .#rafiki --show-trace --impure"

[tasks.build]
run = "mise run switch"

[tasks.update]
description = "Update flake inputs and rebuild system"
run = """
nix flake update
mise run build
"""

[tasks.fmt]
run = ["nixfmt .", "prettier -w ."]
`,
	})
	got, err := ReadRefresh(dir, "darwin")
	if err != nil {
		t.Fatal(err)
	}
	want := &Refresh{File: "mise.toml", Task: "update", Commands: []string{
		"nix flake update",
		"sudo -E darwin-rebuild switch --flake .#rafiki --show-trace --impure",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestReadRefreshNone(t *testing.T) {
	dir := writeTree(t, map[string]string{"Taskfile.yml": "version: '3'\ntasks:\n  lint: nixfmt .\n"})
	got, err := ReadRefresh(dir, "darwin")
	if err != nil || got != nil {
		t.Errorf("got %+v, %v; want nil (no task refreshes anything)", got, err)
	}
	if got, err := ReadRefresh(t.TempDir(), "darwin"); err != nil || got != nil {
		t.Errorf("no task file: got %+v, %v", got, err)
	}
	bad := writeTree(t, map[string]string{"Taskfile.yml": "tasks: [unclosed\n"})
	if _, err := ReadRefresh(bad, "darwin"); err == nil {
		t.Error("a broken Taskfile: no error")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		line string
		want []action
	}{
		{"nix flake update", []action{{kind: actFlakeUpdate}}},
		{"nix flake update nixpkgs home-manager --commit-lock-file", []action{{kind: actFlakeUpdate, inputs: []string{"nixpkgs", "home-manager"}, commit: true}}},
		{"nix flake update --flake . nixpkgs", []action{{kind: actFlakeUpdate, flake: ".", inputs: []string{"nixpkgs"}}}},
		{"nix flake update ~/dots", []action{{kind: actFlakeUpdate, flake: "~/dots"}}},
		{"nix flake lock --update-input nixpkgs", []action{{kind: actFlakeUpdate, inputs: []string{"nixpkgs"}}}},
		{"nix flake lock", []action{{kind: actIgnore}}},
		{"NIXPKGS_ALLOW_UNFREE=1 sudo -E darwin-rebuild switch --flake .#lv426 --impure --show-trace -L",
			[]action{{kind: actDarwin, flake: ".#lv426", impure: true, sudo: true, env: map[string]string{"NIXPKGS_ALLOW_UNFREE": "1"}, extraArgs: []string{"--show-trace"}, logFlags: []string{"-L"}}}},
		{"sudo darwin-rebuild switch --flake \".#$(scutil --get LocalHostName)\"", []action{{kind: actDarwin, flake: ".", hostAttr: true, sudo: true}}},
		{"darwin-rebuild build --flake .", []action{{kind: actCommand}}},
		// Building the system a switch then activates, as many Justfiles
		// do (nix build, then ./result/sw/bin/darwin-rebuild switch): the
		// nix step builds it itself.
		{"nix build .#darwinConfigurations.mac.system --extra-experimental-features 'nix-command flakes'", []action{{kind: actIgnore}}},
		{"nix --extra-experimental-features 'nix-command flakes' build .#darwinConfigurations.$SYSTEM.system $@", []action{{kind: actIgnore}}},
		{"nix build .#nixosConfigurations.box.config.system.build.toplevel", []action{{kind: actIgnore}}},
		{"nix build .#homeConfigurations.me.activationPackage", []action{{kind: actIgnore}}},
		{"nix build .#packages.x86_64-linux.default", []action{{kind: actCommand}}},
		{"nix run nix-darwin -- switch --flake .#m1 --max-jobs 8 --cores 2", []action{{kind: actDarwin, flake: ".#m1", maxJobs: 8, cores: 2}}},
		{"sudo nixos-rebuild switch --flake . --builders '' --max-jobs 1 --cores 32 --fast",
			[]action{{kind: actNixOS, flake: ".", nixAction: "switch", sudo: true, extraArgs: []string{"--builders", ""}, maxJobs: 1, cores: 32, dropped: []string{"--fast"}}}},
		{"sudo nixos-rebuild boot --flake .#nostromo", []action{{kind: actNixOS, flake: ".#nostromo", nixAction: "boot", sudo: true}}},
		{"nixos-rebuild switch --flake .#web --target-host root@web", []action{{kind: actNixOS, flake: ".#web", nixAction: "switch", remote: true}}},
		{"home-manager switch --flake .#ripley@nostromo -b backup", []action{{kind: actHome, flake: ".#ripley@nostromo", dropped: []string{"-b backup"}}}},
		{"nh darwin switch . -H lv426", []action{{kind: actDarwin, flake: ".#lv426"}}},
		{"nh os switch --ask", []action{{kind: actNixOS, nixAction: "switch", hostAttr: true, logFlags: []string{"--ask"}}}},
		{"nh home switch ~/nix -c ripley", []action{{kind: actHome, flake: "~/nix#ripley"}}},
		{"brew update && brew bundle --file=homebrew/Brewfile --cleanup", []action{{kind: actBrewUpdate}, {kind: actBrewBundle, brewfile: "homebrew/Brewfile", cleanup: true}}},
		{"brew bundle check || brew bundle install", []action{{kind: actIgnore}, {kind: actBrewBundle}}},
		{"brew upgrade", []action{{kind: actBrewUpgrade}}},
		{"sudo cp ./nix.custom.conf /etc/nix/ && sudo launchctl kickstart -k system/org.nixos.nix-daemon",
			[]action{{kind: actCopy, source: "nix.custom.conf", dest: "/etc/nix/nix.custom.conf", sudo: true}, {kind: actRestart, sudo: true}}},
		{"sudo install -m 0644 conf/nix.conf /etc/nix/nix.conf", []action{{kind: actCopy, source: "conf/nix.conf", dest: "/etc/nix/nix.conf", sudo: true}}},
		{"sudo systemctl restart nix-daemon.service", []action{{kind: actRestart, sudo: true}}},
		{"echo 'done' && sysinit", []action{{kind: actIgnore}, {kind: actIgnore, note: "already sysinit"}}},
		{"git pull --rebase", []action{{kind: actCommand}}},
		{"if true; then", []action{{kind: actCommand}}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got := classify(tt.line)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d actions %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				g.text, g.argv, g.note = "", nil, map[bool]string{true: g.note}[w.note != ""]
				if len(g.env) == 0 {
					g.env = nil
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("action %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

// TestReadRefreshJustfileDirAndScript: as in rickyelopez/dotfiles'
// justfile, `dotfiles := justfile_dir()` is the repository (just runs a
// recipe in the justfile's directory), not an unknown `{{?}}` that init
// wrote as the step's flake; and a script recipe (#! first) is one
// script, not each of its lines a command (`if …; then`, `else`, `fi`
// became steps of their own).
func TestReadRefreshJustfileDirAndScript(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"justfile": `dotfiles := justfile_dir()
here := justfile_directory()

[linux]
switch:
  #!/usr/bin/env bash
  if [[ -d /etc/nixos ]]; then
    sudo nixos-rebuild switch --flake {{dotfiles}}
  else
    nix run {{here}} -- switch --flake {{here}}
  fi
`,
	})
	got, err := ReadRefresh(dir, "linux")
	if err != nil {
		t.Fatal(err)
	}
	want := &Refresh{File: "justfile", Task: "switch", Commands: []string{
		"if [[ -d /etc/nixos ]]; then\nsudo nixos-rebuild switch --flake .\nelse\nnix run . -- switch --flake .\nfi",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

// TestReadRefreshWorkingDirectory: a task's dir (go-task) and just's
// working-directory run the commands elsewhere: each becomes `cd DIR &&
// CMD`, which classify follows to the flake the command applied.
func TestReadRefreshWorkingDirectory(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		want            []string
	}{
		{"taskfile dir", "Taskfile.yml", "version: '3'\ntasks:\n  switch:\n    dir: nix\n    cmds:\n      - nix flake update\n      - sudo darwin-rebuild switch --flake .#mac\n",
			[]string{"cd 'nix' && nix flake update", "cd 'nix' && sudo darwin-rebuild switch --flake .#mac"}},
		{"taskfile dir template", "Taskfile.yml", "version: '3'\ntasks:\n  switch:\n    dir: '{{.NIX_DIR}}'\n    cmds:\n      - sudo darwin-rebuild switch --flake .#mac\n",
			[]string{"cd '{{.NIX_DIR}}' && sudo darwin-rebuild switch --flake .#mac"}},
		{"just join", "justfile", "d := justfile_dir() / \"nix\"\n\nswitch:\n  sudo darwin-rebuild switch --flake {{d}}#mac\n",
			[]string{"sudo darwin-rebuild switch --flake ./nix#mac"}},
		{"just setting", "justfile", "set working-directory := 'nix'\n\nswitch:\n  sudo darwin-rebuild switch --flake .#mac\n",
			[]string{"cd 'nix' && sudo darwin-rebuild switch --flake .#mac"}},
		{"just attribute", "justfile", "[working-directory: \"/srv/it's\"]\nswitch:\n  #!/bin/sh\n  sudo darwin-rebuild switch --flake .#mac\n",
			[]string{`cd '/srv/it'\''s' && sudo darwin-rebuild switch --flake .#mac`}},
	} {
		dir := writeTree(t, map[string]string{tc.file: tc.src})
		got, err := ReadRefresh(dir, "darwin")
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !reflect.DeepEqual(got.Commands, tc.want) {
			t.Errorf("%s: got %#v\nwant %q", tc.name, got, tc.want)
		}
	}
	for cmd, want := range map[string]string{
		"cd 'nix' && sudo darwin-rebuild switch --flake .#mac":          "./nix#mac",
		"cd '{{.NIX_DIR}}' && sudo darwin-rebuild switch --flake .#mac": ".#mac, cannot tell",
	} {
		var got []string
		for _, a := range classify(cmd) {
			if a.kind == actDarwin {
				got = append(got, a.flake)
				if a.flakeNote != "" {
					got[len(got)-1] += ", cannot tell"
				}
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("classify(%q): flakes %q, want %q", cmd, got, want)
		}
	}
}

// TestReadRefreshRunnerDirs: where a task runner runs a command is the
// directory its relative flake counts from. A mise task's dir and an
// included Taskfile's dir: run its commands there, and a mise run string
// of many lines is one script, whose cd moves the lines after it (each
// line read alone, `cd nix` then `nix flake update` locked this
// repository's flake.lock in the step, nix/'s in the old command: unsaid).
func TestReadRefreshRunnerDirs(t *testing.T) {
	for _, tc := range []struct {
		name string
		tree map[string]string
		want string // the flake of the last flake-update or switch
	}{
		{"mise dir", map[string]string{"mise.toml": "[tasks.switch]\ndir = \"nix\"\nrun = \"sudo darwin-rebuild switch --flake .#mac\"\n"}, "./nix#mac"},
		{"mise dir config_root", map[string]string{"mise.toml": "[tasks.switch]\ndir = \"{{config_root}}/nix\"\nrun = \"sudo darwin-rebuild switch --flake .#mac\"\n"}, "./nix#mac"},
		{"mise script cd", map[string]string{"mise.toml": "[tasks.up]\nrun = \"\"\"\ncd nix\nnix flake update\n\"\"\"\n"}, "./nix"},
		{"mise script cd, then a task", map[string]string{"mise.toml": "[tasks.sw]\nrun = \"sudo darwin-rebuild switch --flake .#mac\"\n[tasks.up]\nrun = \"\"\"\ncd nix\nnix flake update\nmise run sw\n\"\"\"\n"}, ".#mac"},
		{"taskfile include dir", map[string]string{
			"Taskfile.yml":     "version: '3'\nincludes:\n  nix:\n    taskfile: ./nix/Taskfile.yml\n    dir: ./nix\n",
			"nix/Taskfile.yml": "version: '3'\ntasks:\n  switch:\n    cmds:\n      - sudo darwin-rebuild switch --flake .#mac\n",
		}, "./nix#mac"},
		{"taskfile include dir and task dir", map[string]string{
			"Taskfile.yml":     "version: '3'\nincludes:\n  nix:\n    taskfile: ./nix/Taskfile.yml\n    dir: ./nix\n",
			"nix/Taskfile.yml": "version: '3'\ntasks:\n  switch:\n    dir: sub\n    cmds:\n      - sudo darwin-rebuild switch --flake .#mac\n",
		}, "./nix/sub#mac"},
		{"taskfile include without dir", map[string]string{
			"Taskfile.yml":     "version: '3'\nincludes:\n  nix: ./nix/Taskfile.yml\n",
			"nix/Taskfile.yml": "version: '3'\ntasks:\n  switch:\n    cmds:\n      - sudo darwin-rebuild switch --flake .#mac\n",
		}, ".#mac"},
	} {
		dir := writeTree(t, tc.tree)
		r, err := ReadRefresh(dir, "darwin")
		if err != nil || r == nil {
			t.Fatalf("%s: %v, %v", tc.name, r, err)
		}
		got := "none"
		for _, c := range r.Commands {
			for _, a := range classify(c) {
				if a.kind == actDarwin || a.kind == actFlakeUpdate {
					got = a.flake
					if a.flakeNote != "" {
						got += ", cannot tell"
					}
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s: flake %q, want %q (commands %q)", tc.name, got, tc.want, r.Commands)
		}
	}
}
