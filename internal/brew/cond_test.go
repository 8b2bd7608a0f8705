package brew

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// platforms are the four Homebrew runs on, in the order the tables give
// their results.
var platforms = []platform{
	{OS: "darwin", Arch: "arm64"},
	{OS: "darwin", Arch: "amd64"},
	{OS: "linux", Arch: "amd64"},
	{OS: "linux", Arch: "arm64"},
}

// evalAll renders c's value on each platform: T, F, or ? when Ruby would
// reach code sysinit cannot evaluate.
func evalAll(c *cond) string {
	var b strings.Builder
	for _, p := range platforms {
		switch v, u := c.Eval(p); {
		case u != nil:
			b.WriteByte('?')
		case v:
			b.WriteByte('T')
		default:
			b.WriteByte('F')
		}
	}
	return b.String()
}

// TestParseCond: the value of a condition on mac/arm, mac/intel,
// linux/intel and linux/arm. Ruby evaluates left to right and stops as
// soon as the value is known, so a known left side decides `&&` and `||`
// without reaching what only Ruby can evaluate; an unknown left side
// leaves everything unknown.
func TestParseCond(t *testing.T) {
	tests := []struct {
		src  string
		want string // on darwin/arm64, darwin/amd64, linux/amd64, linux/arm64
	}{
		{"OS.mac?", "TTFF"},
		{"OS.linux?", "FFTT"},
		{"Hardware::CPU.arm?", "TFFT"},
		{"Hardware::CPU.intel?", "FTTF"},
		{"::OS.mac?", "TTFF"},
		{"::Hardware::CPU.intel?", "FTTF"},
		{"!OS.mac?", "FFTT"},
		{"!!OS.mac?", "TTFF"},
		{"not OS.linux?", "TTFF"},
		{"OS.mac? && Hardware::CPU.arm?", "TFFF"},
		{"OS.mac? and Hardware::CPU.intel?", "FTFF"},
		{"OS.linux? || Hardware::CPU.arm?", "TFTT"},
		{"OS.linux? or Hardware::CPU.arm?", "TFTT"},
		{"OS.mac? && !Hardware::CPU.arm?", "FTFF"},
		{"(OS.mac? || OS.linux?) && Hardware::CPU.arm?", "TFFT"},
		{"!(OS.mac? && Hardware::CPU.arm?)", "FTTT"},
		// && binds tighter than ||.
		{"OS.linux? || OS.mac? && Hardware::CPU.arm?", "TFTT"},
		// not binds looser than &&: not (a && b).
		{"not OS.mac? && Hardware::CPU.arm?", "FTTT"},
		// and/or are equal and go left to right: (a or b) and c.
		{"OS.linux? or OS.mac? and Hardware::CPU.arm?", "TFFT"},
		{"true", "TTTT"},
		{"false", "FFFF"},
		{"nil", "FFFF"},
		{"OS.mac? then", "????"}, // header() strips a trailing then; parseCond does not
		// Short circuits decide around what only Ruby knows.
		{`OS.mac? && ENV["WORK"]`, "??FF"},
		{`OS.linux? || File.exist?("/x")`, "??TT"},
		{`!OS.mac? && system("true")`, "FF??"},
		// An unknown left side is evaluated first, whatever follows.
		{`ENV["WORK"] && OS.mac?`, "????"},
		{`ENV.fetch("X", nil) || OS.linux?`, "????"},
		// Anything else is unknown.
		{"OS.mac?()", "????"},
		{"OS::mac?", "????"},
		{"OS.mac", "????"},
		{"os.mac?", "????"},
		{"MacOS.version >= :big_sur", "????"},
		{"Hardware::CPU.arm? == true", "????"},
		{"(/darwin/ =~ RUBY_PLATFORM) != nil", "????"},
		{"OS.mac? ? true : false", "????"},
		{"x = OS.mac?", "????"},
		{"OS.mac? if y", "????"},
		{`"#{OS.mac?}"`, "????"},
		{"`uname` == \"Darwin\"", "????"},
		{"", "????"},
		{"&&", "????"},
		{"(OS.mac?", "????"},
		{"OS.mac? OS.linux?", "????"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c := parseCond(tt.src)
			if got := evalAll(c); got != tt.want {
				t.Errorf("parseCond(%q) = %s: %s, want %s", tt.src, c, got, tt.want)
			}
			// What String renders reads back to the same condition.
			if got := evalAll(parseCond(c.String())); got != tt.want && !strings.Contains(tt.want, "?") {
				t.Errorf("%q renders as %q, which reads as %s", tt.src, c, got)
			}
		})
	}
}

