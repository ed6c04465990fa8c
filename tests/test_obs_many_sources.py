"""Several wlcap sources in one OBS (libobs 29 headless, sway 1.7 headless with two outputs, shared
memory): two outputs side by side, one output twice with different crops in another scene, and a source
whose output does not exist. Each shown source captures through its own Wayland connection and capture
thread (README, "Many sources", says why not one connection for all); a hidden one holds neither, and
none disturbs another: pixels, connections, threads and frame counts say so."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness.clients import client_command
from harness.compositor import SwayHeadless
from harness.obshost import ObsHost, bgra_pixel, max_channel_difference
from patterns import crop, pattern, write_png
from test_obs import socket_fds, wait_for

from capture.image import RgbImage

SCRIPT = Path(__file__).resolve().parent.parent / "obs_plugin" / "wlcap.py"
OUTPUT_W, OUTPUT_H = 320, 240
TOLERANCE = 2  # OBS's sRGB round trip may move a value by one or two
FIRST_CROP = (0, 0, 160, 120)
SECOND_CROP = (150, 100, 160, 120)


def settings(**values: object) -> str:
    return json.dumps({"backend": "shm", "cursor": False, **values}, separators=(",", ":"))


def region(box: tuple[int, int, int, int]) -> str:
    x, y, width, height = box
    return f"{x},{y} {width}x{height}"


def capture_threads(pid: int) -> int:
    """The OBS process's threads named as capture.stream names each stream's."""
    return sum(1 for task in os.listdir(f"/proc/{pid}/task")
               if Path(f"/proc/{pid}/task/{task}/comm").read_text().strip() == "wlcap-capture")


def wait_for_pixels(host: ObsHost, expected: list[tuple[RgbImage, int, int]], timeout: float = 20) -> int:
    """Until every (image, x, y) fills its place in OBS's output, or timeout: the worst difference."""
    deadline = time.monotonic() + timeout
    while True:
        frame = host.grab(2)
        worst = max(max_channel_difference(frame, host.width, image, x, y) for image, x, y in expected)
        if worst <= TOLERANCE or time.monotonic() > deadline:
            return worst
        time.sleep(0.2)


