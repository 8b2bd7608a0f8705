{ text = [ "real V1" (import ./dep.nix) ]; }
