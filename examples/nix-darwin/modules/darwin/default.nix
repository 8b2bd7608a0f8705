{ ... }:
{
  imports = [ ./homebrew.nix ];

  security.pam.services.sudo_local.touchIdAuth = true;

  system.defaults = {
    dock.autohide = true;
    NSGlobalDomain.KeyRepeat = 2;
    finder.AppleShowAllExtensions = true;
  };
}
