package lazyregexp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEveryPatternInTheTreeCompiles compiles every expression given to New
// anywhere in the module. A pattern compiles only at its first use, and some
// are used only on a rare path (an error of a newer Nix, a Taskfile of an
// odd shape) that no test of their package may reach: a typo there would
// panic in front of a user instead of failing here.
func TestEveryPatternInTheTreeCompiles(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || filepath.Dir(path) == filepath.Join(root, "internal", "lazyregexp") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !isLazyNew(call.Fun) {
				return true
			}
			pos := fset.Position(call.Pos())
			if len(call.Args) != 1 {
				t.Errorf("%s: lazyregexp.New takes one argument", pos)
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: give lazyregexp.New a string literal, so this test can compile it", pos)
				return true
			}
			expr, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: %v", pos, err)
				return true
			}
			found++
			if _, err := regexp.Compile(expr); err != nil {
				t.Errorf("%s: %v", pos, err)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The tree holds dozens; finding none means the walk looked elsewhere.
	if found < 10 {
		t.Fatalf("found %d calls of lazyregexp.New under %s, want the tree's dozens", found, root)
	}
}

func isLazyNew(fun ast.Expr) bool {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "New" {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == "lazyregexp"
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
