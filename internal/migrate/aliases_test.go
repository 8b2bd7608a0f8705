package migrate

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
)

func TestDefaultAliases(t *testing.T) {
	a, err := defaultAliases()
	if err != nil {
		t.Fatalf("the shipped alias table does not parse: %v", err)
	}
	if len(a) < 60 {
		t.Errorf("alias table has %d entries, want at least 60", len(a))
	}
	for k, al := range a {
		if al.Kind == "" || al.Name == "" || al.Attr == "" || al.Reason == "" {
			t.Errorf("aliases.tsv:%d: empty field in %+v", al.Line, al)
		}
		if k.kind != al.Kind || k.name != al.Name {
			t.Errorf("aliases.tsv:%d: stored under %v", al.Line, k)
		}
	}
	// The renames the issue names must be there, exactly.
	for _, w := range []struct{ kind, name, attr string }{
		{"brew", "node", "nodejs"},
		{"brew", "git-delta", "delta"},
		{"brew", "yq", "yq-go"},
		{"brew", "the_silver_searcher", "silver-searcher"},
		{"brew", "postgresql@16", "postgresql_16"},
		{"brew", "python@3.12", "python312"},
		{"brew", "gnu-sed", "gnused"},
		{"brew", "awscli", "awscli2"},
		{"brew", "docker", "docker-client"},
		{"cask", "visual-studio-code", "vscode"},
		{"cask", "docker", noPackage},
		// …and the ones real Brewfiles missed (issue 14).
		{"cask", "aerospace", "aerospace"},
		{"cask", "nikitabobko/tap/aerospace", "aerospace"},
		{"cask", "docker-desktop", noPackage},
		{"brew", "python@3.10", "python310"},
		{"brew", "gnupg", "gnupg"},
		{"brew", "gpg", "gnupg"},
		{"brew", "postgresql", "postgresql_16"},
		{"brew", "zsh", "zsh"},
		{"brew", "fish", "fish"},
	} {
		al, ok := a.Lookup(w.kind, w.name)
		if !ok || al.Attr != w.attr {
			t.Errorf("%s %q: got %q (found %v), want %q", w.kind, w.name, al.Attr, ok, w.attr)
		}
	}
	// A formula alias must not answer for a cask of the same name: cask
	// "docker" is Docker Desktop, formula "docker" the CLI.
	if f, _ := a.Lookup("brew", "docker"); f.Attr == noPackage {
		t.Error("formula docker took the cask's mapping")
	}
}

func TestParseAliasesRejects(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"three fields", "brew\tnode\tnodejs\n", "want 4"},
		{"five fields", "brew\tnode\tnodejs\twhy\textra\n", "want 4"},
		{"empty reason", "brew\tnode\tnodejs\t\n", "reason is empty"},
		{"spaces around", "brew\t node\tnodejs\twhy\n", "name is empty or has surrounding spaces"},
		{"bad kind", "formula\tnode\tnodejs\twhy\n", `kind "formula"`},
		{"bad attribute", "brew\tnode\tnode js\twhy\n", "not a nixpkgs attribute path"},
		{"duplicate", "# c\nbrew\tnode\tnodejs\twhy\n\nbrew\tnode\tnodejs_22\twhy\n", "already mapped on line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAliases([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseAliasesAccepts(t *testing.T) {
	a, err := parseAliases([]byte("# comment\n\nbrew\tnode\tnodejs\twhy\r\ncask\tnode\t-\tno app\n"))
	if err != nil {
		t.Fatal(err)
	}
	if al, _ := a.Lookup("brew", "node"); al.Attr != "nodejs" || al.Line != 3 {
		t.Errorf("brew node: %+v", al)
	}
	if al, _ := a.Lookup("cask", "node"); al.Attr != noPackage {
		t.Errorf("cask node: %+v", al)
	}
}

// nixIdentRE is a Nix identifier (the ID token of Nix's lexer); keywords
// are checked apart.
var nixIdentRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_'-]*$`)

// TestAliasAttrsAreAttrPaths: every row's attribute is a path of Nix
// identifiers, so `pkgs.<attr>` reads as that path with no quoting. A part
// such as 3270 would not: `pkgs.nerd-fonts.3270` parses as pkgs.nerd-fonts
// followed by the number .3270.
func TestAliasAttrsAreAttrPaths(t *testing.T) {
	a, err := defaultAliases()
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range a {
		if al.Attr == noPackage {
			continue
		}
		for _, part := range strings.Split(al.Attr, ".") {
			if !nixIdentRE.MatchString(part) || nixKeywords[part] {
				t.Errorf("aliases.tsv:%d: %q: %q is not a Nix identifier", al.Line, al.Attr, part)
			}
		}
	}
}

// TestAliasAttrsParseWithNix has nix itself read every attribute as one
// selection: a list of pkgs.<attr>, one per row, must have as many
// elements as there are rows (pkgs is never forced, so nothing needs to
// exist).
func TestAliasAttrsParseWithNix(t *testing.T) {
	needNix(t)
	a, err := defaultAliases()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	b.WriteString("let pkgs = { }; in builtins.length [")
	for _, al := range a {
		if al.Attr == noPackage {
			continue
		}
		b.WriteString(" pkgs." + al.Attr)
		n++
	}
	b.WriteString(" ]")
	var out bytes.Buffer
	argv := []string{"nix", "eval", "--expr", b.String()}
	if err := (command.Exec{}).Run(context.Background(), &command.Cmd{Argv: argv, Stdout: &out}); err != nil {
		t.Fatalf("nix eval of the alias attributes: %v", withTail(err))
	}
	if got := strings.TrimSpace(out.String()); got != strconv.Itoa(n) {
		t.Errorf("nix reads %s elements in a list of %d attributes: one of them is not a single attribute path", got, n)
	}
}

// TestAliasRowsSayHowChecked: from the section grown from real Brewfiles
// on, every row has a "# checked:" line above it saying where its
// attribute was found in nixpkgs.
func TestAliasRowsSayHowChecked(t *testing.T) {
	lines := strings.Split(string(aliasData), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "# Grown from") })
	if start < 0 {
		t.Fatal(`aliases.tsv has no "# Grown from" section`)
	}
	rows := 0
	for i := start; i < len(lines); i++ {
		l := lines[i]
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		rows++
		if !strings.HasPrefix(lines[i-1], "# checked: ") || len(lines[i-1]) < len("# checked: ")+5 {
			t.Errorf("aliases.tsv:%d: %q has no \"# checked: WHERE\" line above it", i+1, l)
		}
	}
	if rows == 0 {
		t.Error("the checked section has no rows")
	}
}
