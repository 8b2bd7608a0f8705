package nixgraph

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// genRepo returns a config repo of about n files: hosts that import module
// directories, modules that import each other and read data files, the
// way a large NixOS/nix-darwin flake looks. Three hosts share modules.
func genRepo(n int) map[string]string {
	r := rand.New(rand.NewSource(1))
	files := map[string]string{}
	const perModule = 10 // default.nix, 6 .nix, 3 data files
	mods := (n - 40) / perModule
	hosts := 3
	for m := 0; m < mods; m++ {
		dir := fmt.Sprintf("modules/m%03d", m)
		imports := ""
		for f := 0; f < 6; f++ {
			imports += fmt.Sprintf(" ./f%d.nix", f)
		}
		files[dir+"/default.nix"] = fmt.Sprintf("# module %d\n{ lib, ... }: {\n  imports = [%s ../m%03d ];\n}\n", m, imports, r.Intn(mods))
		for f := 0; f < 6; f++ {
			files[fmt.Sprintf("%s/f%d.nix", dir, f)] = moduleText(m, f)
		}
		for f := 0; f < 3; f++ {
			files[fmt.Sprintf("%s/f%d.conf", dir, f)] = fmt.Sprintf("key%d = value%d\n", f, m)
		}
	}
	flake := "{\n  outputs = { self, nixpkgs, ... }@inputs: {\n"
	for h := 0; h < hosts; h++ {
		dir := fmt.Sprintf("hosts/h%d", h)
		imports := ""
		for k := 0; k < 8; k++ {
			imports += fmt.Sprintf(" ../../modules/m%03d", r.Intn(mods))
		}
		files[dir+"/default.nix"] = fmt.Sprintf("{ inputs, ... }: {\n  imports = [ ./hardware.nix%s ];\n  networking.hostName = \"h%d\";\n}\n", imports, h)
		files[dir+"/hardware.nix"] = "{ boot.loader.grub.enable = true; fileSystems.\"/\".device = \"/dev/sda1\"; }\n"
		flake += fmt.Sprintf("    nixosConfigurations.h%d = nixpkgs.lib.nixosSystem { specialArgs = { inherit inputs; }; modules = [ ./hosts/h%d ./modules/common.nix ]; };\n", h, h)
	}
	flake += "  };\n}\n"
	files["flake.nix"] = flake
	files["flake.lock"] = "{}\n"
	files["modules/common.nix"] = "{ imports = [ ./m000 ]; }\n"
	for len(files) < n {
		files[fmt.Sprintf("docs/page%04d.md", len(files))] = "# docs\n"
	}
	return files
}

func moduleText(m, f int) string {
	return fmt.Sprintf(`# module %[1]d file %[2]d: ./not/a/reference.nix
{ config, lib, pkgs, ... }:
let
  cfg = config.services.m%[1]df%[2]d;
  /* a block comment with ../paths/in/it */
in {
  options.services.m%[1]df%[2]d.enable = lib.mkEnableOption "m%[1]d f%[2]d ${"nested"}";
  config = lib.mkIf cfg.enable {
    environment.etc."m%[1]d/f%[2]d.conf".source = ./f%[3]d.conf;
    systemd.services.m%[1]df%[2]d = {
      description = "service %[1]d.%[2]d";
      script = ''
        echo "starting ${pkgs.hello}/bin/hello" # not a comment
        exec ${pkgs.coreutils}/bin/sleep infinity ''${HOME}
      '';
    };
    xdg.configFile."m%[1]d".text = builtins.readFile ./f%[3]d.conf;
    users.users.u%[1]d.openssh.authorizedKeys.keys = [ "ssh-ed25519 AAAA%[1]d" ];
  };
}
`, m, f, f%3)
}

func benchRequest(src *memSource) Request {
	return configRequest(src, 0)
}

// configRequest asks for host h of the generated repo.
func configRequest(src *memSource, h int) Request {
	req := Request{Tracked: src.tracked()}
	for o := 0; o < 3; o++ {
		c := Config{Name: fmt.Sprintf("nixosConfigurations.h%d", o), Entries: []string{fmt.Sprintf("hosts/h%d", o), "modules/common.nix"}}
		if o == h {
			req.Config = c
		} else {
			req.Others = append(req.Others, c)
		}
	}
	return req
}

