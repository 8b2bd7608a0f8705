package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockedRef(t *testing.T) {
	lock := func(nixpkgsInput, nodes string) string {
		return `{"nodes":{"root":{"inputs":{"nixpkgs":` + nixpkgsInput + `,"darwin":"darwin"}},` +
			`"darwin":{"inputs":{"nixpkgs":"nixpkgs_2"},"locked":{"type":"github","owner":"LnL7","repo":"nix-darwin","rev":"d1"}},` +
			nodes + `},"root":"root","version":7}`
	}
	gh := `"nixpkgs":{"locked":{"type":"github","owner":"NixOS","repo":"nixpkgs","rev":"abc123","narHash":"sha256-x"}}`
	for _, tc := range []struct{ name, data, want, err string }{
		{name: "github", data: lock(`"nixpkgs"`, gh), want: "github:NixOS/nixpkgs/abc123"},
		{name: "follows", data: lock(`["darwin","nixpkgs"]`, gh+`,"nixpkgs_2":{"locked":{"type":"github","owner":"NixOS","repo":"nixpkgs","rev":"fff"}}`),
			want: "github:NixOS/nixpkgs/fff"},
		{name: "git", data: lock(`"nixpkgs"`, `"nixpkgs":{"locked":{"type":"git","url":"https://example.org/nixpkgs.git","rev":"r1"}}`),
			want: "git+https://example.org/nixpkgs.git?rev=r1"},
		{name: "path", data: lock(`"nixpkgs"`, `"nixpkgs":{"locked":{"type":"path","path":"/src/nixpkgs","narHash":"sha256-a+b/c="}}`),
			want: "path:/src/nixpkgs?narHash=sha256-a%2Bb%2Fc%3D"},
		{name: "tarball", data: lock(`"nixpkgs"`, `"nixpkgs":{"locked":{"type":"tarball","url":"https://x/n.tar.xz","narHash":"sha256-y"}}`),
			want: "tarball+https://x/n.tar.xz?narHash=sha256-y"},
		{name: "no input", data: `{"nodes":{"root":{"inputs":{}}},"root":"root","version":7}`, err: `no input "nixpkgs"`},
		{name: "unknown type", data: lock(`"nixpkgs"`, `"nixpkgs":{"locked":{"type":"mercurial"}}`), err: `lock type "mercurial"`},
		{name: "github without rev", data: lock(`"nixpkgs"`, `"nixpkgs":{"locked":{"type":"github","owner":"o","repo":"r"}}`), err: "without owner, repo or rev"},
		{name: "dangling", data: lock(`"gone"`, gh), err: `no node "gone"`},
		{name: "not json", data: "nope", err: "not a flake.lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lockedRef([]byte(tc.data), "nixpkgs")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNixpkgsFromLockFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "flake.lock")
	if _, err := nixpkgsFromLock(p, "nixpkgs"); err == nil || !strings.Contains(err.Error(), "reading flake.lock") {
		t.Errorf("missing file: %v", err)
	}
	must(t, os.WriteFile(p, []byte(`{"nodes":{"root":{"inputs":{"nixpkgs":"n"}},"n":{"locked":{"type":"github","owner":"NixOS","repo":"nixpkgs","rev":"r"}}},"root":"root","version":7}`), 0o644))
	if got, err := nixpkgsFromLock(p, "nixpkgs"); err != nil || got != "github:NixOS/nixpkgs/r" {
		t.Errorf("got %q, %v", got, err)
	}
}
