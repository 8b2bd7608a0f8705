{ ... }: { text = [ "zeta V1" ]; }
