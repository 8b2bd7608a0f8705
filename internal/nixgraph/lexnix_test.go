package nixgraph

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"
)

// requireNix skips without nix, or fails when SYSINIT_REQUIRE_NIX=1 (CI).
func requireNix(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("nix")
	if err != nil {
		if os.Getenv("SYSINIT_REQUIRE_NIX") == "1" {
			t.Fatalf("nix not installed, and SYSINIT_REQUIRE_NIX=1: %v", err)
		}
		t.Skip("nix not installed: " + err.Error() + " (Debian: apt-get install --no-install-recommends nix-bin)")
	}
	return p
}

// gen writes random Nix programs that parse, rich in the lexical corners
// that decide what is a path: interpolation in paths and both string kinds,
// their escapes, comments, URIs, search paths, division and update.
type gen struct {
	r     *rand.Rand
	b     strings.Builder
	depth int
}

const pathChars = "abcXYZ019._-+"

func (g *gen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

func (g *gen) seg() string {
	n := 1 + g.r.Intn(4)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(pathChars[g.r.Intn(len(pathChars))])
	}
	return b.String()
}

func (g *gen) ws() {
	switch g.r.Intn(10) {
	case 8, 9:
		// nothing: x/y is a path, x-y an identifier, a+b a path character
	case 0:
		g.b.WriteString(" # ./in/comment ${x} \"\n")
	case 1:
		g.b.WriteString(" /* ./in/block ' \" ${ */ ")
	case 2:
		g.b.WriteString("\n\t")
	default:
		g.b.WriteString(" ")
	}
}

func (g *gen) expr() {
	g.depth++
	defer func() { g.depth-- }()
	n := 14
	if g.depth > 4 {
		n = 7 // leaves only
	}
	switch g.r.Intn(n) {
	case 0:
		g.path()
	case 1:
		g.b.WriteString(g.pick("x", "y_'", "a-b", "or_", "self", "inputs", "a'", "__curPos", "_x"))
	case 2:
		g.b.WriteString(g.pick("1", "42", "1.5", ".5", "0.5e3", "1.e3", "00", "0.0e-1"))
	case 3:
		g.b.WriteString(g.pick("http://e.org/a?b=c", "x:y", "github:o/r", "path:./p"))
	case 4:
		g.b.WriteString("<" + g.seg() + g.pick("", "/"+g.seg()) + ">")
	case 5:
		g.str()
	case 6:
		g.ind()
	case 7:
		g.b.WriteString("(")
		g.expr()
		g.ws()
		g.b.WriteString(g.pick("+", "-", "*", "/", "//", "++", "==", "<", ">", "<=", "&&", "||", "->"))
		g.ws()
		g.expr()
		g.b.WriteString(")")
	case 8:
		g.b.WriteString("[")
		for i := g.r.Intn(3); i >= 0; i-- {
			g.ws()
			g.expr()
		}
		g.b.WriteString(" ]")
	case 9:
		g.b.WriteString("{ a = ")
		g.expr()
		g.b.WriteString("; \"b${")
		g.expr()
		g.b.WriteString("}\" = ")
		g.expr()
		g.b.WriteString("; }")
	case 10:
		g.b.WriteString("(z: ")
		g.expr()
		g.b.WriteString(")")
	case 11:
		g.b.WriteString("(let q = ")
		g.expr()
		g.b.WriteString("; in ")
		g.expr()
		g.b.WriteString(")")
	case 12:
		g.b.WriteString("(x ")
		g.expr()
		g.b.WriteString(")")
	case 13:
		g.b.WriteString("(")
		g.expr()
		g.b.WriteString(").a or (")
		g.expr()
		g.b.WriteString(")")
	}
}

func (g *gen) interp() {
	g.b.WriteString("${")
	g.ws()
	g.expr()
	g.ws()
	g.b.WriteString("}")
}

// path writes a path literal; an interpolated one never ends in a slash.
func (g *gen) path() {
	switch g.r.Intn(6) {
	case 0:
		g.b.WriteString("./" + g.seg())
	case 1:
		g.b.WriteString("../" + g.seg() + "/" + g.seg())
	case 2:
		g.b.WriteString(g.seg() + "/" + g.seg())
	case 3:
		g.b.WriteString("/" + g.seg())
	case 4:
		g.b.WriteString("~/" + g.seg())
	case 5:
		g.b.WriteString(g.pick("./.", "../.", "./", "~/", g.seg()+"/", "/"))
		g.interp()
	}
	for g.r.Intn(3) == 0 {
		switch g.r.Intn(3) {
		case 0:
			g.b.WriteString("/" + g.seg())
		case 1:
			g.interp()
		case 2:
			g.b.WriteString("/")
			g.interp()
		}
	}
}

func (g *gen) str() {
	g.b.WriteString("\"")
	for i := g.r.Intn(5); i > 0; i-- {
		switch g.r.Intn(9) {
		case 0:
			g.interp()
		case 1:
			g.b.WriteString(`\${not}`)
		case 2:
			g.b.WriteString(`$${not}`)
		case 3:
			g.b.WriteString(`\"./q\\`)
		case 4:
			g.b.WriteString("$x")
		case 5:
			g.b.WriteString("''" + " # ./x ")
		case 6:
			g.b.WriteString(g.pick(`\\`, `\n`, "\\\n", `\$`, "$\\x"))
		default:
			g.b.WriteString(g.pick("./s", " a/b ", "\n", "/* x */", "~/h", "<p>", "'"))
		}
	}
	if g.r.Intn(6) == 0 {
		g.b.WriteString("$") // a dollar right before the closing quote
	}
	g.b.WriteString("\"")
}

