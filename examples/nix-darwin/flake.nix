{
  description = "Ripley's machines: a Mac (lv426), a NixOS box (nostromo) and a home-manager user";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    nix-darwin = {
      url = "github:nix-darwin/nix-darwin";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = { self, nixpkgs, nix-darwin, home-manager, ... }@inputs: {
    # sudo darwin-rebuild switch --flake .#lv426
    darwinConfigurations.lv426 = nix-darwin.lib.darwinSystem {
      specialArgs = { inherit inputs; };
      modules = [
        ./hosts/lv426
        ./modules/darwin
        ./modules/shared
        home-manager.darwinModules.home-manager
        {
          home-manager.useGlobalPkgs = true;
          home-manager.users.ripley = import ./home/ripley.nix;
        }
      ];
    };

    # sudo nixos-rebuild switch --flake .#nostromo
    nixosConfigurations.nostromo = nixpkgs.lib.nixosSystem {
      specialArgs = { inherit inputs; };
      modules = [
        ./hosts/nostromo
        ./modules/nixos
        ./modules/shared
      ];
    };

    # home-manager switch --flake .#ripley@nostromo (a user on a machine
    # whose system this flake does not manage)
    homeConfigurations."ripley@nostromo" = home-manager.lib.homeManagerConfiguration {
      pkgs = nixpkgs.legacyPackages.x86_64-linux;
      modules = [ ./home/ripley.nix ];
    };
  };
}
