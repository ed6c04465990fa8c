"""The damage benchmark (`python3 tools/bench/damage_bench.py`): what an unchanged frame costs against a changed one
with ext-image-copy-capture-v1, and what wlr-screencopy spends on the same unchanged screen, in one run.

A test window (capture.testwindow) is captured through ext. Changed frames: the window repaints a small
square per frame and the consumer takes the frame that shows it. Unchanged frames: nothing changes for
a while; ext answers no capture, so each refresh period the output would have shown costs only what the
two processes spend idling. Figures per frame: this process's CPU (all threads) and the compositor's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/, for harness

from harness.clients import client_command

import capture
from capture import Backend, CaptureOptions, CaptureProtocol, FrameStream
from capture.cli.bench import CpuMeter, compositor_pid, ratio, total_ms, touch_pages
from capture.errors import CaptureFailedError, WlcapError
from capture.wayland.connection import Connection
from capture.wayland.toplevels import ToplevelList

APP_ID = "wlcap.bench"
SQUARE = 64


@dataclass(frozen=True)
class PhaseFigures:
    frames: int  # changed: frames captured; unchanged: refresh periods that passed
    frames_captured: int
    seconds: float
    cpu_ms_per_frame: float
    compositor_cpu_ms_per_frame: float | None

    @property
    def total_ms_per_frame(self) -> float | None:
        return total_ms(self.cpu_ms_per_frame, self.compositor_cpu_ms_per_frame)


def _phase(meter: CpuMeter, frames: int, captured: int) -> PhaseFigures:
    wall, cpu_ms, compositor_ms = meter.per_frame(frames)
    return PhaseFigures(frames, captured, round(wall, 3), cpu_ms, compositor_ms)


class _Window:
    """capture.testwindow in a child process."""

    def __init__(self, display_name: str | None) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(capture.__file__).resolve().parent.parent))
        if display_name is not None:
            env["WAYLAND_DISPLAY"] = display_name
        self.process = subprocess.Popen([*client_command("testwindow"), "--app-id", APP_ID,
                                         "--title", "wlcap bench", "--colour", "202020"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.width, self.height = self.wait_drawn("configure")

    def wait_drawn(self, why: str) -> tuple[int, int]:
        """The size of the next draw for `why` (the compositor may resize the window in between)."""
        assert self.process.stdout is not None
        while True:
            words = self.process.stdout.readline().split()
            if len(words) != 5 or words[0] != "drawn":
                raise WlcapError("the benchmark's test window did not draw")
            self.width, self.height = int(words[2]), int(words[3])
            if words[4] == why:
                return self.width, self.height

    def paint(self, index: int) -> None:
        assert self.process.stdin is not None
        x = (index * SQUARE) % max(1, self.width - SQUARE)
        y = (index * 7) % max(1, self.height - SQUARE)
        self.process.stdin.write(f"rect {x} {y} {SQUARE} {SQUARE} {index * 2654435761 % 0xFFFFFF:06x}\n")
        self.process.stdin.flush()
        self.wait_drawn("rect")

    def close(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.wait(10)


def _wait_listed(display_name: str | None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Connection(display_name) as connection:
            toplevels = ToplevelList(connection)
            found = any(t.app_id == APP_ID for t in toplevels.all())
            toplevels.destroy()
        if found:
            return
        time.sleep(0.05)
    raise WlcapError("the benchmark's test window was never listed")


def _refresh_hz(display_name: str | None) -> float:
    with Connection(display_name) as connection:
        refresh = connection.outputs.find(None).info().refresh_mhz
    return refresh / 1000 if refresh > 0 else 60.0


def damage_figures(options: CaptureOptions, frames: int, idle_seconds: float,
                   display_name: str | None = None) -> dict[str, Any]:
    pid = compositor_pid(display_name)
    hz = _refresh_hz(display_name)
    window = _Window(display_name)
    try:
        _wait_listed(display_name)
        ext_options = CaptureOptions(window=APP_ID, protocol=CaptureProtocol.EXT, backend=options.backend)
        with FrameStream(ext_options, display_name) as stream:
            first = stream.get_frame(timeout=10)
            if first is None:
                raise CaptureFailedError("no first frame from the test window")
            first.release()
            meter = CpuMeter(pid)
            for index in range(1, frames + 1):
                window.paint(index)
                frame = stream.get_frame(timeout=10)
                if frame is None:
                    raise CaptureFailedError("no frame after the test window changed")
                with frame:
                    touch_pages(frame)
            changed = _phase(meter, frames, frames)
            before = stream.stats().frames_captured
            meter = CpuMeter(pid)
            time.sleep(idle_seconds)
            periods = max(1, round(idle_seconds * hz))
            unchanged = _phase(meter, periods, stream.stats().frames_captured - before)
            backend = stream.stats().backend
        wlr: PhaseFigures | None = None
        try:
            wlr_options = CaptureOptions(protocol=CaptureProtocol.WLR, backend=options.backend)
            with FrameStream(wlr_options, display_name) as stream:
                meter = CpuMeter(pid)
                for _ in range(frames):
                    frame = stream.get_frame(timeout=10)
                    if frame is None:
                        raise CaptureFailedError("no wlr-screencopy frame")
                    with frame:
                        touch_pages(frame)
                wlr = _phase(meter, frames, frames)
        except WlcapError:
            wlr = None  # the compositor has no wlr-screencopy: the comparison is left out
    finally:
        window.close()

    def dump(figures: PhaseFigures | None) -> dict[str, Any] | None:
        return None if figures is None else dict(asdict(figures), total_ms_per_frame=figures.total_ms_per_frame)

    return {
        "source": f"test window {window.width}x{window.height}, {SQUARE}x{SQUARE} square repainted per changed frame",
        "backend": backend,
        "refresh_hz": hz,
        "ext_changed": dump(changed),
        "ext_unchanged": dump(unchanged),
        "wlr_unchanged_output": dump(wlr),
        "unchanged_vs_changed_total_cpu": ratio(unchanged.total_ms_per_frame, changed.total_ms_per_frame, 5),
        "unchanged_vs_changed_client_cpu": ratio(unchanged.cpu_ms_per_frame, changed.cpu_ms_per_frame, 5),
        "ext_unchanged_vs_wlr_unchanged_total_cpu": ratio(
            unchanged.total_ms_per_frame, wlr.total_ms_per_frame if wlr else None, 5),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=180)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="how long nothing changes")
    parser.add_argument("--backend", choices=[b.value for b in Backend], default="auto")
    args = parser.parse_args()
    options = CaptureOptions(backend=Backend(args.backend))
    print(json.dumps(damage_figures(options, args.frames, args.idle_seconds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
