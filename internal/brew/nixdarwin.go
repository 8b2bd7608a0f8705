package brew

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	// homebrew.enable = true; (also with lib.mkDefault / mkForce / mkIf …)
	dottedEnable = regexp.MustCompile(`(^|[^A-Za-z0-9_'-])homebrew\s*\.\s*enable\s*=\s*(lib\s*\.\s*)?(mkDefault\s+|mkForce\s+|mkOverride\s+\d+\s+)?true\b`)
	// homebrew = { … enable = true; … };
	blockOpen   = regexp.MustCompile(`(^|[^A-Za-z0-9_'.-])homebrew\s*=\s*(lib\s*\.\s*)?(mkIf\s+\S+\s+)?\{`)
	innerEnable = regexp.MustCompile(`(^|[^A-Za-z0-9_'.-])enable\s*=\s*(lib\s*\.\s*)?(mkDefault\s+|mkForce\s+|mkOverride\s+\d+\s+)?true\b`)
)

// ManagedByNixDarwin reports whether the nix-darwin configuration under dir
// turns on its own Homebrew module (`homebrew.enable = true`, or `enable =
// true` inside `homebrew = { … }`). Then nix-darwin runs brew bundle during
// activation, and a brew-bundle step would do the work twice. It returns
// the first place found, file relative to dir, in lexical order. Files it
// cannot read are passed over: this feeds a warning, never a decision.
func ManagedByNixDarwin(dir string) (file string, line int, ok bool) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", ".direnv":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".nix") {
			return nil
		}
		if n, found := homebrewEnabled(path); found {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				rel = path
			}
			file, line, ok = rel, n, true
			return filepath.SkipAll
		}
		return nil
	})
	return file, line, ok
}

// homebrewEnabled scans one .nix file line by line, following the braces
// of a `homebrew = {` block.
func homebrewEnabled(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	inComment := false
	depth := 0 // brace depth inside a homebrew block; 0 = not in one
	for n := 1; sc.Scan(); n++ {
		text := stripNixComments(sc.Text(), &inComment)
		if dottedEnable.MatchString(text) {
			return n, true
		}
		if depth == 0 {
			loc := blockOpen.FindStringIndex(text)
			if loc == nil {
				continue
			}
			depth = 1
			text = text[loc[1]:]
		}
		// Walk the block, checking enable only at its own level.
		level := ""
		for _, c := range text {
			switch c {
			case '{':
				if depth == 1 && innerEnable.MatchString(level) {
					return n, true
				}
				depth++
				level = ""
			case '}':
				if depth == 1 && innerEnable.MatchString(level) {
					return n, true
				}
				depth--
				level = ""
			default:
				if depth == 1 {
					level += string(c)
				}
			}
			if depth == 0 {
				break
			}
		}
		if depth == 1 && innerEnable.MatchString(level) {
			return n, true
		}
	}
	return 0, false
}

// stripNixComments removes # and /* */ comments from a line (strings are
// not parsed: a "#" inside one only hides the rest of that line).
func stripNixComments(line string, inComment *bool) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if *inComment {
			if strings.HasPrefix(line[i:], "*/") {
				*inComment = false
				i++
			}
			continue
		}
		if strings.HasPrefix(line[i:], "/*") {
			*inComment = true
			i++
			continue
		}
		if line[i] == '#' {
			break
		}
		b.WriteByte(line[i])
	}
	return b.String()
}

// Advice warns when nix-darwin manages Homebrew too: then brew runs inside
// activation (so it cannot run in parallel with the system step) and this
// step repeats its work.
func (b *Bundle) Advice() []string {
	file, line, ok := ManagedByNixDarwin(b.cfgDir)
	if !ok {
		return nil
	}
	return []string{fmt.Sprintf("%s:%d enables nix-darwin's Homebrew module: brew bundle then runs inside the system activation, serially; let this step own the Brewfile and drop homebrew.enable, or drop this step", file, line)}
}
