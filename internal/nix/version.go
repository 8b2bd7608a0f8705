package nix

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/sysinit/sysinit/internal/command"
	"github.com/sysinit/sysinit/internal/lazyregexp"
)

// flavour is which implementation of the nix command is installed. They
// share the CLI but not its history: Lix forked from Nix 2.18 and numbers
// its releases from 2.90, so a Lix version says nothing about which Nix
// features it has. docs/nix.md lists what each argv needs, with sources.
type flavour string

// The flavours `nix --version` names.
const (
	FlavourNix         flavour = "Nix"             // nix (Nix) 2.8.0
	FlavourDeterminate flavour = "Determinate Nix" // nix (Determinate Nix 3.6.2) 2.29.0
	FlavourLix         flavour = "Lix"             // nix (Lix, like Nix) 2.91.1
)

// Version is what `nix --version` says.
type Version struct {
	Flavour flavour
	// Major, Minor, Patch: the version at the end of the line. For Nix and
	// Determinate Nix it is the Nix release the CLI follows; for Lix, Lix's
	// own.
	Major, Minor, Patch int
	// Release is Determinate Nix's own version ("3.6.2"); "" for the others.
	Release string
	Text    string // the `nix --version` line
}

// AtLeast reports whether v's number is ≥ major.minor. It compares numbers
// of the same flavour only: ask a capability method (flakeUpdateByName)
// for anything that differs between flavours.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string {
	n := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	switch v.Flavour {
	case FlavourDeterminate:
		return fmt.Sprintf("Determinate Nix %s (Nix %s)", v.Release, n)
	case FlavourLix:
		return "Lix " + n
	}
	return "Nix " + n
}

// flakeUpdateByName reports whether `nix flake update` takes input names
// as its arguments and the flake as --flake: Nix from 2.19 (NixOS/nix#8817;
// Determinate Nix 3.0 is Nix 2.26.3 and names it last on the line) and
// every Lix release (2.90 took #8817, and made `nix flake lock
// --update-input` an error). Before, `nix flake update` took the flake as its argument and
// `nix flake lock --update-input X` updated one input.
func (v Version) flakeUpdateByName() bool {
	if v.Flavour == FlavourLix {
		return true
	}
	return v.AtLeast(2, 19)
}

var (
	versionRE = lazyregexp.New(`(\d+)\.(\d+)(?:\.(\d+))?`)
	// The parenthesised name: "(Nix)", "(Determinate Nix 3.6.2)",
	// "(Lix, like Nix)".
	flavourRE = lazyregexp.New(`\(([^)]*)\)`)
)

// ParseVersion reads `nix --version` output: "nix (Nix) 2.8.0",
// "nix (Determinate Nix 3.6.2) 2.29.0", "nix (Lix, like Nix) 2.91.1".
// The version after the parenthesis is the CLI's own; a name it does not
// know is taken for Nix.
func ParseVersion(out string) (Version, error) {
	line := strings.TrimSpace(out)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	v := Version{Flavour: FlavourNix, Text: line}
	rest := line
	if m := flavourRE().FindStringSubmatchIndex(line); m != nil {
		name := line[m[2]:m[3]]
		rest = line[m[1]:]
		switch {
		case strings.HasPrefix(name, "Lix"):
			v.Flavour = FlavourLix
		case strings.HasPrefix(name, "Determinate Nix"):
			v.Flavour = FlavourDeterminate
			v.Release = strings.TrimSpace(strings.TrimPrefix(name, "Determinate Nix"))
		}
	}
	ms := versionRE().FindAllStringSubmatch(rest, -1)
	if len(ms) == 0 {
		return Version{}, fmt.Errorf("no version in %q", line)
	}
	m := ms[len(ms)-1]
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

var versions sync.Map // nix path → Version; nix does not change under a running sysinit

// nixVersion runs `nix --version` once per nix binary per process, and only
// when a step runs: never on the no-change path.
func nixVersion(ctx context.Context, exec command.Runner, nix string) (Version, error) {
	if v, ok := versions.Load(nix); ok {
		return v.(Version), nil
	}
	var out bytes.Buffer
	if err := exec.Run(ctx, &command.Cmd{Argv: []string{nix, "--version"}, Stdout: &out}); err != nil {
		return Version{}, fmt.Errorf("finding the nix version: %w", err)
	}
	v, err := ParseVersion(out.String())
	if err != nil {
		return Version{}, fmt.Errorf("finding the nix version: %w", err)
	}
	versions.Store(nix, v)
	return v, nil
}