def centre_of(frame: bytes, x0: int) -> tuple[int, int, int]:
    """(R, G, B) at the centre of the source drawn at (x0, 0) of OBS's output."""
    return bgra_pixel(frame, 2 * OUTPUT_W, x0 + OUTPUT_W // 2, OUTPUT_H // 2)


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture()
def two_outputs() -> tuple[SwayHeadless, RgbImage, RgbImage]:
    """A sway of its own with HEADLESS-1 and HEADLESS-2, each showing a pattern of its own."""
    sway = SwayHeadless(OUTPUT_W, OUTPUT_H, extra_config=f"output HEADLESS-2 resolution {OUTPUT_W}x{OUTPUT_H}\n")
    sway.swaymsg("create_output")
    images = []
    for seed, output in ((0, "HEADLESS-1"), (97, "HEADLESS-2")):
        image = pattern(OUTPUT_W, OUTPUT_H, seed)
        sway.show_image(output, write_png(image, sway.dir / f"{output}.png"))
        images.append(image)
    yield sway, images[0], images[1]  # type: ignore[misc]
    sway.stop()


def test_many_sources_in_one_obs(two_outputs, obs_factory) -> None:  # type: ignore[no-untyped-def]
    sway, first, second = two_outputs
    host = obs_factory(sway.env, 2 * OUTPUT_W, OUTPUT_H)
    pid = host.process.pid
    host.ok("script", str(SCRIPT))
    idle_sockets = socket_fds(pid)  # with the script's one listing connection

    # Scene "screens" (on the output): both outputs side by side.
    host.ok("create", "screen1", "wlcap_capture", settings(output="HEADLESS-1"))
    host.ok("create", "screen2", "wlcap_capture", settings(output="HEADLESS-2"))
    host.ok("move", "screen2", str(OUTPUT_W), "0")
    assert wait_for_pixels(host, [(first, 0, 0), (second, OUTPUT_W, 0)]) <= TOLERANCE
    for name, output in (("screen1", "HEADLESS-1"), ("screen2", "HEADLESS-2")):
        wait_for(host, name, lambda p, output=output: f"capturing {output}" in p["headline"])
    assert socket_fds(pid) == idle_sockets + 2
    assert capture_threads(pid) == 2

    # Only HEADLESS-2 changes (a window repainting there): its source captures the changes,
    # HEADLESS-1's captures nothing.
    sway.swaymsg("focus", "output", "HEADLESS-2")
    window = subprocess.Popen(client_command("testwindow", "--colour", "204080"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=sway.env, cwd="/")
    try:
        assert window.stdin is not None and window.stdout is not None
        window.stdout.readline()  # its first paint
        assert wait_until(lambda: centre_of(host.grab(1), OUTPUT_W) == (0x20, 0x40, 0x80), 20)  # shown
        before = {name: host.ok("stats", name)["frames_published"] for name in ("screen1", "screen2")}
        for colour in ("ff8000", "0080ff") * 5:
            window.stdin.write(f"rect 20 20 64 64 {colour}\n")
            window.stdin.flush()
            window.stdout.readline()
            time.sleep(0.1)
        assert wait_until(lambda: host.ok("stats", "screen2")["frames_published"] >= before["screen2"] + 5)
        assert host.ok("stats", "screen1")["frames_published"] == before["screen1"]
    finally:
        window.kill()
        window.wait()

    # A source whose output does not exist fails on its own; the others keep capturing.
    host.ok("create", "missing", "wlcap_capture", settings(output="HEADLESS-9"))
    props = wait_for(host, "missing", lambda p: "error" in p["headline"])
    assert "unknown output 'HEADLESS-9'" in props["status"]
    sway.show_colour("HEADLESS-2", "#336699")  # meanwhile, screen2 captures what changes
    assert wait_until(lambda: centre_of(host.grab(1), OUTPUT_W) == (0x33, 0x66, 0x99), 20)
    host.ok("release", "missing")
    sway.show_image("HEADLESS-2", sway.dir / "HEADLESS-2.png")
    assert wait_for_pixels(host, [(first, 0, 0), (second, OUTPUT_W, 0)]) <= TOLERANCE

    # Scene "crops" (not on the output yet): HEADLESS-1 twice, cropped two ways.
    host.ok("scene", "crops")
    host.ok("create", "crop1", "wlcap_capture", settings(output="HEADLESS-1", region=region(FIRST_CROP)))
    host.ok("create", "crop2", "wlcap_capture", settings(output="HEADLESS-1", region=region(SECOND_CROP)))
    host.ok("move", "crop2", str(OUTPUT_W), "0")
    for name in ("crop1", "crop2"):  # not in the program scene: not shown, nothing captured
        assert "hidden" in host.ok("props", name)["headline"] or "waiting" in host.ok("props", name)["headline"]
    assert socket_fds(pid) == idle_sockets + 2

    host.ok("program", "crops")
    expected_crops = [(crop(first, *FIRST_CROP), 0, 0), (crop(first, *SECOND_CROP), OUTPUT_W, 0)]
    assert wait_for_pixels(host, expected_crops) <= TOLERANCE
    for name in ("screen1", "screen2"):
        wait_for(host, name, lambda p: "hidden" in p["headline"])
    assert wait_until(lambda: socket_fds(pid) == idle_sockets + 2)
    assert capture_threads(pid) == 2
    assert host.ok("size", "crop2") == {"ok": True, "width": SECOND_CROP[2], "height": SECOND_CROP[3]}

    # Back to the screens: they resume, the crops stop.
    host.ok("program", "wlcap-test")
    assert wait_for_pixels(host, [(first, 0, 0), (second, OUTPUT_W, 0)]) <= TOLERANCE
    for name in ("crop1", "crop2"):
        wait_for(host, name, lambda p: "hidden" in p["headline"])

    # A scene with none of them: no connection but the listing one, no capture thread.
    host.ok("program", "empty")
    for name in ("screen1", "screen2"):
        wait_for(host, name, lambda p: "hidden" in p["headline"])
    assert wait_until(lambda: socket_fds(pid) == idle_sockets)
    assert wait_until(lambda: capture_threads(pid) == 0)

    log = host.log()
    assert "Traceback" not in log
    assert host.quit() == 0
