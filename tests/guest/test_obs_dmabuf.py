"""The OBS source over real DMA-BUFs: OBS 32 (libobs + libobs-scripting, Wayland EGL on llvmpipe)
inside the guest tier imports the buffers sway 1.12 fills, once per pooled buffer."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from harness.obs_guest import (
    TOLERANCE,
    drive_frames,
    keep_log,
    launch_obs,
    start_obs,
    wait_for_colour,
    wait_for_status,
)
from harness.obshost import LYING_FRAMES, bgra_pixel

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")


def test_obs_imports_each_pooled_dmabuf_once(obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    host = start_obs(obs_host_binary)
    try:
        status = wait_for_status(host, "dmabuf")
        assert "capturing" in status and "dmabuf" in status, status
        assert wait_for_colour(host) <= TOLERANCE
        # Under TCG a frame takes a while: let every buffer come round (a changing screen: only a
        # changed one is captured).
        warm = drive_frames(host, lambda stats: stats["frames_shown"] >= 8)
        later = drive_frames(host, lambda stats: stats["frames_shown"] >= warm["frames_shown"] + 8)
        print(f"status: {status}; stats after warm-up: {warm}; 3 s later: {later}")
        assert later["frames_shown"] > warm["frames_shown"]
        assert warm["dmabuf_imports"] <= 3  # one per pooled buffer
        assert later["dmabuf_imports"] == warm["dmabuf_imports"]  # 0 imports per frame after warm-up
        assert later["uploads"] == 0 and later["dmabuf_import_failures"] == 0
        log = host.log()
        assert "Traceback" not in log
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-imports.log")
        host.cleanup()


def test_failed_import_steps_down_the_ladder(obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    # The compositor's DMA-BUFs here are LINEAR: make OBS refuse LINEAR, as a driver might.
    host = start_obs(obs_host_binary, backend="auto", WLCAP_TEST_REJECT_MODIFIER="0")
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
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-ladder.log")
        host.cleanup()


def test_render_thread_refuses_dmabuf_frames_that_do_not_match_their_import(obs_host_binary: Path,
                                                                           tmp_path: Path) -> None:
    """A pooled buffer is imported once; a later frame that lays the same buffer out otherwise (another
    stride, another size), or a new buffer that claims more rows than the DMA-BUF holds, is never
    sampled: OBS keeps the last true frame, counts and logs each refusal."""
    plan = tmp_path / "plan.json"
    true = {"dmabuf": "A", "colour": "c03020", "width": 64, "height": 48}
    plan.write_text(json.dumps({"frames": [
        dict(true, allocate=[64, 48], wait=4.0),
        dict(true, stride=64 * 4 + 64),  # not the stride it was imported with
        dict(true, height=96),  # not the size it was imported with
        {"dmabuf": "B", "allocate": [64, 48], "colour": "20c030", "width": 64, "height": 4800},  # rows it lacks
    ]}))
    host = launch_obs(obs_host_binary, WLCAP_TEST_FRAMES=str(plan))
    try:
        host.ok("create", "cap", "wlcap_capture", '{"output":"NOT-AN-OUTPUT"}')  # wlcap itself captures nothing
        host.ok("script", str(LYING_FRAMES))
        deadline = time.monotonic() + 120
        while not Path(f"{plan}.done").exists():
            assert time.monotonic() < deadline, host.log()[-3000:]
            time.sleep(0.5)
        host.grab(3)
        shown = bgra_pixel(host.peek()[0], host.width, 10, 10)
        stats = host.ok("stats", "cap")
        log = host.log()
        keep_log(host, "obs-refused-frames.log")
        print(f"shown {shown}; stats {stats}")
        assert max(abs(a - b) for a, b in zip(shown, (0xC0, 0x30, 0x20), strict=True)) <= TOLERANCE, shown
        assert stats["frames_rejected"] == 3 and stats["dmabuf_imports"] == 1, stats
        assert re.search(r"plane 0 came with stride 320 offset 0, imported with \d+, 0", log), log[-3000:]
        assert "came as 64x96, imported as 64x48" in log
        assert re.search(r"plane 0 would need \d+ bytes, the DMA-BUF holds \d+", log)
    finally:
        host.cleanup()
