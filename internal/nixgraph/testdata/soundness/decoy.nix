{ text = [ "decoy V1" ]; }
