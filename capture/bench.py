"""The benchmark behind `wlcap bench`: the pooled stream against per-frame set-up and tear-down
(connect, bind, allocate, capture, free: what screenshot tools do per call), in one run, on the same
output. Figures are whole-process CPU time per frame (all threads) and wall-clock frame rate."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from .connection import Connection
from .session import CaptureOptions, capture_one
from .stream import run_stream


@dataclass(frozen=True)
class LoopFigures:
    frames: int
    seconds: float
    fps: float
    cpu_ms_per_frame: float


def _figures(frames: int, wall: float, cpu: float) -> LoopFigures:
    return LoopFigures(frames, round(wall, 4), round(frames / wall, 2) if wall else 0.0,
                       round(cpu * 1000 / frames, 4))


def per_frame_setup(options: CaptureOptions, frames: int, display_name: str | None = None) -> LoopFigures:
    """The baseline: a fresh connection, pool and capture for every frame."""
    wall0, cpu0 = time.monotonic(), time.process_time()
    for _ in range(frames):
        with Connection(display_name) as connection:
            session, frame = capture_one(connection, options)
            frame.release()
            session.close()
    return _figures(frames, time.monotonic() - wall0, time.process_time() - cpu0)


def pooled(options: CaptureOptions, frames: int, display_name: str | None = None) -> tuple[LoopFigures, Any]:
    wall0, cpu0 = time.monotonic(), time.process_time()
    stats = run_stream(options, frames, display_name)
    return _figures(frames, time.monotonic() - wall0, time.process_time() - cpu0), stats


def compare(options: CaptureOptions, frames: int, baseline_frames: int,
            display_name: str | None = None) -> dict[str, Any]:
    baseline = per_frame_setup(options, baseline_frames, display_name)
    stream, stats = pooled(options, frames, display_name)
    ratio = stream.cpu_ms_per_frame / baseline.cpu_ms_per_frame if baseline.cpu_ms_per_frame else 0.0
    return {
        "per_frame_setup": asdict(baseline),
        "pooled_stream": asdict(stream),
        "cpu_ratio": round(ratio, 4),
        "speedup": round(1 / ratio, 2) if ratio else None,
        "backend": stats.backend,
        "buffers_allocated": stats.buffers_allocated,
        "reallocations": stats.reallocations,
    }
