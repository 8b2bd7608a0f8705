package step

import "testing"

func TestWithoutStoreHash(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/0c3x2q9k5mnp7y1bzdr4h6slf8wvgaij-nix-2.24.9/bin/nix":     "/nix/store/*-nix-2.24.9/bin/nix",
		"/nix/store/1d4y3r0l6nqs8z2cads5i7vmg9xwhbjk-nix-2.24.9/bin/nix-env": "/nix/store/*-nix-2.24.9/bin/nix-env",
		"/opt/nix/store/0c3x2q9k5mnp7y1bzdr4h6slf8wvgaij-dash-0.5.12/bin/sh": "/opt/nix/store/*-dash-0.5.12/bin/sh",
		"/usr/bin/nix":                 "/usr/bin/nix",
		"/nix/store/short-nix/bin/nix": "/nix/store/short-nix/bin/nix",
		"/nix/var/0c3x2q9k5mnp7y1bzdr4h6slf8wvgaij-nix-2.24.9/bin/nix":   "/nix/var/0c3x2q9k5mnp7y1bzdr4h6slf8wvgaij-nix-2.24.9/bin/nix",
		"/nix/store/0c3x2q9k5mnp7y1bzdr4h6slf8wvgaie-nix-2.24.9/bin/nix": "/nix/store/0c3x2q9k5mnp7y1bzdr4h6slf8wvgaie-nix-2.24.9/bin/nix", // 'e' is not in Nix's alphabet
	} {
		if got := withoutStoreHash(in); got != want {
			t.Errorf("withoutStoreHash(%q) = %q, want %q", in, got, want)
		}
	}
}
