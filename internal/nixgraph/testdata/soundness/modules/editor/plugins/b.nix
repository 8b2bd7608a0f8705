{ name = "plugin b V1"; }
