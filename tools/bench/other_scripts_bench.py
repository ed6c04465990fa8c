"""wlcap's OBS source while another OBS Python script keeps the interpreter busy, against the same
source with no other script, alternating in one run.

    .venv/bin/python tools/bench/other_scripts_bench.py --fps 60 --rounds 3 --seconds 5

One sway (headless, 320x240), one OBS (headless) with the wlcap script and one shared-memory source
showing a fullscreen test window that repaints every frame the compositor asks for, each paint a
colour code with the CLOCK_MONOTONIC time of its commit; the OBS host records the output pixel of
every composed frame. Each round measures a phase with no other script ("idle"), then one per
`--loads`, in a rotating order:

- `timer`: tools/harness/obs_scripts/busy_script.py, pure Python for `--busy-ms` of every
  `--period-ms` in an obs.timer_add callback (libobs-scripting runs those on OBS's graphics thread,
  once per video frame at most, before it renders);
- `thread`: the same script, the same load on a thread it starts;
- `process`: the same duty cycle in a separate Python process, outside OBS: the CPU it takes without
  the GIL, to tell what the interpreter costs from what the CPU costs (this host has 2 cores).

Each busy script is loaded for its phase and unloaded after it (obs_host `unload_script PATH`).
Per phase: delivered frames a second (window paints OBS showed, each counted once) and their share
of the paints OBS could have shown (no more than it rendered: a lagged frame OBS outputs again shows
nothing new); OBS's output and rendered frames a second; latency from a paint's commit to the first
OBS frame showing it (median, p95; by the frame's timestamp, and by when it reached OBS's outputs);
wlcap's frames published and renders a second (its get_stats); the capture thread's CPU and its
waits a frame (voluntary context switches: its wait on the Wayland fd, and each wait for the GIL or
a lock another thread holds). Prints one JSON line per phase on stderr, then a JSON summary: medians
per load over the rounds, and each load's ratio to idle.

OBS imports the wlcap this process imports (harness.obshost.obs_pythonpath): to compare two versions,
put the other's packages first, `PYTHONPATH=DIR .venv/bin/python tools/bench/other_scripts_bench.py`
with DIR holding its `capture` and `wlcap_obs`, and compare the ratios to idle of alternate runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from bench import peer_figures as figures  # noqa: E402
from bench.peer_bench import PaintingWindow  # noqa: E402
from harness.compositor import SwayHeadless  # noqa: E402
from harness.obshost import ObsHost, Xvfb, build_obs_host, obs_pythonpath, obspython_path  # noqa: E402

BUSY_SCRIPT = REPO / "tools" / "harness" / "obs_scripts" / "busy_script.py"
WIDTH, HEIGHT = 320, 240
# The `process` load: the busy script's duty cycle, in a Python of its own.
SPINNER = """
import sys, time
busy_ns, period_ns = int(sys.argv[1]) * 1_000_000, int(sys.argv[2]) * 1_000_000
next_ns = time.monotonic_ns()
while True:
    end = time.perf_counter_ns() + busy_ns
    while time.perf_counter_ns() < end:
        for k in range(100):
            pass
    next_ns += period_ns
    time.sleep(max(0.0, (next_ns - time.monotonic_ns()) / 1e9))
"""
# The figures the summary compares with idle (a ratio each).
COMPARED = ("delivered_per_second", "delivered_share", "obs_fps", "obs_rendered_per_second",
            "latency_median_ms", "latency_p95_ms", "latency_output_p95_ms", "published_per_second",
            "renders_per_second", "capture_waits_per_frame")


def voluntary_switches(pid: int, thread_name: str) -> int:
    """How often the threads called thread_name have waited (voluntary context switches): for the
    capture thread, its waits on the Wayland fd and every wait for the GIL (or another lock)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != thread_name:
                continue
            status = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(status.split("voluntary_ctxt_switches:", 1)[1].split()[0])
    return total


