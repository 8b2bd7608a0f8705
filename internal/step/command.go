package step

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
)

// CommandKind runs a shell command.
var CommandKind = &Kind{
	Kind: config.Kind{
		Name:    "command",
		Summary: "run a shell command",
		Doc: `A command step has no inputs unless you list them, beyond the scripts of
the repo its ` + "`run`" + ` executes: with none, it runs once, then again only when
its definition changes, its ` + "`every`" + ` expires, its ` + "`check`" + ` fails, or it is
forced. Its definition is the text of ` + "`run`, `dir`, `env`, `sudo`" + ` and the real
path of ` + "`sh`" + `.`,
		Keys: &commandKeys{},
		Sudo: true,
	},
	New: newCommand,
}

type commandKeys struct {
	Run string `key:"run" required:"true" example:"run = \"./scripts/install.sh\"" doc:"the command, run with sh -c in dir (default: the config directory); a script of the repo it executes is an input"`
}

// Command is the "command" kind: a shell command whose inputs are globs,
// and the files of the repo its command line runs.
type Command struct {
	s      *config.Step
	keys   *commandKeys
	env    *Env
	cfgDir string
	dir    string
	shell  string
}

func newCommand(cfg *config.Config, s *config.Step, env *Env) (Step, error) {
	shell, err := env.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("finding sh: %w", err)
	}
	return &Command{s: s, keys: config.KeysOf[commandKeys](s), env: env, cfgDir: cfg.Dir, dir: cfg.Path(s.Dir), shell: shell}, nil
}

func (c *Command) Definition() []string {
	var l Lines
	l.Add("kind", "command")
	l.Add("run", c.keys.Run)
	l.Add("shell", ToolID(c.shell))
	l.Add("dir", c.s.Dir)
	l.Add("sudo", strconv.FormatBool(c.s.Sudo != nil && *c.s.Sudo))
	for _, kv := range Environ(c.s.Env) {
		l.Add("env", kv)
	}
	return l.Sorted()
}

func (c *Command) Inputs(context.Context) (fingerprint.Spec, error) {
	spec := fingerprint.Spec{Patterns: c.s.Inputs}
	AddScripts(&spec, c.Scripts(), c.cfgDir)
	return spec, nil
}

// Scripts is the files of the repo that `run` executes.
func (c *Command) Scripts() map[string]string {
	return c.env.analyses().ScriptsOf(c.cfgDir, Script{Key: "run", Cmd: c.keys.Run, Dir: c.dir})
}

// Advice names the programs of `run` that a variable names: every file
// where they may be is an input.
func (c *Command) Advice(string) []string {
	return c.env.analyses().ScriptNotes(c.cfgDir, Script{Key: "run", Cmd: c.keys.Run, Dir: c.dir})
}

// Probe has nothing of its own to compare: a command's effect on the
// machine is only known through the step's `check`, which plan runs.
func (c *Command) Probe(context.Context, string) (string, error) { return "", nil }

func (c *Command) Run(ctx context.Context, rc *RunContext) (Outcome, error) {
	err := c.env.Exec.Run(ctx, &command.Cmd{
		Argv:   []string{c.shell, "-c", c.keys.Run},
		Dir:    c.dir,
		Env:    Environ(c.s.Env),
		Stdout: rc.Out,
		Stderr: rc.Out,
		Sudo:   c.s.Sudo != nil && *c.s.Sudo,
	})
	return Outcome{}, err
}

// NeedsSudo reports whether the command runs as root.
func (c *Command) NeedsSudo() bool { return c.s.Sudo != nil && *c.s.Sudo }
