{ self, system, ... }: {
  # apps' program holds "${self}": the whole tree, through two let bindings
  text = [ "epsilon V1" self.apps.${system}.epsilon.program ];
}
