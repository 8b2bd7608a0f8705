// Package bench is `sysinit bench`: it measures sysinit against the
// refresh it replaces and against its peers, on generated config repos,
// with stand-in package managers whose latencies it sets, and reports the
// figures as tables, JSON, Markdown and an SVG chart.
//
// Every figure is a whole process timed from outside: sysinit's refresh,
// the old sequential refresh, the plan's checksum snippet, go-task with
// checksummed sources, and the floor (a find that stats every file). The
// stand-ins (nix, nix-env, darwin-rebuild, brew, launchctl, sudo) are
// this same binary behind small wrapper scripts, so a user's machine
// needs nothing but sysinit and git; real nix is measured too when it is
// installed.
package bench
