// Package nix holds the nix step kinds — nix-darwin, nixos, home-manager,
// nix-profile and flake-update: which files nix sees (read from git's index
// without starting a process), cheap probes of the active system, and runs
// that evaluate before they build, build before they switch, and report
// progress parsed from nix's internal-json log.
package nix
