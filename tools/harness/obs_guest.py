"""Shared by the guest tests: the sway that tests/vm/capture/guest-run.sh runs, frames read back from
it, and the headless OBS 32 host started with the wlcap script against it, and what it outputs (and
what the OBS process holds: fds and threads)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import obshost
from harness.obshost import ObsHost, launch_wayland_obs

from capture import Frame

REPO = Path(__file__).resolve().parent.parent.parent
COLOUR = (200, 40, 120)
WIDTH, HEIGHT = 640, 400
TOLERANCE = 2

Colour = tuple[int, int, int]


def swaymsg(*args: str) -> None:
    subprocess.run(["swaymsg", *args], check=True, capture_output=True, timeout=30)


def settled_pixels(frame: Frame) -> bytes:
    """The frame's pixels once they stop changing. llvmpipe attaches no fence to the copy, so it can
    still be writing after `ready` (the fences of issue 5 are what make this wait unnecessary)."""
    previous = frame.read_pixels()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.05)
        current = frame.read_pixels()
        if current == previous:
            return current
        previous = current
    return previous


def set_background(colour: Colour) -> None:
    command = ["swaymsg", "output", "*", "bg", "#{:02x}{:02x}{:02x}".format(*colour), "solid_color"]
    for _attempt in range(5):  # under TCG, a busy sway now and then misses swaymsg's 3 s IPC deadline
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return
        time.sleep(1.0)
    raise AssertionError(f"{' '.join(command)}: {result.stdout.strip()} {result.stderr.strip()}")


def launch_obs(binary: Path, width: int = WIDTH, height: int = HEIGHT, **extra_env: str) -> ObsHost:
    """The OBS host on Wayland EGL against the tier's sway with the wlcap script loaded, no source yet."""
    return launch_wayland_obs(binary, dict(os.environ), width, height, REPO, **extra_env)


def launch_obs_capturing(binary: Path, display: str, width: int = WIDTH, height: int = HEIGHT,
                         **extra_env: str) -> ObsHost:
    """The OBS host drawing on the tier's sway but capturing the compositor at `display` (a socket
    path): one a test may kill and restart while OBS stays up, as OBS outlives a nested or second
    session's compositor."""
    env = dict(os.environ, OBS_HOST_WAYLAND_DISPLAY=os.environ["WAYLAND_DISPLAY"], WAYLAND_DISPLAY=display)
    return launch_wayland_obs(binary, env, width, height, REPO, **extra_env)


def start_obs(binary: Path, create: bool = True, backend: str = "dmabuf", **extra_env: str) -> ObsHost:
    """OBS with a source "cap" capturing the output over wlr-screencopy (ext has tests of its own),
    showing COLOUR. Both protocols capture only a screen that changed: tests that count frames make
    them with `drive_frames`."""
    set_background(COLOUR)
    host = launch_obs(binary, **extra_env)
    if create:
        settings = {"backend": backend, "protocol": "wlr", "cursor": False}  # the pixels are COLOUR's alone
        host.ok("create", "cap", "wlcap_capture", json.dumps(settings, separators=(",", ":")))
    return host


DRIVE_COLOUR = (30, 90, 200)


def drive_frames(host: ObsHost, done: Callable[[dict[str, Any]], bool], timeout: float = 120) -> dict[str, Any]:
    """Change the screen (COLOUR and another, by turns, one a second: a frame takes about that long
    under TCG) until the source's stats say `done`, or timeout; the last stats. COLOUR is shown at
    the end."""
    deadline = time.monotonic() + timeout
    changes = 0
    try:
        while not done(stats := host.ok("stats", "cap")) and time.monotonic() < deadline:
            changes += 1
            set_background(DRIVE_COLOUR if changes % 2 else COLOUR)
            time.sleep(1.0)
        return stats
    finally:
        if changes % 2:
            set_background(COLOUR)


def keep_log(host: ObsHost, name: str) -> None:
    """The OBS log goes back to the host through the share (tests/vm/run-wlcap-tests.sh)."""
    share = os.environ.get("WLCAP_SHARE")
    if share:
        Path(share, name).write_text(host.log())


def wait_for_status(host: ObsHost, text: str, timeout: float = 60, source: str = "cap", part: str = "status") -> str:
    """Until `source`'s status (part="headline": its first line only) holds `text`, or timeout: it."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(host.ok("props", source)[part])
        if text in status or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def worst_difference(frame: bytes, colour: Colour = COLOUR, width: int = WIDTH, height: int = HEIGHT) -> int:
    return obshost.worst_difference(frame, colour, width, height)


def wait_for_colour(host: ObsHost, colour: Colour = COLOUR, timeout: float = 60) -> int:
    return obshost.wait_for_colour(host, colour, TOLERANCE, timeout)


def reset_canvas(host: ObsHost, width: int, height: int) -> None:
    """A canvas of another size (OBS's video settings): libobs restarts its graphics thread."""
    answer = host.ok("reset_video", str(width), str(height))
    host.width, host.height = answer["width"], answer["height"]


Level = tuple[int, int]


def process_level(host: ObsHost) -> Level:
    """The open fds and the threads of the OBS process."""
    pid = host.process.pid
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def fd_targets(host: ObsHost) -> list[str]:
    """What the OBS process's fds are (for a message when its level is not what it was)."""
    pid = host.process.pid
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return sorted(targets)


def warm_up(host: ObsHost, change: Callable[[bool], None], imports: int, source: str = "cap",
            timeout: float = 120) -> dict[str, Any]:
    """Change what the source captures (`change(True)`, `change(False)`, by turns, one a second)
    until it has imported `imports` DMA-BUFs in all: each pooled buffer is imported when it first
    comes, and then held, so that only then does the OBS process hold what it holds for the rest of
    the stream. Ends with `change(False)`; the last stats."""
    deadline = time.monotonic() + timeout
    flipped = False
    try:
        while (stats := host.ok("stats", source))["dmabuf_imports"] < imports and time.monotonic() < deadline:
            flipped = not flipped
            change(flipped)
            time.sleep(1.0)
        return stats
    finally:
        if flipped:
            change(False)


def steady_level(host: ObsHost, samples: int = 6) -> Level:
    """What the OBS process holds at rest: the least of a few samples, so that a source retrying a
    connection at that moment does not count."""
    levels = []
    for _sample in range(samples):
        levels.append(process_level(host))
        time.sleep(0.5)
    return min(fds for fds, _ in levels), min(threads for _, threads in levels)


def wait_for_level(host: ObsHost, level: Level, timeout: float = 30) -> Level:
    """Until the OBS process holds `level` again (what a stream ended in a fault lets go of goes on
    its own threads), or timeout; what it holds then."""
    deadline = time.monotonic() + timeout
    while (now := process_level(host)) != level and time.monotonic() < deadline:
        time.sleep(0.5)
    return now
