# What nixpkgs does not have (or not as well): Homebrew, declared here.
# nix-darwin writes a Brewfile from this and runs `brew bundle` during
# activation.
{ ... }:
{
  homebrew = {
    enable = true;
    onActivation = {
      autoUpdate = false;
      upgrade = false;
      cleanup = "uninstall";
    };
    taps = [ "nikitabobko/tap" ];
    brews = [ "mas" ];
    casks = [
      "nikitabobko/tap/aerospace"
      "firefox"
      "ghostty"
      "raycast"
    ];
    masApps = {
      "Xcode" = 497799835;
    };
  };
}
