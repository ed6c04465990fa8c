"""The benchmark behind `wlcap bench`: the pooled stream against per-frame set-up and tear-down
(connect, bind, allocate, capture, free: what screenshot tools do per call), in one run, on the same
output, with the same consumer.

Figures per frame: the client's whole-process CPU time (all threads), the compositor's CPU time
(read from /proc for the peer of the Wayland socket, where visible), and the wall-clock frame rate.
The consumer reads one byte of every page of each frame, as any consumer that uses the pixels
must (OBS's texture upload reads them all): a fresh buffer costs page faults there, a pooled one not.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from capture.buffers.spec import BufferKind
from capture.errors import CaptureFailedError
from capture.frame import Frame
from capture.options import CaptureOptions
from capture.session.open import capture_one
from capture.stream import run_stream
from capture.wayland.connection import Connection

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class LoopFigures:
    frames: int
    seconds: float
    fps: float
    cpu_ms_per_frame: float
    compositor_cpu_ms_per_frame: float | None


def touch_pages(frame: Frame) -> None:
    """Read one byte of every page of a shm frame (a DMA-BUF frame is left to the GPU)."""
    if frame.kind is not BufferKind.SHM:
        return
    view = frame.view()
    try:
        bytes(view[::PAGE_SIZE])
    finally:
        view.release()


def compositor_pid(display_name: str | None = None) -> int | None:
    """The pid of the compositor at the other end of the Wayland socket (SO_PEERCRED)."""
    with Connection(display_name) as connection:
        sock = socket.socket(fileno=os.dup(connection.display.get_fd()))
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        finally:
            sock.close()
    pid = struct.unpack("3i", creds)[0]
    return pid if pid > 0 else None


def _process_cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class CpuMeter:
    """Wall time, this process's CPU (all threads) and the compositor's CPU since it was made."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.wall0, self.cpu0, self.comp0 = time.monotonic(), time.process_time(), _process_cpu_seconds(pid)

    def per_frame(self, frames: int) -> tuple[float, float, float | None]:
        """Seconds since, and this process's and the compositor's CPU ms per frame (None: not visible)."""
        wall, cpu = time.monotonic() - self.wall0, time.process_time() - self.cpu0
        comp1 = _process_cpu_seconds(self.pid)
        comp = None if self.comp0 is None or comp1 is None else round((comp1 - self.comp0) * 1000 / frames, 4)
        return wall, round(cpu * 1000 / frames, 4), comp


def ratio(a: float | None, b: float | None, digits: int = 4) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def total_ms(cpu_ms: float, compositor_ms: float | None) -> float | None:
    """Client and compositor together: what one frame costs the machine."""
    return None if compositor_ms is None else round(cpu_ms + compositor_ms, 4)


@contextmanager
def _measure(frames: int, pid: int | None, out: list[LoopFigures]) -> Iterator[None]:
    meter = CpuMeter(pid)
    yield
    wall, cpu_ms, compositor_ms = meter.per_frame(frames)
    out.append(LoopFigures(frames, round(wall, 4), round(frames / wall, 2) if wall else 0.0, cpu_ms, compositor_ms))


def per_frame_setup(options: CaptureOptions, frames: int, consume: Callable[[Frame], Any],
                    display_name: str | None = None, pid: int | None = None) -> LoopFigures:
    """The baseline: a fresh connection, buffer and capture for every frame."""
    out: list[LoopFigures] = []
    with _measure(frames, pid, out):
        for _ in range(frames):
            with Connection(display_name) as connection:
                session, frame = capture_one(connection, options)
                with frame:
                    consume(frame)
                session.close()
    return out[0]


def pooled(options: CaptureOptions, frames: int, consume: Callable[[Frame], Any],
           display_name: str | None = None, pid: int | None = None) -> tuple[LoopFigures, Any]:
    out: list[LoopFigures] = []
    with _measure(frames, pid, out):
        run = run_stream(options, frames, display_name, consume)
    if run.stopped_early:  # the figures are per frame: a short run would overstate them
        raise CaptureFailedError(f"the benchmark needs {frames} frames, got {run.frames}: {run.stopped_early}")
    return out[0], run.stats


def grim_reference(options: CaptureOptions, frames: int, pid: int | None) -> LoopFigures | None:
    """Per-frame captures by grim (`grim -t ppm`), the tool streamers script today, where installed.
    Its CPU time is read from RUSAGE_CHILDREN."""
    grim = shutil.which("grim")
    if grim is None:
        return None
    command = [grim, "-t", "ppm"] + (["-o", options.output] if options.output else []) + ["-"]
    out: list[LoopFigures] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with _measure(frames, pid, out):
        for _ in range(frames):
            subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    figures = out[0]
    return LoopFigures(figures.frames, figures.seconds, figures.fps, round(child_cpu * 1000 / frames, 4),
                       figures.compositor_cpu_ms_per_frame)


def compare(options: CaptureOptions, frames: int, baseline_frames: int,
            display_name: str | None = None, touch: bool = True, grim_frames: int = 0) -> dict[str, Any]:
    consume: Callable[[Frame], Any] = touch_pages if touch else (lambda frame: None)
    pid = compositor_pid(display_name)
    baseline = per_frame_setup(options, baseline_frames, consume, display_name, pid)
    stream, stats = pooled(options, frames, consume, display_name, pid)
    grim = grim_reference(options, grim_frames, pid) if grim_frames and options.region is None else None

    def total(figures: LoopFigures) -> float | None:
        return total_ms(figures.cpu_ms_per_frame, figures.compositor_cpu_ms_per_frame)

    return {
        "consumer": "reads every page" if touch else "none",
        "per_frame_setup": asdict(baseline),
        "pooled_stream": asdict(stream),
        "cpu_ratio": ratio(stream.cpu_ms_per_frame, baseline.cpu_ms_per_frame),
        "compositor_cpu_ratio": ratio(stream.compositor_cpu_ms_per_frame, baseline.compositor_cpu_ms_per_frame),
        "total_cpu_ratio": ratio(total(stream), total(baseline)),
        # The pooled client's CPU against everything one per-frame-setup capture costs.
        "cpu_ratio_vs_whole_capture": ratio(stream.cpu_ms_per_frame, total(baseline)),
        "grim_per_frame": asdict(grim) if grim else None,
        "cpu_ratio_vs_grim": ratio(stream.cpu_ms_per_frame, grim.cpu_ms_per_frame) if grim else None,
        "backend": stats.backend,
        "buffers_allocated": stats.buffers_allocated,
        "reallocations": stats.reallocations,
    }
