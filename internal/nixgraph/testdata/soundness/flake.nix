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
      # Let bindings used only under deferred outputs: read only when a
      # configuration reads that output (epsilon reads apps), not by all.
      mkApp = n: "${self}/apps/${n}";
      appsFor = n: { type = "app"; program = mkApp n; };
      shellText = builtins.readFile ./lets/shell.txt;
      # Used by devShells and by beta.
      hook = builtins.readFile ./lets/hook.txt;
      withSet = { withText = builtins.readFile ./lets/with.txt; };
      inhText = builtins.readFile ./lets/inherit.txt;
      inhSet = { inherit inhText; };
      cyc1 = { text = builtins.readFile ./lets/cycle.txt; other = cyc2.name; };
      cyc2 = { name = "cyc2"; back = cyc1.text; };
      valSet = { v = builtins.readFile ./lets/values.txt; };
    in {
      # Each configuration's own definition: what it names is read by
      # that configuration, and by one that reads it (alpha reads delta).
      nixosConfigurations = {
        # modules/shared.nix is beta's entry, not alpha's.
        alpha = mk "alpha-1.0" [ ./hosts/alpha ./modules/shared.nix
          # A let binding reached through with: its attributes are used unnamed.
          { text = with withSet; [ withText ]; } ];
        beta = mk "beta-1.0" [ ./hosts/beta ./modules/shared.nix
          # hook is also used by devShells: it is read all the same.
          { text = [ hook inhSet.inhText ]; } ];
        gamma = mk "gamma-1.0" [ ./hosts/gamma ];
        # An inline module that reaches into another configuration's entry.
        delta = mk "delta-1.0" [ ./hosts/delta { imports = [ ./hosts/beta/users/alice.nix ]; }
          # A cycle of let bindings; a binding passed whole to a function;
          # an output that reads a deferred one before flake.nix defines it.
          { text = [ cyc2.back self.probe ] ++ builtins.attrValues valSet; } ];
        # Reads self.apps, which flake.nix defines through two let bindings.
        epsilon = mk "epsilon-1.0" [ ./hosts/epsilon ];
        # Another configuration's entry as a module, and one interpolated.
        zeta = mk "zeta-1.0" [ ./hosts/zeta ./hosts/delta { text = [ "${./hosts/beta}" ]; } ];
        # Its module imports flake.nix and reads a let binding through it.
        eta = mk "eta-1.0" [ ./hosts/eta ];
      };
      probe = self.legacyPackages.${system}.probe;
      # Read by beta through self.packages: followed for beta only.
      packages.${system}.tool = import ./pkgs/tool.nix;
      # Read by no configuration: never followed.
      devShells.${system} = {
        default = import ./shell.nix;
        hook = { text = shellText + hook; };
      };
      apps.${system}.epsilon = appsFor "epsilon";
      legacyPackages.${system}.probe = builtins.readFile ./lets/probe.txt;
      checks.${system}.alpha = self.nixosConfigurations.alpha;
    };
}