// onSummary renders what a Brewfile declares on p: entry lines, then
// the lines that compute something there.
func onSummary(bf *Brewfile, p platform) []string {
	entries, dyn := bf.On(p)
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%d %s", e.Line, e))
	}
	for _, d := range dyn {
		out = append(out, fmt.Sprintf("dynamic %d %s", d.Line, d.Why))
	}
	return out
}

// TestOn: which entries a Brewfile declares on each platform. Platform
// conditions are decided; a line that computes something makes the file
// dynamic only where it is reached.
func TestOn(t *testing.T) {
	macArm, macIntel, linux := platforms[0], platforms[1], platforms[2]
	tests := []struct {
		name string
		src  string
		want map[platform][]string
	}{
		{"if elsif else", "if OS.mac?\n  cask \"a\"\nelsif OS.linux?\n  brew \"b\"\nelse\n  brew \"c\"\nend\nbrew \"d\"\n",
			map[platform][]string{macArm: {`2 cask "a"`, `8 brew "d"`}, linux: {`4 brew "b"`, `8 brew "d"`}}},
		{"if then on the header", "if OS.mac? then\n  cask \"a\"\nend\n",
			map[platform][]string{macArm: {`2 cask "a"`}, linux: nil}},
		{"unless else", "unless OS.linux?\n  cask \"a\"\nelse\n  brew \"b\"\nend\n",
			map[platform][]string{macArm: {`2 cask "a"`}, linux: {`4 brew "b"`}}},
		{"nested", "if OS.mac?\n  if Hardware::CPU.arm?\n    brew \"arm\"\n  else\n    brew \"intel\"\n  end\n  brew \"mac\"\nend\n",
			map[platform][]string{macArm: {`3 brew "arm"`, `7 brew "mac"`}, macIntel: {`5 brew "intel"`, `7 brew "mac"`}, linux: nil}},
		{"modifiers", "brew \"a\" if OS.mac?\nbrew \"b\" unless OS.mac?\nmas \"X\", id: 1 if OS.mac? && Hardware::CPU.arm?\n",
			map[platform][]string{macArm: {`1 brew "a"`, `3 mas "X", id: 1`}, macIntel: {`1 brew "a"`}, linux: {`2 brew "b"`}}},
		{"semicolons", "if OS.mac?; cask \"a\"; end\n",
			map[platform][]string{macArm: {`1 cask "a"`}, linux: nil}},
		{"multi-line condition", "if OS.mac? &&\n   Hardware::CPU.arm?\n  brew \"a\"\nend\n",
			map[platform][]string{macArm: {`3 brew "a"`}, macIntel: nil}},
		{"dynamic only where reached", "if OS.mac?\n  system \"defaults write x\"\n  cask \"a\"\nend\nbrew \"b\"\n",
			map[platform][]string{macArm: {`3 cask "a"`, `5 brew "b"`, `dynamic 2 runs a command`}, linux: {`5 brew "b"`}}},
		{"unknown elsif after a taken branch", "if OS.mac?\n  cask \"a\"\nelsif ENV[\"X\"]\n  brew \"b\"\nelse\n  brew \"c\"\nend\n",
			map[platform][]string{macArm: {`2 cask "a"`}, linux: {`dynamic 3 conditional`}}},
		{"unknown condition", "if ENV[\"WORK\"]\n  cask \"a\"\nend\nbrew \"b\"\n",
			map[platform][]string{macArm: {`4 brew "b"`, `dynamic 1 conditional`}, linux: {`4 brew "b"`, `dynamic 1 conditional`}}},
		{"known side decides", "if OS.mac? && ENV[\"WORK\"]\n  cask \"a\"\nend\nbrew \"b\"\n",
			map[platform][]string{macArm: {`4 brew "b"`, `dynamic 1 conditional`}, linux: {`4 brew "b"`}}},
		{"loop inside a platform block", "if OS.linux?\n  %w[a b].each do |f|\n    brew f\n  end\nend\nbrew \"c\"\n",
			map[platform][]string{macArm: {`6 brew "c"`}, linux: {`6 brew "c"`, `dynamic 2 loop`, `dynamic 3 computed name (uses f)`}}},
		{"platform block inside a loop", "[1].each do\n  if OS.mac?\n    brew \"a\"\n  end\nend\n",
			map[platform][]string{macArm: {`dynamic 1 loop`}, linux: {`dynamic 1 loop`}}},
		{"else with a statement on its line", "if OS.mac?\n  brew \"a\"\nelse brew \"b\"\n  brew \"c\"\nend\nbrew \"d\"\n",
			map[platform][]string{macArm: {`2 brew "a"`, `6 brew "d"`, `dynamic 3 conditional`}, linux: {`6 brew "d"`, `dynamic 3 conditional`}}},
		{"stray else", "else\nbrew \"a\"\n",
			map[platform][]string{macArm: {`2 brew "a"`, `dynamic 1 conditional`}}},
		{"elsif after unless", "unless OS.mac?\n  brew \"a\"\nelsif OS.linux?\n  brew \"b\"\nend\n",
			map[platform][]string{macArm: {`dynamic 3 conditional`}, linux: {`2 brew "a"`, `dynamic 3 conditional`}}},
		{"one-line if stays dynamic", "if OS.mac? then brew \"a\" end\nbrew \"b\"\n",
			map[platform][]string{macArm: {`2 brew "b"`, `dynamic 1 conditional`}, linux: {`2 brew "b"`, `dynamic 1 conditional`}}},
		{"while modifier", "brew \"a\" while OS.mac?\n",
			map[platform][]string{macArm: {`dynamic 1 loop`}, linux: {`dynamic 1 loop`}}},
		{"cask_args in force where the cask is", "cask \"early\"\ncask_args appdir: \"/A\"\nif OS.mac?\n  cask_args require_sha: true\nend\ncask \"late\", args: { appdir: \"/B\", x: 1 }\n",
			map[platform][]string{
				macArm: {`1 cask "early"`, `6 cask "late", args: { appdir: "/B", require_sha: true, x: 1 }`},
				linux:  {`1 cask "early"`, `6 cask "late", args: { appdir: "/B", x: 1 }`},
			}},
		{"cask_args modifier", "cask_args appdir: \"/A\" if OS.linux?\ncask \"c\"\n",
			map[platform][]string{macArm: {`2 cask "c"`}, linux: {`2 cask "c", args: { appdir: "/A" }`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bf, err := Parse("Brewfile", strings.NewReader(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for p, want := range tt.want {
				if got := onSummary(bf, p); !reflect.DeepEqual(got, want) {
					t.Errorf("on %s:\n\t%s\nwant:\n\t%s", p, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
		})
	}
}

// TestMergePairsOrder: cask args come out in Ruby's Hash#merge order,
// which is the order brew bundle passes them to brew install.
func TestMergePairsOrder(t *testing.T) {
	base := []pair{{"a", value{Kind: Int, Text: "1"}}, {"b", value{Kind: Int, Text: "2"}}}
	got := mergePairs(base, []pair{{"c", value{Kind: Int, Text: "3"}}, {"a", value{Kind: Int, Text: "9"}}})
	if s := (value{Kind: Hash, Pairs: got}).String(); s != "{ a: 9, b: 2, c: 3 }" {
		t.Errorf("merged %s", s)
	}
	if base[0].Value.Text != "1" {
		t.Error("merge changed its base")
	}
}

// TestRealBrewfiles: public Brewfiles, each named with its repository and
// path in its first lines, read on an Apple Silicon Mac and on Linux.
// static counts them when nothing on that platform needs Ruby.
func TestRealBrewfiles(t *testing.T) {
	tests := []struct {
		file                   string
		macEntries, linEntries int
		macStatic, linStatic   bool
	}{
		// Counted apart, with awk over the lines in and out of the
		// `if OS.mac?` / `elsif OS.linux?` blocks and `if OS.mac?`
		// modifiers.
		{"amad-dotfiles.Brewfile", 87, 62, true, true},
		{"dephiros-dotfile.Brewfile", 49, 31, true, true},
		{"mk10969-my-dot-files.Brewfile", 44, 31, true, true},
		{"srbongers-dotfiles.Brewfile", 88, 42, true, true},
		{"J-DubApps-dotfiles.Brewfile", 67, 0, true, true},
		// `eval File.read(…)` inside `if OS.mac?`: Ruby only on a Mac.
		{"sensuikan1973-dotfiles.Brewfile", 15, 15, false, true},
		// `if (/darwin/ =~ RUBY_PLATFORM) != nil` stays Ruby's to decide;
		// the 10 entries outside it are declared everywhere.
		{"duncan-yadm.Brewfile", 10, 10, false, false},
		{"ibrahimbutt-dotfiles.Brewfile", 31, 31, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "brewfiles", "real", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			bf, err := Parse(tt.file, strings.NewReader(string(src)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, c := range []struct {
				p       platform
				entries int
				static  bool
			}{{platforms[0], tt.macEntries, tt.macStatic}, {platforms[2], tt.linEntries, tt.linStatic}} {
				entries, dyn := bf.On(c.p)
				if len(entries) != c.entries || (len(dyn) == 0) != c.static {
					t.Errorf("on %s: %d entries, dynamic %v; want %d entries, static %v", c.p, len(entries), dyn, c.entries, c.static)
				}
			}
		})
	}
}