// BenchmarkAnalyze: one configuration of a generated 2,000-file repo.
// "cold" parses every Nix file it reaches; "cold-disk" also reads them from
// disk; "warm" has every content cached and the caller's sums, so it reads
// and parses nothing.
func BenchmarkAnalyze(b *testing.B) {
	files := genRepo(2000)
	var nixFiles, bytes int
	for p, c := range files {
		if filepath.Ext(p) == ".nix" {
			nixFiles++
			bytes += len(c)
		}
	}
	b.Logf("%d files, %d Nix files, %d KiB of Nix", len(files), nixFiles, bytes>>10)

	b.Run("cold", func(b *testing.B) {
		src := &memSource{files: files}
		req := benchRequest(src)
		var res *Result
		for i := 0; i < b.N; i++ {
			var err error
			if res, err = Analyze(src, req, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(res.Files)), "reached")
		b.ReportMetric(float64(src.reads)/float64(b.N), "reads/op")
	})
	b.Run("cold-every-config", func(b *testing.B) {
		src := &memSource{files: files}
		reqs := []Request{configRequest(src, 0), configRequest(src, 1), configRequest(src, 2)}
		for i := 0; i < b.N; i++ {
			cache := NewCache()
			for _, req := range reqs {
				if _, err := Analyze(src, req, cache); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("cold-disk", func(b *testing.B) {
		dir := b.TempDir()
		for p, c := range files {
			full := filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		req := benchRequest(&memSource{files: files})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := Analyze(DirSource{Root: dir}, req, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		src := &memSource{files: files, withSums: true}
		req := benchRequest(src)
		cache := NewCache()
		if _, err := Analyze(src, req, cache); err != nil {
			b.Fatal(err)
		}
		src.reads = 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := Analyze(src, req, cache); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(src.reads)/float64(b.N), "reads/op")
	})
	b.Run("cache-unmarshal", func(b *testing.B) {
		src := &memSource{files: files, withSums: true}
		cache := NewCache()
		if _, err := Analyze(src, benchRequest(src), cache); err != nil {
			b.Fatal(err)
		}
		data := cache.Marshal()
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := UnmarshalCache(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLex: the lexer and the extractor on the generated repo's Nix.
func BenchmarkLex(b *testing.B) {
	files := genRepo(2000)
	var paths []string
	total := 0
	for p, c := range files {
		if filepath.Ext(p) == ".nix" {
			paths = append(paths, p)
			total += len(c)
		}
	}
	sort.Strings(paths)
	b.Run("lex", func(b *testing.B) {
		b.SetBytes(int64(total))
		var toks []Token
		for i := 0; i < b.N; i++ {
			for _, p := range paths {
				toks = Lex(toks[:0], []byte(files[p]))
			}
		}
	})
	b.Run("extract", func(b *testing.B) {
		b.SetBytes(int64(total))
		var scratch []Token
		for i := 0; i < b.N; i++ {
			for _, p := range paths {
				_, scratch = extract([]byte(files[p]), scratch)
			}
		}
	})
}

// TestGeneratedRepo: an edit of one host's module reaches one of the three
// configurations; an edit of a shared module reaches those that import it.
func TestGeneratedRepo(t *testing.T) {
	files := genRepo(2000)
	src := &memSource{files: files}
	var results []*Result
	for h := 0; h < 3; h++ {
		res, err := Analyze(src, configRequest(src, h), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Reaches("docs/page1999.md") {
			t.Errorf("h%d reaches the docs", h)
		}
		results = append(results, res)
	}
	for h := 0; h < 3; h++ {
		p := fmt.Sprintf("hosts/h%d/hardware.nix", h)
		for o, res := range results {
			if res.Reaches(p) != (o == h) {
				t.Errorf("configuration h%d reaches %s: %v", o, p, res.Reaches(p))
			}
		}
	}
	for _, res := range results {
		if !res.Reaches("modules/m000/f0.nix") {
			t.Error("modules/common.nix's import is not reached")
		}
	}
}
