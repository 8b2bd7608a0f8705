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
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestDirListingRemountedImage: a file system image built the way
// reproducible builds build them (every time fixed, E2FSPROGS_FAKE_TIME,
// as NixOS's make-ext4-fs and SOURCE_DATE_EPOCH image builders do) is
// replaced by its next build, which holds one more file, and mounted where
// the first was, from the same loop device. Its root directory has the
// same (dev, inode, mode, size, mtime, ctime) as the old one's, so only
// knowing that it is another mount tells its listing is not the one kept.
func TestDirListingRemountedImage(t *testing.T) {
	requireMounting(t, "losetup")
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

// TestDirListingFscryptUnlock: on ext4 with fscrypt, adding a directory's
// key changes the names its listing gives (from the no-key forms, which
// nothing selects, to the real ones) but not the directory's stat: no
// entry was created, removed or renamed. A listing kept while the key was
// absent must not hide the files the unlocked directory shows.
func TestDirListingFscryptUnlock(t *testing.T) {
	mnt := fscryptMount(t)
	root := filepath.Join(mnt, "repo")
	secret := filepath.Join(root, "secret")
	if err := os.MkdirAll(secret, 0o755); err != nil {
		t.Fatal(err)
	}
	key := fscryptAddKey(t, mnt)
	fscryptSetPolicy(t, secret, key)
	writeTree(t, secret, map[string]string{"a.conf": "a", "b.conf": "b"})
	backdate(t, root)
	fscryptRemoveKey(t, mnt, key)

	spec := Spec{Patterns: []string{"**/*.conf"}}
	c := &Cache{}
	s := &Scanner{Root: root, Cache: c, now: laterClock(time.Hour)}
	locked := scanOne(t, s, spec)
	if len(locked.Entries) != 0 {
		t.Fatalf("a locked directory showed %q", paths(locked))
	}
	if c.dirs.find("") < 0 {
		t.Fatalf("the scan kept no listing of the repository's root (kept %q)", dirKeys(c))
	}

	fscryptAddKey(t, mnt)
	want := scanOne(t, &Scanner{Root: root}, spec)
	if !slices.Equal(paths(want), []string{"secret/a.conf", "secret/b.conf"}) {
		t.Fatalf("a cold scan of the unlocked directory has %q", paths(want))
	}
	got := scanOne(t, s, spec)
	if got.Digest != want.Digest {
		t.Errorf("scan with kept listings missed the unlocked files: %v", diff(want, got))
	}
}

// fscryptMount mounts a fresh ext4 image with the encrypt feature and
// returns where, skipping when that cannot be done here.
func fscryptMount(t *testing.T) string {
	t.Helper()
	requireMounting(t)
	if _, err := os.Stat("/sys/fs/ext4/features/encryption"); err != nil {
		t.Skipf("ext4 has no encryption here: %v", err)
	}
	tmp := t.TempDir()
	img, mnt := filepath.Join(tmp, "fs.img"), filepath.Join(tmp, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"mkfs.ext4", "-q", "-O", "encrypt", img, "16M"}, {"mount", "-o", "loop", img, mnt}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// fscryptKey is a fixed test key: adding it again gives the same identifier.
var fscryptKey = func() (k [64]byte) {
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

func fscryptIoctl(t *testing.T, path string, req uint, arg unsafe.Pointer) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); errno != 0 {
		t.Fatalf("ioctl %#x on %s: %v", req, path, errno)
	}
}

// fscryptAddKey adds fscryptKey to the file system at mnt and returns its
// identifier.
func fscryptAddKey(t *testing.T, mnt string) [16]byte {
	t.Helper()
	var arg struct {
		unix.FscryptAddKeyArg
		raw [64]byte
	}
	arg.Key_spec.Type = unix.FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER
	arg.Raw_size = uint32(len(fscryptKey))
	arg.raw = fscryptKey
	fscryptIoctl(t, mnt, unix.FS_IOC_ADD_ENCRYPTION_KEY, unsafe.Pointer(&arg))
	var id [16]byte
	copy(id[:], arg.Key_spec.U[:])
	return id
}

func fscryptRemoveKey(t *testing.T, mnt string, id [16]byte) {
	t.Helper()
	var arg unix.FscryptRemoveKeyArg
	arg.Key_spec.Type = unix.FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER
	copy(arg.Key_spec.U[:], id[:])
	fscryptIoctl(t, mnt, unix.FS_IOC_REMOVE_ENCRYPTION_KEY, unsafe.Pointer(&arg))
}

func fscryptSetPolicy(t *testing.T, dir string, id [16]byte) {
	t.Helper()
	p := unix.FscryptPolicyV2{
		Version:                   unix.FSCRYPT_POLICY_V2,
		Contents_encryption_mode:  unix.FSCRYPT_MODE_AES_256_XTS,
		Filenames_encryption_mode: unix.FSCRYPT_MODE_AES_256_CTS,
		Flags:                     unix.FSCRYPT_POLICY_FLAGS_PAD_32,
		Master_key_identifier:     id,
	}
	fscryptIoctl(t, dir, unix.FS_IOC_SET_ENCRYPTION_POLICY, unsafe.Pointer(&p))
}

// requireMounting skips a test unless it can make ext4 images and mount
// them: root, mkfs.ext4, mount, umount and the other tools named.
func requireMounting(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting an image needs root")
	}
	for _, tool := range append([]string{"mkfs.ext4", "mount", "umount"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
}
