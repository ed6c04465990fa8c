"""The cursor drawn by OBS: OBS 32 in the guest tier draws the cursor wlcap captures apart
(ext-image-copy-capture-v1's cursor session) at its hotspot, hides and shows it without a new capture,
and follows it while the screen, unchanged, sends no frame."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from harness.obs_guest import TOLERANCE, Colour, keep_log, launch_obs, set_background, wait_for_status, worst_difference
from harness.obshost import ObsHost, bgra_pixel
from pointer import cursor_at, virtual_pointer

from capture.protocol.cursor_session import CursorState

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

BACKGROUND: Colour = (40, 150, 70)


def settings(cursor: bool) -> str:
    return json.dumps({"backend": "dmabuf", "protocol": "ext", "cursor": cursor, "cursor_drawing": "obs"},
                      separators=(",", ":"))


def cursor_mismatches(frame: bytes, host: ObsHost, state: CursorState) -> list[str]:
    """Where OBS's output differs from the background with the cursor over it: its opaque pixels in
    the cursor's colours, its clear ones showing the background (the blended edge is left out)."""
    assert state.image is not None and state.top_left is not None
    image, (left, top) = state.image, state.top_left
    wrong = []
    for y in range(image.height):
        for x in range(image.width):
            fx, fy = left + x, top + y
            if not (0 <= fx < host.width and 0 <= fy < host.height):
                continue
            offset = y * image.stride + x * 4
            b, g, r, a = image.pixels[offset:offset + 4]
            if a not in (0, 255):
                continue
            expected = (r, g, b) if a == 255 else BACKGROUND
            got = bgra_pixel(frame, host.width, fx, fy)
            if max(abs(e - o) for e, o in zip(expected, got, strict=True)) > TOLERANCE:
                wrong.append(f"({fx},{fy}) {got} instead of {expected}")
    return wrong


def wait_for_cursor(host: ObsHost, state: CursorState, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        wrong = cursor_mismatches(host.grab(2), host, state)
        if not wrong or time.monotonic() > deadline:
            return wrong
        time.sleep(0.5)


def wait_for_background(host: ObsHost, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        difference = worst_cursor_area_difference(host.grab(2), host)
        if difference <= TOLERANCE or time.monotonic() > deadline:
            return difference
        time.sleep(0.5)


def worst_cursor_area_difference(frame: bytes, host: ObsHost) -> int:
    """The largest difference from the background, over the whole canvas and densely where the cursor
    was drawn (the grid of worst_difference could miss a 64x64 cursor)."""
    dense = max(max(abs(a - b) for a, b in zip(bgra_pixel(frame, host.width, x, y), BACKGROUND, strict=True))
                for y in range(100, 300) for x in range(150, 400))
    return max(dense, worst_difference(frame, BACKGROUND, host.width, host.height))


def test_obs_draws_the_cursor_at_its_hotspot_and_shows_or_hides_it_without_a_new_capture(
        obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    set_background(BACKGROUND)
    with virtual_pointer() as pointer:
        state = cursor_at(pointer, 200, 150)  # what wlcap's library captures: image and hotspot
        host = launch_obs(obs_host_binary)
        try:
            host.ok("create", "cap", "wlcap_capture", settings(cursor=True))
            status = wait_for_status(host, "cursor drawn by OBS")
            print("status:", status)
            assert "cursor drawn by OBS, ext-image-copy-capture-v1" in status, status
            wrong = wait_for_cursor(host, state)
            assert not wrong, f"{len(wrong)} cursor pixels wrong, e.g. {wrong[:3]}"

            host.ok("update", "cap", settings(cursor=False))
            assert wait_for_background(host) <= TOLERANCE, "the cursor stayed after it was hidden"
            assert "cursor left out by OBS" in wait_for_status(host, "cursor left out by OBS")
            draws = host.ok("stats", "cap")["cursor_draws"]
            host.grab(2)
            assert host.ok("stats", "cap")["cursor_draws"] == draws, "a hidden cursor was drawn"

            host.ok("update", "cap", settings(cursor=True))
            assert not wait_for_cursor(host, state), "the cursor did not come back"
            published = host.ok("stats", "cap")["frames_published"]
            pointer.move(300, 200)
            wrong = wait_for_cursor(host, replace(state, x=300, y=200))
            assert not wrong, f"the cursor did not follow the pointer: {wrong[:3]}"
            stats = host.ok("stats", "cap")
            print(f"frames published while the cursor moved: {stats['frames_published'] - published}; "
                  f"cursor uploads {stats['cursor_uploads']}, draws {stats['cursor_draws']}")
            assert stats["frames_published"] == published, "moving the cursor made the screen capture again"
            assert stats["cursor_uploads"] == 1, "the unchanged cursor image was uploaded again"
            captures = [line for line in host.log().splitlines() if "[wlcap] capturing " in line]
            assert len(captures) == 1, captures  # one capture all along
            keep_log(host, "obs-cursor.log")
            host.ok("release", "cap")
            assert host.quit() == guest_baseline_leaks
        finally:
            host.cleanup()
