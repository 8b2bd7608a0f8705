package step

import (
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"
	"mvdan.cc/sh/v3/syntax"
)

// Reading the scripts a step runs costs a parse of each, on every plan:
// milliseconds for a long script, work that grows with its size though
// nothing changed. Analyses keeps what Analyze derived across runs, with
// everything the derivation looked at on the filesystem, so that a plan
// where nothing changed re-reads and hashes those scripts and repeats those
// look-ups, and parses nothing.
//
// Every look-up the analysis makes (does this word name a regular file,
// what does this link resolve to, what does this directory hold, what does
// this script say) goes through a recorder (fsys), and only through it:
// scripts.go and scriptfollow.go touch no file themselves (a test holds
// them to it). A cached result stands only while every one of those
// look-ups still gives the answer recorded with it; a script is compared
// by the hash of its bytes, not its modification time. Like the stat
// cache, the cache only saves work: losing it, or a file of it that does
// not load, costs a parse, never a wrong decision.

// derivationVersion names the rules by which Analyze reads a command line
// and its scripts. Bump it on any change of what Analyze derives from the
// same files: a cache written under another version is not used.
const derivationVersion = 5

// The kinds of look-up an analysis makes.
const (
	probeRegular = 's' // os.Stat: is it a regular file? "1" or "0"
	probeReal    = 'l' // filepath.EvalSymlinks: the real path, or "\x00" on error
	probeDir     = 'd' // os.ReadDir: "+" and the names, NUL-separated; "!" on error
	probeScript  = 'r' // a script's bytes: see scriptAnswer
)

// probe is one look-up and its answer.
type probe struct {
	kind         byte
	path, answer string
}

// fsys is how an analysis sees the filesystem: each look-up, and what it
// answered, is recorded for the cache.
type fsys struct {
	probes []probe
	seen   map[string]int // kind and path -> index in probes
	// torn: a look-up answered differently within one analysis (a file
	// changed while it ran): its result is not cached.
	torn bool
}

func (f *fsys) record(kind byte, path, answer string) {
	k := string(kind) + path
	if i, ok := f.seen[k]; ok {
		if f.probes[i].answer != answer {
			f.torn = true
		}
		return
	}
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[k] = len(f.probes)
	f.probes = append(f.probes, probe{kind, path, answer})
}

// regular reports whether p (followed through links) is a regular file.
func (f *fsys) regular(p string) bool {
	a := answerRegular(p)
	f.record(probeRegular, p, a)
	return a == "1"
}

// evalSymlinks is filepath.EvalSymlinks.
func (f *fsys) evalSymlinks(p string) (string, bool) {
	a := answerReal(p)
	f.record(probeReal, p, a)
	return a, a != "\x00"
}

// readDir is the names in dir, sorted.
func (f *fsys) readDir(dir string) ([]string, bool) {
	a := answerDir(dir)
	f.record(probeDir, dir, a)
	if a == "!" {
		return nil, false
	}
	if a == "+" {
		return nil, true
	}
	return strings.Split(a[1:], "\x00"), true
}

// script is the script at real, its text read and its parses kept across
// the plans of one process while its bytes are the same.
func (f *fsys) script(real string) (*scriptFile, error) {
	sf, a, err := readScript(real)
	f.record(probeScript, real, a)
	return sf, err
}

func answerRegular(p string) string {
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return "1"
	}
	return "0"
}

func answerReal(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "\x00"
	}
	return r
}

func answerDir(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "!"
	}
	var b strings.Builder
	b.WriteByte('+')
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(e.Name())
	}
	return b.String()
}

func answer(kind byte, path string) string {
	switch kind {
	case probeRegular:
		return answerRegular(path)
	case probeReal:
		return answerReal(path)
	case probeDir:
		return answerDir(path)
	case probeScript:
		return scriptSum(path)
	}
	return "\x00unknown"
}

// scriptFile is a script's text, and its parses.
type scriptFile struct {
	key  string // see readScript
	size int64
	src  string // "" when larger than maxScriptSize
	head []byte // its first line or so, for #!

	mu    sync.Mutex
	trees map[syntax.LangVariant]parsed
}

type parsed struct {
	sum summary
	err error
}

var scripts sync.Map // real path -> *scriptFile

// parses counts the scripts parsed, for tests.
var parses atomic.Int64

