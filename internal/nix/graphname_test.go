package nix

import "testing"

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
