package config_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
)

// TestHosts: [hosts.NAME] tables decode, and a step's `hosts` makes one
// step per (step, host) pair, named STEP@HOST, in the step's place, with
// `after` rewritten: a pair on host H waits for the pair on H of a step
// with hosts when there is one, else for all its pairs.
func TestHosts(t *testing.T) {
	src := `
[hosts.box]
ssh = "root@10.0.0.5:2222"
ssh-options = ["-i", "/keys/deploy", "-oIdentitiesOnly=yes"]
confirm-timeout = "1m"

[hosts.mac]
ssh = "me@mac.lan"

[hosts.v6]
ssh = "[::1]:22"

[hosts.v6user]
ssh = "root@[fd00::2]"

[hosts.v6bare]
ssh = "me@::1"

[steps.update]
kind = "flake-update"

[steps.system]
kind = "nixos"
flake = ".#x"
hosts = ["box", "local"]
after = ["update"]

[steps.home]
kind = "home-manager"
hosts = ["mac", "box"]
after = ["system"]

[steps.last]
kind = "command"
run = "true"
after = ["home"]
`
	cfg, err := parseIn(t, src)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range cfg.Steps {
		names = append(names, s.Name)
	}
	want := []string{"update", "system@box", "system@local", "home@mac", "home@box", "last"}
	if !slices.Equal(names, want) {
		t.Fatalf("steps = %v, want %v", names, want)
	}
	box := cfg.Host("box")
	if box == nil || box.User != "root" || box.Address != "10.0.0.5" || box.Port != "2222" || box.Destination() != "root@10.0.0.5" ||
		box.Confirm() != time.Minute || !slices.Equal(box.SSHOptions, []string{"-i", "/keys/deploy", "-oIdentitiesOnly=yes"}) {
		t.Errorf("box = %+v", box)
	}
	if mac := cfg.Host("mac"); mac.Port != "" || mac.Destination() != "me@mac.lan" || mac.Confirm() != config.DefaultConfirmTimeout {
		t.Errorf("mac = %+v", mac)
	}
	if v6 := cfg.Host("v6"); v6.Address != "::1" || v6.Port != "22" || v6.User != "" {
		t.Errorf("v6 = %+v", v6)
	}
	// ssh takes an IPv6 address without brackets; the port goes apart.
	if v6 := cfg.Host("v6user"); v6.Address != "fd00::2" || v6.Port != "" || v6.Destination() != "root@fd00::2" {
		t.Errorf("v6user = %+v", v6)
	}
	if v6 := cfg.Host("v6bare"); v6.Address != "::1" || v6.Port != "" || v6.Destination() != "me@::1" {
		t.Errorf("v6bare = %+v", v6)
	}
	for _, c := range []struct {
		name, base, host string
		target           *config.Host
		after            []string
	}{
		{"system@box", "system", "box", box, []string{"update"}},
		{"system@local", "system", "local", nil, []string{"update"}},
		{"home@mac", "home", "mac", cfg.Host("mac"), []string{"system@box", "system@local"}},
		{"home@box", "home", "box", box, []string{"system@box"}},
		{"last", "", "", nil, []string{"home@mac", "home@box"}},
	} {
		s := cfg.Step(c.name)
		if s == nil {
			t.Errorf("no step %s", c.name)
			continue
		}
		if s.Base != c.base || s.HostName != c.host || s.Target != c.target || !slices.Equal(s.After, c.after) || s.Hosts != nil {
			t.Errorf("%s: base %q host %q target %v after %v hosts %v; want %q %q %v %v", c.name, s.Base, s.HostName, s.Target, s.After, s.Hosts, c.base, c.host, c.target, c.after)
		}
	}
	// Each pair has its own copy of the kind's keys.
	if cfg.Step("system@box").Own == cfg.Step("system@local").Own {
		t.Error("pairs share their kind's keys")
	}
	for name, want := range map[string][]string{
		"system": {"system@box", "system@local"}, "system@box": {"system@box"}, "last": {"last"}, "nope": nil,
		// @HOST: every step acting on the host; @local, this machine's.
		"@box": {"system@box", "home@box"}, "@mac": {"home@mac"}, "@local": {"update", "system@local", "last"},
		"@v6": nil, "@nope": nil, "@": nil, "@system": nil,
	} {
		if got := cfg.Resolve(name); !slices.Equal(got, want) {
			t.Errorf("Resolve(%q) = %v, want %v", name, got, want)
		}
	}
	if got := cfg.Pairs("home"); !slices.Equal(got, []string{"home@mac", "home@box"}) {
		t.Errorf("Pairs(home) = %v", got)
	}
}

