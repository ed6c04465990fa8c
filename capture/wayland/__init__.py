"""The Wayland connection and what it tracks: the registry, outputs, windows, protocol bindings."""
