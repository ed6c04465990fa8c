"""An output and a window in one OBS (OBS 32 in the guest tier, DMA-BUF): each source keeps its own
Wayland connection and capture thread, so a window that closes and comes back leaves the screen
source capturing throughout (the host's tests/test_obs_many_sources.py covers outputs, crops and scenes)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from harness.obs_guest import TOLERANCE, keep_log, launch_obs, set_background, wait_for_status
from harness.obshost import ObsHost, bgra_pixel
from test_obs_many_sources import capture_threads
from test_obs_window import APP_ID, close_window, open_window

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

SOURCE_W, SOURCE_H = 320, 200
WINDOW_COLOUR, FIRST_BACKGROUND, SECOND_BACKGROUND = (200, 60, 40), (30, 90, 160), (60, 150, 70)


def halves_show(host: ObsHost, left: tuple[int, int, int], right: tuple[int, int, int], timeout: float = 90) -> bool:
    """Until the window source (left half) shows `left` and the screen source (right half) `right`."""
    points = [(x, y) for x in (20, SOURCE_W // 2, SOURCE_W - 20) for y in (20, SOURCE_H // 2, SOURCE_H - 20)]
    deadline = time.monotonic() + timeout
    while True:
        frame = host.grab(2)
        worst = max(max(abs(a - b) for a, b in zip(bgra_pixel(frame, host.width, x + dx, y), colour, strict=True))
                    for x, y in points for dx, colour in ((0, left), (SOURCE_W, right)))
        if worst <= TOLERANCE:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def screen_shows(host: ObsHost, colour: tuple[int, int, int], timeout: float = 90) -> bool:
    """Until the screen source (right half) shows `colour`, whatever the window source shows."""
    deadline = time.monotonic() + timeout
    while True:
        pixel = bgra_pixel(host.grab(2), host.width, SOURCE_W + SOURCE_W // 2, SOURCE_H // 2)
        if max(abs(a - b) for a, b in zip(pixel, colour, strict=True)) <= TOLERANCE:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def test_an_output_and_a_window_in_one_obs(obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    subprocess.run(["swaymsg", "for_window", '[app_id="^wlcap"]', "floating", "enable"], check=True,
                   capture_output=True, timeout=30)
    set_background(FIRST_BACKGROUND)
    window = open_window("c83c28")  # floating, centred: the output's top left corner is background
    host = launch_obs(obs_host_binary, 2 * SOURCE_W, SOURCE_H)
    again = None
    try:
        host.ok("create", "win", "wlcap_capture",
                json.dumps({"cursor": False, "target": "window", "window": APP_ID, "backend": "dmabuf"}))
        host.ok("create", "screen", "wlcap_capture",
                json.dumps({"cursor": False, "region": f"0,0 {SOURCE_W}x{SOURCE_H}", "backend": "dmabuf"}))
        host.ok("move", "screen", str(SOURCE_W), "0")
        assert "capturing window" in wait_for_status(host, "capturing window", 90, "win", "headline")
        assert "dmabuf" in wait_for_status(host, "dmabuf", 90, "screen", "headline")
        assert halves_show(host, WINDOW_COLOUR, FIRST_BACKGROUND)
        assert capture_threads(host.process.pid) == 2

        close_window(window)
        assert "no window" in wait_for_status(host, "no window", 90, "win", "headline")
        set_background(SECOND_BACKGROUND)  # the screen source keeps capturing meanwhile
        assert screen_shows(host, SECOND_BACKGROUND), "the screen source stopped when the window closed"
        assert "capturing" in str(host.ok("props", "screen")["headline"])

        again = open_window("c83c28")
        assert "capturing window" in wait_for_status(host, "capturing window", 90, "win", "headline")
        assert halves_show(host, WINDOW_COLOUR, SECOND_BACKGROUND)
        log = host.log()
        assert "Traceback" not in log
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-many-sources.log")
        host.cleanup()
        close_window(window)
        if again is not None:
            close_window(again)
