package step

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSourceInStickyDir: as root, a source in a directory anyone may
// add names to (sticky, like /tmp) may be a hard link another user made to
// a secret of root's (macOS lets anyone make one), or may have been
// swapped between root's open and its look at the way: the sticky bit
// stops neither. Such a source is read only when the file root opened is
// the one the way leads to, and is no extra name of a file.
func TestCheckSourceInStickyDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "drop")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	check := func(path, open string) error {
		f, err := os.Open(open)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return checkSource(path, f, trust{0})
	}

	// Root's own file there, one name: read.
	own := filepath.Join(sticky, "own.conf")
	if err := os.WriteFile(own, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := check(own, own); err != nil {
		t.Errorf("root's own file in a sticky dir: %v", err)
	}

	// A hard link planted there to root's secret: refused.
	planted := filepath.Join(sticky, "app.conf")
	if err := os.Link(secret, planted); err != nil {
		t.Fatal(err)
	}
	if err := check(planted, planted); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("hard link to a secret in a sticky dir: err = %v, want a refusal", err)
	}
	if err := os.Remove(planted); err != nil {
		t.Fatal(err)
	}

	// The name swapped after root opened it (a link to the secret then, a
	// plain file when root looks at the way): refused.
	if err := os.WriteFile(planted, []byte("decoy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := check(planted, secret); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("source swapped after the open: err = %v, want a refusal", err)
	}

	// A directory anyone may write (no sticky bit) is named as one.
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(open, "x.conf")
	if err := os.WriteFile(conf, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := check(conf, conf); err == nil || !strings.Contains(err.Error(), open+" is a directory that is writable by every user, and the file") {
		t.Errorf("file in a world-writable dir: err = %v, want the dir named as writable by every user", err)
	}
}

// TestCheckSourceEveryControllerCounts: as root, a source whose way two
// users control is read only when it is no secret from either. Alice's
// directory holding Bob's link, aimed at Alice's 0600 key: the file is
// Alice's, but Bob aimed it, and would read it at the destination.
func TestCheckSourceEveryControllerCounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const alice, bob = 4242, 4343
	dir := t.TempDir()
	home := filepath.Join(dir, "alice")
	shared := filepath.Join(home, "shared")
	for _, d := range []string{home, shared} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(home, "id_key")
	if err := os.WriteFile(key, []byte("alice's key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(shared, "app.conf")
	if err := os.Symlink(key, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path     string
		uid      int
		noFollow bool
	}{{home, alice, false}, {key, alice, false}, {shared, bob, false}, {link, bob, true}} {
		var err error
		if c.noFollow {
			err = os.Lchown(c.path, c.uid, -1)
		} else {
			err = os.Chown(c.path, c.uid, -1)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := checkSource(link, f, trust{0}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("Alice's key through Bob's link in Alice's dir: err = %v, want a refusal", err)
	}
	// Alice's own link there aims at her own file: hers to read.
	if err := os.Lchown(link, alice, -1); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(shared, alice, -1); err != nil {
		t.Fatal(err)
	}
	if err := checkSource(link, f, trust{0}); err != nil {
		t.Errorf("Alice's file through her own way: %v", err)
	}
	// Her directory that every user may write: Bob may have put the name
	// there (a rename, a hard link), so it is not hers alone.
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := checkSource(link, f, trust{0}); err == nil || !strings.Contains(err.Error(), "every user may write") {
		t.Errorf("Alice's file in her world-writable dir: err = %v, want a refusal", err)
	}
}
