package brew

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// summary renders what Parse found, one line per entry, cask_args key and
// dynamic line, for comparing with a table.
func summary(bf *Brewfile) []string {
	var out []string
	for _, e := range bf.Entries {
		s := fmt.Sprintf("%d %s", e.Line, e)
		if e.Conditional {
			s += " [conditional]"
		}
		if e.Comment != "" {
			s += " #" + e.Comment
		}
		out = append(out, s)
	}
	for _, k := range slices.Sorted(maps.Keys(bf.CaskArgs)) {
		out = append(out, fmt.Sprintf("cask_args %s: %s", k, bf.CaskArgs[k]))
	}
	for _, d := range bf.Dynamic {
		out = append(out, fmt.Sprintf("dynamic %d %s", d.Line, d.Why))
	}
	return out
}

func TestParseCorpus(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"every-type.Brewfile", []string{
			`2 tap "homebrew/bundle"`,
			`3 tap "user/private", "https://git.example.com/user/homebrew-private.git"`,
			`4 tap "user/forced", "https://git.example.com/forced.git", force_auto_update: true`,
			`7 brew "wget"`,
			`8 brew "openssl@3", link: false`,
			`9 brew "mysql@8.0", conflicts_with: ["mysql", "mariadb"], link: true, restart_service: :changed`,
			`10 brew "emacs-plus", args: ["with-native-comp", "with-modern-icon"]`,
			`11 brew "postgresql@16", postinstall: "${HOMEBREW_PREFIX}/opt/postgresql@16/bin/initdb", restart_service: true`,
			`12 brew "user/private/tool", version_file: ".tool-version"`,
			`13 cask "firefox", greedy: true`,
			`14 cask "google-chrome", args: { appdir: "/Applications", no_quarantine: true }`,
			`15 mas "Xcode", id: 497799835`,
			`16 vscode "golang.go"`,
			`17 go "golang.org/x/tools/gopls"`,
			`18 cargo "ripgrep"`,
			`19 npm "typescript"`,
			`20 uv "ruff"`,
			`21 flatpak "org.mozilla.firefox", remote: "flathub"`,
			`22 whalebrew "whalebrew/wget"`,
			`cask_args appdir: "~/Applications"`,
			`cask_args require_sha: true`,
		}},
		{"quoting.Brewfile", []string{
			`1 brew "single"`,
			`2 brew "it's", args: ["a\\b", "c\\d"]`,
			`3 brew "esc\"aped\ttabé🍺A"`,
			`4 brew "hash\#not-a-comment" #but this is`,
			`5 brew "paren", args: ["one", "two"]`,
			`6 brew "spaced-paren"`,
			`7 brew "rocket", args: ["x"], link: false`,
			`8 brew "string-label", restart_service: :changed`,
			`9 brew "multi", args: ["one", "two"], link: false`,
			`15 brew "a"`,
			`15 brew "b"`,
			`16 brew "continued", link: false`,
			`18 brew "adjacent-literal"`,
			`19 cask "sym", args: [:x, :y]`,
			`20 brew "quoted-sym", restart_service: :changed`,
			`21 mas "Num", id: 1234`,
			`22 brew "neg", priority: -3, weight: 1.5`,
			`23 brew "pct", postinstall: "echo \"hi\""`,
			`24 brew "nested", args: { deep: { list: [1, [2, nil]], on: true } }`,
			`25 brew "trailing", args: ["x"]`,
		}},
		{"crlf.Brewfile", []string{
			`1 brew "crlf"`,
			`2 cask "crlf-cask", greedy: true`,
		}},
		{"comments.Brewfile", []string{
			`4 brew "one" #trailing`,
			`9 brew "two"`,
		}},
		{"conditionals.Brewfile", []string{
			`1 brew "static-before"`,
			`3 cask "iterm2" [conditional]`,
			`5 brew "linux-only" [conditional]`,
			`7 brew "other" [conditional]`,
			`10 cask "slack" [conditional]`,
			`12 brew "modifier" [conditional]`,
			`13 brew "unless-modifier" [conditional]`,
			`24 brew "by-host" [conditional]`,
			`30 brew "static-after"`,
			`dynamic 9 conditional`,
			`dynamic 12 conditional`,
			`dynamic 13 conditional`,
			`dynamic 14 conditional`,
			`dynamic 17 loop`,
			`dynamic 18 computed name (uses f)`,
			`dynamic 20 loop`,
			`dynamic 21 runs a command`,
			`dynamic 22 computed name (string interpolation)`,
			`dynamic 23 runs a command`,
			`dynamic 24 conditional`,
			`dynamic 25 loads Ruby code`,
			`dynamic 26 heredoc`,
			`dynamic 30 uses ENV`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "brewfiles", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			bf, err := Parse(tt.file, f)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := summary(bf); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			if bf.IsDynamic() != strings.HasPrefix(tt.file, "conditionals") {
				t.Errorf("IsDynamic() = %v", bf.IsDynamic())
			}
		})
	}
}

