package config_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

type wantErr struct {
	line int
	msg  string // substring of config.Error.Msg
	hint string // substring of config.Error.Hint; "" matches any
}

// checkErrors asserts err is an config.Errors holding exactly want, in order.
func checkErrors(t *testing.T, err error, file string, want []wantErr) {
	t.Helper()
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v (%T), want config.Errors", err, err)
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i := 0; i < len(errs) && i < len(want); i++ {
		e, w := errs[i], want[i]
		if e.Pos.File != file || e.Pos.Line != w.line || !strings.Contains(e.Msg, w.msg) || !strings.Contains(e.Hint, w.hint) {
			t.Errorf("error %d:\n got %s:%d: %q (hint %q)\nwant %s:%d: %q (hint %q)",
				i, e.Pos.File, e.Pos.Line, e.Msg, e.Hint, file, w.line, w.msg, w.hint)
		}
		if e.Msg == "" || strings.ToLower(e.Msg[:1]) != e.Msg[:1] {
			t.Errorf("error %d: message %q must start lowercase", i, e.Msg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	tests := []struct {
		name string
		src  string
		want []wantErr
	}{
		// TOML syntax
		{"syntax: missing value", "[steps.a]\nkind = \"command\"\nrun =\n",
			[]wantErr{{3, "invalid TOML at column 6", ""}}},
		{"syntax: unterminated array", "[steps.a]\nkind = \"command\"\nafter = [\"a\",\n\"b\"\n",
			[]wantErr{{4, "invalid TOML", ""}}},
		{"syntax: duplicate key", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nrun = \"y\"\n",
			[]wantErr{{4, "already defined", ""}}},
		{"syntax: duplicate table", "[steps.a]\nkind = \"command\"\nrun = \"x\"\n[steps.a]\n",
			[]wantErr{{4, "invalid TOML", ""}}},

		// structure
		{"top-level key", "name = \"x\"\n[steps.a]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `unknown top-level key "name"`, "only [steps.NAME] and [hosts.NAME] tables"}}},
		{"top-level table that looks like a step", "[fonts]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `unknown top-level key "fonts"`, "[steps.fonts]"}}},
		{"step instead of steps", "[step.fonts]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `unknown top-level key "step"`, "did you mean [steps.NAME]?"}}},
		{"steps not a table", "steps = 3\n",
			[]wantErr{{1, "`steps` must be a table of steps, not an integer", "[steps.NAME]"}}},
		{"array of tables", "[[steps]]\nkind = \"command\"\n",
			[]wantErr{{1, "`steps` must be a table of steps, not an array", ""}}},
		{"step not a table", "[steps]\na = \"command\"\n",
			[]wantErr{{2, `step "a" must be a table, not a string`, "[steps.a]"}}},

		// step names
		{"name with space", "[steps.\"my step\"]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `invalid step name "my step"`, "log file name"}}},
		{"name with slash", "[steps.\"a/b\"]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `invalid step name "a/b"`, ""}}},
		{"name dot-dot", "[steps.\"..\"]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `invalid step name ".."`, `cannot be "." or ".."`}}},
		{"name starting with dash", "[steps.-x]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `invalid step name "-x"`, "flag"}}},
		{"name too long", "[steps." + strings.Repeat("a", 129) + "]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, "step name is 129 characters long", "at most 128"}}},
		{"names differing in case", "[steps.fonts]\nkind = \"command\"\nrun = \"x\"\n[steps.Fonts]\nkind = \"command\"\nrun = \"x\"\n",
			[]wantErr{{4, `step "Fonts" differs from step "fonts" only in case`, "case-insensitive"}}},

		// kind
		{"missing kind, guessable", "[steps.a]\nrun = \"x\"\n",
			[]wantErr{{1, `step "a" has no kind`, `add kind = "command"`}}},
		{"missing kind, not guessable", "[steps.a]\nevery = \"1h\"\n",
			[]wantErr{{1, `step "a" has no kind`, "one of: command, file, nix-darwin"}}},
		{"unknown kind", "[steps.a]\nkind = \"nix-darwn\"\n",
			[]wantErr{{2, `unknown kind "nix-darwn"`, `did you mean "nix-darwin"? kinds: command, file,`}}},
		{"unknown kind, no suggestion", "[steps.a]\nkind = \"ansible\"\n",
			[]wantErr{{2, `unknown kind "ansible"`, "kinds: command, file, nix-darwin, nixos, home-manager, nix-profile, flake-update, brew-bundle"}}},
		{"kind not a string", "[steps.a]\nkind = 1\n",
			[]wantErr{{2, "`kind` must be a string, not an integer", `kind = "command"`}}},
		{"unknown kind still checks keys", "[steps.a]\nkind = \"shell\"\nrn = \"x\"\nevery = 3\n",
			[]wantErr{{2, `unknown kind "shell"`, ""}, {3, `unknown key "rn"`, `did you mean "run"?`},
				{4, "`every` must be a duration string", ""}}},

		// keys
		{"unknown key with suggestion", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/x\"\non_change = \"y\"\n",
			[]wantErr{{5, `unknown key "on_change"`, `did you mean "on-change"?`}}},
		{"unknown key, typo", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ntimout = \"1m\"\n",
			[]wantErr{{4, `unknown key "timout"`, `did you mean "timeout"?`}}},
		{"unknown key, transposed", "[steps.a]\nkidn = \"command\"\nrun = \"x\"\n",
			[]wantErr{{1, `step "a" has no kind`, ""}, {2, `unknown key "kidn"`, `did you mean "kind"?`}}},
		{"unknown key close to another kind's", "[steps.a]\nkind = \"command\"\nrun = \"x\"\non_change = \"y\"\n",
			[]wantErr{{4, `unknown key "on_change"`, `did you mean "on-change"? it is a file key; this step is kind "command"`}}},
		{"unknown key, nothing close", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nfrobnicate = 1\n",
			[]wantErr{{4, `unknown key "frobnicate"`, "a command step takes run, and the shared keys kind, inputs"}}},
		{"key of another kind", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nbrewfile = \"Brewfile\"\n",
			[]wantErr{{4, "`brewfile` is a brew-bundle key; this step is kind \"command\"", `change kind to "brew-bundle"`}}},
		{"key of several other kinds", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/x\"\nimpure = true\n",
			[]wantErr{{5, "`impure` is a nix-darwin, nixos, home-manager or nix-profile key; this step is kind \"file\"", ""}}},
		{"action outside nixos", "[steps.a]\nkind = \"nix-darwin\"\naction = \"boot\"\n",
			[]wantErr{{3, "`action` is a nixos key", ""}}},
		{"run outside command", "[steps.a]\nkind = \"brew-bundle\"\nrun = \"x\"\n",
			[]wantErr{{3, "`run` is a command key", ""}}},

		// required keys
		{"command without run", "[steps.a]\nkind = \"command\"\n",
			[]wantErr{{1, "command step \"a\" needs `run`", `add run = "`}}},
		{"file without source and dest", "[steps.a]\nkind = \"file\"\n",
			[]wantErr{{1, "file step \"a\" needs `source`", ""}, {1, "file step \"a\" needs `dest`", ""}}},
		{"nix-profile without flake and profile", "\n[steps.a]\nkind = \"nix-profile\"\n",
			[]wantErr{{2, "nix-profile step \"a\" needs `flake`", ""}, {2, "nix-profile step \"a\" needs `profile`", ""}}},

		// value types
		{"after not an array", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nafter = \"b\"\n",
			[]wantErr{{4, "`after` must be an array of step names, not a string", `like after = ["flake-update"]`}}},
		{"after element not a string", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nafter = [\n  \"a\",\n  2,\n]\n",
			[]wantErr{{5, `step "a" lists itself`, ""}, {6, "`after` must be an array of step names; element 2 is an integer", ""}}},
		{"inputs not an array", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = \"fonts/**\"\n",
			[]wantErr{{4, "`inputs` must be an array of glob patterns, not a string", ""}}},
		{"flake-update inputs not an array", "[steps.a]\nkind = \"flake-update\"\ninputs = \"nixpkgs\"\n",
			[]wantErr{{3, "`inputs` must be an array of flake input names", `inputs = ["nixpkgs"]`}}},
		{"os not an array", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nos = \"darwin\"\n",
			[]wantErr{{4, "`os` must be an array of OS names", ""}}},
		{"requires not an array", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nrequires = \"git\"\n",
			[]wantErr{{4, "`requires` must be an array of program names", ""}}},
		{"extra-args not an array", "[steps.a]\nkind = \"nixos\"\nextra-args = \"--show-trace\"\n",
			[]wantErr{{3, "`extra-args` must be an array of arguments", ""}}},
		{"empty array element", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nrequires = [\"\"]\n",
			[]wantErr{{4, "`requires` has an empty element", "remove it"}}},
		{"run not a string", "[steps.a]\nkind = \"command\"\nrun = [\"ls\", \"-l\"]\n",
			[]wantErr{{3, "`run` must be a string, not an array", `run = "./scripts/install.sh"`}}},
		{"run empty", "[steps.a]\nkind = \"command\"\nrun = \"\"\n",
			[]wantErr{{3, "`run` is empty", "remove the line"}}},
		{"sudo quoted", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nsudo = \"true\"\n",
			[]wantErr{{4, "`sudo` must be true or false, not a string", "write sudo = true, without quotes"}}},
		{"impure a number", "[steps.a]\nkind = \"nixos\"\nimpure = 1\n",
			[]wantErr{{3, "`impure` must be true or false, not an integer", "impure = true"}}},
		{"commit and upgrade", "[steps.a]\nkind = \"flake-update\"\ncommit = \"yes\"\n[steps.b]\nkind = \"brew-bundle\"\nupgrade = 0.5\n",
			[]wantErr{{3, "`commit` must be true or false, not a string", ""}, {6, "`upgrade` must be true or false, not a float", ""}}},
		{"max-jobs auto", "[steps.a]\nkind = \"nix-darwin\"\nmax-jobs = \"auto\"\n",
			[]wantErr{{3, "`max-jobs` must be a whole number, not a string", "leave it out"}}},
		{"max-jobs zero", "[steps.a]\nkind = \"nix-darwin\"\nmax-jobs = 0\n",
			[]wantErr{{3, "max-jobs = 0: must be at least 1", ""}}},
		{"cores negative", "[steps.a]\nkind = \"home-manager\"\ncores = -2\n",
			[]wantErr{{3, "cores = -2: must be at least 1", ""}}},
		{"cores huge", "[steps.a]\nkind = \"home-manager\"\ncores = 99999999999\n",
			[]wantErr{{3, "cores = 99999999999: too large", ""}}},
		{"cores float", "[steps.a]\nkind = \"home-manager\"\ncores = 2.0\n",
			[]wantErr{{3, "`cores` must be a whole number, not a float", ""}}},
		{"env not a table", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nenv = \"A=1\"\n",
			[]wantErr{{4, "`env` must be a table of strings, not a string", "NIXPKGS_ALLOW_UNFREE"}}},
		{"env value a number", "[steps.a]\nkind = \"command\"\nrun = \"x\"\n[steps.a.env]\nA = \"1\"\nB = 1\nC = true\n",
			[]wantErr{{6, "env: the value of B must be a string, not an integer", `quote it: B = "1"`},
				{7, "env: the value of C must be a string, not a boolean", `quote it: C = "true"`}}},
		{"env value a table", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nenv.A.B = \"1\"\n",
			[]wantErr{{4, "env: the value of A must be a string, not a table", ""}}},
		{"env bad names", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nenv = { \"1X\" = \"a\", \"A-B\" = \"b\", \"\" = \"c\", OK_1 = \"d\" }\n",
			[]wantErr{{4, `env: "1X" is not a valid environment variable name`, "not starting with a digit"},
				{4, `env: "A-B" is not a valid environment variable name`, ""},
				{4, `env: "" is not a valid environment variable name`, ""}}},

		// NUL bytes: no command, argument, path or environment value holds one
		{"run with a NUL", "[steps.a]\nkind = \"command\"\nrun = \"true\\u0000; rm -rf x\"\n",
			[]wantErr{{3, "`run` contains a NUL byte", `remove the \u0000`}}},
		{"check with a NUL", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ncheck = \"test\\u0000\"\n",
			[]wantErr{{4, "`check` contains a NUL byte", ""}}},
		{"on-change with a NUL", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/x\"\non-change = \"\\u0000\"\n",
			[]wantErr{{5, "`on-change` contains a NUL byte", ""}}},
		{"activate with a NUL", "[steps.a]\nkind = \"nix-profile\"\nflake = \".#p\"\nprofile = \"/p\"\nactivate = \"a\\u0000b\"\n",
			[]wantErr{{5, "`activate` contains a NUL byte", ""}}},
		{"extra-args element with a NUL", "[steps.a]\nkind = \"nixos\"\nextra-args = [\n\"--a\",\n\"--b\\u0000\",\n]\n",
			[]wantErr{{5, "`extra-args` element 2 contains a NUL byte", ""}}},
		{"env value with a NUL", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nenv = { A = \"1\\u0000\" }\n",
			[]wantErr{{4, "env: the value of A contains a NUL byte", ""}}},
		{"source with a NUL", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\\u0000\"\ndest = \"/x\"\n",
			[]wantErr{{3, "`source` contains a NUL byte", ""}}},

		// encodings
		{"UTF-16 byte order mark", "\xff\xfe[\x00s\x00",
			[]wantErr{{1, "the file is UTF-16 encoded", "save it as UTF-8"}}},
		{"UTF-8 byte order mark, error on line 3", "\xef\xbb\xbf[steps.a]\nkind = \"command\"\nrunn = \"x\"\n",
			[]wantErr{{1, "needs `run`", ""}, {3, `unknown key "runn"`, ""}}},

		// durations
		{"every in words", "[steps.a]\nkind = \"flake-update\"\nevery = \"1 day\"\n",
			[]wantErr{{3, `every = "1 day": not a duration`, `use a number and a unit: "24h", "7d", "90m"`}}},
		{"every without unit", "[steps.a]\nkind = \"flake-update\"\nevery = \"24\"\n",
			[]wantErr{{3, `every = "24": not a duration`, ""}}},
		{"every as a number", "[steps.a]\nkind = \"flake-update\"\nevery = 24\n",
			[]wantErr{{3, "`every` must be a duration string, not an integer", `add a unit and quotes, like every = "24h"`}}},
		{"every zero", "[steps.a]\nkind = \"flake-update\"\nevery = \"0s\"\n",
			[]wantErr{{3, `every = "0s": must be more than zero`, "leave `every` out"}}},
		{"timeout negative", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ntimeout = \"-5m\"\n",
			[]wantErr{{4, `timeout = "-5m": must be more than zero`, "no time limit"}}},
		{"update-every bad unit", "[steps.a]\nkind = \"brew-bundle\"\nupdate-every = \"1w\"\n",
			[]wantErr{{3, `update-every = "1w": not a duration`, ""}}},

		// enums
		{"cleanup", "[steps.a]\nkind = \"brew-bundle\"\ncleanup = \"al\"\n",
			[]wantErr{{3, `cleanup = "al": unknown value`, "use one of: none, check, uninstall, zap"}}},
		{"cleanup typo", "[steps.a]\nkind = \"brew-bundle\"\ncleanup = \"unistall\"\n",
			[]wantErr{{3, `cleanup = "unistall": unknown value`, `did you mean "uninstall"?`}}},
		{"action", "[steps.a]\nkind = \"nixos\"\naction = \"dry-activate\"\n",
			[]wantErr{{3, `action = "dry-activate": unknown value`, "switch, boot, test"}}},
		{"os macos", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nos = [\"macos\"]\n",
			[]wantErr{{4, `unknown os "macos"`, `use "darwin" for macOS`}}},
		{"os typo, own line", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nos = [\n  \"darwin\",\n  \"linx\",\n]\n",
			[]wantErr{{6, `unknown os "linx"`, `did you mean "linux"?`}}},
		{"two file steps, one dest", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"~/x\"\n[steps.b]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/home/me/./x\"\n",
			[]wantErr{{8, `step "b": dest /home/me/x is also step "a"'s`, "give each step its own dest"}}},
		{"mode not octal", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/x\"\nmode = \"0894\"\n",
			[]wantErr{{5, `mode = "0894": not an octal permission`, `like "0644"`}}},
		{"mode symbolic", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/x\"\nmode = \"u+rw\"\n",
			[]wantErr{{5, `mode = "u+rw": not an octal permission`, ""}}},
		{"mode an integer", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"/x\"\nmode = 0o644\n",
			[]wantErr{{5, "`mode` must be a string, not an integer", `mode = "0644"`}}},
		{"requires with spaces", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nrequires = [\"git lfs\"]\n",
			[]wantErr{{4, `requires = "git lfs": not a program name`, ""}}},
		{"sudo flake-update", "[steps.a]\nkind = \"flake-update\"\nsudo = true\n",
			[]wantErr{{3, "flake-update steps do not take `sudo`", "rewrites flake.lock in the repo as you"}}},
		{"sudo brew", "[steps.a]\nkind = \"brew-bundle\"\nsudo = true\n",
			[]wantErr{{3, "brew-bundle steps do not take `sudo`", "Homebrew refuses"}}},

		// files and directories
		{"source missing", "[steps.a]\nkind = \"file\"\nsource = \"nope.conf\"\ndest = \"/x\"\n",
			[]wantErr{{3, "source " + absRoot(t, "nope.conf") + " does not exist", "directory holding sysinit.toml"}}},
		{"source absolute missing", "[steps.a]\nkind = \"file\"\nsource = \"/nonexistent/x.conf\"\ndest = \"/x\"\n",
			[]wantErr{{3, "source /nonexistent/x.conf does not exist", ""}}},
		{"source with tilde", "[steps.a]\nkind = \"file\"\nsource = \"~/x.conf\"\ndest = \"/x\"\n",
			[]wantErr{{3, "source " + absRoot(t, "~/x.conf") + " does not exist", "~ is not expanded here"}}},
		{"source a directory", "[steps.a]\nkind = \"file\"\nsource = \"adir\"\ndest = \"/x\"\n",
			[]wantErr{{3, "source " + absRoot(t, "adir") + " is a directory", "installs one file"}}},
		{"brewfile missing", "[steps.a]\nkind = \"brew-bundle\"\nbrewfile = \"Brewfile.work\"\n",
			[]wantErr{{3, "brewfile " + absRoot(t, "Brewfile.work") + " does not exist", ""}}},
		{"brewfile a directory", "[steps.a]\nkind = \"brew-bundle\"\nbrewfile = \"scripts\"\n",
			[]wantErr{{3, "brewfile " + absRoot(t, "scripts") + " is a directory", ""}}},
		{"dir missing", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ndir = \"nope\"\n",
			[]wantErr{{4, "dir " + absRoot(t, "nope") + " does not exist", ""}}},
		{"dir a file", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ndir = \"Brewfile\"\n",
			[]wantErr{{4, "dir " + absRoot(t, "Brewfile") + " is not a directory", ""}}},
		{"source leaving the config directory", "[steps.a]\nkind = \"file\"\nsource = \"../../etc/passwd\"\ndest = \"/x\"\n",
			[]wantErr{{3, `source "../../etc/passwd" leaves the config directory`, "write an absolute path"}}},
		{"source with a dot-dot inside", "[steps.a]\nkind = \"file\"\nsource = \"adir/../../root/nix.custom.conf\"\ndest = \"/x\"\n",
			[]wantErr{{3, `source "adir/../../root/nix.custom.conf" leaves the config directory`, ""}}},
		{"dest ~user", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"~bob/x\"\n",
			[]wantErr{{4, `dest = "~bob/x": only ~/ is expanded`, ""}}},
		{"dest home itself", "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"~/\"\n",
			[]wantErr{{4, `dest = "~/" is your home directory`, "name the file"}}},

		// inputs
		{"input glob invalid", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"fonts/[a-z\"]\n",
			[]wantErr{{4, `input pattern "fonts/[a-z" is not a valid glob`, "brackets"}}},
		{"input glob invalid after !", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"!{a,b\"]\n",
			[]wantErr{{4, `input pattern "!{a,b" is not a valid glob`, ""}}},
		{"input absolute, unclean", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\n\"ok/**\",\n\"/etc/**\",\n\"/etc/../x\",\n\"!/etc//x\",\n\"/etc/{a,..}/x\",\n]\n",
			[]wantErr{{7, `input pattern "/etc/../x" is not a clean path`, "without"},
				{8, `input pattern "!/etc//x" is not a clean path`, ""},
				{9, `input pattern "/etc/{a,..}/x" is not a clean path`, ""}}},
		{"input absolute, whole file system", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"/**/x.conf\", \"/*\"]\n",
			[]wantErr{{4, `input pattern "/**/x.conf" would search the whole file system`, "/etc/nix/**"},
				{4, `input pattern "/*" would search the whole file system`, ""}}},
		{"input absolute, inside the config dir", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"@ROOT@/fonts/**\", \"!@ROOT@/fonts/x\"]\n",
			[]wantErr{{4, `input pattern "@ROOT@/fonts/**" is inside the config directory`, `written relative to it: "fonts/**"`},
				{4, `input pattern "!@ROOT@/fonts/x" is inside the config directory`, `"!fonts/x"`}}},
		{"input escaping", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"a/../../b\", \"!../x\", \"{a,..}/x\"]\n",
			[]wantErr{{4, `input pattern "a/../../b" leaves the config directory`, "by absolute path"},
				{4, `input pattern "!../x" leaves the config directory`, ""},
				{4, `input pattern "{a,..}/x" leaves the config directory`, ""}}},
		{"input with a .. that stays inside", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"conf/../conf/a.conf\", \"!a/b/../../c/**\", \"a/*/../b\"]\n",
			[]wantErr{{4, `input pattern "conf/../conf/a.conf" has a ".." element, which no file's path in the config directory has`, `write it as "conf/a.conf"`},
				{4, `input pattern "!a/b/../../c/**" has a ".." element`, `write it as "!c/**"`},
				{4, `input pattern "a/*/../b" has a ".." element`, "without it"}}},
		{"input bare !", "[steps.a]\nkind = \"command\"\nrun = \"x\"\ninputs = [\"!\"]\n",
			[]wantErr{{4, `input pattern "!" is empty`, ""}}},
		{"input ~user", "[steps.a]\nkind = \"nix-darwin\"\ninputs = [\"~bob/.config/**\", \"~\", \"!~/\"]\n",
			[]wantErr{{3, `input pattern "~bob/.config/**": only ~/ is expanded`, ""},
				{3, `input pattern "~": only ~/ is expanded`, ""},
				{3, `input pattern "!~/": names your whole home directory`, ""}}},
		{"input ~ with a relative HOME", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nenv = { HOME = \"me\" }\ninputs = [\"~/.config/**\"]\n",
			[]wantErr{{5, `input pattern "~/.config/**": expanding ~: HOME "me" is not absolute`, ""}}},
		{"flake input flag-like", "[steps.a]\nkind = \"flake-update\"\ninputs = [\"nixpkgs\", \"--all\", \"home manager\"]\n",
			[]wantErr{{3, `input "--all": not a flake input name`, ""}, {3, `input "home manager": not a flake input name`, ""}}},

		// after
		{"after unknown step", "[steps.flake-update]\nkind = \"flake-update\"\n[steps.a]\nkind = \"command\"\nrun = \"x\"\nafter = [\"flake-updte\"]\n",
			[]wantErr{{6, "`after` names unknown step \"flake-updte\"", `did you mean "flake-update"?`}}},
		{"after unknown step, list", "[steps.b]\nkind = \"command\"\nrun = \"x\"\n[steps.a]\nkind = \"command\"\nrun = \"x\"\nafter = [\"zzz\"]\n",
			[]wantErr{{7, "`after` names unknown step \"zzz\"", "steps: b, a"}}},
		{"after itself", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nafter = [\"a\"]\n",
			[]wantErr{{4, "step \"a\" lists itself in `after`", `remove "a"`}}},
		{"cycle of two", "[steps.a]\nkind = \"command\"\nrun = \"x\"\nafter = [\"b\"]\n[steps.b]\nkind = \"command\"\nrun = \"x\"\nafter = [\"a\"]\n",
			[]wantErr{{4, "cycle: a -> b -> a", "remove one of these `after` entries"}}},
		{"cycle of three, named from the first step", `
[steps.c]
kind = "command"
run = "x"
after = ["a"]
[steps.a]
kind = "command"
run = "x"
after = ["x", "b"]
[steps.b]
kind = "command"
run = "x"
after = ["c"]
[steps.x]
kind = "command"
run = "x"
`, []wantErr{{5, "cycle: c -> a -> b -> c", ""}}},
		{"two cycles", `
[steps.a]
kind = "command"
run = "x"
after = ["b"]
[steps.b]
kind = "command"
run = "x"
after = ["a"]
[steps.c]
kind = "command"
run = "x"
after = ["d", "a"]
[steps.d]
kind = "command"
run = "x"
after = [
  "c",
]
`, []wantErr{{5, "cycle: a -> b -> a", ""}, {13, "cycle: c -> d -> c", ""}}},
	}
	file := filepath.Join(root, config.FileName)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// @ROOT@ is the config directory.
			at := absRoot(t, "")
			cfg, err := parseIn(t, strings.ReplaceAll(tt.src, "@ROOT@", at))
			if cfg != nil {
				t.Errorf("Parse returned a config with errors")
			}
			for i := range tt.want {
				tt.want[i].msg = strings.ReplaceAll(tt.want[i].msg, "@ROOT@", at)
			}
			checkErrors(t, err, file, tt.want)
		})
	}
}

func absRoot(t *testing.T, rel string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestEveryErrorAtOnce: one broken file yields all its problems in file
// order, not just the first.
func TestEveryErrorAtOnce(t *testing.T) {
	path := filepath.Join(root, "broken.toml")
	_, err := config.Load(path, kinds.Decls())
	checkErrors(t, err, path, []wantErr{
		{5, `every = "1 day": not a duration`, ""},
		{9, "source " + absRoot(t, "nix.custom.con") + " does not exist", ""},
		{11, `unknown key "on_change"`, `did you mean "on-change"?`},
		{15, "`impure` must be true or false, not a string", "without quotes"},
		{16, `env: "NIXPKGS-ALLOW-UNFREE" is not a valid environment variable name`, ""},
		{18, "`after` names unknown step \"flake-updat\"", `did you mean "flake-update"?`},
		{24, `cleanup = "al": unknown value`, ""},
		{25, "`run` is a command key; this step is kind \"brew-bundle\"", ""},
		{28, `unknown kind "comand"`, `did you mean "command"?`},
		{29, `input pattern "fonts/[a-z" is not a valid glob`, ""},
		{29, `input pattern "../secrets/**" leaves the config directory`, ""},
		{31, "step \"fonts\" lists itself in `after`", ""},
	})
}

func TestErrorString(t *testing.T) {
	errs := config.Errors{
		{Pos: config.Pos{File: "sysinit.toml", Line: 3}, Msg: `unknown key "on_change"`, Hint: `did you mean "on-change"?`},
		{Pos: config.Pos{File: "sysinit.toml"}, Msg: "no steps"},
	}
	want := "sysinit.toml:3: unknown key \"on_change\" (did you mean \"on-change\"?)\nsysinit.toml: no steps"
	if got := errs.Error(); got != want {
		t.Errorf("Errors.Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestDestWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	_, err := parseIn(t, "[steps.a]\nkind = \"file\"\nsource = \"nix.custom.conf\"\ndest = \"~/.gitconfig\"\n")
	checkErrors(t, err, filepath.Join(root, config.FileName), []wantErr{{4, "expanding ~ in dest", "set HOME"}})
}

// TestUnknownAfterSuggestionsBounded: each "did you mean" compares a name
// with every step, so only the first maxAfterSuggestions unknown names get
// one; the rest are still reported, each at its line.
func TestUnknownAfterSuggestionsBounded(t *testing.T) {
	var src strings.Builder
	var want []wantErr
	const maxAfterSuggestions = 20 // as the loader has it
	for i := range maxAfterSuggestions + 1 {
		fmt.Fprintf(&src, "[steps.x%02d]\nkind = \"command\"\nrun = \"x\"\nafter = [\"y%02d\"]\n", i, i)
		w := wantErr{4*i + 4, fmt.Sprintf("`after` names unknown step \"y%02d\"", i), fmt.Sprintf(`did you mean "x%02d"?`, i)}
		if i == maxAfterSuggestions {
			w.hint = "" // matches any; checked below
		}
		want = append(want, w)
	}
	_, err := parseIn(t, src.String())
	checkErrors(t, err, filepath.Join(root, config.FileName), want)
	var errs config.Errors
	if errors.As(err, &errs) && len(errs) == len(want) {
		if last := errs[len(errs)-1]; last.Hint != "" || !strings.Contains(last.Msg, `"y20"`) {
			t.Errorf("error past the bound: %v; want no hint", last)
		}
	}
}
