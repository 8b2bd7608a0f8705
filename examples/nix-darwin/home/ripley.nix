{ pkgs, ... }:
{
  home.username = "ripley";
  home.homeDirectory = if pkgs.stdenv.isDarwin then "/Users/ripley" else "/home/ripley";
  home.stateVersion = "25.05";

  programs.git = {
    enable = true;
    userName = "Ellen Ripley";
    userEmail = "ripley@weyland-yutani.example";
  };
  programs.direnv.enable = true;
  home.packages = with pkgs; [ htop tmux ];
}
