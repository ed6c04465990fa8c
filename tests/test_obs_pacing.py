"""The OBS source, its capture paced by OBS's render clock (capture.pacing; its arithmetic is in
test_pacing.py), follows a window that repaints every frame: OBS shows its paints in order, only paints
the window made, each after its commit. Host: sway 1.7 headless, shared memory, OBS 29 on llvmpipe; the
window is tools/clients/testwindow.py's `animate`, whose paints carry codes."""

from __future__ import annotations

import itertools
import json
import time

from bench.peer_bench import PaintingWindow
from bench.peer_figures import Mark, read_marks
from conftest import same_capture_env
from harness.compositor import SwayHeadless

WIDTH, HEIGHT = 320, 240


def paints_shown_in_order(marks: list[Mark], committed: dict[int, int]) -> list[int]:
    """The window's paints OBS showed (`marks`, the OBS host's), each once, in order. Fails unless
    every OBS frame showed one of the window's paints (`committed`: code -> commit time), at least two,
    in the order painted, none output before its commit."""
    shown = [mark for mark in marks if mark.code is not None]
    distinct = [mark.code for k, mark in enumerate(shown) if k == 0 or mark.code != shown[k - 1].code]
    assert len(shown) == len(marks), "an OBS frame showed something other than one of the window's paints"
    assert len(distinct) >= 2, "OBS did not follow the repainting window"
    assert all(code in committed for code in distinct), "OBS showed a paint the window never made"
    assert all(b > a for a, b in itertools.pairwise(distinct)), f"paints out of order: {distinct}"
    assert all(mark.output_ns >= committed[mark.code] for mark in shown if mark.code is not None), \
        "OBS output a paint before the window committed it"
    return [code for code in distinct if code is not None]


def test_a_window_repainting_every_frame_reaches_obs_in_order(obs_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_obs import SCRIPT

    sway = SwayHeadless(WIDTH, HEIGHT, "#000000")
    window = PaintingWindow(same_capture_env(sway.env))
    try:
        host = obs_factory(sway.env, WIDTH, HEIGHT)
        host.ok("script", str(SCRIPT))
        window.send("animate")
        host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": "shm", "output": "HEADLESS-1"}))
        time.sleep(2.0)
        host.ok("watch", str(WIDTH // 2), str(HEIGHT // 2))
        before = host.ok("stats", "cap")
        time.sleep(3.0)
        after = host.ok("stats", "cap")
        host.ok("marks", str(tmp_path / "marks.txt"))
        window.send("still")
        time.sleep(0.5)
        committed = dict(window.take_paints())
        marks = read_marks(tmp_path / "marks.txt")
        distinct = paints_shown_in_order(marks, committed)
        published = after["frames_published"] - before["frames_published"]
        rendered = after["renders"] - before["renders"]
        print(f"{len(marks)} OBS frames, {len(distinct)} paints shown of {len(committed)} committed; "
              f"{published} frames captured for {rendered} renders")
        assert host.quit() == 0
    finally:
        window.stop()
        sway.stop()
