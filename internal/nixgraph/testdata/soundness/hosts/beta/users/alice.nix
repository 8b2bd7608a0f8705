{ text = [ "alice V1" ]; }
