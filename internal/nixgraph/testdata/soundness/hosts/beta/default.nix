{ self, system, ... }: {
  imports = [ ./users ];
  text = [
    "beta V1"
    (self.rev or "dirty")                       # git metadata, not the tree
    "${builtins.path { path = ../../modules/assets; name = "assets"; }}"
    "${builtins.filterSource (p: t: true) ../../modules/assets2}"
    (import ../../modules/data.conf)            # Nix code in a file not named .nix
    self.packages.${system}.tool.text           # a flake output flake.nix defines
  ];
}
