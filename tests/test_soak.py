"""`wlcap soak` on sway: a stream of thousands of frames holds no more at its end than after its
warm-up: no fd, no thread, and no Python object a frame (each wlr-screencopy frame's handlers once
made a reference cycle with its proxy, which only Python's rare full collections freed: about 0.2
objects and 20 bytes a frame piled up until one came). The hours-long figure is in the README."""

from __future__ import annotations

import json

from conftest import run_cli
from harness.compositor import SwayHeadless


def test_a_long_stream_holds_no_more_than_after_its_warm_up(sway: SwayHeadless) -> None:
    result = run_cli("soak", "--output", "HEADLESS-1", "--backend", "shm", "--frames", "2000", "--every", "250",
                     "--warmup", "2000", "--json", env=sway.env, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    samples, growth = report["samples"], report["growth"]
    assert [s["frames"] for s in samples] == list(range(0, 2001, 250))
    assert {s["fds"] for s in samples} == {samples[0]["fds"]}, samples
    assert {s["threads"] for s in samples} == {samples[0]["threads"]}, samples
    # Objects come and go with each frame (a few dozen either way), but do not pile up.
    assert abs(growth["objects_per_frame"]) < 0.05, samples
    assert max(s["objects"] for s in samples) - min(s["objects"] for s in samples) < 200, samples