func TestHostErrors(t *testing.T) {
	const step = "[steps.s]\nkind = \"nix-profile\"\nflake = \".#t\"\nprofile = \"/p\"\n"
	tests := []struct {
		name string
		src  string
		want []wantErr
	}{
		{"hosts not a table", "hosts = 3\n",
			[]wantErr{{1, "`hosts` must be a table of hosts, not an integer", "[hosts.NAME]"}}},
		{"host without ssh", "[hosts.box]\nconfirm-timeout = \"5s\"\n",
			[]wantErr{{1, `host "box" needs ` + "`ssh`", "add ssh ="}}},
		{"unknown host key", "[hosts.box]\nssh = \"box\"\nssh-option = []\n",
			[]wantErr{{3, `unknown host key "ssh-option"`, `did you mean "ssh-options"?`}}},
		{"reserved name", "[hosts.local]\nssh = \"x\"\n",
			[]wantErr{{1, `host name "local" is reserved`, "this machine"}}},
		{"bad name", "[hosts.\"a@b\"]\nssh = \"x\"\n",
			[]wantErr{{1, `invalid host name "a@b"`, "STEP@HOST"}}},
		{"long name", "[hosts." + strings.Repeat("h", 65) + "]\nssh = \"x\"\n",
			[]wantErr{{1, "host name is 65 characters long", "at most 64"}}},
		{"names differing in case", "[hosts.box]\nssh = \"x\"\n[hosts.Box]\nssh = \"y\"\n",
			[]wantErr{{3, `host "Box" differs from host "box" only in case`, ""}}},
		{"unclosed bracket", "[hosts.box]\nssh = \"root@[::1:2222\"\n",
			[]wantErr{{2, `ssh = "root@[::1:2222": unclosed [`, `"root@[::1]:2222"`}}},
		{"IPv6 port out of range", "[hosts.box]\nssh = \"root@[::1]:70000\"\n",
			[]wantErr{{2, `port "70000" is not a number from 1 to 65535`, ""}}},
		{"IPv6 empty port", "[hosts.box]\nssh = \"root@[::1]:\"\n",
			[]wantErr{{2, `ssh = "root@[::1]:": no port after :`, ""}}},
		{"IPv6 junk after bracket", "[hosts.box]\nssh = \"[::1]22\"\n",
			[]wantErr{{2, "only :PORT may follow ]", ""}}},
		{"empty brackets", "[hosts.box]\nssh = \"root@[]:22\"\n",
			[]wantErr{{2, "names no host", ""}}},
		{"bad port", "[hosts.box]\nssh = \"root@box:99999\"\n",
			[]wantErr{{2, `port "99999" is not a number`, ""}}},
		{"empty user", "[hosts.box]\nssh = \"@box\"\n",
			[]wantErr{{2, "the user before @ is empty", ""}}},
		{"host like an option", "[hosts.box]\nssh = \"-oProxyCommand=x\"\n",
			[]wantErr{{2, "may not start with '-'", ""}}},
		{"option with a space", "[hosts.box]\nssh = \"box\"\nssh-options = [\"-o StrictHostKeyChecking=yes\"]\n",
			[]wantErr{{3, "holds a space", "NIX_SSHOPTS"}}},
		{"host key checking off", "[hosts.box]\nssh = \"box\"\nssh-options = [\"-o\", \"StrictHostKeyChecking=no\"]\n",
			[]wantErr{{3, "turns host key checking off", "known_hosts"}}},
		{"control path", "[hosts.box]\nssh = \"box\"\nssh-options = [\"-oControlPath=/tmp/x\"]\n",
			[]wantErr{{3, "sets ControlPath=/tmp/x, which sysinit manages", ""}}},
		{"port twice", "[hosts.box]\nssh = \"box:22\"\nssh-options = [\"-p\", \"2222\"]\n",
			[]wantErr{{3, "sets a port, and so does `ssh`", ""}}},
		{"destination in options", "[hosts.box]\nssh = \"box\"\nssh-options = [\"-v\", \"other\"]\n",
			[]wantErr{{3, `"other" is not an option`, "put the host in `ssh`"}}},
		{"option missing its argument", "[hosts.box]\nssh = \"box\"\nssh-options = [\"-i\"]\n",
			[]wantErr{{3, "ssh option -i needs an argument", ""}}},
		{"zero confirm-timeout", "[hosts.box]\nssh = \"box\"\nconfirm-timeout = \"0s\"\n",
			[]wantErr{{3, "must be more than zero", "default, 30s"}}},
		{"unknown host in hosts", "[hosts.box]\nssh = \"box\"\n" + step + "hosts = [\"bx\"]\n",
			[]wantErr{{7, `unknown host "bx"`, `did you mean "box"?`}}},
		{"host named twice", "[hosts.box]\nssh = \"box\"\n" + step + "hosts = [\"box\", \"box\"]\n",
			[]wantErr{{7, "`hosts` names \"box\" twice", ""}}},
		{"empty hosts", step + "hosts = []\n",
			[]wantErr{{5, "`hosts` is empty", "local"}}},
		{"hosts on a kind that acts here only", "[steps.c]\nkind = \"command\"\nrun = \"x\"\nhosts = [\"local\"]\n",
			[]wantErr{{4, "command steps do not take `hosts`", "nix-darwin, nixos, home-manager and nix-profile"}}},
		{"build-on names no host", step + "build-on = \"box\"\n",
			[]wantErr{{5, `build-on = "box": no such host`, "[hosts.box]"}}},
		{"push-to not a URL", step + "push-to = \"/srv/cache\"\n",
			[]wantErr{{5, "is not a store URL", "file:///srv/nix-cache"}}},
		{"push-to file not absolute", step + "push-to = \"file://cache\"\n",
			[]wantErr{{5, "is not absolute", ""}}},
		{"top-level host table", "[box]\nssh = \"x\"\n",
			[]wantErr{{1, `unknown top-level key "box"`, "[hosts.box]"}}},
		{"host instead of hosts", "[host.box]\nssh = \"x\"\n",
			[]wantErr{{1, `unknown top-level key "host"`, "did you mean [hosts.NAME]?"}}},
	}
	file := filepath.Join(root, config.FileName)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseIn(t, tt.src)
			if cfg != nil {
				t.Errorf("Parse returned a config with errors")
			}
			checkErrors(t, err, file, tt.want)
		})
	}
}

// TestHostDocs: docs/config.md's host section comes from the declarations.
func TestHostDocs(t *testing.T) {
	var b strings.Builder
	if err := config.WriteDocs(&b, nil, "", true); err != nil {
		t.Fatal(err)
	}
	for _, d := range config.HostKeyDocs() {
		if !strings.Contains(b.String(), "| `"+d.Name+"` |") {
			t.Errorf("the docs lack host key %s", d.Name)
		}
	}
}
