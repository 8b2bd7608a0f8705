# A module system in miniature: a module is a path, a function of the
# arguments or an attribute set; its imports are loaded in turn and every
# module's text is collected.
let
  load = args: m:
    let
      v = if builtins.isFunction m || builtins.isAttrs m then m else import m;
      r = if builtins.isFunction v then v args else v;
    in [ r ] ++ builtins.concatLists (map (load args) (r.imports or [ ]));
  listFilesRecursive = dir:
    builtins.concatLists (builtins.attrValues (builtins.mapAttrs
      (n: t: if t == "directory" then listFilesRecursive (dir + "/${n}") else [ (dir + "/${n}") ])
      (builtins.readDir dir)));
in {
  eval = args: modules:
    builtins.concatLists (map (r: r.text or [ ]) (builtins.concatLists (map (load args) modules)));
  filesystem = { inherit listFilesRecursive; };
  version = "lib V1";
}
