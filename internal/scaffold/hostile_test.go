package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The files init reads are the repository's: one that is a FIFO, a device
// or a link to one is refused by name (a FIFO blocked the read for ever;
// /dev/zero filled memory until the runtime gave up).
func TestReadsRefuseWhatIsNoRegularFile(t *testing.T) {
	cases := []struct {
		name, file string
		make       func(t *testing.T, path string)
		read       func(dir string) error
		want       string
	}{
		{"flake.nix a link to /dev/zero", "flake.nix", linkTo("/dev/zero"), readFlake, "flake.nix is a character device, not a regular file"},
		{"flake.nix a FIFO", "flake.nix", fifo, readFlake, "flake.nix is a named pipe (FIFO), not a regular file"},
		{"Taskfile a FIFO", "Taskfile.yml", fifo, readTasks, "Taskfile.yml is a named pipe (FIFO), not a regular file"},
		{"justfile a link to /dev/zero", "justfile", linkTo("/dev/zero"), readTasks, "justfile is a character device, not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.make(t, filepath.Join(dir, tc.file))
			err := within(t, func() error { return tc.read(dir) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// An `import` flake.nix follows that is no regular file counts as a set
// that cannot be read, as one missing does.
func TestReadFlakeImportOfADevice(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte("{ outputs = { self }: { nixosConfigurations = import ./hosts.nix; }; }"), 0o644); err != nil {
		t.Fatal(err)
	}
	linkTo("/dev/zero")(t, filepath.Join(dir, "hosts.nix"))
	var c *Configurations
	err := within(t, func() (err error) { c, err = ReadFlake(dir); return err })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.NixOS) != 0 || len(c.Dynamic) == 0 {
		t.Errorf("configurations = %+v, want none named and the import computed", c)
	}
}

func readFlake(dir string) error { _, err := ReadFlake(dir); return err }
func readTasks(dir string) error { _, err := ReadRefresh(dir, "linux"); return err }

func linkTo(target string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
}

func fifo(t *testing.T, path string) {
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
}

// within runs f, failing the test if it has not returned after a while
// (a FIFO's open blocks for ever).
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("still reading after 10s")
		return nil
	}
}
