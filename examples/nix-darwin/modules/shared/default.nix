# Shared by both systems.
{ pkgs, ... }:
{
  nixpkgs.config.allowUnfree = true;
  programs.zsh.enable = true;
  environment.systemPackages = with pkgs; [ ripgrep fd jq ];
}
