// Package kinds lists the step kinds this build of sysinit knows: the core
// ones (command, file), the nix ones and brew-bundle. A new kind is
// declared in its own package and added here.
package kinds

import (
	"bytes"
	"fmt"
	"strings"
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

//go:generate go run ./gendocs ../../docs/config.md

// DocMarker starts the generated part of docs/config.md.
const DocMarker = "<!-- The rest of this file is generated from the kinds' declarations by `go generate ./internal/kinds`: edit those, not this. -->\n"

// ConfigDoc returns docs/config.md, given its current text, with the part
// after DocMarker written afresh from the kinds' declarations.
func ConfigDoc(old []byte) ([]byte, error) {
	i := bytes.Index(old, []byte(DocMarker))
	if i < 0 {
		return nil, fmt.Errorf("no generated part: the marker line %q is missing", strings.TrimSpace(DocMarker))
	}
	var b bytes.Buffer
	b.Write(old[:i+len(DocMarker)])
	b.WriteString("\n")
	if err := config.WriteDocs(&b, Decls(), "", true); err != nil {
		return nil, err
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n'), nil
}
