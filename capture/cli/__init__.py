"""The `wlcap` command line: outputs, windows, screenshot, stream, bench."""
