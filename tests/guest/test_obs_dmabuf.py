"""The OBS source over real DMA-BUFs: OBS 32 (libobs + libobs-scripting, Wayland EGL on llvmpipe)
inside the guest tier imports the buffers sway 1.12 fills, once per pooled buffer."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from obshost import ObsHost, bgra_pixel, build_obs_host

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "obs_plugin" / "wlcap.py"
COLOUR = (200, 40, 120)
WIDTH, HEIGHT = 640, 400
TOLERANCE = 2


@pytest.fixture(scope="module")
def host_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_obs_host(tmp_path_factory.mktemp("obs-host"))


@pytest.fixture(scope="module")
def baseline_leaks(host_binary: Path) -> int:
    """What libobs 32 itself leaves allocated in this host with the script loaded and no source:
    the wlcap runs must leave no more (OBS 29 on the host side leaves 0)."""
    host = start_obs(host_binary, create=False)
    try:
        return host.quit()
    finally:
        host.cleanup()


def start_obs(binary: Path, create: bool = True, backend: str = "dmabuf", **extra_env: str) -> ObsHost:
    subprocess.run(["swaymsg", "output", "*", "bg", "#{:02x}{:02x}{:02x}".format(*COLOUR), "solid_color"],
                   check=True, capture_output=True, timeout=30)
    env = dict(os.environ, OBS_HOST_PLATFORM="wayland",
               WLCAP_PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "obs_plugin")]), **extra_env)
    # OBS 32 finds obspython relative to its executable; this host is not /usr/bin/obs.
    env["PYTHONPATH"] = os.pathsep.join(str(p.parent) for p in Path("/usr/lib").glob("*/obs-scripting/obspython.py"))
    host = ObsHost(binary, env, WIDTH, HEIGHT)
    host.ok("script", str(SCRIPT))
    if create:
        # wlr-screencopy: these tests count frames of a static screen, which ext would not send.
        host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": backend, "protocol": "wlr"},
                                                             separators=(",", ":")))
    return host


def keep_log(host: ObsHost, name: str) -> None:
    """The OBS log goes back to the host through the share (tests/vm/run-wlcap-tests.sh)."""
    share = os.environ.get("WLCAP_SHARE")
    if share:
        Path(share, name).write_text(host.log())


def wait_for_status(host: ObsHost, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = host.ok("props", "cap")["status"]
        if text in status or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def worst_difference(frame: bytes) -> int:
    """The largest channel difference from COLOUR over a grid of points covering the whole canvas."""
    points = [(x * (WIDTH - 1) // 15, y * (HEIGHT - 1) // 15) for x in range(16) for y in range(16)]
    return max(max(abs(a - b) for a, b in zip(bgra_pixel(frame, WIDTH, x, y), COLOUR, strict=True))
               for x, y in points)


def wait_for_colour(host: ObsHost, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        difference = worst_difference(host.grab(2))
        if difference <= TOLERANCE or time.monotonic() > deadline:
            return difference
        time.sleep(0.5)


def test_obs_imports_each_pooled_dmabuf_once(host_binary: Path, baseline_leaks: int) -> None:
    host = start_obs(host_binary)
    try:
        status = wait_for_status(host, "dmabuf")
        assert "capturing" in status and "dmabuf" in status, status
        assert wait_for_colour(host) <= TOLERANCE
        deadline = time.monotonic() + 60  # under TCG a frame takes a while: let every buffer come round
        while (warm := host.ok("stats", "cap"))["frames_shown"] < 8 and time.monotonic() < deadline:
            time.sleep(0.5)
        while (later := host.ok("stats", "cap"))["frames_shown"] < warm["frames_shown"] + 8 and \
                time.monotonic() < deadline + 60:
            time.sleep(0.5)
        print(f"status: {status}; stats after warm-up: {warm}; 3 s later: {later}")
        assert later["frames_shown"] > warm["frames_shown"]
        assert warm["dmabuf_imports"] <= 3  # one per pooled buffer
        assert later["dmabuf_imports"] == warm["dmabuf_imports"]  # 0 imports per frame after warm-up
        assert later["uploads"] == 0 and later["dmabuf_import_failures"] == 0
        log = host.log()
        assert "Traceback" not in log
        assert host.quit() == baseline_leaks
    finally:
        keep_log(host, "obs-imports.log")
        host.cleanup()


def test_failed_import_steps_down_the_ladder(host_binary: Path, baseline_leaks: int) -> None:
    # The compositor's DMA-BUFs here are LINEAR: make OBS refuse LINEAR, as a driver might.
    host = start_obs(host_binary, backend="auto", WLCAP_TEST_REJECT_MODIFIER="0")
    try:
        deadline = time.monotonic() + 180  # each rung needs a new pool and a frame, slow under TCG
        while "now shared memory" not in host.log() and time.monotonic() < deadline:
            time.sleep(0.5)
        print("status:", host.ok("props", "cap")["status"])
        log = host.log()
        ours = [line for line in log.splitlines() if "wlcap" in line]
        assert "DMA-BUF with explicit modifiers failed (XRGB8888, LINEAR)" in log or \
            "DMA-BUF with explicit modifiers failed (ARGB8888, LINEAR)" in log, ours
        # LINEAR is all this compositor offers, so every DMA-BUF rung fails once, in order.
        # The implicit buffer comes out LINEAR too (dumb buffers), so it fails the same way; then no
        # LINEAR modifier is left and the ladder reaches shared memory without another attempt.
        assert [line.split("[wlcap] ")[1].split(" failed")[0] for line in ours if "; now " in line] == [
            "DMA-BUF with explicit modifiers", "DMA-BUF with implicit modifier", "DMA-BUF LINEAR"], ours
        assert "now shared memory" in log
        assert wait_for_colour(host) <= TOLERANCE  # the shared-memory rung shows the screen
        assert "capturing Virtual-1: shm" in wait_for_status(host, ": shm")
        steps = [line for line in log.splitlines() if "failed" in line and "; now " in line]
        print("ladder:", *steps, sep="\n  ")
        assert host.quit() == baseline_leaks
    finally:
        keep_log(host, "obs-ladder.log")
        host.cleanup()
