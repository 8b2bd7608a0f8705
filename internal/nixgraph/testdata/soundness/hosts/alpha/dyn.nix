{ text = [ "dyn V1" ]; }
