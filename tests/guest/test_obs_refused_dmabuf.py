"""A compositor that refuses wlcap's DMA-BUFs, on the guest tier's sway 1.12 on the virtio-gpu card,
behind the lying proxy (tools/harness/wayland_proxy.py, lies in harness.wayland_lies): linux-dmabuf
answering `failed` to every buffer wlcap creates, or every copy into a DMA-BUF failing (a renderer
that accepted buffers it cannot write). Either way the OBS source ends up on shared memory, says why
in its status and the OBS log, and shows the screen; OBS quits with no more leaks than without wlcap.
(OBS refusing an import is tests/guest/test_obs_dmabuf.py's ladder.)"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.obs_guest import (
    COLOUR,
    DRIVE_COLOUR,
    TOLERANCE,
    keep_log,
    launch_obs_capturing,
    set_background,
    wait_for_colour,
)
from harness.obshost import ObsHost
from harness.wayland_lies import LIES
from harness.wayland_proxy import WaylandProxy

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")


@contextmanager
def capturing_through(lie: str, binary: Path, protocol: str) -> Iterator[ObsHost]:
    """OBS drawing on the tier's sway, its source "cap" capturing (DMA-BUF first) through the proxy
    telling `lie`; its log is kept."""
    env = dict(os.environ)
    set_background(COLOUR)
    with WaylandProxy(Path(env["XDG_RUNTIME_DIR"]), env["WAYLAND_DISPLAY"], LIES[lie]) as proxy:
        host = launch_obs_capturing(binary, str(proxy.path))
        try:
            settings = {"backend": "auto", "protocol": protocol, "cursor": False}
            host.ok("create", "cap", "wlcap_capture", json.dumps(settings, separators=(",", ":")))
            yield host
        finally:
            keep_log(host, f"obs-{lie}-{protocol}.log")
            host.cleanup()


def change_screen_until_shm(host: ObsHost, timeout: float = 240) -> str:
    """Change the screen once a second (each capture asked for waits for a change) until the source
    captures into shared memory, or timeout; its status then."""
    deadline = time.monotonic() + timeout
    changes = 0
    status = ""
    try:
        while time.monotonic() < deadline:
            status = str(host.ok("props", "cap")["status"])
            if "capturing Virtual-1: shm" in status:
                return status
            changes += 1
            set_background(DRIVE_COLOUR if changes % 2 else COLOUR)
            time.sleep(1.0)
        return status
    finally:
        set_background(COLOUR)


@pytest.mark.parametrize("protocol", ["wlr", "ext"])
def test_dmabufs_refused_at_creation_fall_back_to_shared_memory(obs_host_binary: Path, guest_baseline_leaks: int,
                                                               protocol: str) -> None:
    with capturing_through("dmabuf-refused", obs_host_binary, protocol) as host:
        status = change_screen_until_shm(host)
        print(f"{protocol}: {status}")
        assert "capturing Virtual-1: shm" in status, status
        assert "compositor refused a " in status and " DMA-BUF with modifier " in status, status
        assert wait_for_colour(host) <= TOLERANCE
        assert "Traceback" not in host.log()
        assert host.quit() == guest_baseline_leaks


@pytest.mark.parametrize("protocol", ["wlr", "ext"])
def test_copies_into_dmabufs_failing_step_down_to_shared_memory(obs_host_binary: Path, guest_baseline_leaks: int,
                                                                protocol: str) -> None:
    with capturing_through("dmabuf-copies-fail", obs_host_binary, protocol) as host:
        status = change_screen_until_shm(host)
        log = host.log()
        steps = [line.split("[wlcap] ", 1)[-1] for line in log.splitlines() if "; now " in line]
        print(f"{protocol}: {status}", *steps, sep="\n  ")
        assert "capturing Virtual-1: shm" in status, status
        # Down the ladder from the top, each step saying why: the compositor's copies failed, or
        # (a rung skipped) no modifier was left to try.
        copies_failed = "the compositor's copies into it failed (compositor failed to capture"
        assert steps and steps[0].startswith("DMA-BUF with explicit modifiers failed (") \
            and copies_failed in steps[0], steps
        assert all(copies_failed in step or "modifier left that both sides accept" in step for step in steps), steps
        assert steps[-1].endswith("; now shared memory"), steps
        assert wait_for_colour(host) <= TOLERANCE  # the shared-memory rung shows the screen
        assert "Traceback" not in log
        assert host.quit() == guest_baseline_leaks
