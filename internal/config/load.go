package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// MaxSize bounds the config file sysinit reads. A sysinit.toml is a list of
// steps, a few kilobytes; 4 MiB holds tens of thousands of them, and keeps
// a wrong --config (/dev/zero, a disk image) from filling memory.
const MaxSize = 4 << 20

// Load reads, parses and validates the config file at path, whose steps
// are of the kinds given.
//
// An invalid config yields an Errors listing every problem found, in file
// order. Their Pos.File is path exactly as given, so a relative path gives
// errors like "sysinit.toml:12: ...", an absolute one absolute positions;
// Config.File and Config.Dir are always absolute. A file that is not a
// regular file, or is larger than MaxSize, is refused before it is read.
func Load(path string, kinds *Kinds) (*Config, error) {
	data, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, kinds)
}

// read returns the contents of the config file at path (see ReadRegular).
func read(path string) ([]byte, error) {
	data, err := ReadRegular(path, MaxSize)
	var big *TooLargeError
	if errors.As(err, &big) {
		return nil, fmt.Errorf("%s is larger than %d MiB, the most sysinit reads as a config", path, MaxSize>>20)
	}
	return data, err
}

// TooLargeError is a file larger than ReadRegular's bound.
type TooLargeError struct {
	Path string
	Max  int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d MiB, the most sysinit reads of it", e.Path, e.Max>>20)
}

// ReadRegular returns the contents of the regular file at path (links
// followed), refusing one larger than max bytes. A FIFO would block the
// open and a device may never end, so the type is checked before the open,
// the open does not block, and the type is checked again on what was
// opened.
func ReadRegular(path string, max int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > max {
		return nil, &TooLargeError{Path: path, Max: max}
	}
	return data, nil
}

// regular refuses anything but a regular file, naming what it is.
func regular(path string, fi fs.FileInfo) error {
	var what string
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	default:
		what = "of type " + m.Type().String()
	}
	return fmt.Errorf("%s is %s, not a regular file", path, what)
}

// utf8BOM is what some Windows editors put at the start of a UTF-8 file.
// TOML does not allow it; it carries no meaning, so it is dropped.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parse is Load from bytes already read. path names the file in errors and
// locates the config directory, against which relative paths are resolved
// and checked (a file step's source, brewfile, dir).
func Parse(path string, data []byte, kinds *Kinds) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving config path %s: %w", path, err)
	}
	// The directory is resolved through symlinks: records, definitions and
	// destinations derived from it must not depend on which path reached
	// the repo (a symlinked ~/dotfiles, macOS's /tmp).
	dir := filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	cfg := &Config{File: filepath.Join(dir, filepath.Base(abs)), Dir: dir}
	data = bytes.TrimPrefix(data, utf8BOM)
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, Errors{{Pos: Pos{File: path, Line: 1}, Msg: "the file is UTF-16 encoded (it starts with a UTF-16 byte order mark)",
			Hint: "save it as UTF-8; TOML files are UTF-8"}}
	}

	// go-toml's decoder checks the whole TOML spec (duplicate keys, table
	// redefinitions); the positions pass over its AST then supplies the line
	// of every key, which the decoded values lack.
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{syntaxError(path, data, err)}
	}
	ps, err := indexPositions(data)
	if err != nil {
		return nil, Errors{syntaxError(path, data, err)}
	}

	l := &loader{cfg: cfg, file: path, pos: ps, kinds: kinds}
	l.load(doc)
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Pos.Line < l.errs[j].Pos.Line })
		return nil, l.errs
	}
	return cfg, nil
}

func syntaxError(path string, data []byte, err error) *Error {
	e := &Error{Pos: Pos{File: path, Line: 1}, Msg: "invalid TOML: " + strings.TrimPrefix(err.Error(), "toml: ")}
	var de *toml.DecodeError
	var pe *unstable.ParserError
	switch {
	case errors.As(err, &de):
		line, col := de.Position()
		e.Pos.Line = max(line, 1)
		e.Msg = fmt.Sprintf("invalid TOML at column %d: %s", col, strings.TrimPrefix(de.Error(), "toml: "))
	case errors.As(err, &pe) && pe.Highlight != nil:
		// Highlight is a subslice of data, so its offset is what lies
		// between their ends.
		if off := cap(data) - cap(pe.Highlight); off >= 0 && off <= len(data) {
			e.Pos.Line = 1 + strings.Count(string(data[:off]), "\n")
		}
	}
	return e
}

// loader turns one decoded document into a Config, collecting every problem
// rather than stopping at the first: a user fixing a config wants the whole
// list in one go.
type loader struct {
	cfg   *Config
	file  string
	pos   *positions
	kinds *Kinds
	errs  Errors
}

func (l *loader) at(n *posNode) Pos {
	return Pos{File: l.file, Line: l.pos.line(n)}
}

// stepNode returns the position node of [steps.name].
func (l *loader) stepNode(name string) *posNode {
	return l.pos.root.key("steps").key(name)
}

func (l *loader) fail(at Pos, hint, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: at, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// byOffset returns the keys of t under base in the order the file defines
// them, so steps keep their file order and errors come out deterministic.
func (l *loader) byOffset(base *posNode, t map[string]any) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, oj := base.key(keys[i]).offset(), base.key(keys[j]).offset()
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func (l *loader) load(doc map[string]any) {
	for _, k := range l.byOffset(l.pos.root, doc) {
		if k == "steps" || k == "hosts" {
			continue
		}
		hint := "sysinit.toml holds only [steps.NAME] and [hosts.NAME] tables"
		if t, ok := doc[k].(map[string]any); ok && t["kind"] != nil {
			hint = fmt.Sprintf("steps are declared as [steps.%s]", k)
		} else if t, ok := doc[k].(map[string]any); ok && t["ssh"] != nil {
			hint = fmt.Sprintf("hosts are declared as [hosts.%s]", k)
		} else if c := closest(k, []string{"steps", "hosts"}); c != "" {
			hint = fmt.Sprintf("did you mean [%s.NAME]?", c)
		}
		l.fail(l.at(l.pos.root.key(k)), hint, "unknown top-level key %q", k)
	}
	// Hosts first: steps' `hosts` and their kinds' checks name them.
	if raw, ok := doc["hosts"]; ok {
		l.hosts(raw)
	}

	raw, ok := doc["steps"]
	if !ok {
		return
	}
	stepsPath := l.pos.root.key("steps")
	steps, ok := raw.(map[string]any)
	if !ok {
		l.fail(l.at(stepsPath), "declare each step as a table: [steps.NAME]",
			"`steps` must be a table of steps, not %s", typeName(raw))
		return
	}
	for _, name := range l.byOffset(stepsPath, steps) {
		l.cfg.Steps = append(l.cfg.Steps, l.step(name, steps[name]))
	}
	l.checkNames()
	l.checkAfter()
	for _, k := range l.kinds.List() {
		if k.CheckAll == nil {
			continue
		}
		var steps []*Step
		for _, s := range l.cfg.Steps {
			if s.Kind == k.Name && s.decoded {
				steps = append(steps, s)
			}
		}
		if len(steps) > 0 {
			k.CheckAll(l.cfg, steps, l)
		}
	}
	if len(l.errs) == 0 {
		l.expandHosts()
	}
}

// FailStep reports a problem of step s at the line of key (its header when
// the key is not set): the StepReporter of kinds' CheckAll.
func (l *loader) FailStep(s *Step, key, hint, format string, args ...any) {
	at, ok := s.Keys[key]
	if !ok {
		at = s.Pos
	}
	l.fail(at, hint, format, args...)
}

// typeName describes a decoded TOML value for "must be X, not Y" messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}
