"""Faults on a real DRM backend, in the guest: a sway on the guest's second virtio-gpu card (its DRM
backend, plus headless outputs) is killed and restarted, its outputs disabled, powered off, added and
removed, the captured window closed and reopened, and OBS's canvas resized. OBS draws on the tier's
sway on the first card (tests/guest/second_sway.py says why) and renders on the second card
(DRI_PRIME), so that the DMA-BUFs allocated there are its own GPU's.

After each fault: OBS is alive, the status says what happened, capture resumes with the right pixels
with no user action, the OBS process holds the fds and threads it held before, and it leaks nothing
at the end. (OBS refusing the DMA-BUFs is test_obs_dmabuf.py's ladder; the compositor refusing
them, test_obs_refused_dmabuf.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.clients import client_command
from harness.obs_guest import (
    COLOUR,
    DRIVE_COLOUR,
    REPO,
    TOLERANCE,
    Colour,
    Level,
    fd_targets,
    keep_log,
    launch_obs_capturing,
    reset_canvas,
    steady_level,
    wait_for_colour,
    wait_for_level,
    wait_for_status,
    warm_up,
)
from harness.obshost import ObsHost
from second_sway import SecondSway
from test_obs_window import close_window

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

AFTER = (40, 100, 200)  # the screen after a fault: pixels that can only come from a capture since
LATER = (230, 160, 30)
HEADLESS = (20, 180, 90)  # the added output's background
APP_ID = "wlcap.faults"

CONFIG = f"""\
output * bg #{bytes(COLOUR).hex()} solid_color
output HEADLESS-1 bg #{bytes(HEADLESS).hex()} solid_color
default_border none
for_window [app_id="^wlcap"] floating enable
"""


@pytest.fixture(scope="module")
def desktop() -> Iterator[SecondSway]:
    sway = SecondSway(CONFIG)
    try:
        sway.start()
        yield sway
    finally:
        sway.stop()


@pytest.fixture()
def sway(desktop: SecondSway) -> SecondSway:
    desktop.ensure_running()
    desktop.set_background(COLOUR)
    return desktop


def start_obs(binary: Path, desktop: SecondSway, settings: dict[str, str], width: int = 640,
              height: int = 400) -> ObsHost:
    host = launch_obs_capturing(binary, desktop.display, width, height, DRI_PRIME=desktop.prime)
    host.ok("create", "cap", "wlcap_capture", source_settings(**settings))
    return host


def source_settings(**settings: str) -> str:
    return json.dumps({"backend": "dmabuf", "cursor": False, **settings}, separators=(",", ":"))


def wait_capturing(host: ObsHost, source: str = "cap") -> str:
    """The status once frames come (the rate is known after a second of them)."""
    deadline = time.monotonic() + 90
    while True:
        status = str(host.ok("props", source)["status"])
        if (" fps" in status and "negotiating" not in status) or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def warm_screen(host: ObsHost, sway: SecondSway, colour: Colour, imports: int, source: str = "cap",
                output: str = "") -> None:
    """Frames until the source's pool has come round (`imports` in all), ending on `colour`."""
    stats = warm_up(host, lambda on: sway.set_background(DRIVE_COLOUR if on else colour, output), imports, source)
    assert stats["dmabuf_imports"] == imports, stats
    assert wait_for_colour(host, colour, timeout=90) <= TOLERANCE


class Held:
    """What the OBS process holds once a stream runs steadily: the fds and threads it must come back to."""

    def __init__(self, host: ObsHost) -> None:
        self.host = host
        self.level: Level = steady_level(host)
        self.fds = fd_targets(host)

    def check(self) -> None:
        now = wait_for_level(self.host, self.level)
        targets = fd_targets(self.host)
        gained, lost = Counter(targets) - Counter(self.fds), Counter(self.fds) - Counter(targets)
        assert now == self.level, f"fds and threads {now}, before {self.level}; fds gained {gained}, lost {lost}"


def test_a_compositor_killed_and_restarted_mid_stream_is_captured_again(obs_host_binary: Path,
                                                                        guest_baseline_leaks: int,
                                                                        sway: SecondSway) -> None:
    output = sway.card_output()
    host = start_obs(obs_host_binary, sway, {"output": output})
    try:
        status = wait_capturing(host)
        print("before:", status)
        assert status.startswith(f"Status: capturing {output}: dmabuf"), status
        warm_screen(host, sway, COLOUR, 3)
        held = Held(host)
        print("OBS's DRM nodes:", sorted({fd for fd in held.fds if fd.startswith("/dev/dri/")}))
        sway.kill()
        status = wait_for_status(host, "error")
        print("killed:", status)
        assert status.startswith("Status: error: "), status
        assert "compositor connection lost" in status or "cannot connect to Wayland display" in status, status
        host.grab(3)  # OBS keeps rendering
        sway.start()
        status = wait_capturing(host)
        print("restarted:", status)
        assert status.startswith(f"Status: capturing {output}: dmabuf"), status
        warm_screen(host, sway, AFTER, 6)  # a new pool: three more imports
        held.check()
        log = host.log()
        assert "compositor connection lost" in log, log[-3000:]
        assert "Traceback" not in log
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-faults-restart.log")
        host.cleanup()


