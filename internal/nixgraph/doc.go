// Package nixgraph finds which files of a flake a configuration can read,
// from the path references in its Nix files.
package nixgraph
