package nix

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/fingerprint"
)

func TestOverrides(t *testing.T) {
	names, refs := overrides([]string{"--show-trace", "--override-input", "a", "../a", "--override-flake", "nixpkgs", "path:/x", "--override-input", "dangling"})
	if want := []string{"../a", "path:/x"}; !slices.Equal(refs, want) {
		t.Errorf("refs = %q, want %q", refs, want)
	}
	if want := []string{"--override-input a ../a", "--override-flake nixpkgs path:/x"}; !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
}

func TestRemotePinned(t *testing.T) {
	for ref, want := range map[string]bool{
		"github:NixOS/nixpkgs":                                                            false,
		"github:NixOS/nixpkgs/nixos-24.05":                                                false,
		"github:NixOS/nixpkgs/0123456789abcdef0123456789abcdef01234567":                   true,
		"git+https://example.com/r?ref=main":                                              false,
		"git+https://example.com/r?ref=main&rev=0123456789abcdef0123456789abcdef01234567": true,
		"https://example.com/x.tar.gz?narHash=sha256-AAAA":                                true,
		"nixpkgs": false,
	} {
		if got := remotePinned(ref); got != want {
			t.Errorf("remotePinned(%q) = %v, want %v", ref, got, want)
		}
	}
}

// TestLiveLockedDirs reads flake.lock files as Nix 2.8 and Nix ≥ 2.18
// write them: a path input locked with a narHash is read from the store
// (flake.lock covers it); a relative one with "parent" and no hash is read
// from the parent's directory on every evaluation.
func TestLiveLockedDirs(t *testing.T) {
	tests := []struct {
		name, lock string
		want       []string
		modes      []readMode
	}{
		{"nix 2.8 relative, hashed", `{"nodes":{"root":{"inputs":{"shared":"shared"}},"shared":{"locked":{"lastModified":1,"narHash":"sha256-4=","path":"../shared","type":"path"},"original":{"path":"../shared","type":"path"}}},"root":"root","version":7}`, nil, nil},
		{"absolute, hashed", `{"nodes":{"root":{"inputs":{"abs":"abs"}},"abs":{"locked":{"narHash":"sha256-E=","path":"/x/abs","type":"path"}}},"root":"root","version":7}`, nil, nil},
		{"nix 2.26 relative", `{"nodes":{"root":{"inputs":{"shared":"shared"}},"shared":{"locked":{"path":"../shared","type":"path"},"original":{"path":"../shared","type":"path"},"parent":[]}},"root":"root","version":7}`, []string{"/f/shared"}, []readMode{readParent}},
		{"relative in relative", `{"nodes":{"root":{"inputs":{"a":"a"}},"a":{"inputs":{"b":"b"},"locked":{"path":"./a","type":"path"},"parent":[]},"b":{"locked":{"path":"./b","type":"path"},"parent":["a"]}},"root":"root","version":7}`, []string{"/f/main/a", "/f/main/a/b"}, []readMode{readParent, readParent}},
		{"relative in hashed", `{"nodes":{"root":{"inputs":{"a":"a"}},"a":{"inputs":{"b":"b"},"locked":{"narHash":"sha256-x","path":"/x/a","type":"path"}},"b":{"locked":{"path":"./b","type":"path"},"parent":["a"]}},"root":"root","version":7}`, nil, nil},
		{"relative through follows", `{"nodes":{"root":{"inputs":{"a":"a","c":["a"]}},"a":{"inputs":{"b":"b"},"locked":{"path":"./a","type":"path"},"parent":[]},"b":{"locked":{"path":"./b","type":"path"},"parent":["c"]}},"root":"root","version":7}`, []string{"/f/main/a", "/f/main/a/b"}, []readMode{readParent, readParent}},
		{"git on this machine, no rev", `{"nodes":{"root":{"inputs":{"g":"g"}},"g":{"locked":{"type":"git","url":"file:///x/g"}}},"root":"root","version":7}`, []string{"/x/g"}, []readMode{readGit}},
		{"git with a rev", `{"nodes":{"root":{"inputs":{"g":"g"}},"g":{"locked":{"type":"git","url":"file:///x/g","rev":"0123456789abcdef0123456789abcdef01234567","narHash":"sha256-x"}}},"root":"root","version":7}`, nil, nil},
		{"github", `{"nodes":{"root":{"inputs":{"nixpkgs":"nixpkgs"}},"nixpkgs":{"locked":{"type":"github","owner":"NixOS","repo":"nixpkgs","rev":"0123456789abcdef0123456789abcdef01234567","narHash":"sha256-x"}}},"root":"root","version":7}`, nil, nil},
	}
	for _, tt := range tests {
		dirs, _, modes, err := liveDirsOf([]byte(tt.lock), "/f/main")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(dirs, tt.want) || !slices.Equal(modes, tt.modes) {
			t.Errorf("%s: dirs %q modes %v, want %q %v", tt.name, dirs, modes, tt.want, tt.modes)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flake.lock"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := liveLockedDirs(dir); err == nil {
		t.Error("a flake.lock that is not JSON: no error")
	}
	if d, _, _, err := liveLockedDirs(t.TempDir()); err != nil || d != nil {
		t.Errorf("no flake.lock: %q, %v; want nothing", d, err)
	}
}

// TestOverrideInputs: what an --override-input in extra-args makes an
// input, and when sysinit cannot tell (the step then runs, saying why).
func TestOverrideInputs(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, "cfg")
	for _, f := range []string{"cfg/flake.nix", "ovr/msg"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ovr := filepath.Join(root, "ovr")
	tests := []struct {
		args    []string
		trees   []string
		notHere bool
	}{
		{nil, []string{"."}, false},
		{[]string{"--override-input", "x", "../ovr"}, []string{".", ovr}, false},
		{[]string{"--override-input", "x", "path:" + ovr}, []string{".", ovr}, false},
		{[]string{"--override-input", "x", "./sub"}, []string{"."}, false}, // inside the tree read whole
		{[]string{"--override-input", "x", "github:o/r"}, nil, true},
		{[]string{"--override-input", "x", "github:o/r/0123456789abcdef0123456789abcdef01234567"}, []string{"."}, false},
		{[]string{"--override-input", "x", "git+file://" + ovr + "?ref=main"}, nil, true},
		{[]string{"--override-input", "x", "git+file://" + ovr + "?rev=0123456789abcdef0123456789abcdef01234567"}, []string{"."}, false},
	}
	if err := os.MkdirAll(filepath.Join(cfg, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		s := &config.Step{Name: "s", Kind: KindProfile, Own: &systemKeys{Flake: ".#sys", Profile: "/p/sys", buildKeys: buildKeys{ExtraArgs: tt.args}}}
		st, err := newSystem(&config.Config{Dir: cfg}, s, fakeEnv(nil))
		if err != nil {
			t.Fatal(err)
		}
		spec, err := st.Inputs(context.Background())
		var nl *notLocalError
		if tt.notHere {
			if !errors.As(err, &nl) {
				t.Errorf("%q: err %v, want one saying sysinit cannot see it", tt.args, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !slices.Equal(spec.Trees, tt.trees) {
			t.Errorf("%q: trees %q, want %q", tt.args, spec.Trees, tt.trees)
		}
	}
}

// TestOverrideInRepo: an override inside the flake's own repository is
// read as nix reads it: a path: one whole (untracked files too), a
// path-like one through git (every tracked file of the repository).
func TestOverrideInRepo(t *testing.T) {
	cfg := t.TempDir()
	for _, f := range []string{"flake.nix", "lib/a.nix", "lib/untracked", "other.nix"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(cfg, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "flake.nix", "lib/a.nix", "other.nix"}} {
		if out, err := exec.Command("git", append([]string{"-C", cfg}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	inputs := func(extra ...string) fingerprint.Spec {
		s := &config.Step{Name: "s", Kind: KindProfile, Own: &systemKeys{Flake: ".#sys", Profile: "/p/sys", buildKeys: buildKeys{Entry: []string{"lib"}, ExtraArgs: extra}}}
		st, err := newSystem(&config.Config{Dir: cfg}, s, fakeEnv(nil))
		if err != nil {
			t.Fatal(err)
		}
		spec, err := st.Inputs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
	if spec := inputs("--override-input", "x", "path:./lib"); !slices.Contains(spec.Trees, "lib") {
		t.Errorf("path:./lib: trees %q, want lib copied whole", spec.Trees)
	}
	if spec := inputs("--override-input", "x", "./lib"); !slices.Contains(spec.Files, "other.nix") {
		t.Errorf("./lib: files %q, want every tracked file", spec.Files)
	}
}
