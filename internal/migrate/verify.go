package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// meta is what nixpkgs says about one attribute on the target system.
// Pointers are nil when nixpkgs does not say.
type meta struct {
	Found      bool // the attribute exists
	EvalError  bool // evaluating it threw (removed packages are aliases that throw)
	Derivation bool // it is a package, not a set of them or a function
	Pname      string
	Version    string
	Homepage   string

	Description string
	Available   *bool // nixpkgs' verdict under the default config (unfree counts as unavailable)
	Broken      *bool
	Unfree      *bool
	Unsupported *bool // nixpkgs' own platform check for this system
	Insecure    *bool
	// Platforms is meta.platforms' strings; nil when meta.platforms is
	// unset, which nixpkgs reads as "all platforms".
	Platforms        []string
	BadPlatforms     []string
	PlatformPatterns bool // meta.platforms has patterns only nixpkgs' lib can match
}

// Supports reports whether the package builds for system, and whether that
// could be decided.
func (m *meta) Supports(system string) (ok, known bool) {
	if m.Unsupported != nil {
		return !*m.Unsupported, true
	}
	if slices.Contains(m.BadPlatforms, system) {
		return false, true
	}
	if m.Platforms == nil && !m.PlatformPatterns {
		return true, true
	}
	if slices.Contains(m.Platforms, system) {
		return true, true
	}
	if m.PlatformPatterns {
		return false, false
	}
	return false, true
}

// verifier asks nix what a nixpkgs revision says about attributes on one
// system.
type verifier struct {
	Runner  command.Runner
	Nixpkgs string // flake reference
	System  string // e.g. aarch64-darwin
	// Commands records every nix command line run, for reports and tests.
	Commands *[]string
	mu       sync.Mutex // guards Commands: attributes retried alone run in parallel
}

// probeExpr is applied to legacyPackages.<system>: it takes a list of
// attribute paths (each a list of names) and returns, for each, the meta
// fields migrate needs. Every field is read under tryEval so that one
// package that throws (a removed alias) or has odd meta cannot fail the
// whole batch; only plain strings, booleans and lists of strings leave it,
// so the result always converts to JSON.
const probeExpr = `paths: pkgs: let
  try = v: let r = builtins.tryEval (builtins.deepSeq v v); in if r.success then r.value else null;
  str = v: let x = try v; in if builtins.isString x then x else null;
  bool = v: let x = try v; in if builtins.isBool x then x else null;
  strs = v: let x = try v; in if builtins.isList x then map (i: if builtins.isString i then i else null) x else null;
  licFree = l: if builtins.isAttrs l then (if l ? free && builtins.isBool l.free then l.free else null)
    else if builtins.isList l then (let fs = map licFree l; in
      if builtins.elem false fs then false else if builtins.elem true fs then true else null)
    else null;
  lookup = path: builtins.foldl' (acc: k:
    if acc != null && builtins.isAttrs acc && builtins.hasAttr k acc then builtins.getAttr k acc else null) pkgs path;
  probe = path: let r = builtins.tryEval (lookup path); in
    if !r.success then { found = true; evalError = true; }
    else if r.value == null then { found = false; }
    else let
      p = r.value;
      mr = builtins.tryEval (if builtins.isAttrs p then p.meta or { } else { });
      m = if mr.success && builtins.isAttrs mr.value then mr.value else { };
      home = try (m.homepage or null);
    in {
      found = true;
      derivation = bool (builtins.isAttrs p && (p.type or null) == "derivation");
      pname = str (p.pname or null);
      version = str (p.version or null);
      homepage = if builtins.isList home && home != [ ] then str (builtins.head home) else str home;
      available = bool (m.available or null);
      broken = bool (m.broken or null);
      unfree = let u = bool (m.unfree or null); in if u != null then u
        else let f = try (licFree (m.license or null)); in if builtins.isBool f then !f else null;
      unsupported = bool (m.unsupported or null);
      insecure = bool (m.insecure or null);
      platforms = if m ? platforms then strs m.platforms else null;
      badPlatforms = if m ? badPlatforms then strs m.badPlatforms else null;
    };
in builtins.listToAttrs (map (path: { name = builtins.concatStringsSep "." path; value = probe path; }) paths)`

type probeResult struct {
	Found        bool      `json:"found"`
	EvalError    bool      `json:"evalError"`
	Derivation   *bool     `json:"derivation"`
	Pname        *string   `json:"pname"`
	Version      *string   `json:"version"`
	Homepage     *string   `json:"homepage"`
	Available    *bool     `json:"available"`
	Broken       *bool     `json:"broken"`
	Unfree       *bool     `json:"unfree"`
	Unsupported  *bool     `json:"unsupported"`
	Insecure     *bool     `json:"insecure"`
	Platforms    []*string `json:"platforms"`
	BadPlatforms []*string `json:"badPlatforms"`
}

