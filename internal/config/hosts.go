package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// Local is the name a step's `hosts` gives this machine, beside the
// [hosts.NAME] tables; no table may take it.
const Local = "local"

// Host is one [hosts.NAME] table: another machine that steps of the kinds
// taking `hosts` act on, reached over ssh. Its keys are declared by the
// tags below, as a kind's are.
type Host struct {
	Name string
	Pos  Pos            // the [hosts.NAME] header
	Keys map[string]Pos // every key set in the table

	SSH            string        `key:"ssh" required:"true" example:"ssh = \"root@box.lan:22\"" doc:"where to reach the machine: [USER@]HOST[:PORT], as ssh takes it; HOST may be an alias of your ssh config, whose options (identity, proxy, known hosts) apply, or an IPv6 address, in brackets before a port ([fd00::5]:2222). Host keys are verified against your known_hosts. A USER other than root activates through sudo there, which must not ask for a password (docs/fleet.md)"`
	SSHOptions     []string      `key:"ssh-options" items:"ssh arguments" example:"ssh-options = [\"-i\", \"/home/me/.ssh/deploy\", \"-o\", \"UserKnownHostsFile=/home/me/.ssh/fleet_hosts\"]" doc:"more arguments for every ssh sysinit and nix start for this host, when the ssh config cannot say them; no element may hold a space (nix splits NIX_SSHOPTS at spaces)"`
	ConfirmTimeout time.Duration `key:"confirm-timeout" example:"confirm-timeout = \"60s\"" zero:"leave \x60confirm-timeout\x60 out for the default, 30s" doc:"after activating, how long the machine waits for sysinit to reach it again over a new ssh connection before it rolls back to the previous generation by itself; default 30s"`

	// User, Address and Port are SSH taken apart ("" when not given).
	User, Address, Port string
}

// DefaultConfirmTimeout is a host's confirm-timeout when left out: as
// deploy-rs's magic rollback waits.
const DefaultConfirmTimeout = 30 * time.Second

// Confirm is how long the host waits for sysinit's confirmation.
func (h *Host) Confirm() time.Duration {
	if h.ConfirmTimeout > 0 {
		return h.ConfirmTimeout
	}
	return DefaultConfirmTimeout
}

// Destination is the ssh destination: [USER@]ADDRESS, without the port.
func (h *Host) Destination() string {
	if h.User != "" {
		return h.User + "@" + h.Address
	}
	return h.Address
}

