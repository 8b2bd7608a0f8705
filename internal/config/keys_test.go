package config_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/kinds"
)

// TestKindExamples: every key's example is a line a step of that kind
// accepts, so the hints that quote it never suggest something wrong. The
// step gets the kind's required keys from their own examples.
func TestKindExamples(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	for _, k := range kinds.Decls().List() {
		required := map[string]string{}
		for _, d := range k.Decls() {
			if d.Required {
				required[d.Name] = d.Example
			}
		}
		for _, key := range k.KeyNames() {
			d := k.Decl(key)
			if d == nil {
				t.Errorf("%s: key %q has no declaration", k.Name, key)
				continue
			}
			if key == "kind" || key == "after" {
				continue // after must name another step
			}
			lines := []string{fmt.Sprintf("[steps.s]\nkind = %q", k.Name)}
			for name, ex := range required {
				if name != key {
					lines = append(lines, ex)
				}
			}
			lines = append(lines, d.Example)
			// Examples that name a host (hosts, build-on) name box; those
			// that name a nix-darwin step (a brew-bundle step's nix-darwin),
			// system.
			src := strings.Join(lines, "\n") + "\n[hosts.box]\nssh = \"root@box.lan\"\n"
			if strings.Contains(d.Example, `"system"`) {
				src += "[steps.system]\nkind = \"nix-darwin\"\n"
			}
			if _, err := config.Parse(filepath.Join(root, config.FileName), []byte(src), kinds.Decls()); err != nil {
				t.Errorf("%s: the example of %q does not load:\n%s%v", k.Name, key, src, err)
			}
		}
	}
	for _, d := range config.HostKeyDocs() {
		src := "[hosts.box]\n" + d.Example + "\n"
		if d.Name != "ssh" {
			src += "ssh = \"root@box.lan\"\n"
		}
		if _, err := config.Parse(filepath.Join(root, config.FileName), []byte(src), kinds.Decls()); err != nil {
			t.Errorf("hosts: the example of %q does not load:\n%s%v", d.Name, src, err)
		}
	}
}
