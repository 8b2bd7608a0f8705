package brew

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sysinit/sysinit/internal/fingerprint"
	"github.com/sysinit/sysinit/internal/lazyregexp"
)

var (
	// homebrew.enable = true; (also with lib.mkDefault / mkForce / mkIf …)
	dottedEnable = lazyregexp.New(`(^|[^A-Za-z0-9_'-])homebrew\s*\.\s*enable\s*=\s*(lib\s*\.\s*)?(mkDefault\s+|mkForce\s+|mkOverride\s+\d+\s+)?true\b`)
	// homebrew = { … enable = true; … };
	blockOpen   = lazyregexp.New(`(^|[^A-Za-z0-9_'.-])homebrew\s*=\s*(lib\s*\.\s*)?(mkIf\s+\S+\s+)?\{`)
	innerEnable = lazyregexp.New(`(^|[^A-Za-z0-9_'.-])enable\s*=\s*(lib\s*\.\s*)?(mkDefault\s+|mkForce\s+|mkOverride\s+\d+\s+)?true\b`)
)

// ManagedByNixDarwin reports whether the nix-darwin configuration under dir
// turns on its own Homebrew module (`homebrew.enable = true`, or `enable =
// true` inside `homebrew = { … }`). Then nix-darwin runs brew bundle during
// activation, and a brew-bundle step would do the work twice. It returns
// the first place found, file relative to dir, in lexical order. Files it
// cannot read are passed over: this feeds a warning, never a decision.
func ManagedByNixDarwin(dir string) (file string, line int, ok bool) {
	return scanNix(nixFiles(dir))
}

// nixFile is a .nix file under the config directory.
type nixFile struct {
	path, rel string
	sig       string // fingerprint.StatSignature, "" if it cannot be had
}

// nixFiles lists the regular .nix files under dir in lexical order,
// leaving out version control and tool directories.
func nixFiles(dir string) []nixFile {
	var out []nixFile
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
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			rel = path
		}
		out = append(out, nixFile{path: path, rel: rel})
		return nil
	})
	return out
}

// scanNix reads files until one enables the Homebrew module.
func scanNix(files []nixFile) (file string, line int, ok bool) {
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			continue
		}
		if n, found := homebrewEnabled(data); found {
			return f.rel, n, true
		}
	}
	return "", 0, false
}

var homebrewWord = []byte("homebrew")

