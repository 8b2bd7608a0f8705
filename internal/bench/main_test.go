package bench_test

import (
	"os"
	"testing"

	"github.com/sysinit/sysinit/internal/cli"
)

// asSysinit makes the test binary behave as sysinit, so that the bench
// can start it for refreshes and as its stand-ins without a build step.
const asSysinit = "SYSINIT_BENCH_TEST_AS_SYSINIT"

func TestMain(m *testing.M) {
	if os.Getenv(asSysinit) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// self returns the test binary, set up to run as sysinit in the children
// it starts.
func self(tb testing.TB) string {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Setenv(asSysinit, "1")
	return exe
}
