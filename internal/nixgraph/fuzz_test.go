package nixgraph

import (
	"bytes"
	"testing"
)

var fuzzSeeds = []string{
	"",
	"./x",
	"{ imports = [ ./a.nix ../b ]; x = ./foo/${y}.nix; }",
	`"${./a}/b \${c} $${d} $" + ''${./e} ''$ ''' ''\n ''`,
	"# ./c\n/* ./d */ /** doc */ ./e",
	"~/h ~/${x} <nixpkgs> /abs http://e.org x:y a/b 1/2 x//y",
	"./. + \"/dyn.nix\"",
	"{ self, inputs, ... }: { x = self.rev or \"\"; y = \"${self}\"; z = inputs.self.outPath; }",
	"builtins.readDir ./modules",
	"map (n: ./modules + \"/${n}\") names",
	"inherit (self) outPath; inherit self inputs;",
	"./a${",
	"\"unterminated ${",
	"''unterminated ${ ./x",
	"/* unterminated ./x",
	"./trailing/ x",
	"}}}{{{",
	"a./b",
	"'''''''",
	"\"$\\",
	"{ outputs = { self }: let a = n: \"${self}\"; b = { inherit a; }; c = d; d = c; in { apps = b; x = with c; [ d ]; }; }",
	"outputs let { body = ./x; } let a.b = 1; \"c\" = 2; in let in in",
	"{ outputs = _: let a = assert x; ./y; in { packages = a; }; }",
}

// FuzzLex: the lexer never panics and always ends; its tokens cover the
// input exactly, in order, each non-empty but a path's end; lines count
// the line breaks before each token. The references drawn from the tokens
// never panic either, and name lines of the input.
func FuzzLex(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		toks := Lex(nil, src)
		if len(toks) > 2*len(src)+2 {
			t.Fatalf("%d tokens for %d bytes", len(toks), len(src))
		}
		pos := int32(0)
		line := int32(1)
		for i, tk := range toks {
			if tk.Start != pos {
				t.Fatalf("token %d (%s) starts at %d, want %d", i, tk.Kind, tk.Start, pos)
			}
			if tk.End < tk.Start || int(tk.End) > len(src) {
				t.Fatalf("token %d (%s) spans %d..%d of %d bytes", i, tk.Kind, tk.Start, tk.End, len(src))
			}
			if tk.End == tk.Start && tk.Kind != PathEnd {
				t.Fatalf("token %d (%s) is empty", i, tk.Kind)
			}
			if tk.Line != line {
				t.Fatalf("token %d (%s) on line %d, want %d", i, tk.Kind, tk.Line, line)
			}
			line += int32(bytes.Count(src[tk.Start:tk.End], []byte{'\n'}))
			pos = tk.End
		}
		if int(pos) != len(src) {
			t.Fatalf("tokens end at %d of %d bytes", pos, len(src))
		}
		refs, _ := extract(src, nil)
		for _, r := range refs {
			if r.Line < 1 || r.Line > line {
				t.Fatalf("reference %+v names line %d of %d", r, r.Line, line)
			}
		}
	})
}
