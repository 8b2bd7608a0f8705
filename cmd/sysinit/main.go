// Command sysinit refreshes a declaratively configured machine, running only
// the steps whose inputs, definition or machine state changed.
package main

import (
	"os"

	"github.com/sysinit/sysinit/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