// homebrewEnabled scans one .nix file line by line, following the braces
// of a `homebrew = {` block. Most files never name homebrew: they are
// passed over whole.
func homebrewEnabled(data []byte) (int, bool) {
	if !bytes.Contains(data, homebrewWord) {
		return 0, false
	}
	inComment := false
	depth := 0 // brace depth inside a homebrew block; 0 = not in one
	n := 0
	for len(data) > 0 {
		n++
		raw := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		text := stripNixComments(string(raw), &inComment)
		if depth == 0 && !strings.Contains(text, "homebrew") {
			continue
		}
		if dottedEnable().MatchString(text) {
			return n, true
		}
		if depth == 0 {
			loc := blockOpen().FindStringIndex(text)
			if loc == nil {
				continue
			}
			depth = 1
			text = text[loc[1]:]
		}
		// Walk the block, checking enable only at its own level.
		var level strings.Builder
		for _, c := range text {
			switch c {
			case '{', '}':
				if depth == 1 && innerEnable().MatchString(level.String()) {
					return n, true
				}
				if c == '{' {
					depth++
				} else {
					depth--
				}
				level.Reset()
			default:
				if depth == 1 {
					level.WriteRune(c)
				}
			}
			if depth == 0 {
				break
			}
		}
		if depth == 1 && innerEnable().MatchString(level.String()) {
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

// nixCheck is what ManagedByNixDarwin found under a directory, with the
// signature of the .nix files it read. A success records it after the
// installed set in the token, so that plan and why read the files again
// only when one of them changed: a stat of each, not a read.
type nixCheck struct {
	sig  string // nixSignature before the scan
	file string // "" when nothing enables the module
	line int
}

const nixCheckPrefix = "# nix-darwin-homebrew "

// checkNixDarwin scans files, having taken their signature first: a file
// changed during the scan changes the signature the next check compares.
// A file modified too recently for its timestamps to tell a later edit
// apart leaves the signature out, and the check is not trusted next time.
func checkNixDarwin(files []nixFile, now time.Time) nixCheck {
	sig, newest := nixSignature(files)
	c := nixCheck{sig: sig}
	if now.Sub(newest) < racyWindow {
		c.sig = ""
	}
	if file, line, ok := scanNix(files); ok {
		c.file, c.line = file, line
	}
	return c
}

// racyWindow is how long after a file's modification its timestamps may
// still not tell a second edit apart (the file system's clock moves in
// ticks, or whole seconds).
const racyWindow = 2 * time.Second

// nixSignature describes files by path and metadata
// (fingerprint.StatSignature: device, inode, mode, size, mtime, ctime): any
// edit, new file or removal changes it. newest is the latest mtime.
func nixSignature(files []nixFile) (sig string, newest time.Time) {
	h := sha256.New()
	var latest int64
	for i := range files {
		f := &files[i]
		if f.sig == "" {
			f.sig, _ = fingerprint.StatSignature(f.path)
		}
		// dev:ino:mode:size:mtime:ctime, times in nanoseconds.
		if j := strings.LastIndexByte(f.sig, ':'); j > 0 {
			if i := strings.LastIndexByte(f.sig[:j], ':'); i >= 0 {
				if m, err := strconv.ParseInt(f.sig[i+1:j], 10, 64); err == nil && m > latest {
					latest = m
				}
			}
		}
		// A path holds no NUL, a signature no newline.
		h.Write([]byte(f.rel + "\x00" + f.sig + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), time.Unix(0, latest)
}

// String renders c as the token's last line.
func (c nixCheck) String() string {
	found := "-"
	if c.file != "" {
		found = strconv.Quote(c.file) + ":" + strconv.Itoa(c.line)
	}
	return nixCheckPrefix + c.sig + " " + found + "\n"
}

// recordedNixCheck reads the check a token holds.
func recordedNixCheck(token string) (nixCheck, bool) {
	i := strings.Index(token, "\n"+nixCheckPrefix)
	if i < 0 {
		return nixCheck{}, false
	}
	rest := strings.TrimSuffix(token[i+1+len(nixCheckPrefix):], "\n")
	sig, found, ok := strings.Cut(rest, " ")
	if !ok || sig == "" {
		return nixCheck{}, false
	}
	c := nixCheck{sig: sig}
	if found == "-" {
		return c, true
	}
	// "file":line; the line number holds no colon.
	j := strings.LastIndexByte(found, ':')
	if j < 0 {
		return nixCheck{}, false
	}
	file, err := strconv.Unquote(found[:j])
	if err != nil {
		return nixCheck{}, false
	}
	n, err := strconv.Atoi(found[j+1:])
	if err != nil {
		return nixCheck{}, false
	}
	c.file, c.line = file, n
	return c, true
}

// withoutNixCheck is the installed set a token records, without the check.
func withoutNixCheck(token string) string {
	if i := strings.Index(token, "\n"+nixCheckPrefix); i >= 0 {
		return token[:i+1]
	}
	return token
}

// Advice warns when nix-darwin manages Homebrew too: then brew runs inside
// activation (so it cannot run in parallel with the system step) and this
// step repeats its work. The check the last success recorded holds while
// no .nix file changed.
func (b *bundle) Advice(token string) []string {
	if b.k.NixDarwin != "" {
		return b.nixAdvice()
	}
	files := nixFiles(b.cfgDir)
	c, ok := recordedNixCheck(token)
	if ok {
		sig, _ := nixSignature(files)
		ok = c.sig == sig
	}
	if !ok {
		c.file, c.line, _ = scanNix(files)
	}
	if c.file == "" {
		return nil
	}
	return []string{fmt.Sprintf("%s:%d enables nix-darwin's Homebrew module: brew bundle then runs inside the system activation, serially; set homebrew.enable = false and let brew-bundle step %q take the Brewfile from nix-darwin (nix-darwin = %s instead of brewfile), so that it runs beside the build", c.file, c.line, b.s.Name, b.nixDarwinSteps)}
}
