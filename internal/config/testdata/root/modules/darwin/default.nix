{ homebrew.enable = true; }
