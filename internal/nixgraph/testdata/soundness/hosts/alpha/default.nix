{ lib, self, ... }: {
  imports = [
    ./hardware.nix
    ../../modules/editor            # a directory: its default.nix
    (./. + "/dyn.nix")              # path + string
    ../../modules/link.nix          # a symlink
  ];
  text = [ "alpha V1" (builtins.readFile ./motd) lib.version
    "${self.nixosConfigurations.delta}" ]               # another configuration, by name
    ++ map builtins.readFile (lib.filesystem.listFilesRecursive ./snippets);
}
