{ pkgs, ... }:
{
  networking.hostName = "lv426";
  networking.localHostName = "lv426";
  nixpkgs.hostPlatform = "aarch64-darwin";

  # Determinate Nix runs the daemon and reads /etc/nix/nix.custom.conf
  # (installed by sysinit's nix-conf step); nix-darwin leaves nix alone.
  nix.enable = false;

  system.primaryUser = "ripley";
  users.users.ripley.home = "/Users/ripley";

  environment.systemPackages = with pkgs; [ git go-task ];

  system.stateVersion = 6;
}
