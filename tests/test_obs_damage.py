"""The OBS source copies only what changed: a static screen costs no capture and no upload, and a small
change uploads its rectangle, not the frame (host: sway 1.7 headless, wlr-screencopy's
copy_with_damage, shared memory, OBS 29's OpenGL renderer on llvmpipe)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import same_capture_env
from harness.clients import client_command
from harness.compositor import SwayHeadless
from harness.obshost import ObsHost, wait_for_colour

WIDTH, HEIGHT = 320, 240
WINDOW = (0x20, 0x40, 0x60)
CHANGE = (0xFF, 0x80, 0x00)
TOLERANCE = 2


def hex_colour(colour: tuple[int, int, int]) -> str:
    return "".join(f"{channel:02x}" for channel in colour)


class Window:
    """tools/clients/testwindow.py, filling the output (sway tiles it, without borders)."""

    def __init__(self, sway: SwayHeadless) -> None:
        self.process = subprocess.Popen([*client_command("testwindow"), "--colour", hex_colour(WINDOW)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env=same_capture_env(sway.env), cwd="/")
        self.wait_drawn()

    def wait_drawn(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("drawn "), line
        return line

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        self.wait_drawn()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture()
def window_on_sway() -> Iterator[tuple[SwayHeadless, Window]]:
    sway = SwayHeadless(WIDTH, HEIGHT, "#000000")
    window = Window(sway)
    try:
        yield sway, window
    finally:
        window.close()
        sway.stop()


def rgb(frame: bytes) -> np.ndarray:  # type: ignore[type-arg]
    return np.frombuffer(frame, dtype=np.uint8).reshape(HEIGHT, WIDTH, 4)[:, :, 2::-1].astype(int)


def wait_for_stats(host: ObsHost, done: object, timeout: float = 20) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        stats = host.ok("stats", "cap")
        if done(stats) or time.monotonic() > deadline:  # type: ignore[operator]
            return stats
        time.sleep(0.2)


def test_a_small_change_uploads_its_rectangle_and_the_picture_stays_exact(
        window_on_sway: tuple[SwayHeadless, Window], obs_factory) -> None:  # type: ignore[no-untyped-def]
    from test_obs import SCRIPT

    sway, window = window_on_sway
    host = obs_factory(sway.env, WIDTH, HEIGHT)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": "shm", "output": "HEADLESS-1"}))
    assert wait_for_colour(host, WINDOW, TOLERANCE, timeout=30) <= TOLERANCE
    before = host.ok("stats", "cap")
    for step, x in enumerate((40, 120, 200)):  # three changes, each a 48x32 rectangle
        window.command(f"rect {x} 100 48 32 {hex_colour(CHANGE)}")
        wait_for_stats(host, lambda s, n=step: s["uploads"] > before["uploads"] + n)
    time.sleep(0.5)
    after = host.ok("stats", "cap")
    picture = rgb(host.grab(3))
    expected = np.broadcast_to(np.array(WINDOW), picture.shape).copy()
    for x in (40, 120, 200):
        expected[100:132, x:x + 48] = CHANGE
    worst = int(np.abs(picture - expected).max())
    uploads = after["uploads"] - before["uploads"]
    pixels = after["upload_pixels"] - before["upload_pixels"]
    print(f"{uploads} uploads of {pixels} pixels in all, for 3 changes of {48 * 32}; worst difference {worst}")
    assert worst <= TOLERANCE, "OBS's picture differs from the window's: a change was lost or misplaced"
    assert uploads >= 1
    assert 48 * 32 <= pixels < uploads * WIDTH * HEIGHT, "every upload replaced the whole frame"
    assert host.quit() == 0


def test_an_unchanged_screen_costs_no_capture_and_no_upload(
        window_on_sway: tuple[SwayHeadless, Window], obs_factory) -> None:  # type: ignore[no-untyped-def]
    from test_obs import SCRIPT

    sway, _window = window_on_sway
    host = obs_factory(sway.env, WIDTH, HEIGHT)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": "shm", "output": "HEADLESS-1"}))
    assert wait_for_colour(host, WINDOW, TOLERANCE, timeout=30) <= TOLERANCE
    time.sleep(1.0)
    before = host.ok("stats", "cap")
    time.sleep(3.0)
    after = host.ok("stats", "cap")
    print(f"in 3 s of an unchanged screen: {after['frames_published'] - before['frames_published']} frames "
          f"published, {after['uploads'] - before['uploads']} uploads, {after['renders'] - before['renders']} "
          "renders")
    assert after["renders"] > before["renders"]  # OBS kept drawing the source
    assert after["frames_published"] == before["frames_published"]
    assert after["uploads"] == before["uploads"]
    assert host.quit() == 0
