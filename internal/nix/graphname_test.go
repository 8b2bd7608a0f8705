package nix

import (
	"strings"
	"testing"
)

// TestGraphName: a profile step names the configuration its attribute
// builds, so flake.nix's definitions of the other configurations wait.
func TestGraphName(t *testing.T) {
	for _, tt := range []struct{ kind, name, want string }{
		{KindProfile, "darwinConfigurations.h1.system", "darwinConfigurations.h1"},
		{KindProfile, "nixosConfigurations.web.config.system.build.toplevel", "nixosConfigurations.web"},
		{KindProfile, `homeConfigurations."me@host".activationPackage`, ""},
		{KindProfile, "packages.x86_64-linux.default", ""},
		{KindProfile, "darwinConfigurations", ""},
		{KindDarwin, "h1", "darwinConfigurations.h1"},
		{KindNixOS, "", ""},
	} {
		if got := graphName(tt.kind, tt.name); got != tt.want {
			t.Errorf("graphName(%s, %q) = %q, want %q", tt.kind, tt.name, got, tt.want)
		}
	}
}

// TestOwnOutputs: a profile step building a package reads flake.nix's
// definition of it; nix looks a name up under packages and legacyPackages
// first, and takes one starting with "." as written.
func TestOwnOutputs(t *testing.T) {
	for _, tt := range []struct{ kind, name, want string }{
		{KindProfile, "packages.x86_64-linux.tool", "packages legacyPackages"},
		{KindProfile, "tool", "packages legacyPackages tool"},
		{KindProfile, "checks.x86_64-linux.t", "packages legacyPackages checks"},
		{KindProfile, ".checks.x86_64-linux.t", "checks"},
		{KindProfile, `homeConfigurations."me@host".activationPackage`, "*"},
		{KindProfile, "", "*"},
		{KindProfile, "nixosConfigurations.web.config.system.build.toplevel", ""},
		{KindNixOS, "web", ""},
		{KindHomeManager, "", ""},
	} {
		if got := strings.Join(ownOutputs(tt.kind, tt.name), " "); got != tt.want {
			t.Errorf("ownOutputs(%s, %q) = %q, want %q", tt.kind, tt.name, got, tt.want)
		}
	}
}
