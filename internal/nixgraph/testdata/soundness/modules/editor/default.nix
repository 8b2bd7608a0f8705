{ ... }: {
  imports = [ ./plugins.nix ];
  text = [
    "editor V1"
    (builtins.readFile ./init.lua)
    "${./theme}"                                # the whole directory, copied
    (builtins.readFile "${./theme}/colors")
  ];
}
