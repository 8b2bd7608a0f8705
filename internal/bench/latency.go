package bench

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Latencies are how long each stand-in manager takes, before scaling. The
// defaults come from published figures for a nix-darwin + Homebrew
// machine: the refresh the project started from took about 2 minutes when
// nothing changed and about 5 for a full rebuild; `brew bundle check` takes
// about 1.2 s when everything is installed; a nix-darwin switch that
// changes nothing about 10 s (evaluation, an empty build, the profile and
// activation).
type Latencies struct {
	FlakeUpdate     time.Duration // nix flake update (or lock with no flake.lock): fetches every input
	FlakeLock       time.Duration // nix flake lock of a flake.lock holding every input: reads it, fetches nothing
	Eval            time.Duration // evaluating the system (nix eval; a nix build of a flake attribute evaluates too, one of a .drv does not)
	BuildModule     time.Duration // realising one module derivation that is not in the store
	BuildSystem     time.Duration // realising the system derivation when it is new
	ProfileSet      time.Duration // nix-env -p PROFILE --set OUT
	Activate        time.Duration // the system's activate script
	DiffClosures    time.Duration // nix store diff-closures
	DaemonRestart   time.Duration // launchctl kickstart -k of the nix daemon
	BrewUpdate      time.Duration // brew update: fetches Homebrew and every tap
	BrewCheck       time.Duration // brew bundle check with everything installed
	BrewInstall     time.Duration // brew bundle install with nothing to install
	BrewInstallEach time.Duration // added per formula, cask or tap it installs
	BrewCleanup     time.Duration // brew bundle cleanup
	SSHConnect      time.Duration // a new ssh connection: TCP, key exchange, authentication
	SSHRoundTrip    time.Duration // one command through an open ssh connection
}

// DefaultLatencies are the published figures, at scale 1. With them the old
// refresh takes 20 + 2 + 10 + 45 + 40 ≈ 117 s when nothing changed.
func DefaultLatencies() Latencies {
	return Latencies{
		FlakeUpdate: 20 * time.Second,
		// Measured, not published: `nix flake lock` on the bench repo's
		// complete lock, offline, took 46 ms on Nix 2.8, 28 ms on 2.26 and
		// 30 ms on 2.34 (Nix fetches no input whose lock is complete).
		FlakeLock:       50 * time.Millisecond,
		Eval:            6 * time.Second,
		BuildModule:     6 * time.Second,
		BuildSystem:     4 * time.Second,
		ProfileSet:      500 * time.Millisecond,
		Activate:        3500 * time.Millisecond,
		DiffClosures:    300 * time.Millisecond,
		DaemonRestart:   2 * time.Second,
		BrewUpdate:      45 * time.Second,
		BrewCheck:       1200 * time.Millisecond,
		BrewInstall:     40 * time.Second,
		BrewInstallEach: 2 * time.Second,
		BrewCleanup:     2 * time.Second,
		// A machine across the internet: 40 ms round trips, and a new
		// connection takes about four of them (TCP, key exchange,
		// authentication) — a model, not a measurement.
		SSHConnect:   160 * time.Millisecond,
		SSHRoundTrip: 40 * time.Millisecond,
	}
}

// latencyKey ties a flag/profile key to its field and what it stands for.
type latencyKey struct {
	key  string
	what string
	get  func(*Latencies) *time.Duration
}

