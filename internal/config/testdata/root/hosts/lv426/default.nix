{ networking.hostName = "lv426"; }
