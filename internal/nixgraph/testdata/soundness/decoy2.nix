{ text = [ "decoy2 V1" ]; }
