{ text = "tool V1"; }