// readScript reads the script at real (see scriptBytes). A parse is
// reused while the bytes are the same, whatever the file's modification
// time says.
func readScript(real string) (*scriptFile, string, error) {
	data, big, size, err := scriptBytes(real)
	a := scriptAnswer(data, big, err)
	if err != nil {
		return nil, a, err
	}
	if v, ok := scripts.Load(real); ok && v.(*scriptFile).key == a {
		return v.(*scriptFile), a, nil
	}
	sf := &scriptFile{key: a, size: size, head: data[:min(len(data), 512)]}
	if !big {
		sf.src = string(data)
	}
	scripts.Store(real, sf)
	return sf, a, nil
}

// scriptBytes is what the analysis reads of the script at real: all of
// it, or its first bytes (for #!) when it is larger than maxScriptSize.
func scriptBytes(real string) (data []byte, big bool, size int64, err error) {
	fi, err := os.Stat(real)
	if err != nil {
		return nil, false, 0, err
	}
	if fi.Size() <= maxScriptSize {
		data, err = os.ReadFile(real)
		return data, false, fi.Size(), err
	}
	fh, err := os.Open(real)
	if err != nil {
		return nil, true, fi.Size(), err
	}
	defer fh.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(fh, head)
	if err == io.ErrUnexpectedEOF {
		err = nil
	}
	return head[:n], true, fi.Size(), err
}

// scriptSum is scriptAnswer(scriptBytes(real)), hashing the bytes as they
// are read rather than holding them: what the cache checks.
func scriptSum(real string) string {
	fi, err := os.Stat(real)
	if err != nil || fi.Size() > maxScriptSize {
		data, big, _, err := scriptBytes(real)
		return scriptAnswer(data, big, err)
	}
	f, err := os.Open(real)
	if err != nil {
		return scriptAnswer(nil, false, err)
	}
	defer f.Close()
	buf := sumBufs.Get().(*[]byte)
	defer sumBufs.Put(buf)
	h := xxh3.New()
	for {
		n, err := f.Read(*buf)
		h.Write((*buf)[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return scriptAnswer(nil, false, err)
		}
	}
	sum := h.Sum128().Bytes()
	return "S" + string(sum[:])
}

var sumBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// scriptAnswer is a script's answer, for the cache: "S" (all of it) or
// "B" (its start) and the xxh3-128 of the bytes read, or "!" and the
// error.
func scriptAnswer(data []byte, big bool, err error) string {
	if err != nil {
		return "!" + err.Error()
	}
	sum := xxh3.Hash128(data).Bytes()
	if big {
		return "B" + string(sum[:])
	}
	return "S" + string(sum[:])
}

// Analyses is what Analyze derived for each command line, kept across
// runs (see above). A nil *Analyses keeps nothing: every call derives
// afresh. It is safe for concurrent use.
type Analyses struct {
	mu      sync.Mutex
	entries map[string]*cachedAnalysis
	changed bool
}

type cachedAnalysis struct {
	probes []probe
	a      Analysis
	used   bool // looked up or made by this process
}

// derivations counts the analyses made rather than found, for tests.
var derivations atomic.Int64

// LoadAnalyses reads what Marshal wrote. Data that is empty, corrupt,
// truncated, or written by another version of the analysis gives an
// empty cache: it only costs the parses it would have saved.
func LoadAnalyses(data []byte) *Analyses {
	c := &Analyses{entries: map[string]*cachedAnalysis{}}
	if entries, err := decodeAnalyses(data); err == nil {
		c.entries = entries
	}
	return c
}

// Changed reports whether an analysis was made, or dropped, since the
// cache was loaded: whether it is worth writing back.
func (c *Analyses) Changed() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// maxAnalyses bounds the entries kept: beyond it, those this process did
// not use (a command line since edited, a step since removed) are dropped.
const maxAnalyses = 256

// Analyze is the package's Analyze, found in the cache when every look-up
// it made still gives the same answer.
func (c *Analyses) Analyze(cmd, dir, root string) Analysis {
	if c == nil || !filepath.IsAbs(dir) || !filepath.IsAbs(root) {
		// Relative paths are looked up from the working directory,
		// which the key does not hold.
		a, _ := derive(cmd, dir, root)
		return a
	}
	key := analysisKey(cmd, dir, root)
	c.mu.Lock()
	ent := c.entries[key]
	c.mu.Unlock()
	if ent != nil && holds(ent.probes) {
		c.mu.Lock()
		ent.used = true
		c.mu.Unlock()
		return ent.a.clone()
	}
	a, fs := derive(cmd, dir, root)
	c.mu.Lock()
	defer c.mu.Unlock()
	if fs.torn {
		if c.entries[key] != nil {
			delete(c.entries, key)
			c.changed = true
		}
		return a
	}
	c.entries[key] = &cachedAnalysis{probes: fs.probes, a: a.clone(), used: true}
	c.changed = true
	return a
}

// holds reports whether every look-up still answers as recorded.
func holds(probes []probe) bool {
	for _, p := range probes {
		if answer(p.kind, p.path) != p.answer {
			return false
		}
	}
	return true
}

func analysisKey(cmd, dir, root string) string {
	return strings.Join([]string{cmd, dir, root}, "\x00")
}

func (a Analysis) clone() Analysis {
	b := Analysis{Files: slices.Clone(a.Files), Dirs: slices.Clone(a.Dirs), Why: slices.Clone(a.Why)}
	if a.By != nil {
		b.By = maps.Clone(a.By)
	}
	return b
}

// The encoding: magic, then uvarint-length-prefixed strings — the build
// (derivationVersion and the shell parser's version), the entry count,
// and per entry its key, its probes (kind, path, answer) and its
// Analysis — then an xxh3-64 of all that.
const analysesMagic = "SISCR\x00\x00\x01"

var errBadAnalyses = errors.New("bad script analysis cache")

// build names what a derivation depends on besides its inputs: the rules
// and the parser that reads the scripts.
var build = sync.OnceValue(func() string {
	b := "v" + strconv.Itoa(derivationVersion)
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "mvdan.cc/sh/v3" {
				b += " " + d.Version + d.Sum
			}
		}
	}
	return b
})