class Load:
    """One phase's other work: a busy script in OBS, a separate busy process, or nothing."""

    def __init__(self, kind: str, host: ObsHost, busy_ms: int, period_ms: int) -> None:
        self.kind, self.host = kind, host
        self.settings = json.dumps({"where": kind, "busy_ms": busy_ms, "period_ms": period_ms})
        self.spinner_args = [str(busy_ms), str(period_ms)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.kind in ("timer", "thread"):
            self.host.ok("script", str(BUSY_SCRIPT), self.settings)
        elif self.kind == "process":
            self.process = subprocess.Popen([sys.executable, "-c", SPINNER, *self.spinner_args])

    def stop(self) -> str:
        """Ends the load; what the busy script said it ran (its unload line in OBS's log)."""
        if self.kind in ("timer", "thread"):
            self.host.ok("unload_script", str(BUSY_SCRIPT))
            said = [line for line in self.host.log().splitlines() if "[busy] unloaded" in line]
            return said[-1].split("[busy] ", 1)[1] if said else "the busy script said nothing"
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        return ""


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sway = SwayHeadless(WIDTH, HEIGHT, "#000000")
        self.xvfb = Xvfb()
        self.window: PaintingWindow | None = None
        self.host: ObsHost | None = None
        try:
            env = dict(self.sway.env, DISPLAY=self.xvfb.display)
            env.pop("PYTHONPATH", None)
            self.window = PaintingWindow(env)
            self.host = ObsHost(build_obs_host(Path(tempfile.mkdtemp(prefix="wlcap-scripts-"))),
                                dict(env, OBS_HOST_FPS=str(args.fps), WLCAP_PYTHONPATH=obs_pythonpath(),
                                     PYTHONPATH=obspython_path()), WIDTH, HEIGHT)
            self.host.ok("script", str(REPO / "obs_plugin" / "wlcap.py"))
            self.window.send("animate")
            self.host.ok("create", "cap", "wlcap_capture",
                         json.dumps({"backend": "shm", "output": "HEADLESS-1", "cursor": False}))
            deadline = time.monotonic() + 30
            while self.host.ok("size", "cap")["width"] == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"wlcap's source got no picture; log:\n{self.host.log()[-3000:]}")
                time.sleep(0.2)
            self.host.ok("watch", str(WIDTH // 2), str(HEIGHT // 2))
        except BaseException:
            self.close()
            raise

    def measure(self, kind: str) -> dict[str, Any]:
        assert self.host is not None and self.window is not None
        host, marks_path = self.host, self.host.dir / "marks.txt"
        load = Load(kind, host, self.args.busy_ms, self.args.period_ms)
        load.start()
        try:
            time.sleep(self.args.warmup)
            host.ok("marks", str(marks_path))  # from here on
            self.window.take_paints()
            threads_before = figures.thread_cpu_ns(host.process.pid)
            waits_before = voluntary_switches(host.process.pid, "wlcap-capture")
            stats_before = host.ok("stats", "cap")
            started = time.monotonic()
            time.sleep(self.args.seconds)
            seconds = time.monotonic() - started
            stats_after = host.ok("stats", "cap")
            waits = voluntary_switches(host.process.pid, "wlcap-capture") - waits_before
            threads = {name: ns - threads_before.get(name, 0)
                       for name, ns in figures.thread_cpu_ns(host.process.pid).items()}
            host.ok("marks", str(marks_path))
            paints = self.window.take_paints()
        finally:
            busy_said = load.stop()
        marks = figures.read_marks(marks_path)
        latencies = figures.latencies_ms(paints, marks, use_output=False)
        output_latencies = figures.latencies_ms(paints, marks, use_output=True)

        def rate(key: str) -> float:
            return round(float(stats_after[key] - stats_before[key]) / seconds, 1)

        published = stats_after["frames_published"] - stats_before["frames_published"]
        delivered = figures.delivered_codes(marks) / seconds
        # OBS's output repeats a frame it could not render in time (lagged): those show nothing new
        rendered = rate("obs_total_frames") - rate("obs_lagged_frames")
        return {
            "load": kind,
            "paints_per_second": round(len(paints) / seconds, 1),
            "delivered_per_second": round(delivered, 1),
            # of the paints OBS could have shown (no more than it rendered), how many it showed
            "delivered_share": round(delivered / min(len(paints) / seconds, rendered), 3) if paints else None,
            "obs_fps": rate("obs_total_frames"),
            "obs_rendered_per_second": round(rendered, 1),
            "obs_lagged_frames": stats_after["obs_lagged_frames"] - stats_before["obs_lagged_frames"],
            "obs_frame_ms": round(stats_after["obs_average_frame_time_ns"] / 1e6, 3),
            "latency_samples": len(latencies),
            "latency_median_ms": figures.percentile(latencies, 0.5),
            "latency_p95_ms": figures.percentile(latencies, 0.95),
            "latency_output_p95_ms": figures.percentile(output_latencies, 0.95),
            "published_per_second": rate("frames_published"),
            "renders_per_second": rate("renders"),
            "frames_dropped_per_second": rate("frames_dropped"),  # published, replaced before a render took it
            "python_us_per_frame": round((stats_after["python_ns"] - stats_before["python_ns"])
                                         / max(1, published) / 1e3, 1),
            "capture_waits_per_frame": round(waits / max(1, published), 1),
            "capture_thread_ms_per_second": round(threads.get("wlcap-capture", 0) / seconds / 1e6, 1),
            "graphics_thread_ms_per_second": round(sum(ns for name, ns in threads.items()
                                                       if name.startswith("libobs: graphic")) / seconds / 1e6, 1),
            "busy_script": busy_said,
        }

    def close(self) -> None:
        if self.host is not None:
            self.host.cleanup()
        if self.window is not None:
            self.window.stop()
        self.xvfb.stop()
        self.sway.stop()


def summarise(rows: list[dict[str, Any]], loads: list[str]) -> dict[str, Any]:
    """Medians per load over the rounds, and each busy load's medians over idle's."""
    medians: dict[str, dict[str, float | None]] = {}
    for kind in ["idle", *loads]:
        mine = [row for row in rows if row["load"] == kind]
        medians[kind] = {key: _median([row[key] for row in mine]) for key in
                         (*COMPARED, "paints_per_second", "frames_dropped_per_second", "python_us_per_frame",
                          "capture_thread_ms_per_second", "graphics_thread_ms_per_second")}
    idle = medians["idle"]
    ratios = {kind: {key: _ratio(medians[kind][key], idle[key]) for key in COMPARED} for kind in loads}
    return {"medians": medians, "ratio_to_idle": ratios}


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=int, default=60, help="OBS's frame rate (at 60 a 16 ms timer fires every "
                                                            "frame; at 30, every frame as well, 10 ms of 33)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured per phase")
    parser.add_argument("--warmup", type=float, default=1.5, help="after a load starts, before measuring")
    parser.add_argument("--loads", default="timer,thread,process", type=lambda v: [k for k in v.split(",") if k])
    parser.add_argument("--busy-ms", type=int, default=10)
    parser.add_argument("--period-ms", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write every phase's figures and the summary here")
    args = parser.parse_args()
    unknown = set(args.loads) - {"timer", "thread", "process"}
    if unknown:
        parser.error(f"unknown load {sorted(unknown)[0]!r}: choose from timer, thread, process")
    rows: list[dict[str, Any]] = []
    bench = Bench(args)
    try:
        kinds = ["idle", *args.loads]
        for round_number in range(args.rounds):
            shift = round_number % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                row = {"round": round_number, **bench.measure(kind)}
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
        status = bench.host.ok("props", "cap")["headline"] if bench.host is not None else ""
    finally:
        bench.close()
    summary = {"fps": args.fps, "busy_ms": args.busy_ms, "period_ms": args.period_ms, "rounds": args.rounds,
               "seconds": args.seconds, "cpus": os.cpu_count(), "wlcap_status": status,
               **summarise(rows, args.loads)}
    if args.json:
        args.json.write_text(json.dumps({"phases": rows, "summary": summary}, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