// Host returns the host named name, or nil.
func (c *Config) Host(name string) *Host {
	for _, h := range c.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// hostDecls are the keys of a [hosts.NAME] table, read when first needed.
var hostDecls = sync.OnceValue(func() []*keyDecl { return mustDecls(reflect.TypeFor[Host]()) })

// HostKeyDocs describes the keys of a [hosts.NAME] table, for docs.
func HostKeyDocs() []KeyDoc {
	out := make([]KeyDoc, len(hostDecls()))
	for i, d := range hostDecls() {
		out[i] = d.keyDoc(false)
	}
	return out
}

// hosts decodes the [hosts.NAME] tables. They are read before the steps,
// whose `hosts` and kinds' checks name them.
func (l *loader) hosts(raw any) {
	hp := l.pos.root.key("hosts")
	tbl, ok := raw.(map[string]any)
	if !ok {
		l.fail(l.at(hp), "declare each host as a table: [hosts.NAME] with ssh = \"user@host\"",
			"`hosts` must be a table of hosts, not %s", typeName(raw))
		return
	}
	seen := map[string]string{}
	for _, name := range l.byOffset(hp, tbl) {
		h := l.host(name, tbl[name])
		if h == nil {
			continue
		}
		low := strings.ToLower(name)
		if first, dup := seen[low]; dup {
			l.fail(h.Pos, "rename one; their steps' log files would collide on a case-insensitive file system",
				"host %q differs from host %q only in case", name, first)
			continue
		}
		seen[low] = name
		l.cfg.Hosts = append(l.cfg.Hosts, h)
	}
}

// hostNameRE: a host's name ends step names (STEP@HOST), which become log
// file names and command-line arguments.
var hostNameRE = lazyregexp.New(`^[A-Za-z0-9._-]+$`)

// maxHostName keeps "<step>@<host>.log" inside the 255-byte file name
// limit beside the longest step name.
const maxHostName = 64

func (l *loader) host(name string, raw any) *Host {
	hp := l.pos.root.key("hosts").key(name)
	h := &Host{Name: name, Pos: l.at(hp), Keys: map[string]Pos{}}
	switch {
	case strings.EqualFold(name, Local):
		l.fail(h.Pos, `"local" means this machine in a step's hosts; name the host otherwise`, "host name %q is reserved", name)
		return nil
	case !hostNameRE().MatchString(name) || name == "." || name == ".." || strings.HasPrefix(name, "-"):
		l.fail(h.Pos, "use letters, digits, '.', '_' and '-', starting with a letter or digit; STEP@HOST becomes a log file name",
			"invalid host name %q", name)
		return nil
	case len(name) > maxHostName:
		l.fail(h.Pos, fmt.Sprintf("use at most %d characters; STEP@HOST becomes a log file name", maxHostName),
			"host name is %d characters long", len(name))
		return nil
	}
	tbl, ok := raw.(map[string]any)
	if !ok {
		l.fail(h.Pos, fmt.Sprintf("write [hosts.%s] and put ssh = \"user@host\" on the line below", name),
			"host %q must be a table, not %s", name, typeName(raw))
		return nil
	}
	// The key decoders report at a step's keys; a host lends them its own.
	shim := &Step{Name: name, Pos: h.Pos, Keys: h.Keys}
	keys := l.byOffset(hp, tbl)
	for _, k := range keys {
		h.Keys[k] = l.at(hp.key(k))
	}
	errs := len(l.errs)
	v := reflect.ValueOf(h).Elem()
	for _, k := range keys {
		var d *keyDecl
		for _, hd := range hostDecls() {
			if hd.name == k {
				d = hd
			}
		}
		if d == nil {
			var names []string
			for _, hd := range hostDecls() {
				names = append(names, hd.name)
			}
			hint := "a host takes " + strings.Join(names, ", ")
			if c := closest(k, names); c != "" {
				hint = fmt.Sprintf("did you mean %q? ", c) + hint
			}
			l.fail(h.Keys[k], hint, "unknown host key %q", k)
			continue
		}
		l.set(shim, hp.key(k), d, v.FieldByIndex(d.field), tbl[k])
	}
	for _, d := range hostDecls() {
		if _, set := h.Keys[d.name]; d.required && !set {
			l.fail(h.Pos, "add "+d.example, "host %q needs `%s`", name, d.name)
		}
	}
	if len(l.errs) > errs {
		return h
	}
	l.checkSSH(h)
	l.checkSSHOptions(h, hp.key("ssh-options"))
	return h
}

// checkSSH takes ssh = "[USER@]HOST[:PORT]" apart.
func (l *loader) checkSSH(h *Host) {
	at := h.Keys["ssh"]
	hint := `write it like ssh = "root@box.lan" or "me@10.0.0.5:2222", or name an alias of your ssh config`
	rest := h.SSH
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		h.User, rest = rest[:i], rest[i+1:]
		if h.User == "" {
			l.fail(at, hint, "ssh = %q: the user before @ is empty", h.SSH)
			return
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		// An IPv6 address with a port: [ADDRESS]:PORT.
		v6hint := `an IPv6 address goes in brackets when a port follows: ssh = "root@[fd00::5]:2222", or "root@fd00::5" without a port`
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			if i := strings.LastIndexByte(rest, ':'); i > 0 && strings.Count(rest, ":") > 2 {
				// [::1:2222 most likely meant [::1]:2222.
				v6hint = fmt.Sprintf("close the bracket before the port: ssh = %q", h.SSH[:len(h.SSH)-len(rest)]+rest[:i]+"]"+rest[i:])
			}
			l.fail(at, v6hint, "ssh = %q: unclosed [", h.SSH)
			return
		}
		h.Address, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				l.fail(at, v6hint, "ssh = %q: only :PORT may follow ]", h.SSH)
				return
			}
			h.Port = rest[1:]
			if h.Port == "" {
				l.fail(at, v6hint, "ssh = %q: no port after :", h.SSH)
				return
			}
		}
	case strings.Count(rest, ":") == 1:
		h.Address, h.Port, _ = strings.Cut(rest, ":")
		if h.Port == "" {
			l.fail(at, hint, "ssh = %q: no port after :", h.SSH)
			return
		}
	default:
		h.Address = rest // a name, an address, or an IPv6 address without a port
	}
	if h.Port != "" {
		if n, err := strconv.Atoi(h.Port); err != nil || n < 1 || n > 65535 {
			l.fail(at, hint, "ssh = %q: port %q is not a number from 1 to 65535", h.SSH, h.Port)
			return
		}
	}
	switch {
	case h.Address == "":
		l.fail(at, hint, "ssh = %q names no host", h.SSH)
	case strings.HasPrefix(h.Address, "-") || strings.HasPrefix(h.User, "-"):
		l.fail(at, hint, "ssh = %q: a host or user may not start with '-' (ssh would read it as an option)", h.SSH)
	case strings.ContainsAny(h.SSH, " \t\r\n/'\"\\"):
		l.fail(at, hint, "ssh = %q holds a space, quote or slash", h.SSH)
	}
}

