{ text = [ "ssh V1" ]; }
