"""The OBS source over real DMA-BUFs: OBS 32 (libobs + libobs-scripting, Wayland EGL on llvmpipe)
inside the guest tier imports the buffers sway 1.12 fills, once per pooled buffer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from obs_guest import TOLERANCE, keep_log, start_obs, wait_for_colour, wait_for_status

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")


def test_obs_imports_each_pooled_dmabuf_once(obs_host_binary: Path, guest_baseline_leaks: int) -> None:
    host = start_obs(obs_host_binary)
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