// Marshal encodes the cache for LoadAnalyses.
func (c *Analyses) Marshal() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.entries))
	for k, e := range c.entries {
		if e.used || len(c.entries) <= maxAnalyses {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var w encoder
	w.b = append(w.b, analysesMagic...)
	w.str(build())
	w.num(len(keys))
	for _, k := range keys {
		e := c.entries[k]
		w.str(k)
		w.num(len(e.probes))
		for _, p := range e.probes {
			w.b = append(w.b, p.kind)
			w.str(p.path)
			w.str(p.answer)
		}
		w.strs(e.a.Files)
		w.strs(e.a.Dirs)
		w.strs(e.a.Why)
		w.num(len(e.a.By))
		for _, f := range slices.Sorted(maps.Keys(e.a.By)) {
			w.str(f)
			w.str(e.a.By[f])
		}
	}
	return binary.LittleEndian.AppendUint64(w.b, xxh3.Hash(w.b))
}

type encoder struct{ b []byte }

func (w *encoder) num(n int) { w.b = binary.AppendUvarint(w.b, uint64(n)) }
func (w *encoder) str(s string) {
	w.num(len(s))
	w.b = append(w.b, s...)
}
func (w *encoder) strs(l []string) {
	w.num(len(l))
	for _, s := range l {
		w.str(s)
	}
}

type decoder struct {
	b   []byte
	bad bool
}

func (r *decoder) num() int {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[k:]
	return int(n)
}

func (r *decoder) byte1() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *decoder) str() string {
	n := r.num()
	if n > len(r.b) {
		r.bad = true
		r.b = nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// strs is a list; nil when empty, as Analyze leaves one.
func (r *decoder) strs() []string {
	n := r.num()
	var l []string
	for i := 0; i < n && !r.bad; i++ {
		l = append(l, r.str())
	}
	return l
}

func decodeAnalyses(data []byte) (map[string]*cachedAnalysis, error) {
	if len(data) < len(analysesMagic)+8 || string(data[:len(analysesMagic)]) != analysesMagic {
		return nil, errBadAnalyses
	}
	body := data[:len(data)-8]
	if xxh3.Hash(body) != binary.LittleEndian.Uint64(data[len(body):]) {
		return nil, errBadAnalyses
	}
	r := &decoder{b: body[len(analysesMagic):]}
	if r.str() != build() {
		return nil, errBadAnalyses
	}
	n := r.num()
	entries := make(map[string]*cachedAnalysis, min(n, maxAnalyses))
	for i := 0; i < n && !r.bad; i++ {
		k := r.str()
		e := &cachedAnalysis{}
		np := r.num()
		for j := 0; j < np && !r.bad; j++ {
			kind := r.byte1()
			path := r.str()
			e.probes = append(e.probes, probe{kind, path, r.str()})
		}
		e.a.Files = r.strs()
		e.a.Dirs = r.strs()
		e.a.Why = r.strs()
		if nb := r.num(); nb > 0 {
			e.a.By = make(map[string]string, min(nb, len(r.b)))
			for j := 0; j < nb && !r.bad; j++ {
				f := r.str()
				e.a.By[f] = r.str()
			}
		}
		if len(e.a.Why) != len(e.a.Dirs) {
			r.bad = true
		}
		entries[k] = e
	}
	if r.bad || len(r.b) != 0 {
		return nil, errBadAnalyses
	}
	return entries, nil
}
