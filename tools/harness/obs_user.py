"""The OBS Studio app started on a user's own HOME, as it stands (what `wlcap obs install` left
there), headless on Xvfb, driven through obs-websocket. Unlike obs_frontend.ObsApp, which writes a
configuration of its own into a fresh HOME, this adds only obs-websocket's settings (a user needs none).

OBS is closed the way a user closes it, so that it writes its scene collection back: its first-run
wizard first where it shows, then its main window.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

from harness.obs_frontend import ObsProcess, free_port, write_websocket_settings
from harness.x11_close import close_windows

from capture.cli.obs_studio import config_root


def set_ini_section(path: Path, section: str, values: dict[str, str]) -> None:
    """`section` of an INI file replaced by `values` (the rest kept)."""
    kept, skipping = [], False
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        if line.strip().startswith("["):
            skipping = line.strip().lower() == f"[{section.lower()}]"
        if not skipping:
            kept.append(line)
    body = "\n".join(kept).rstrip("\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((body + "\n\n" if body else "") + f"[{section}]\n"
                    + "".join(f"{key}={value}\n" for key, value in values.items()))


class UserObs(ObsProcess):
    """The OBS app started on a user's HOME as it stands, plus obs-websocket's settings (OBS 29 reads
    them from global.ini, obs-websocket 5.5 and later from plugin_config)."""

    def __init__(self, env: dict[str, str], display: str) -> None:
        root, port = config_root(env), free_port()
        set_ini_section(root / "global.ini", "OBSWebSocket", {
            "FirstLoad": "false", "ServerEnabled": "true", "ServerPort": str(port), "AlertsEnabled": "false",
            "AuthRequired": "false", "ServerPassword": ""})
        write_websocket_settings(root, port)
        super().__init__(env, root, port, close=lambda: self._close_windows(display))

    def _close_windows(self, display: str) -> None:
        """OBS's first-run wizard first, where it shows: the main window takes a close only once it has
        gone, so both are asked again until OBS ends (or 30 s)."""
        deadline = time.monotonic() + 30
        while self.process.poll() is None and time.monotonic() < deadline:
            if close_windows(display, "Auto-Configuration Wizard"):
                time.sleep(1)
            close_windows(display, "OBS ")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)

    def stop(self, timeout: float = 30) -> int:
        """Closes OBS as a user does, so that OBS writes its scene collection back; it must end cleanly."""
        status = super().stop(timeout)
        assert status == 0 and self.stop_method == "window close", \
            f"OBS did not close cleanly ({status}, {self.stop_method}): {self.log()[-2000:]}"
        return status
