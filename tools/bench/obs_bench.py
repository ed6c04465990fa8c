"""Render-side benchmark of the wlcap OBS source: time per frame in the source's video_render and
video_tick (render thread, C) and in the Python controller (capture thread), with OBS's own average
frame time measured in the same run as the baseline they are compared with.

Runs a headless sway and a headless OBS (libobs + libobs-scripting on Xvfb/llvmpipe, the same host
the tests use) and prints one JSON object. DMA-BUF figures need a machine with a DRM device (the VM
tier); on this host the source uses shared memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from harness.compositor import DEMO_COLOURS, ColourCycle, SwayHeadless  # noqa: E402
from harness.obshost import ObsHost, Xvfb, build_obs_host, obs_pythonpath  # noqa: E402


def thread_cpu_ns(pid: int, name: str) -> int:
    """CPU time (ns) of the threads of `pid` named `name`, from the scheduler's own account
    (/proc/PID/task/TID/schedstat: nanoseconds on a CPU, not 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == name:
                total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between the listing and the read
    return total


def per_frame(after: dict[str, int], before: dict[str, int], total: str, count: str) -> float | None:
    frames = after[count] - before[count]
    return round((after[total] - before[total]) / frames / 1000, 2) if frames else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--backend", default="shm", choices=["auto", "dmabuf", "shm"])
    args = parser.parse_args()

    sway = SwayHeadless(args.width, args.height)
    xvfb = Xvfb()
    host = None
    # A changing screen, so that every frame carries new pixels.
    animator = ColourCycle(lambda colour: sway.show_colour("HEADLESS-1", colour), DEMO_COLOURS, 0.1)
    try:
        binary = build_obs_host(Path(tempfile.mkdtemp(prefix="wlcap-bench-")))
        env = dict(sway.env, DISPLAY=xvfb.display, WLCAP_PYTHONPATH=obs_pythonpath())
        env.pop("PYTHONPATH", None)
        host = ObsHost(binary, env, args.width, args.height)
        host.ok("script", str(REPO / "obs_plugin" / "wlcap.py"))
        settings = json.dumps({"output": "HEADLESS-1", "backend": args.backend}, separators=(",", ":"))
        host.ok("create", "bench", "wlcap_capture", settings)
        animator.start()
        time.sleep(2.0)  # warm-up: pool allocated, texture created
        before = host.ok("stats", "bench")
        capture_before = thread_cpu_ns(host.process.pid, "wlcap-capture")
        time.sleep(args.seconds)
        after = host.ok("stats", "bench")
        capture_ns = thread_cpu_ns(host.process.pid, "wlcap-capture") - capture_before
        published = after["frames_published"] - before["frames_published"]
        status = host.ok("props", "bench")["status"]
        obs_frame_us = round(after["obs_average_frame_time_ns"] / 1000, 2)
        render_us = per_frame(after, before, "render_ns", "renders")
        result = {
            "resolution": f"{args.width}x{args.height}",
            "seconds": args.seconds,
            "status": status,
            "render_us_per_frame": render_us,
            "tick_us_per_frame": per_frame(after, before, "tick_ns", "ticks"),
            "python_us_per_frame": per_frame(after, before, "python_ns", "python_frames"),
            # The whole capture thread (Python, libwayland, the pump), per frame it published.
            "capture_thread_cpu_us_per_frame": round(capture_ns / published / 1000, 2) if published else None,
            "frames_shown_per_second": round((after["frames_shown"] - before["frames_shown"]) / args.seconds, 2),
            "frames_dropped": after["frames_dropped"] - before["frames_dropped"],
            "uploads_per_shown_frame": round((after["uploads"] - before["uploads"])
                                             / max(1, after["frames_shown"] - before["frames_shown"]), 3),
            "textures_created_after_warmup": after["textures_created"] - before["textures_created"],
            "dmabuf_imports_after_warmup": after["dmabuf_imports"] - before["dmabuf_imports"],
            "obs_average_frame_time_us": obs_frame_us,
            "render_share_of_obs_frame": round(render_us / obs_frame_us, 4) if render_us and obs_frame_us else None,
            "obs_lagged_frames": after["obs_lagged_frames"] - before["obs_lagged_frames"],
        }
        print(json.dumps(result, indent=2))
        host.quit()
    finally:
        animator.stop()
        if host is not None:
            host.cleanup()
        xvfb.stop()
        sway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
