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
        text = lib.eval { inherit self inputs lib name system; } modules;
      };
      configs = {
        alpha = mk "alpha-1.0" [ ./hosts/alpha ./modules/shared.nix ];
        beta = mk "beta-1.0" [ ./hosts/beta ./modules/shared.nix ];
        gamma = mk "gamma-1.0" [ ./hosts/gamma ];
        # An inline module that reaches into another configuration's entry.
        delta = mk "delta-1.0" [ ./hosts/delta { imports = [ ./hosts/beta/users/alice.nix ]; } ];
      };
    in {
      nixosConfigurations = configs;
      outs = builtins.mapAttrs (n: c: c.outPath) configs;
      # Read by beta through self.packages: followed for beta only.
      packages.${system}.tool = import ./pkgs/tool.nix;
      # Read by no configuration: never followed.
      devShells.${system}.default = import ./shell.nix;
      checks.${system}.alpha = self.nixosConfigurations.alpha;
    };
}
