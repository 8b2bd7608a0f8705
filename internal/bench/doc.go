// Package bench is `sysinit bench`: it measures sysinit's refreshes as
// whole processes timed from outside, and reports the figures.
//
// Own measures a no-change refresh of the user's own config on the real
// tools, against the floor (stat-ing the config's input files) and the
// old command the user gives; every refresh's events are checked to have
// started no step.
//
// Run is the synthetic suite: generated config repos with stand-in
// package managers whose latencies it sets, against the refresh sysinit
// replaces and its peers — the old sequential refresh, the plan's
// checksum snippet, go-task with checksummed sources, and the floor (a
// find that stats every file) — reported as tables, JSON, Markdown and an
// SVG chart. The stand-ins (nix, nix-env, darwin-rebuild, brew,
// launchctl, sudo) are this same binary behind small wrapper scripts, so
// a user's machine needs nothing but sysinit and git; real nix is
// measured too when it is installed.
package bench
