"""Render-side benchmark of the wlcap OBS source: time per frame in the source's video_render and
video_tick (render thread, C) and in the Python controller (capture thread), with OBS's own average
frame time measured in the same run as the baseline they are compared with.

Runs a headless sway and a headless OBS (libobs + libobs-scripting on Xvfb/llvmpipe, the same host
the tests use) and prints one JSON object. DMA-BUF figures need a machine with a DRM device (the VM
tier); on this host the source uses shared memory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from bench.peer_figures import thread_cpu_ns  # noqa: E402
from harness.clients import client_command  # noqa: E402
from harness.compositor import DEMO_COLOURS, ColourCycle, SwayHeadless  # noqa: E402
from harness.obshost import ObsHost, Xvfb, build_obs_host, obs_pythonpath  # noqa: E402


class SmallChanges:
    """A fullscreen test window (tools/clients) repainting a 64x64 square every 0.05 s, in two colours
    by turns: a terminal's cursor or a clock, not the whole screen."""

    def __init__(self, env: dict[str, str]) -> None:
        self._window = subprocess.Popen(client_command("testwindow", "--colour", "203040"), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env, cwd="/")
        self._command("")  # its first `drawn`
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _command(self, line: str) -> None:
        assert self._window.stdin is not None and self._window.stdout is not None
        if line:
            self._window.stdin.write(line + "\n")
            self._window.stdin.flush()
        self._window.stdout.readline()

    def _run(self) -> None:
        colours = itertools.cycle(["ff8000", "0080ff"])
        while not self._stop.wait(0.05):
            self._command(f"rect 100 100 64 64 {next(colours)}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        self._window.kill()
        self._window.wait()


def colour_source_frame_time_us(host: ObsHost, seconds: float) -> float | None:
    """OBS's average frame time with the wlcap source out of the scene and a colour source in it."""
    host.ok("hide", "bench")
    if not host.command("create", "colour", "color_source_v3", '{"color":4286611584}').get("ok"):
        return None
    time.sleep(2.0 + seconds)  # OBS's figure is a running average: let it forget the wlcap frames
    stats = host.command("stats", "colour")  # no get_stats proc, but OBS's own figures come along
    return round(int(stats["obs_average_frame_time_ns"]) / 1000, 2)


def per_frame(after: dict[str, int], before: dict[str, int], total: str, count: str) -> float | None:
    frames = after[count] - before[count]
    return round((after[total] - before[total]) / frames / 1000, 2) if frames else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--backend", default="shm", choices=["auto", "dmabuf", "shm"])
    parser.add_argument("--scene", default="changing", choices=["changing", "small", "static"],
                        help="changing: a new background colour every 0.1 s (the whole screen); small: a "
                             "fullscreen window repaints a 64x64 square every 0.05 s; static: nothing changes")
    args = parser.parse_args()

    sway = SwayHeadless(args.width, args.height)
    xvfb = Xvfb()
    host = None
    # A changing screen, so that every frame carries new pixels; or a small part of it changing.
    animator: ColourCycle[str] | SmallChanges
    if args.scene == "small":
        animator = SmallChanges(sway.env)
    else:
        animator = ColourCycle(lambda colour: sway.show_colour("HEADLESS-1", colour), DEMO_COLOURS, 0.1)
    try:
        binary = build_obs_host(Path(tempfile.mkdtemp(prefix="wlcap-bench-")))
        env = dict(sway.env, DISPLAY=xvfb.display, WLCAP_PYTHONPATH=obs_pythonpath())
        env.pop("PYTHONPATH", None)
        host = ObsHost(binary, env, args.width, args.height)
        host.ok("script", str(REPO / "obs_plugin" / "wlcap.py"))
        settings = json.dumps({"output": "HEADLESS-1", "backend": args.backend}, separators=(",", ":"))
        host.ok("create", "bench", "wlcap_capture", settings)
        if args.scene != "static":
            animator.start()
        time.sleep(2.0)  # warm-up: pool allocated, texture created
        before = host.ok("stats", "bench")
        capture_before = thread_cpu_ns(host.process.pid).get("wlcap-capture", 0)
        time.sleep(args.seconds)
        after = host.ok("stats", "bench")
        capture_ns = thread_cpu_ns(host.process.pid).get("wlcap-capture", 0) - capture_before
        status = host.ok("props", "bench")["status"]
        animator.stop()
        colour_frame_us = colour_source_frame_time_us(host, args.seconds)
        published = after["frames_published"] - before["frames_published"]
        obs_frame_us = round(after["obs_average_frame_time_ns"] / 1000, 2)
        render_us = per_frame(after, before, "render_ns", "renders")
        result = {
            "resolution": f"{args.width}x{args.height}",
            "scene": args.scene,
            "seconds": args.seconds,
            "status": status,
            "render_us_per_frame": render_us,
            "tick_us_per_frame": per_frame(after, before, "tick_ns", "ticks"),
            "python_us_per_frame": per_frame(after, before, "python_ns", "python_frames"),
            # The whole capture thread (Python, libwayland, the pump), per frame it published.
            "capture_thread_cpu_us_per_frame": round(capture_ns / published / 1000, 2) if published else None,
            "frames_shown_per_second": round((after["frames_shown"] - before["frames_shown"]) / args.seconds, 2),
            "frames_dropped": after["frames_dropped"] - before["frames_dropped"],
            # 0 from a build before the counter (obs_host reports a counter the source lacks as 0).
            "pixels_per_upload": round((after["upload_pixels"] - before["upload_pixels"])
                                       / max(1, after["uploads"] - before["uploads"])),
            "uploads_per_shown_frame": round((after["uploads"] - before["uploads"])
                                             / max(1, after["frames_shown"] - before["frames_shown"]), 3),
            "textures_created_after_warmup": after["textures_created"] - before["textures_created"],
            "dmabuf_imports_after_warmup": after["dmabuf_imports"] - before["dmabuf_imports"],
            "obs_average_frame_time_us": obs_frame_us,
            # OBS's frame time with a colour source instead, in the same process right after: the
            # floor any source is measured against.
            "colour_source_obs_frame_time_us": colour_frame_us,
            "obs_frame_time_vs_colour_source": round(obs_frame_us / colour_frame_us, 3) if colour_frame_us else None,
            "capture_thread_cpu_ms_per_second": round(capture_ns / args.seconds / 1e6, 3),
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