// sshArgOptions are ssh's options that take an argument (ssh(1)).
const sshArgOptions = "BbcDEeFIiJLlmOoPpQRSWw"

// managedOptions are ssh options sysinit sets itself on every connection:
// it keeps one connection per host and never prompts.
var managedOptions = []string{"controlmaster", "controlpath", "controlpersist", "batchmode"}

// checkSSHOptions refuses what would break the connection sysinit keeps or
// its host key checks, and what nix could not pass on.
func (l *loader) checkSSHOptions(h *Host, kp *posNode) {
	for i := 0; i < len(h.SSHOptions); i++ {
		opt := h.SSHOptions[i]
		at := l.at(kp.index(i))
		if strings.ContainsAny(opt, " \t\r\n") {
			l.fail(at, `split it into elements, like ["-o", "Key=value"]; nix passes these options on in NIX_SSHOPTS, which it splits at spaces`,
				"ssh-options element %q holds a space", opt)
			return
		}
		if !strings.HasPrefix(opt, "-") || len(opt) < 2 {
			l.fail(at, "put the host in `ssh`; ssh-options holds only ssh's options", "ssh-options element %q is not an option", opt)
			return
		}
		flag := opt[1]
		arg := opt[2:]
		if strings.IndexByte(sshArgOptions, flag) >= 0 && arg == "" {
			if i+1 >= len(h.SSHOptions) {
				l.fail(at, fmt.Sprintf("give its argument as the next element, like [%q, \"...\"]", opt), "ssh option %s needs an argument", opt)
				return
			}
			i++
			arg = h.SSHOptions[i]
		}
		switch flag {
		case 'p':
			if h.Port != "" {
				l.fail(at, "give the port once, in ssh = \"user@host:port\"", "ssh-options sets a port, and so does `ssh`")
			}
		case 'o':
			key, val, _ := strings.Cut(arg, "=")
			key = strings.ToLower(key)
			switch {
			case key == "stricthostkeychecking" && (strings.EqualFold(val, "no") || strings.EqualFold(val, "off")):
				l.fail(at, "sysinit verifies host keys: add the host's key to known_hosts (connect once with ssh), or point UserKnownHostsFile at a file holding it",
					"ssh-options turns host key checking off")
			case slices.Contains(managedOptions, key):
				l.fail(at, "remove it; sysinit keeps one connection per host itself and never prompts",
					"ssh-options sets %s, which sysinit manages", arg)
			}
		}
	}
}

