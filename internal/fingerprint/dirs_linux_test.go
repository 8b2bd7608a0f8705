//go:build linux

package fingerprint

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDirListingRemountedImage: a file system image built the way
// reproducible builds build them (every time fixed, E2FSPROGS_FAKE_TIME,
// as NixOS's make-ext4-fs and SOURCE_DATE_EPOCH image builders do) is
// replaced by its next build, which holds one more file, and mounted where
// the first was, from the same loop device. Its root directory has the
// same (dev, inode, mode, size, mtime, ctime) as the old one's, so only
// knowing that it is another mount tells its listing is not the one kept.
func TestDirListingRemountedImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting an image needs root")
	}
	for _, tool := range []string{"mkfs.ext4", "losetup", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	tmp := t.TempDir()
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	image := func(name string, files map[string]string) string {
		src := filepath.Join(tmp, name)
		writeTree(t, src, files)
		img := src + ".img"
		run([]string{"E2FSPROGS_FAKE_TIME=1000000000"}, "mkfs.ext4", "-q", "-d", src, img, "8M")
		return img
	}
	v1 := image("v1", map[string]string{"x": "x"})
	v2 := image("v2", map[string]string{"x": "x", "extra": "e"})

	root := filepath.Join(tmp, "root")
	mnt := filepath.Join(root, "m")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	loop := run(nil, "losetup", "--find", "--show", v1)
	mounted := false
	t.Cleanup(func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
		exec.Command("losetup", "-d", loop).Run()
	})
	run(nil, "mount", "-o", "ro", loop, mnt)
	mounted = true

	spec := Spec{Patterns: []string{"**"}}
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	scanOne(t, s, spec)
	if c.dirs.find("m") < 0 {
		t.Fatalf("the scan kept no listing of the image's root (kept %q)", dirKeys(c))
	}

	run(nil, "umount", mnt)
	mounted = false
	run(nil, "losetup", "-d", loop)
	// The same device again, so the same st_dev: as after a reboot, or
	// with the next image flashed to the same card.
	if out, err := exec.Command("losetup", loop, v2).CombinedOutput(); err != nil {
		t.Skipf("%s was taken before it could be set up again: %v: %s", loop, err, out)
	}
	run(nil, "mount", "-o", "ro", loop, mnt)
	mounted = true

	want := scanOne(t, &Scanner{Root: root}, spec)
	if !slices.Contains(paths(want), "m/extra") {
		t.Fatalf("a cold scan of the new image has %q", paths(want))
	}
	got := scanOne(t, s, spec)
	if got.Digest != want.Digest || !slices.Equal(got.Entries, want.Entries) {
		t.Errorf("scan with kept listings missed the new image's file: %v", diff(want, got))
	}
}

// TestDirListingsOtherBoot: listings kept on one boot are not taken on
// another: a machine that boots the same way numbers its mounts alike, so
// the same unique mount id can name another mount of another file system.
func TestDirListingsOtherBoot(t *testing.T) {
	root := t.TempDir()
	requireTrustedDirTimes(t, root)
	writeTree(t, root, map[string]string{"a/1": "1", "b/2": "2"})
	backdate(t, root)
	spec := Spec{Patterns: []string{"**"}}
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	scanOne(t, s, spec)
	scanOne(t, s, spec)
	if c.dirs.n != 3 || s.lists != 0 {
		t.Fatalf("kept %d listings and read %d directories on the second scan; want 3 and 0", c.dirs.n, s.lists)
	}
	this := bootSeed
	t.Cleanup(func() { bootSeed = this })
	seed, err := this()
	if err != nil {
		t.Fatal(err)
	}
	bootSeed = func() (uint64, error) { return seed + 1, nil }
	scanOne(t, s, spec)
	if s.lists != 3 {
		t.Errorf("after a reboot the scan read %d directories, want all 3", s.lists)
	}
}
