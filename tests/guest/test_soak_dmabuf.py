"""`wlcap soak` over DMA-BUF in the guest tier (sway 1.12 on the virtio-gpu card): each frame is a
compositor copy into a pooled GBM buffer with its write fence, and a stream of thousands of them holds
no more fds, threads or Python objects at its end than after its warm-up. wlr-screencopy without
damage, so that an unchanged screen still sends a frame each time; a small region keeps a frame cheap
under TCG. WLCAP_SOAK_FRAMES sets a longer run (the README's figures)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import run_cli

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")


def test_a_long_dmabuf_stream_holds_no_more_than_after_its_warm_up() -> None:
    frames = int(os.environ.get("WLCAP_SOAK_FRAMES", "2000"))
    every = max(1, frames // 8)
    result = run_cli("soak", "--backend", "dmabuf", "--protocol", "wlr", "--region", "0,0 64x64",
                     "--frames", str(frames), "--every", str(every), "--warmup", "500", "--timeout", "30", "--json",
                     env=dict(os.environ), timeout=60 + frames)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    samples, growth = report["samples"], report["growth"]
    first, last = samples[0], samples[-1]
    print(f"{last['frames']} DMA-BUF frames in {last['seconds']:.0f} s: rss {first['rss_kb']} -> {last['rss_kb']} KB "
          f"({growth['rss_bytes_per_frame']:.2f} bytes a frame), fds {first['fds']} -> {last['fds']}, "
          f"threads {first['threads']} -> {last['threads']}, objects {first['objects']} -> {last['objects']} "
          f"({growth['objects_per_frame']:.4f} a frame)")
    assert [s["frames"] for s in samples] == list(range(0, frames + 1, every))
    assert {s["fds"] for s in samples} == {first["fds"]}, samples
    assert {s["threads"] for s in samples} == {first["threads"]}, samples
    assert abs(growth["objects_per_frame"]) < 0.05, samples
    assert max(s["objects"] for s in samples) - min(s["objects"] for s in samples) < 200, samples
