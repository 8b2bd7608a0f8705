{ ... }: { text = [ "delta V1" (builtins.readFile ./motd) ]; }
