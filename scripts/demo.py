"""Headless demo: sway with changing content, captured by wlcap's pooled stream and a screenshot."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from compositor import SwayHeadless  # noqa: E402

from capture import CaptureOptions, run_stream  # noqa: E402
from capture.cli import main as wlcap  # noqa: E402

COLOURS = ["#c0392b", "#27ae60", "#2980b9", "#f39c12", "#8e44ad", "#16a085"]


def animate(sway: SwayHeadless, stop: threading.Event) -> None:
    """Moving content: the background changes colour several times a second."""
    index = 0
    while not stop.wait(0.2):
        sway.show_colour("HEADLESS-1", COLOURS[index % len(COLOURS)])
        index += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "demo")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    sway = SwayHeadless(1280, 720)
    stop = threading.Event()
    animator = threading.Thread(target=animate, args=(sway, stop), daemon=True)
    try:
        os.environ.update(XDG_RUNTIME_DIR=str(sway.runtime_dir), WAYLAND_DISPLAY=sway.socket_name)
        animator.start()
        frames = int(args.seconds * 60)
        started = time.monotonic()
        stats = run_stream(CaptureOptions(output="HEADLESS-1"), frames)
        elapsed = time.monotonic() - started
        screenshot = args.out / "screenshot.png"
        wlcap(["screenshot", "--output", "HEADLESS-1", "-o", str(screenshot)])
        report = {"frames": frames, "seconds": round(elapsed, 3), "backend": stats.backend,
                  "buffers_allocated": stats.buffers_allocated, "frames_dropped": stats.frames_dropped}
        (args.out / "stream.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report))
        print(screenshot)
    finally:
        stop.set()
        animator.join()
        sway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
