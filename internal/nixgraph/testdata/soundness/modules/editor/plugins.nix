{ ... }:
let names = builtins.attrNames (builtins.readDir ./plugins);
in { text = [ "plugins V1" ] ++ map (n: (import (./plugins + "/${n}")).name) names; }
