// Command gendocs writes the reference part of docs/config.md from the
// kinds' declarations: `go generate ./internal/kinds` after changing a
// kind's keys. The part above its marker line is written by hand.
package main

import (
	"fmt"
	"os"

	"github.com/sysinit/sysinit/internal/kinds"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs docs/config.md")
		os.Exit(2)
	}
	path := os.Args[1]
	old, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	doc, err := kinds.ConfigDoc(old)
	if err == nil {
		err = os.WriteFile(path, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
