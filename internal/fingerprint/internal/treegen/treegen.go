// Package treegen writes the deterministic file trees that the fingerprint
// benchmarks and the floor check measure.
package treegen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Generate writes a tree of n files below dir: a few levels of directories
// (modules/, scripts/, config/, lib/…), small files of varied sizes, some
// hidden files and directories, exec bits, symlinks, and a .git directory.
// The same n gives the same tree.
func Generate(dir string, n int) error {
	tops := []string{"modules", "scripts", "config", "lib", "home", "pkgs", ".hidden"}
	exts := []string{".nix", ".conf", ".sh", ".lua", ".toml", ".tmp", ".md", ""}
	seed := uint64(0x9e3779b97f4a7c15)
	rnd := func() uint64 { // splitmix64: deterministic, no math/rand state
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	content := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 200))
	made := map[string]bool{}
	for i := 0; i < n; i++ {
		// About ten files per directory, two or three levels deep.
		d := i / 10
		top := tops[d%len(tops)]
		rel := filepath.Join(top, fmt.Sprintf("d%02d", d%37), fmt.Sprintf("s%03d", d))
		if d%3 == 0 {
			rel = filepath.Join(top, fmt.Sprintf("d%02d", d%37))
		}
		if !made[rel] {
			if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
				return err
			}
			made[rel] = true
		}
		name := fmt.Sprintf("f%05d%s", i, exts[rnd()%uint64(len(exts))])
		if i%50 == 7 {
			name = "." + name // hidden file
		}
		p := filepath.Join(dir, rel, name)
		if i%97 == 5 && i > 0 {
			if err := os.Symlink(fmt.Sprintf("../target%d", i), p); err != nil {
				return err
			}
			continue
		}
		size := int(rnd() % 4096)
		if i%200 == 3 {
			size = len(content)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, content[:size%len(content)], mode); err != nil {
			return err
		}
	}
	// A .git directory the wildcards must not enter.
	if err := os.MkdirAll(filepath.Join(dir, ".git", "objects"), 0o755); err != nil {
		return err
	}
	for i := 0; i < 20; i++ {
		if err := os.WriteFile(filepath.Join(dir, ".git", "objects", fmt.Sprintf("o%02d", i)), content[:i*7], 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "flake.lock"), content[:321], 0o644)
}