func (g *gen) ind() {
	g.b.WriteString(g.pick("''", "''\n", "''  \n  "))
	for i := g.r.Intn(5); i > 0; i-- {
		switch g.r.Intn(10) {
		case 0:
			g.interp()
		case 1:
			g.b.WriteString("''${not}")
		case 2:
			g.b.WriteString("'''")
		case 3:
			g.b.WriteString(`''\n''\$`)
		case 4:
			g.b.WriteString("$$")
		case 5:
			g.b.WriteString("' ")
		case 6:
			g.b.WriteString("\" ./q \" # ./x\n")
		case 7:
			g.b.WriteString(g.pick(`''\`+"\n", `''\'`, "''\\$", "'$"))
		default:
			g.b.WriteString(g.pick("./s", " a/b ", "\n  ", "/* x */", "$ ", "\\"))
		}
	}
	g.b.WriteString("''")
}

// lexPaths returns the value of each path literal's first piece in src, as
// nix-instantiate --parse prints it: absolute, canonical, a trailing slash
// kept when an interpolation follows it.
func lexPaths(src, base, home string) []string {
	toks := Lex(nil, []byte(src))
	var out []string
	for _, t := range toks {
		text := src[t.Start:t.End]
		switch t.Kind {
		case Path:
			var p string
			if strings.HasPrefix(text, "/") {
				p = path.Clean(text)
			} else {
				p = path.Join(base, text)
			}
			if strings.HasSuffix(text, "/") && p != "/" {
				p += "/"
			}
			out = append(out, p)
		case HomePath:
			p := path.Join(home, text[1:])
			if strings.HasSuffix(text, "/") && p != "/" {
				p += "/"
			}
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// printedPaths returns the paths in nix-instantiate --parse output. Nix
// prints every path absolute, and the root bare: "/" (division prints as
// __div), or "//" before an interpolation in Nix 2.8 ("(// + x)"; the
// update operator stands between operands).
func printedPaths(out, home string) []string {
	paths := lexPaths(out, "/", home)
	toks := Lex(nil, []byte(out))
	var sig []Token
	for _, t := range toks {
		if t.Kind != Space && t.Kind != Comment {
			sig = append(sig, t)
		}
	}
	text := func(i int) string {
		if i < 0 || i >= len(sig) {
			return ""
		}
		return out[sig[i].Start:sig[i].End]
	}
	for i, t := range sig {
		if t.Kind != Punct {
			continue
		}
		switch text(i) {
		case "/":
			paths = append(paths, "/")
		case "//":
			if text(i-1) == "(" && text(i+1) == "+" {
				paths = append(paths, "/")
			}
		}
	}
	sort.Strings(paths)
	return paths
}

// TestLexAgainstNix compares the path literals the lexer finds in random
// programs with those in Nix's own parse of them. Programs go to Nix in
// batches (one list of many); a batch that disagrees is split up to name
// the program.
func TestLexAgainstNix(t *testing.T) {
	requireNix(t)
	inst, err := exec.LookPath("nix-instantiate")
	if err != nil {
		t.Fatalf("nix is installed but nix-instantiate is not: %v", err)
	}
	dir := t.TempDir()
	home := t.TempDir()
	n := 1000
	if testing.Short() {
		n = 100
	}
	r := rand.New(rand.NewSource(16))
	var progs []string
	for i := 0; i < n; i++ {
		g := &gen{r: r}
		g.expr()
		progs = append(progs, g.b.String())
	}
	parse := func(progs []string) ([]string, []string, error) {
		src := "with {}; [\n(" + strings.Join(progs, ")\n(") + ")\n]"
		cmd := exec.Command(inst, "--parse", "-E", src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "NIX_PATH=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, nil, fmt.Errorf("nix-instantiate --parse: %v\n%s", err, out)
		}
		return lexPaths(src, dir, home), printedPaths(string(out), home), nil
	}
	// check compares a run of programs at once, halving a run that
	// disagrees or that Nix rejects down to the program at fault.
	rejected := 0
	var check func(lo int, run []string)
	check = func(lo int, run []string) {
		got, want, err := parse(run)
		if err == nil && strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if len(run) > 1 {
			check(lo, run[:len(run)/2])
			check(lo+len(run)/2, run[len(run)/2:])
			return
		}
		if err != nil {
			rejected++ // a generated program Nix rejects says nothing of the lexer
			return
		}
		t.Errorf("program %d:\n%s\npaths: ours %q, nix %q", lo, run[0], got, want)
	}
	const batch = 100
	for lo := 0; lo < len(progs); lo += batch {
		check(lo, progs[lo:min(lo+batch, len(progs))])
	}
	if rejected > len(progs)/20 {
		t.Errorf("Nix rejected %d of %d generated programs: the generator is off", rejected, len(progs))
	}
	t.Logf("compared %d programs (%d rejected by nix) with %s", len(progs)-rejected, rejected, nixVersion(t))
}

func nixVersion(t *testing.T) string {
	out, err := exec.Command("nix", "--version").Output()
	if err != nil {
		t.Fatalf("nix --version: %v", err)
	}
	return strings.TrimSpace(string(out))
}