func (p probeResult) meta() *meta {
	m := &meta{Found: p.Found, EvalError: p.EvalError, Derivation: p.Derivation != nil && *p.Derivation,
		Pname: deref(p.Pname), Version: deref(p.Version), Homepage: deref(p.Homepage),
		Available: p.Available, Broken: p.Broken, Unfree: p.Unfree, Unsupported: p.Unsupported, Insecure: p.Insecure}
	if p.Platforms != nil {
		m.Platforms = []string{}
		for _, s := range p.Platforms {
			if s == nil {
				m.PlatformPatterns = true
			} else {
				m.Platforms = append(m.Platforms, *s)
			}
		}
	}
	for _, s := range p.BadPlatforms {
		if s != nil {
			m.BadPlatforms = append(m.BadPlatforms, *s)
		}
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var systemName = lazyregexp.New(`^[A-Za-z0-9_]+-[A-Za-z0-9_]+$`)

// Verify evaluates the meta of every attribute in one nix process:
//
//	nix eval --json NIXPKGS#legacyPackages.SYSTEM --apply '(probeExpr) [ [ "a" ] … ]'
//
// One process for the whole Brewfile matters: loading nixpkgs costs about
// a second, each further attribute milliseconds. When the batch fails (an
// error tryEval cannot catch), each attribute is tried alone so one bad
// package does not hide the rest; attributes that still fail come back
// with an error of their own.
func (v *verifier) Verify(ctx context.Context, attrs []string) (map[string]*meta, map[string]error, error) {
	if !systemName().MatchString(v.System) {
		return nil, nil, fmt.Errorf("system %q: want something like aarch64-darwin", v.System)
	}
	attrs = slices.Compact(slices.Sorted(slices.Values(attrs)))
	for _, a := range attrs {
		if !validAttrPath(a) {
			return nil, nil, fmt.Errorf("attribute %q: not a nixpkgs attribute path", a)
		}
	}
	if len(attrs) == 0 {
		return map[string]*meta{}, nil, nil
	}
	metas, err := v.eval(ctx, attrs)
	if err == nil {
		return metas, nil, nil
	}
	var xe *command.ExitError
	if !errors.As(err, &xe) || ctx.Err() != nil || len(attrs) == 1 {
		return nil, nil, err
	}
	// Two at a time: the machine is shared with builds.
	metas = map[string]*meta{}
	perAttr := map[string]error{}
	var mu sync.Mutex
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, a := range attrs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m, err := v.eval(ctx, []string{a})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				perAttr[a] = err
				return
			}
			metas[a] = m[a]
		}()
	}
	wg.Wait()
	if len(metas) == 0 {
		// Nothing evaluates alone either: the problem is nixpkgs itself
		// (or the reference), not a package.
		return nil, nil, err
	}
	return metas, perAttr, nil
}

func (v *verifier) eval(ctx context.Context, attrs []string) (map[string]*meta, error) {
	var list strings.Builder
	list.WriteString("[")
	for _, a := range attrs {
		list.WriteString(" [")
		for _, p := range strings.Split(a, ".") {
			list.WriteString(` "` + p + `"`) // validAttrPath: nothing to escape
		}
		list.WriteString(" ]")
	}
	list.WriteString(" ]")
	argv := []string{"nix", "eval", "--json", v.Nixpkgs + "#legacyPackages." + v.System,
		"--apply", "(" + probeExpr + ") " + list.String()}
	if v.Commands != nil {
		v.mu.Lock()
		*v.Commands = append(*v.Commands, command.Join(argv[:len(argv)-1])+" '(…) [ … ]'")
		v.mu.Unlock()
	}
	var out bytes.Buffer
	if err := v.Runner.Run(ctx, &command.Cmd{Argv: argv, Stdout: &out}); err != nil {
		return nil, fmt.Errorf("evaluating nixpkgs metadata: %w", withTail(err))
	}
	var res map[string]probeResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("reading nix eval output: %w", err)
	}
	metas := make(map[string]*meta, len(res))
	for _, a := range attrs {
		r, ok := res[a]
		if !ok {
			return nil, fmt.Errorf("reading nix eval output: %s is missing", a)
		}
		metas[a] = r.meta()
	}
	return metas, nil
}

// tailError adds what nix said to an exit error: "exit status 1" alone
// does not say what went wrong.
type tailError struct{ err *command.ExitError }

// Error names nix's first "error: …" line that says something. Nix 2.8
// puts the message on the first one; from about 2.13 a trace comes first,
// under a bare "error:", and the message follows it on its own
// "error: …" line.
func (e *tailError) Error() string {
	msg := ""
	for _, l := range e.err.Tail {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "error:"); ok {
			if strings.TrimSpace(rest) != "" {
				msg = l
				break
			}
		} else if l != "" {
			msg = l
		}
	}
	if msg == "" {
		return e.err.Error()
	}
	return e.err.Error() + ": " + msg
}

func (e *tailError) Unwrap() error { return e.err }

func withTail(err error) error {
	if xe, ok := err.(*command.ExitError); ok {
		return &tailError{xe}
	}
	return err
}