// checkHosts checks a step's `hosts`: known hosts or "local", each once.
func (l *loader) checkHosts(s *Step) {
	hp := l.stepNode(s.Name).key("hosts")
	if s.Hosts != nil && len(s.Hosts) == 0 { // decoded, and empty
		l.fail(s.Keys["hosts"], `list where it runs, like hosts = ["local", "box"], or remove the line for this machine alone`, "`hosts` is empty")
		return
	}
	var names []string
	for _, h := range l.cfg.Hosts {
		names = append(names, h.Name)
	}
	for i, name := range s.Hosts {
		at := l.at(hp.index(i))
		switch {
		case name == "":
			// reported by strs
		case slices.Contains(s.Hosts[:i], name):
			l.fail(at, "remove the second one", "`hosts` names %q twice", name)
		case name == Local || l.cfg.Host(name) != nil:
		default:
			hint := `declare it as [hosts.` + name + `] with ssh = "user@host", or write "local" for this machine`
			if c := closest(name, append(names, Local)); c != "" {
				hint = fmt.Sprintf("did you mean %q? ", c) + hint
			}
			l.fail(at, hint, "unknown host %q", name)
		}
	}
}

// expandHosts makes each (step, host) pair of a step with `hosts` a step of
// its own, named STEP@HOST, in the step's place: planned, run, recorded and
// shown apart. An `after` entry naming such a step means all its pairs,
// except that a pair on host H waits only for the pair on H when there is
// one: home@box after system waits for system@box, not for system@laptop.
func (l *loader) expandHosts() {
	groups := map[string][]*Step{}
	var out []*Step
	for _, s := range l.cfg.Steps {
		if len(s.Hosts) == 0 {
			out = append(out, s)
			continue
		}
		for _, name := range s.Hosts {
			c := *s
			c.Name = s.Name + "@" + name
			c.Base = s.Name
			c.Hosts = nil
			c.Target = l.cfg.Host(name) // nil for "local"
			c.HostName = name
			c.Own = cloneOwn(s.Own)
			c.After = slices.Clone(s.After)
			groups[s.Name] = append(groups[s.Name], &c)
			out = append(out, &c)
		}
	}
	if len(groups) == 0 {
		return
	}
	for _, s := range out {
		var after []string
		for _, a := range s.After {
			pairs, ok := groups[a]
			if !ok {
				after = append(after, a)
				continue
			}
			same := ""
			for _, p := range pairs {
				if s.HostName != "" && p.HostName == s.HostName {
					same = p.Name
				}
			}
			if same != "" {
				after = append(after, same)
				continue
			}
			for _, p := range pairs {
				after = append(after, p.Name)
			}
		}
		s.After = after
	}
	l.cfg.Steps = out
	l.cfg.groups = map[string][]string{}
	for base, pairs := range groups {
		for _, p := range pairs {
			l.cfg.groups[base] = append(l.cfg.groups[base], p.Name)
		}
	}
}

// cloneOwn copies a kind's keys, so that a kind adjusting its copy (a
// default filled in) leaves the other pairs' alone.
func cloneOwn(own any) any {
	v := reflect.ValueOf(own)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return own
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface()
}

// Resolve returns the names of the steps that name stands for on the
// command line: the step itself, every (step, host) pair of a step with
// `hosts`, or with @HOST every step acting on that host (OnHost). Nil
// when the config has no such step, or no step acts on the host.
func (c *Config) Resolve(name string) []string {
	if host, ok := strings.CutPrefix(name, "@"); ok {
		return c.OnHost(host)
	}
	if c.Step(name) != nil {
		return []string{name}
	}
	return slices.Clone(c.groups[name])
}

// OnHost returns, in config order, the steps that act on host: its
// STEP@HOST pairs; for "local", this machine, also every step without
// `hosts`. A step name holds no '@', so @HOST on the command line can
// only mean a host.
func (c *Config) OnHost(host string) []string {
	if host == "" {
		return nil // a step without hosts has HostName "": "@" names none
	}
	var out []string
	for _, s := range c.Steps {
		if s.HostName == host || host == Local && s.Target == nil {
			out = append(out, s.Name)
		}
	}
	return out
}

// HostNames returns what @HOST may name: each [hosts.NAME], then "local".
func (c *Config) HostNames() []string {
	var out []string
	for _, h := range c.Hosts {
		out = append(out, h.Name)
	}
	return append(out, Local)
}

// Pairs returns the names of the pairs a step with `hosts` expanded into,
// or nil for any other name.
func (c *Config) Pairs(base string) []string { return slices.Clone(c.groups[base]) }
