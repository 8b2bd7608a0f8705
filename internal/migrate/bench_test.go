package migrate

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
)

// syntheticSearch is nix search output the size of nixpkgs' (~120k
// packages).
func syntheticSearch(n int) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"legacyPackages.x86_64-linux.pkg-%d":{"pname":"pkg-%d","version":"1.%d","description":"package number %d of the synthetic index"}`, i, i, i, i)
	}
	b.WriteString(`,"legacyPackages.x86_64-linux.lua5_4":{"pname":"lua","version":"5.4.7","description":""}}`)
	return b.Bytes()
}

func BenchmarkParseIndex(b *testing.B) {
	for _, n := range []int{1000, 120000} {
		data := syntheticSearch(n)
		b.Run(fmt.Sprintf("nix-search-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := parseIndex(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	aliases, err := defaultAliases()
	if err != nil {
		b.Fatal(err)
	}
	x, err := parseIndex(syntheticSearch(120000))
	if err != nil {
		b.Fatal(err)
	}
	m := &matcher{Aliases: aliases, Index: x}
	for _, tc := range []struct {
		name string
		e    entry
	}{
		{"alias", entry{Kind: "brew", Name: "node"}},
		{"exact", entry{Kind: "brew", Name: "pkg-4242"}},
		{"normalised", entry{Kind: "brew", Name: "lua@5.4"}},
		{"miss", entry{Kind: "cask", Name: "no-such-app"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if c := m.Match(tc.e); (c.Attr == "") != (tc.name == "miss") {
					b.Fatalf("unexpected %+v", c)
				}
			}
		})
	}
}

// BenchmarkVerify compares one nix eval for all attributes with one per
// attribute, against the fixture nixpkgs (where loading nixpkgs is cheap;
// with the real one each process pays about a second more).
func BenchmarkVerify(b *testing.B) {
	needNix(b)
	attrs := []string{"ripgrep", "fd", "jq", "tokei", "nodejs", "delta", "yq-go", "postgresql_16", "python312", "lua5_4",
		"iterm2", "firefox", "cowsay", "vscode", "terraform", "openssl_1_1", "mpv", "wezterm", "lazygit", "ghostty"}
	v := &verifier{Runner: command.Exec{}, Nixpkgs: fixtureRef(b), System: "aarch64-darwin"}
	ctx := context.Background()
	b.Run(fmt.Sprintf("batch-%d", len(attrs)), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := v.Verify(ctx, attrs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("per-attr-%d", len(attrs)), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, a := range attrs {
				if _, _, err := v.Verify(ctx, []string{a}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
