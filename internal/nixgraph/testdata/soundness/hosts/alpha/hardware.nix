{ text = [ "hardware V1" ]; }
