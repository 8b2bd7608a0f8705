// Package kinds lists the step kinds this build of sysinit knows: the core
// ones (command, file), the nix ones and brew-bundle. A new kind is
// declared in its own package and added here.
package kinds

import (
	"sync"

	"github.com/sysinit/sysinit/internal/brew"
	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/nix"
	"github.com/sysinit/sysinit/internal/step"
)

// Registry returns every kind, in the order they are listed to users.
func Registry() *step.Registry {
	r := step.Core()
	nix.Register(r)
	brew.Register(r)
	return r
}

// Decls is Registry's declarations, which configs load with; it is made
// once.
var Decls = sync.OnceValue(func() *config.Kinds { return Registry().Kinds() })
