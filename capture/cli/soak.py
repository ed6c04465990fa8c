"""`wlcap soak`: a long stream, with what the process holds sampled along the way: resident memory,
open fds, threads and Python objects, every N frames after a warm-up, and their growth a frame at
the end. A stream that holds more the longer it runs shows here in minutes rather than in the
fourth hour of a broadcast. Python objects are counted without a collection first: garbage that
only a full collection frees counts as held, as it is."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from capture.options import CaptureOptions
from capture.stream import FrameStream


@dataclass(frozen=True)
class Sample:
    frames: int  # frames received since the warm-up ended
    seconds: float
    rss_kb: int
    fds: int
    threads: int
    objects: int  # objects Python's collector tracks


@dataclass(frozen=True)
class SoakResult:
    samples: list[Sample]
    stopped_early: str  # why the stream ended before its frames ("": it did not)

    def growth(self) -> dict[str, float]:
        """Each figure's growth a frame, as a least-squares slope over the samples (rss in bytes)."""
        xs = [s.frames for s in self.samples]
        return {"rss_bytes_per_frame": slope(xs, [s.rss_kb * 1024 for s in self.samples]),
                "fds_per_frame": slope(xs, [s.fds for s in self.samples]),
                "threads_per_frame": slope(xs, [s.threads for s in self.samples]),
                "objects_per_frame": slope(xs, [s.objects for s in self.samples])}

    def as_json(self) -> dict[str, object]:
        return {"samples": [asdict(s) for s in self.samples], "growth": self.growth(),
                "stopped_early": self.stopped_early}


def slope(xs: list[int], ys: list[int]) -> float:
    """The least-squares slope of ys over xs; 0 with fewer than two samples."""
    if len(xs) < 2:
        return 0.0
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sample(frames: int, started: float) -> Sample:
    # Objects first: their list is big (8 bytes an object), and memory read after it includes it the
    # first time as every time.
    objects = len(gc.get_objects())
    return Sample(frames, round(time.monotonic() - started, 3), _rss_kb(), len(os.listdir("/proc/self/fd")),
                  threading.active_count(), objects)


def run(options: CaptureOptions, frames: int, every: int, warmup: int, timeout: float,
        report: Callable[[Sample], None]) -> SoakResult:
    """Receive warmup + frames frames, releasing each at once, sampling every `every` after the warm-up
    (pools filled, caches made); `report` sees each sample as it is taken."""
    samples: list[Sample] = []
    started = time.monotonic()
    with FrameStream(options) as stream:
        for received in range(warmup + frames + 1):
            if received == warmup // 2:
                sample(0, started)  # thrown away: what sampling itself allocates is made by the first one
            if received == warmup:
                started = time.monotonic()
            if received >= warmup and (received - warmup) % every == 0:
                samples.append(sample(received - warmup, started))
                report(samples[-1])
            if received == warmup + frames:
                break
            frame = stream.get_frame(timeout=timeout)  # a stream that failed raises its error here
            if frame is None:
                # What the stall was, for whoever reads the run: a frame the compositor never finished,
                # or one never asked for; a compositor that answers, or one stuck altogether.
                in_flight = "a frame asked for and not finished" if stream.session.busy else "no frame asked for"
                answers = "answers" if stream.compositor_responds(timeout) else "does not answer either"
                return SoakResult(samples, f"no frame for {timeout} s after {received} frames ({in_flight}; "
                                           f"the compositor {answers})")
            frame.release()
    return SoakResult(samples, "")
