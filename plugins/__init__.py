"""roadcam's built-in plugins, one package per capability, each owning its config section."""
