"""Another OBS Python script that keeps the interpreter busy (tools/harness/obs_scripts/busy_script.py:
pure Python for 10 ms of every 16, on an obs.timer_add timer, which OBS's graphics thread runs, or on
a thread of its own) loaded beside wlcap: the source still shows a window that repaints every frame,
only its paints, in order, each after its commit; the status still says capturing; unloading that
script alone leaves wlcap capturing. wlcap shortens the interpreter's switch interval while loaded
(wlcap_obs.plugin) and puts it back when unloaded. What it costs in frames and latency is measured by
tools/bench/other_scripts_bench.py. Host: sway 1.7 headless, shared memory, OBS 29 on llvmpipe at 60
fps (a 16 ms timer fires every frame)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from bench.peer_bench import PaintingWindow
from bench.peer_figures import read_marks
from conftest import same_capture_env
from harness.compositor import SwayHeadless
from harness.obshost import ObsHost
from test_obs_pacing import paints_shown_in_order

WIDTH, HEIGHT = 320, 240
BUSY_SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "harness" / "obs_scripts" / "busy_script.py"


def follow_paints(host: ObsHost, window: PaintingWindow, committed: dict[int, int], path: Path,
                  seconds: float) -> int:
    """Watch OBS's output for `seconds` while the window repaints, and check what it showed: only
    the window's paints (`committed`, code -> commit time, gets this stretch's), in order, none
    before its commit. How many paints it showed."""
    host.ok("watch", str(WIDTH // 2), str(HEIGHT // 2))
    time.sleep(seconds)
    host.ok("marks", str(path))
    time.sleep(0.3)  # the last paints' lines
    committed.update(window.take_paints())
    return len(paints_shown_in_order(read_marks(path), committed))


def switch_interval_seen(host: ObsHost) -> str:
    """The switch interval the busy script found when it was last loaded (its log line)."""
    seen = re.findall(r"\[busy\] loaded: .*, switch interval ([0-9.]+) ms", host.log())
    assert seen, "the busy script did not load"
    return str(seen[-1])


@pytest.mark.parametrize("where", ["timer", "thread"])
def test_a_busy_script_beside_wlcap(obs_factory, tmp_path, where) -> None:  # type: ignore[no-untyped-def]
    from test_obs import SCRIPT, wait_for

    sway = SwayHeadless(WIDTH, HEIGHT, "#000000")
    window = PaintingWindow(same_capture_env(sway.env))
    try:
        host = obs_factory(sway.env, WIDTH, HEIGHT, OBS_HOST_FPS="60")
        host.ok("script", str(SCRIPT))
        window.send("animate")
        host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": "shm", "output": "HEADLESS-1"}))
        wait_for(host, "cap", lambda p: p["headline"].startswith("Status: capturing HEADLESS-1"), timeout=30)

        busy_settings = json.dumps({"where": where, "busy_ms": 10, "period_ms": 16})
        host.ok("script", str(BUSY_SCRIPT), busy_settings)
        assert switch_interval_seen(host) == "0.5", "wlcap did not shorten the interpreter's switch interval"
        time.sleep(1.0)
        committed: dict[int, int] = {}  # every paint of the test: codes repeat only after 4095
        before = host.ok("stats", "cap")
        shown = follow_paints(host, window, committed, tmp_path / "busy.txt", 3.0)
        after = host.ok("stats", "cap")
        print(f"busy {where}: {shown} paints shown of {len(committed)} committed; "
              f"{after['frames_published'] - before['frames_published']} frames captured "
              f"for {after['renders'] - before['renders']} renders")
        assert host.ok("props", "cap")["headline"].startswith("Status: capturing HEADLESS-1")

        host.ok("unload_script", str(BUSY_SCRIPT))  # that one only: wlcap's stays
        ran = re.findall(rf"\[busy\] unloaded: {where}, (\d+) calls", host.log())
        assert ran and int(ran[-1]) > 0, "the busy script never ran its load"
        shown = follow_paints(host, window, committed, tmp_path / "after.txt", 2.0)
        print(f"after unloading it: {shown} paints shown")
        wait_for(host, "cap", lambda p: p["headline"].startswith("Status: capturing HEADLESS-1"))

        window.send("still")
        host.ok("release", "cap")
        host.ok("unload_script", str(SCRIPT))
        host.ok("script", str(BUSY_SCRIPT), busy_settings)
        assert switch_interval_seen(host) == "5", "unloading wlcap did not put back Python's switch interval"
        host.ok("unload_script", str(BUSY_SCRIPT))
        assert host.quit() == 0
    finally:
        window.stop()
        sway.stop()
