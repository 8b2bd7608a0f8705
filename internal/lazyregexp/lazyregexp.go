// Package lazyregexp compiles a package-level regular expression the first
// time it is used rather than when the program starts.
//
// Every sysinit run pays for the package initialisers of everything linked
// in, and most runs — a no-change refresh above all — never match any of
// the patterns that explain Nix errors, read Taskfiles or parse stand-in
// arguments. Compiling them all at start-up cost about as much as stat-ing
// a few hundred files. (The Go tree does the same, in its own
// internal/lazyregexp.)
package lazyregexp

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call and returns
// the same *regexp.Regexp on every call. As with regexp.MustCompile, a bad
// expr panics — at first use, which the package's tests reach.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
