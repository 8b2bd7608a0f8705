{ ... }:
{
  nix.settings = {
    experimental-features = [ "nix-command" "flakes" ];
    trusted-users = [ "ripley" ];
    max-jobs = "auto";
  };
  services.openssh.enable = true;
  networking.firewall.enable = true;
  time.timeZone = "Europe/London";
}
