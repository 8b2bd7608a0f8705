{ imports = [ ./alice.nix ]; text = [ "users V1" ]; }
