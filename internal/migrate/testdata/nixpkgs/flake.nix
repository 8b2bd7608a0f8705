# A stand-in nixpkgs for migrate's tests, from builtins only: a few
# packages per system with the meta fields nixpkgs' check-meta.nix sets
# (available, broken, unfree, unsupported, insecure), some broken, some
# unfree, some only for one platform.
{
  description = "fixture nixpkgs for sysinit migrate tests";
  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      darwin = [ "x86_64-darwin" "aarch64-darwin" ];
      linux = [ "x86_64-linux" "aarch64-linux" ];
      isDarwin = system: builtins.elem system darwin;

      # mk builds a package for one system. check = false leaves out the
      # fields check-meta computes, as for a package without stdenv.
      mk = system: { pname, version ? "1.0", platforms ? systems, broken ? false, free ? true,
                     insecure ? false, available ? null, homepage ? "https://example.org/${pname}",
                     check ? true, extraMeta ? { } }:
        let
          unsupported = !(builtins.elem system platforms);
          computed = {
            inherit broken insecure unsupported;
            unfree = !free;
            available = if available != null then available
              else !unsupported && !broken && free && !insecure;
          };
        in
        (derivation {
          name = "${pname}-${version}";
          inherit system;
          builder = "/bin/sh";
          PATH = "/usr/bin:/bin";
          args = [ "-c" "echo ${pname} > $out" ];
        }) // {
          inherit pname version;
          meta = {
            description = "${pname}, for tests";
            inherit homepage platforms;
            license = { shortName = if free then "mit" else "unfree"; free = free; };
          } // (if check then computed else { }) // extraMeta;
        };

      pkgsFor = system: let m = mk system; in {
        ripgrep = m { pname = "ripgrep"; version = "14.1.0"; homepage = "https://github.com/BurntSushi/ripgrep"; };
        fd = m { pname = "fd"; version = "10.1.0"; };
        jq = m { pname = "jq"; version = "1.7.1"; };
        tokei = m { pname = "tokei"; version = "12.1.2"; };
        nodejs = m { pname = "nodejs"; version = "22.11.0"; };
        delta = m { pname = "delta"; version = "0.18.2"; homepage = "https://github.com/dandavison/delta"; };
        yq-go = m { pname = "yq-go"; version = "4.44.3"; };
        postgresql_16 = m { pname = "postgresql"; version = "16.4"; };
        python312 = m { pname = "python3"; version = "3.12.7"; };
        lua5_4 = m { pname = "lua"; version = "5.4.7"; };
        hello-unwrapped = m { pname = "hello"; version = "2.12.1"; };
        lazygit = m { pname = "lazygit"; version = "0.44.1"; };
        fira-code = m { pname = "fira-code"; version = "6.2"; };
        # As in nixpkgs: ghostty builds from source for Linux, the macOS
        # app is ghostty-bin.
        ghostty = m { pname = "ghostty"; version = "1.0.0"; platforms = linux; };
        ghostty-bin = m { pname = "ghostty-bin"; version = "1.0.0"; platforms = darwin; };
        # Platform-bound.
        iterm2 = m { pname = "iterm2"; version = "3.5.4"; platforms = darwin; check = false; };
        firefox = m { pname = "firefox"; version = "132.0"; platforms = linux; };
        # Broken on darwin only, as with meta.broken = stdenv.isDarwin.
        cowsay = m { pname = "cowsay"; version = "3.8.3"; broken = isDarwin system; };
        # Unfree.
        vscode = m { pname = "vscode"; version = "1.95.3"; free = false; };
        terraform = m { pname = "terraform"; version = "1.9.8"; free = false; };
        # Insecure.
        openssl_1_1 = m { pname = "openssl"; version = "1.1.1w"; insecure = true; };
        # Unavailable for another reason (a dependency).
        mpv = m { pname = "mpv"; version = "0.39.0"; available = false; };
        # Platforms given as a pattern only nixpkgs' lib can match.
        wezterm = m { pname = "wezterm"; version = "20240203"; check = false;
                      platforms = [ { kernel = { name = "darwin"; }; } ]; };
        # Removed packages are aliases that throw.
        neofetch = throw "neofetch has been removed: archived upstream";
        # An error tryEval cannot catch, where nix search does not look.
        broken-set = { hardfail = abort "fixture: this package cannot be evaluated"; };
        # A set of packages, not a package.
        nerd-fonts = { recurseForDerivations = true; hack = m { pname = "nerd-fonts-hack"; version = "3.2.1"; }; };
      };
    in
    {
      legacyPackages = builtins.listToAttrs (map (system: { name = system; value = pkgsFor system; }) systems);
    };
}
