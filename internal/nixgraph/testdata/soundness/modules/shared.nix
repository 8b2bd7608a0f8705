{ name, ... }:
# imports = [ ../decoy.nix ];   a comment names no file
let banner = ./banner; in {
  imports = map (n: ./services + "/${n}.nix") [ "ssh" "time" ];
  text = [
    "shared V1 for ${name}"
    "../decoy2.nix is only text"
    (builtins.readFile (banner + ".txt"))     # a sibling of a path held in a variable
    (import ./values.nix).greeting
    (builtins.readFile ./keys/${name}/key.pub)  # an interpolated path with a literal tail
  ];
}
