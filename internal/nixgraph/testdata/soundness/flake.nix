{
  description = "nixgraph soundness fixture (builtins only)";
  outputs = { self }@inputs:
    let
      system = "@SYSTEM@";
      lib = import ./lib;
      mk = name: modules: derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo > $out" ];
        flake = "flake V1";
        text = lib.eval { inherit self inputs lib name; } modules;
      };
      configs = {
        alpha = mk "alpha-1.0" [ ./hosts/alpha ./modules/shared.nix ];
        beta = mk "beta-1.0" [ ./hosts/beta ./modules/shared.nix ];
        gamma = mk "gamma-1.0" [ ./hosts/gamma ];
      };
    in {
      inherit configs;
      outs = builtins.mapAttrs (n: c: c.outPath) configs;
    };
}
