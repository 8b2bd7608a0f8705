{ name = "plugin a V1"; }