def test_outputs_disabled_powered_off_added_and_removed(obs_host_binary: Path, guest_baseline_leaks: int,
                                                        sway: SecondSway) -> None:
    """"cap" shows the card's output; "extra", above it, the headless output added later."""
    output = sway.card_output()
    host = start_obs(obs_host_binary, sway, {"output": output})
    try:
        host.ok("create", "extra", "wlcap_capture", source_settings(output="HEADLESS-1"))
        wait_capturing(host)
        status = wait_for_status(host, "unknown output", source="extra")
        assert status.startswith("Status: error: unknown output 'HEADLESS-1'"), status
        warm_screen(host, sway, COLOUR, 3)
        held = Held(host)

        sway.swaymsg("create_output")
        status = wait_capturing(host, "extra")
        print("added:", status)
        assert status.startswith("Status: capturing HEADLESS-1: dmabuf"), status
        warm_screen(host, sway, HEADLESS, 3, "extra", "HEADLESS-1")
        sway.swaymsg("output", "HEADLESS-1", "unplug")
        status = wait_for_status(host, "error", source="extra")
        print("removed:", status)
        assert status.startswith("Status: error: ") and "output HEADLESS-1" in status, status
        assert wait_for_colour(host, timeout=90) <= TOLERANCE  # "cap" below, which never stopped
        assert wait_capturing(host).startswith(f"Status: capturing {output}")
        held.check()

        sway.configure(output, "disable", done=lambda state: not state.get("active", False))
        status = wait_for_status(host, "error")
        print("disabled:", status)
        assert status.startswith("Status: error: ") and f"output {output}" in status, status
        host.grab(3)
        sway.configure(output, "enable", done=lambda state: bool(state.get("active")))
        print("enabled:", wait_capturing(host))
        warm_screen(host, sway, AFTER, 6)

        # DPMS off: the output stays, and sends no frame. wl_output says nothing of its power, so the
        # status says what wlcap sees: a stream with nothing new.
        sway.configure(output, "power", "off", done=lambda state: state.get("power") is False)
        status = wait_for_status(host, "(no change)")
        print("powered off:", status)
        assert status.startswith(f"Status: capturing {output}: dmabuf, 0.0 fps (no change)"), status
        host.grab(3)
        sway.configure(output, "power", "on", done=lambda state: state.get("power") is True)
        sway.set_background(LATER)
        print("powered on:", wait_capturing(host))
        assert wait_for_colour(host, LATER, timeout=90) <= TOLERANCE
        imports = host.ok("stats", "cap")["dmabuf_imports"]
        warm_screen(host, sway, LATER, imports + (3 - (imports % 3)) % 3)
        held.check()
        log = host.log()
        assert "Traceback" not in log
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-faults-outputs.log")
        host.cleanup()


def open_window(sway: SecondSway, colour: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([*client_command("testwindow"), "--app-id", APP_ID, "--title", "faults window",
                                "--colour", colour], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=dict(sway.env, PYTHONPATH=str(REPO)))
    assert process.stdout is not None and process.stdout.readline().startswith("drawn ")
    return process


def paint(window: subprocess.Popen[str], colour: Colour) -> None:
    assert window.stdin is not None and window.stdout is not None
    window.stdin.write(f"colour {bytes(colour).hex()}\n")
    window.stdin.flush()
    assert window.stdout.readline().startswith("drawn ")


def warm_window(host: ObsHost, window: subprocess.Popen[str], colour: Colour, imports: int) -> None:
    stats = warm_up(host, lambda on: paint(window, DRIVE_COLOUR if on else colour), imports)
    assert stats["dmabuf_imports"] == imports, stats
    assert wait_for_colour(host, colour, timeout=90) <= TOLERANCE


def test_a_window_closed_and_reopened_is_captured_again(obs_host_binary: Path, guest_baseline_leaks: int,
                                                        sway: SecondSway) -> None:
    windows = [open_window(sway, "c83c28")]
    host = start_obs(obs_host_binary, sway, {"target": "window", "window": APP_ID}, 320, 200)
    try:
        status = wait_capturing(host)
        assert status.startswith(f"Status: capturing window 'faults window [{APP_ID}]': dmabuf"), status
        warm_window(host, windows[0], (200, 60, 40), 3)
        held = Held(host)
        close_window(windows[0])
        status = wait_for_status(host, "no window")
        assert status == f"Status: error: no window '{APP_ID}' (windows: none)", status
        host.grab(3)
        windows.append(open_window(sway, "2864c8"))
        assert wait_capturing(host).startswith(f"Status: capturing window 'faults window [{APP_ID}]'")
        warm_window(host, windows[1], AFTER, 6)
        held.check()
        assert "Traceback" not in host.log()
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-faults-window.log")
        host.cleanup()
        for window in windows:
            close_window(window)


def test_a_canvas_resize_restarts_obs_graphics_and_capture_goes_on(obs_host_binary: Path,
                                                                   guest_baseline_leaks: int,
                                                                   sway: SecondSway) -> None:
    output = sway.card_output()
    host = start_obs(obs_host_binary, sway, {"output": output})
    try:
        wait_capturing(host)
        warm_screen(host, sway, COLOUR, 3)
        held = Held(host)
        reset_canvas(host, 800, 500)
        assert (host.width, host.height) == (800, 500)
        sway.set_background(AFTER)
        assert wait_for_colour(host, AFTER, timeout=90) <= TOLERANCE  # the whole larger canvas
        status = wait_capturing(host)
        print("resized:", status)
        assert status.startswith(f"Status: capturing {output}: dmabuf"), status
        reset_canvas(host, 640, 400)
        sway.set_background(LATER)
        assert wait_for_colour(host, LATER, timeout=90) <= TOLERANCE
        held.check()
        stats = host.ok("stats", "cap")
        assert stats["dmabuf_imports"] == 3, stats  # the same pool, imported once, all along
        assert stats["dmabuf_import_failures"] == 0 and stats["frames_rejected"] == 0, stats
        assert "Traceback" not in host.log()
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-faults-canvas.log")
        host.cleanup()
