{ greeting = "hello V1"; }