var latencyKeys = []latencyKey{
	{"flake-update", "nix flake update", func(l *Latencies) *time.Duration { return &l.FlakeUpdate }},
	{"flake-lock", "nix flake lock with every input locked already", func(l *Latencies) *time.Duration { return &l.FlakeLock }},
	{"eval", "evaluating the system (nix eval; nix build of a flake attribute evaluates too)", func(l *Latencies) *time.Duration { return &l.Eval }},
	{"build-module", "realising one module not in the store", func(l *Latencies) *time.Duration { return &l.BuildModule }},
	{"build-system", "realising a new system derivation", func(l *Latencies) *time.Duration { return &l.BuildSystem }},
	{"profile-set", "nix-env --set of the system profile", func(l *Latencies) *time.Duration { return &l.ProfileSet }},
	{"activate", "activating the system", func(l *Latencies) *time.Duration { return &l.Activate }},
	{"diff-closures", "nix store diff-closures", func(l *Latencies) *time.Duration { return &l.DiffClosures }},
	{"daemon-restart", "launchctl kickstart -k of the nix daemon", func(l *Latencies) *time.Duration { return &l.DaemonRestart }},
	{"brew-update", "brew update", func(l *Latencies) *time.Duration { return &l.BrewUpdate }},
	{"brew-check", "brew bundle check, all installed", func(l *Latencies) *time.Duration { return &l.BrewCheck }},
	{"brew-install", "brew bundle install, nothing to install", func(l *Latencies) *time.Duration { return &l.BrewInstall }},
	{"brew-install-each", "added per package brew bundle installs", func(l *Latencies) *time.Duration { return &l.BrewInstallEach }},
	{"brew-cleanup", "brew bundle cleanup", func(l *Latencies) *time.Duration { return &l.BrewCleanup }},
	{"ssh-connect", "a new ssh connection to a fleet machine", func(l *Latencies) *time.Duration { return &l.SSHConnect }},
	{"ssh-round-trip", "a command through an open ssh connection", func(l *Latencies) *time.Duration { return &l.SSHRoundTrip }},
}

// LatencyKeys lists the keys Set accepts, for help texts.
func LatencyKeys() []string {
	out := make([]string, len(latencyKeys))
	for i, k := range latencyKeys {
		out[i] = k.key
	}
	return out
}

// Set sets one latency from "KEY=DURATION", e.g. "brew-check=1.2s".
func (l *Latencies) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("latency %q: want KEY=DURATION, e.g. brew-check=1.2s", kv)
	}
	return l.set(strings.TrimSpace(k), strings.TrimSpace(v))
}

func (l *Latencies) set(key, value string) error {
	for _, lk := range latencyKeys {
		if lk.key != key {
			continue
		}
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("latency %s: %w", key, err)
		}
		if d < 0 {
			return fmt.Errorf("latency %s: %s is negative", key, value)
		}
		*lk.get(l) = d
		return nil
	}
	return fmt.Errorf("unknown latency %q (known: %s)", key, strings.Join(LatencyKeys(), ", "))
}

// LoadProfile sets the latencies listed in a TOML file of
// `key = "duration"` lines.
func (l *Latencies) LoadProfile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading latency profile: %w", err)
	}
	var m map[string]string
	if err := toml.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("reading latency profile %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if err := l.set(k, m[k]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// Scaled returns every latency multiplied by s.
func (l Latencies) Scaled(s float64) Latencies {
	out := l
	for _, lk := range latencyKeys {
		p := lk.get(&out)
		*p = time.Duration(float64(*p) * s)
	}
	return out
}

// LatencyRow is one latency for a report.
type LatencyRow struct {
	Key     string        `json:"key"`
	What    string        `json:"what"`
	Nominal time.Duration `json:"nominal_ns"` // at scale 1
	Used    time.Duration `json:"used_ns"`    // after --scale
}

// Rows lists the latencies with their scaled values.
func (l Latencies) Rows(scale float64) []LatencyRow {
	sc := l.Scaled(scale)
	rows := make([]LatencyRow, len(latencyKeys))
	for i, lk := range latencyKeys {
		rows[i] = LatencyRow{Key: lk.key, What: lk.what, Nominal: *lk.get(&l), Used: *lk.get(&sc)}
	}
	return rows
}

// OldNoChange is what the old refresh's stand-ins sleep in total when
// nothing changed: flake update, daemon restart, a no-op switch (eval,
// profile, activate), brew update, a no-op brew bundle and its cleanup.
func (l Latencies) OldNoChange() time.Duration {
	return l.FlakeUpdate + l.DaemonRestart + l.Eval + l.ProfileSet + l.Activate + l.BrewUpdate + l.BrewInstall + l.BrewCleanup
}
