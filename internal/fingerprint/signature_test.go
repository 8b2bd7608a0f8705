package fingerprint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHashFileOfSize: the hash is HashFile's, small or streamed; a link at
// the path is not followed, and a file of another size than the one asked
// for is not read.
func TestHashFileOfSize(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 10, 64 << 10, 300 << 10} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, bytes.Repeat([]byte("ab\n"), n/3+1)[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		want, err := HashFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := HashFileOfSize(p, int64(n))
		if err != nil || got != want {
			t.Errorf("size %d: %x, %v; want %x", n, got, err, want)
		}
		if _, err := HashFileOfSize(p, int64(n)+1); !errors.Is(err, ErrChanged) {
			t.Errorf("size %d asked as %d: %v, want ErrChanged", n, n+1, err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	if _, err := HashFileOfSize(link, 300<<10); !errors.Is(err, unix.ELOOP) {
		t.Errorf("a link was followed: %v", err)
	}
}
