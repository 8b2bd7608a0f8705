package kinds_test

import (
	"os"
	"testing"

	"github.com/sysinit/sysinit/internal/kinds"
)

// TestConfigDoc: docs/config.md's reference part is what the kinds
// declare; after changing a kind's keys, run go generate ./internal/kinds.
func TestConfigDoc(t *testing.T) {
	const path = "../../docs/config.md"
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := kinds.ConfigDoc(old)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != string(want) {
		t.Errorf("%s is not what the kinds declare: run go generate ./internal/kinds", path)
	}
}