// TestParseLines covers one construct per case.
func TestParseLines(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"empty file", "", nil},
		{"only comments", "# a\n\n  # b\n", nil},
		{"bom", "\xef\xbb\xbfbrew \"x\"\n", []string{`1 brew "x"`}},
		{"no final newline", `brew "x"`, []string{`1 brew "x"`}},
		{"tabs", "\tbrew\t\"x\",\tlink:\tfalse\n", []string{`1 brew "x", link: false`}},
		{"hex and octal ints", `mas "A", id: 0x10` + "\n" + `mas "B", id: 017`, []string{`1 mas "A", id: 16`, `2 mas "B", id: 15`}},
		{"explicit options hash", `brew "x", { link: false }`, []string{`1 brew "x", link: false`}},
		{"tap nil clone target", `tap "a/b", nil, force: true`, []string{`1 tap "a/b", nil, force: true`}},
		{"later cask_args win", "cask_args appdir: \"/a\"\ncask_args appdir: \"/b\", x: 1\n", []string{`cask_args appdir: "/b"`, `cask_args x: 1`}},
		{"interpolation with nested quotes", `brew "x-#{ENV["A"] || "b"}"`, []string{`dynamic 1 computed name (string interpolation)`}},
		{"ivar interpolation", `brew "x-#@y"`, []string{`dynamic 1 computed name (string interpolation)`}},
		{"single quotes do not interpolate", `brew 'x-#{y}'`, []string{`1 brew "x-\#{y}"`}},
		{"percent W interpolates", `brew "x", args: %W[a #{b}]`, []string{`1 brew "x"`, `dynamic 1 string interpolation`}},
		{"backticks", "`brew install x`", []string{`dynamic 1 runs a command`}},
		{"percent x", `brew "x", postinstall: %x(date)`, []string{`1 brew "x"`, `dynamic 1 runs a command`}},
		{"variable", "x = \"wget\"\nbrew x\n", []string{`dynamic 1 assigns x`, `dynamic 2 computed name (uses x)`}},
		{"method call option", `brew "x", args: ENV.fetch("A").split`, []string{`1 brew "x"`, `dynamic 1 uses ENV`}},
		{"string method", `brew "X".downcase`, []string{`1 brew "X"`, `dynamic 1 expression`}},
		{"string concatenation", `brew "a" + "b"`, []string{`dynamic 1 computed name (expression)`}},
		{"require", `require "json"`, []string{`dynamic 1 loads Ruby code`}},
		{"unknown method", `formula "x"`, []string{`dynamic 1 calls formula`}},
		{"block on entry", "brew \"x\" do\n  something\nend\n", []string{`1 brew "x" [conditional]`, `dynamic 1 block`, `dynamic 2 calls something`}},
		{"while loop with do", "while x do\n  brew \"y\"\nend\nbrew \"z\"\n", []string{`2 brew "y" [conditional]`, `4 brew "z"`, `dynamic 1 loop`}},
		{"expression if", "x = if a\n  1\nend\nbrew \"z\"\n", []string{`4 brew "z"`, `dynamic 1 assigns x`, `dynamic 2 expression`}},
		{"def", "def x\n  brew \"y\"\nend\n", []string{`2 brew "y" [conditional]`, `dynamic 1 method definition`}},
		{"one-line if", "if x then brew \"y\" end\nbrew \"z\"\n", []string{`2 brew "z"`, `dynamic 1 conditional`}},
		{"heredoc then more", "x = <<-A\n  \"\nA\nbrew \"y\"\n", []string{`4 brew "y"`, `dynamic 1 heredoc`}},
		{"two heredocs", "x(<<~A, <<~B)\na\nA\nb\nB\nbrew \"y\"\n", []string{`6 brew "y"`, `dynamic 1 heredoc`}},
		{"shift is not a heredoc", "list << \"x\"\nbrew \"y\"\n", []string{`2 brew "y"`, `dynamic 1 calls list`}},
		{"regexp with quote", "brew \"y\" if x =~ /\"/\nbrew \"z\"\n", []string{`1 brew "y" [conditional]`, `2 brew "z"`, `dynamic 1 conditional`}},
		{"division is not a regexp", "a = 4 / 2\nbrew \"z\"\n", []string{`2 brew "z"`, `dynamic 1 assigns a`}},
		{"ruby 3.1 hash shorthand", `brew "x", link:`, []string{`1 brew "x"`, `dynamic 1 uses link`}},
		{"splat", `brew "x", *opts`, []string{`1 brew "x"`, `dynamic 1 expression`}},
		{"keyword-named method", `brew "x" if a.end`, []string{`1 brew "x" [conditional]`, `dynamic 1 conditional`}},
		{"mas with computed id", `mas "X", id: ENV["ID"].to_i`, []string{`1 mas "X"`, `dynamic 1 uses ENV`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bf, err := Parse("Brewfile", strings.NewReader(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := summary(bf); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unterminated string at end", "brew \"a\"\nbrew \"b\n", "Brewfile:2: unterminated string"},
		{"unterminated string before another", "brew \"wget\nbrew \"jq\"\nbrew \"x\"\n", "Brewfile:1: unterminated string"},
		{"unterminated single quote", "cask 'x\n", "Brewfile:1: unterminated string"},
		{"unterminated interpolation", `brew "a#{"`, "Brewfile:1: unterminated string"},
		{"brew with no name", "brew \"a\"\nbrew\n", "Brewfile:2: brew needs a name"},
		{"empty call", "cask()\n", "Brewfile:1: cask needs a name"},
		{"options only", `brew args: ["x"]`, "Brewfile:1: brew needs a name"},
		{"empty name", `brew ""`, "Brewfile:1: brew has an empty name"},
		{"number name", `brew 123`, "Brewfile:1: brew name must be a string in quotes, not 123"},
		{"two names", `brew "a", "b"`, `Brewfile:1: brew takes one name, not also "b"`},
		{"mas without id", `mas "Xcode"`, "Brewfile:1: mas needs the app's id"},
		{"mas with string id", `mas "Xcode", id: "1"`, "Brewfile:1: mas id must be a whole number"},
		{"tap with number url", `tap "a/b", 1`, "Brewfile:1: tap's clone URL must be a string"},
		{"value after options", `brew "a", link: false, "b"`, "Brewfile:1: a value after key: value options"},
		{"missing between commas", `brew "a", , link: false`, "Brewfile:1: an argument is missing between commas"},
		{"unclosed bracket", "brew \"a\", args: [\"x\"\nbrew \"b\"\n", `Brewfile:1: "[" is never closed`},
		{"stray closer", "brew \"a\"]\n", `Brewfile:1: unexpected "]"`},
		{"mismatched closer", "brew \"a\", args: [\"x\")\n", `Brewfile:1: ")" does not close "["`},
		{"file ends after comma", "brew \"a\",\n", `Brewfile:1: the file ends after ","`},
		{"rocket without value", `brew "a", :link =>`, `Brewfile:1: the file ends after "=>"`},
		{"unterminated heredoc", "x = <<~EOS\nbody\n", "Brewfile:1: heredoc <<EOS never ends"},
		{"unterminated block comment", "=begin\nbrew \"x\"\n", "Brewfile:1: =begin comment never ends"},
		{"bare cask_args", "cask_args\n", "Brewfile:1: cask_args needs key: value options"},
		{"positional cask_args", `cask_args "x"`, "Brewfile:1: cask_args takes key: value options"},
		{"bad unicode escape", `brew "\u{D800}"`, "Brewfile:1: invalid Unicode escape"},
		{"bad hex escape", `brew "\xZZ"`, `Brewfile:1: invalid hex escape`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bf, err := Parse("Brewfile", strings.NewReader(tt.src))
			if err == nil {
				t.Fatalf("no error; parsed %v", summary(bf))
			}
			var se *syntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestValueAccessors(t *testing.T) {
	bf, err := Parse("Brewfile", strings.NewReader(`mas "X", id: 497799835`+"\n"+`brew "y", args: ["a", :b], n: 1`))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := bf.Entries[0].Options["id"].Int64(); !ok || id != 497799835 {
		t.Errorf("id = %d, %v", id, ok)
	}
	if got, ok := bf.Entries[1].Options["args"].Strings(); !ok || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("args = %q, %v", got, ok)
	}
	if _, ok := bf.Entries[1].Options["n"].Strings(); ok {
		t.Error("Strings() of an Int succeeded")
	}
	if _, ok := bf.Entries[1].Options["args"].Int64(); ok {
		t.Error("Int64() of an Array succeeded")
	}
}
