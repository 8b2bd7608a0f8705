package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/brew"
	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/scaffold"
	"github.com/sysinit/sysinit/internal/state"
)

// Real is this machine. Each fact is read once, when a check first asks.
type Real struct {
	Ctx  context.Context
	Exec command.Runner
	Env  func(string) string
	// CacheDir and StateDir are sysinit's own directories
	// (<cache>/sysinit, <state>/sysinit); BaseDirErr is why one could not
	// be found (as root, a HOME that is not root's).
	CacheDir, StateDir string
	BaseDirErr         error

	nixOnce sync.Once
	nixPath string
	nixVer  nix.Version
	nixErr  error

	confOnce sync.Once
	conf     NixConfig
	confErr  error

	hostOnce sync.Once
	host     string
}

func (r *Real) GOOS() string           { return runtime.GOOS }
func (r *Real) NumCPU() int            { return runtime.NumCPU() }
func (r *Real) Euid() int              { return os.Geteuid() }
func (r *Real) Getenv(k string) string { return r.Env(k) }
func (r *Real) HomebrewModule(dir string) string {
	if file, line, ok := brew.ManagedByNixDarwin(dir); ok {
		return fmt.Sprintf("%s:%d", filepath.ToSlash(file), line)
	}
	return ""
}

func (r *Real) Executable() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}

// LookPath finds name in the directories of pathList.
func (r *Real) LookPath(name, pathList string) (string, error) {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &command.NotFoundError{Name: name}
}

func (r *Real) findNix() {
	r.nixOnce.Do(func() {
		p, err := exec.LookPath("nix")
		if err != nil {
			r.nixErr = &command.NotFoundError{Name: "nix"}
			return
		}
		r.nixPath = p
		var out bytes.Buffer
		if err := r.Exec.Run(r.Ctx, &command.Cmd{Argv: []string{p, "--version"}, Stdout: &out}); err != nil {
			r.nixErr = fmt.Errorf("running nix --version: %w", err)
			return
		}
		r.nixVer, r.nixErr = nix.ParseVersion(out.String())
	})
}

func (r *Real) Nix() (nix.Version, error) {
	r.findNix()
	return r.nixVer, r.nixErr
}

// NixConfig runs `nix config show --json`, and `nix show-config --json`
// where `config` is not a command yet (before Nix 2.20).
func (r *Real) NixConfig() (NixConfig, error) {
	r.confOnce.Do(func() {
		r.findNix()
		if r.nixErr != nil {
			r.confErr = r.nixErr
			return
		}
		var out, errb bytes.Buffer
		err := r.Exec.Run(r.Ctx, &command.Cmd{Argv: []string{r.nixPath, "config", "show", "--json"}, Stdout: &out, Stderr: &errb})
		if err != nil {
			out.Reset()
			errb.Reset()
			err = r.Exec.Run(r.Ctx, &command.Cmd{Argv: []string{r.nixPath, "show-config", "--json"}, Stdout: &out, Stderr: &errb})
		}
		if err != nil {
			r.confErr = fmt.Errorf("nix show-config --json: %s", strings.TrimSpace(errb.String()))
			return
		}
		r.conf, r.confErr = ParseNixConfig(out.Bytes())
	})
	return r.conf, r.confErr
}

func (r *Real) SudoNoPassword() error {
	return r.Exec.Run(r.Ctx, &command.Cmd{Argv: []string{"sudo", "-n", "true"}})
}

func (r *Real) HostName() string {
	r.hostOnce.Do(func() { r.host = scaffold.HostName(r.Ctx, r.Exec, runtime.GOOS) })
	return r.host
}

// NixOS reads /etc/os-release, where NixOS writes ID=nixos (and a
// distribution built on it ID_LIKE=nixos).
func (r *Real) NixOS() bool {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || k != "ID" && k != "ID_LIKE" {
			continue
		}
		if slices.Contains(strings.Fields(strings.Trim(v, `"'`)), "nixos") {
			return true
		}
	}
	return false
}

// Configurations asks nix, as init does (a static read when nix cannot
// evaluate the flake).
func (r *Real) Configurations(dir string) (*scaffold.Configurations, error) {
	r.findNix()
	m := scaffold.Machine{GOOS: runtime.GOOS, Exec: r.Exec}
	if r.nixErr == nil {
		m.Nix = r.nixPath
	}
	c, _, _, err := scaffold.ReadConfigurations(r.Ctx, dir, m)
	return c, err
}

func (r *Real) StateDirs() map[string]error {
	out := map[string]error{}
	if r.BaseDirErr != nil {
		out["base"] = r.BaseDirErr
	}
	for _, d := range []string{r.CacheDir, r.StateDir, filepath.Join(r.StateDir, "logs")} {
		if d == "" {
			continue
		}
		err := state.CheckDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		out[d] = err
	}
	return out
}

// FromConfig is what the checks need of the config's steps, read from
// their decoded keys (the kinds own them; the doctor only reads).
func FromConfig(cfg *config.Config) []Step {
	var out []Step
	for _, s := range cfg.Steps {
		v := s.Values()
		str := func(k string) string { x, _ := v[k].(string); return x }
		num := func(k string) int { x, _ := v[k].(int); return x }
		impure, _ := v["impure"].(bool)
		args, _ := v["extra-args"].([]string)
		st := Step{Name: s.Name, Kind: s.Kind, OS: s.OS, Flake: str("flake"), Impure: impure, ExtraArgs: args, Run: str("run"),
			SudoSet: s.Sudo != nil, MaxJobs: num("max-jobs"), Cores: num("cores"), NixDarwin: str("nix-darwin"), Remote: s.Target != nil}
		if d := kinds.Decls().Get(s.Kind); s.Sudo == nil && d != nil {
			st.Sudo = d.SudoDefault // nix-darwin and nixos: the profile and activation
		} else if s.Sudo != nil {
			st.Sudo = *s.Sudo
		}
		out = append(out, st)
	}
	return out
}
