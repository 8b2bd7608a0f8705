{ text = [ "other V1" ]; }
