{ text = [ "alpha unused V1" ]; }
