{ text = "shell V1"; }
