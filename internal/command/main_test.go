package command_test

import (
	"os"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
)

// TestMain lets the test binary be the lifeline, as sysinit's binary is:
// the real-sudo tests run it through sudo.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == command.LifelineArg {
		os.Exit(command.Lifeline(os.Args[2:]))
	}
	os.Exit(m.Run())
}
