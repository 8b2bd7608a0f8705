package bench_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/bench"
)

func TestScratchFixture(t *testing.T) {
	dir := os.Getenv("SCRATCH_DIR")
	if dir == "" {
		t.Skip("no SCRATCH_DIR")
	}
	os.RemoveAll(dir)
	FILES := 20000
	if os.Getenv("SCRATCH_N") == "2000" {
		FILES = 2000
	}
	fx, err := bench.NewFixture(context.Background(), dir, FILES, "/work/main/bin/sysinit", os.Environ(), bench.Latencies{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir+"/env", []byte(strings.Join(fx.Env, "\n")+"\n"), 0o644)
}
