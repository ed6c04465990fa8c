"""wlcap for OBS Studio: load this script in Tools -> Scripts, then add the source
"Wayland Capture (wlcap)" in Sources -> +.

The source itself lives in C (wlcap_obs._native, built from native/): stock obspython cannot
register Python sources and has none of the DMA-BUF calls. This script finds wlcap's Python
packages, registers the source type on load and disables it on unload.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import obspython as obs

HERE = Path(__file__).resolve().parent
PYTHON_TAG = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _candidate_paths() -> list[Path]:
    """Where wlcap's packages (capture, wlcap_obs, pywayland, cffi) may be, most specific first."""
    paths = [Path(p) for p in os.environ.get("WLCAP_PYTHONPATH", "").split(os.pathsep) if p]
    paths.append(HERE / "wlcap-python")  # `cmake --install` puts them beside the script
    paths.append(HERE.parent / ".venv" / "lib" / PYTHON_TAG / "site-packages")  # a checkout after scripts/setup
    return paths


def _add_dependency_paths() -> list[str]:
    added = []
    for path in reversed(_candidate_paths()):  # inserted at the front: the first candidate ends first
        if path.is_dir() and str(path) not in sys.path:
            sys.path.insert(0, str(path))
            added.append(str(path))
    return added


_plugin = None


def script_description() -> str:
    return ("<b>wlcap</b>: zero-copy Wayland screen capture for wlroots compositors (sway, Hyprland, "
            "labwc, niri...). Adds the source <i>Wayland Capture (wlcap)</i>.")


def script_load(settings: object) -> None:
    global _plugin
    added = _add_dependency_paths()
    try:
        from wlcap_obs import plugin
    except ImportError as exc:
        searched = ", ".join(str(p) for p in _candidate_paths())
        obs.script_log(obs.LOG_ERROR, f"[wlcap] cannot import wlcap ({exc}); looked in: {searched}. "
                                      "Build it with scripts/setup or install it with cmake --install.")
        return
    plugin.load()
    _plugin = plugin
    obs.script_log(obs.LOG_INFO, f"[wlcap] loaded from {Path(plugin.__file__).parent} (paths added: {added})")


def script_unload() -> None:
    if _plugin is not None:
        _plugin.unload()
