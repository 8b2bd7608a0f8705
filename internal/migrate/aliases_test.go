package migrate

import (
	"strings"
	"testing"
)

func TestDefaultAliases(t *testing.T) {
	a, err := DefaultAliases()
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
		{"cask", "docker", NoPackage},
	} {
		al, ok := a.Lookup(w.kind, w.name)
		if !ok || al.Attr != w.attr {
			t.Errorf("%s %q: got %q (found %v), want %q", w.kind, w.name, al.Attr, ok, w.attr)
		}
	}
	// A formula alias must not answer for a cask of the same name: cask
	// "docker" is Docker Desktop, formula "docker" the CLI.
	if f, _ := a.Lookup("brew", "docker"); f.Attr == NoPackage {
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
			_, err := ParseAliases([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseAliasesAccepts(t *testing.T) {
	a, err := ParseAliases([]byte("# comment\n\nbrew\tnode\tnodejs\twhy\r\ncask\tnode\t-\tno app\n"))
	if err != nil {
		t.Fatal(err)
	}
	if al, _ := a.Lookup("brew", "node"); al.Attr != "nodejs" || al.Line != 3 {
		t.Errorf("brew node: %+v", al)
	}
	if al, _ := a.Lookup("cask", "node"); al.Attr != NoPackage {
		t.Errorf("cask node: %+v", al)
	}
}
