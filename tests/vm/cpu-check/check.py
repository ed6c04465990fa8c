"""In the guest (tests/vm/cpu-check/guest-run.sh): with a terminal scrolling text on screen, does OBS 32
live while it draws wlcap's DMA-BUF capture of sway, and does Hyprland live with no capture at all? And
did OBS's render thread ever refuse a frame for not fitting its buffer (which would point at wlcap,
not at the CPU model)?"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "tests"), str(REPO / "tests" / "desktops")]

from desktop import COMPOSITORS, LOG_DIR, Desktop  # noqa: E402
from harness.obshost import build_obs_host, launch_wayland_obs  # noqa: E402

OBS_SECONDS = 90
HYPRLAND_SECONDS = 60
SCROLLING = ["foot", "-o", "font=DejaVu Sans Mono:size=11", "sh", "-c",
             "while :; do ls -la /usr/lib /usr/bin | head -80; sleep 0.2; done"]


def segfaults() -> list[str]:
    kernel = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in kernel if "segfault" in line or "traps:" in line][-5:]


def obs_on_sway() -> dict[str, Any]:
    desktop = Desktop(COMPOSITORS["sway"], LOG_DIR)
    try:
        desktop.client(SCROLLING)
        host = launch_wayland_obs(build_obs_host(Path("/tmp")), desktop.env, 1280, 800, REPO)
        host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": "dmabuf", "protocol": "wlr"}))
        started, error, stats = time.monotonic(), "", {}
        while time.monotonic() - started < OBS_SECONDS and not error:
            try:
                host.grab(1)
                stats = host.ok("stats", "cap")
            except (RuntimeError, TimeoutError, AssertionError) as exc:
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
            time.sleep(1)
        result = {"seconds": round(time.monotonic() - started, 1), "obs_alive": host.process.poll() is None,
                  "obs_exit": host.process.poll(), "error": error, "frames_shown": stats.get("frames_shown"),
                  "frames_rejected": stats.get("frames_rejected"), "dmabuf_imports": stats.get("dmabuf_imports")}
        host.cleanup()
        return result
    finally:
        desktop.stop()


def hyprland_alone() -> dict[str, Any]:
    desktop = Desktop(COMPOSITORS["hyprland"], LOG_DIR)
    try:
        desktop.client(SCROLLING)
        started = time.monotonic()
        while desktop.alive and time.monotonic() - started < HYPRLAND_SECONDS:
            time.sleep(1)
        return {"seconds": round(time.monotonic() - started, 1), "hyprland_alive": desktop.alive,
                "hyprland_exit": desktop.process.poll()}
    finally:
        desktop.stop()


def main() -> int:
    result = {"avx": "avx" in Path("/proc/cpuinfo").read_text().split(), "obs_on_sway": obs_on_sway(),
              "hyprland_alone": hyprland_alone(), "segfaults": segfaults()}
    Path(sys.argv[1]).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    obs, hyprland = result["obs_on_sway"], result["hyprland_alone"]
    return 0 if obs["obs_alive"] and not obs["error"] and hyprland["hyprland_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
