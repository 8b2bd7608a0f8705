{ text = [ "time V1" ]; }
