{ text = [ "services unused V1" ]; }
