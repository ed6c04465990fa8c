"""wlcap's OBS source side by side with OBS's own PipeWire screen capture (through the real portal
chain: D-Bus, xdg-desktop-portal, xdg-desktop-portal-wlr, PipeWire, WirePlumber) and a colour source,
in one OBS, on one compositor, in the same run, round-robin.

    .venv/bin/python tools/bench/peer_bench.py --rounds 3 --sizes 1280x720,1920x1080 --fps 30,60

Each measurement: a fullscreen test window (tools/clients/testwindow.py) that repaints every frame the
compositor asks for (`changing`), repaints a 64x64 square every frame (`small`) or shows the same
picture (`static`); one source in OBS's scene; figures over `--seconds` after a warm-up. The OBS host
(tools/harness/obs_host) times every source type's video_render, the graphics context held by other
threads and the texture imports and uploads (probes.c), and records one output pixel per frame: the
window paints codes with the CLOCK_MONOTONIC time of each commit, so latency and delivered frames
come from what OBS really output. CPU is every process involved: OBS, the compositor, the window,
Xvfb and the whole portal chain (for every source: it runs throughout).

On the host (sway headless on pixman, shared memory) Debian 12's xdpw 0.7.0 refuses a compositor
that offers no DMA-BUF for screencopy, and the peer's columns say why; `tools/bench/xdpw/build`
rebuilds Debian's own xdpw source with one patch that accepts shared memory alone, for `--xdpw`:

    .venv/bin/python tools/bench/peer_bench.py --xdpw "$(tools/bench/xdpw/build)"

In the guest tier (tests/vm/peer-bench) the chain is Debian testing's, unchanged, with DMA-BUF; under
emulation `--paint-every` keeps the window to a rate the machine can hold. Prints JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from bench import peer_figures as figures  # noqa: E402
from harness.clients import client_command  # noqa: E402
from harness.compositor import SwayHeadless  # noqa: E402
from harness.obshost import ObsHost, Xvfb, build_obs_host, obs_pythonpath, obspython_path  # noqa: E402
from harness.portal import LIBEXEC, PortalChain, PortalUnavailable  # noqa: E402

SMALL = (100, 100, 64, 64)


class PaintingWindow:
    """The fullscreen test window; collects its `painted CODE NS` lines while it animates."""

    def __init__(self, env: dict[str, str], paint_every_ms: int = 0) -> None:
        self.process = subprocess.Popen(client_command("testwindow", "--colour", "203040"), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env, cwd="/")
        self.paints: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        assert self.process.stdout is not None
        self.size = tuple(int(v) for v in self.process.stdout.readline().split()[2:4])
        threading.Thread(target=self._read, daemon=True).start()
        self.send(f"pace {paint_every_ms}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            words = line.split()
            if words and words[0] == "painted":
                with self._lock:
                    self.paints.append((int(words[1]), int(words[2])))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def take_paints(self) -> list[tuple[int, int]]:
        with self._lock:
            paints, self.paints = self.paints, []
        return paints

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


class Bench:
    """One OBS (at one fps, its canvas width x height) with the modules loaded, on the compositor `env` names."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], width: int, height: int, fps: int,
                 compositor_pids: list[int]) -> None:
        self.args, self.width, self.height, self.fps = args, width, height, fps
        self.chain: PortalChain | None = None
        self.peer_error = ""
        self.peer_log: list[str] = []
        try:
            self.chain = PortalChain(env, args.output, fps, xdpw=args.xdpw)
            env = self.chain.env
        except PortalUnavailable as exc:
            self.peer_error = str(exc)
        self.host = ObsHost(build_obs_host(Path(tempfile.mkdtemp(prefix="wlcap-peer-"))),
                            dict(env, OBS_HOST_FPS=str(fps), WLCAP_PYTHONPATH=obs_pythonpath(),
                                 PYTHONPATH=obspython_path()), width, height)
        self.host.ok("script", str(REPO / "obs_plugin" / "wlcap.py"))
        for module in ("linux-pipewire", "image-source"):
            answer = self.host.load_module(module)
            if module == "linux-pipewire" and not answer.get("ok"):
                self.peer_error = self.peer_error or f"OBS module linux-pipewire: {answer.get('error')}"
        types = self.host.ok("types")["types"]
        self.peer_type = next((t for t in ("pipewire-screen-capture-source", "pipewire-desktop-capture-source")
                               if t in types), "")
        if not self.peer_type:
            self.peer_error = self.peer_error or "OBS has no PipeWire screen capture source"
        self.window_env = env
        self.window = PaintingWindow(env, args.paint_every)
        self.roots = [os.getpid(), *compositor_pids]

    def source_settings(self, source: str) -> tuple[str, str]:
        if source == "wlcap":
            # no cursor on either side, as the peer's settings say: the figures compare captures
            return "wlcap_capture", json.dumps({"output": self.args.output, "backend": self.args.backend,
                                                "cursor": False, **json.loads(self.args.wlcap_settings)})
        if source == "pipewire":
            return self.peer_type, json.dumps({"ShowCursor": False})
        return "color_source_v3", json.dumps({"color": 0xFF804080, "width": self.width, "height": self.height})

    def measure(self, source: str, scene: str) -> dict[str, Any]:
        if source == "pipewire" and self.peer_error:
            return {"error": self.peer_error}
        type_id, settings = self.source_settings(source)
        marker = (SMALL[0] + 8, SMALL[1] + 8)
        if scene == "changing":
            self.window.send("animate")
        elif scene == "small":
            self.window.send("animate {} {} {} {}".format(*SMALL))
        answer = self.host.command("create", "measured", type_id, settings)
        if not answer.get("ok"):
            self.window.send("still")
            return {"error": f"cannot create {type_id}"}
        try:
            return self._measure(source, type_id, scene, marker)
        finally:
            self.window.send("still")
            self.host.ok("release", "measured")

    def _measure(self, source: str, type_id: str, scene: str, marker: tuple[int, int]) -> dict[str, Any]:
        deadline = time.monotonic() + 60  # the portal's dialogue is slow under emulation
        while self.host.ok("size", "measured")["width"] == 0:  # no picture yet
            refused = source == "pipewire" and "Failed to start screencast" in self.host.log()
            if refused or time.monotonic() > deadline:
                error = f"{type_id} got no picture"
                if source == "pipewire":
                    self.peer_error = error = f"{error}: " + (self.chain.refusal() if self.chain else "")
                return {"error": error}
            time.sleep(0.2)
        time.sleep(self.args.warmup)
        if source == "pipewire" and not self.peer_log:  # what the peer negotiated (formats, DMA-BUF or not)
            self.peer_log = [line for line in self.host.log().splitlines() if "[pipewire]" in line][:40]
        marks_path = self.host.dir / "marks.txt"
        self.host.ok("watch", str(marker[0]), str(marker[1]))
        self.window.take_paints()
        pids = figures.descendants(self.roots)
        cpu_before = figures.cpu_ns(pids)
        obs_threads_before = figures.thread_cpu_ns(self.host.process.pid)
        probes_before = self.host.ok("probes")["probes"]
        stats_before = self.host.command("stats", "measured")
        started = time.monotonic()
        time.sleep(self.args.seconds)
        seconds = time.monotonic() - started
        cpu_after = figures.cpu_ns(figures.descendants(self.roots))
        obs_threads = {name: ns - obs_threads_before.get(name, 0)
                       for name, ns in figures.thread_cpu_ns(self.host.process.pid).items()}
        capture_thread_ns = obs_threads.get("wlcap-capture", 0)
        probes_after = self.host.ok("probes")["probes"]
        stats_after = self.host.command("stats", "measured")
        self.host.ok("marks", str(marks_path))
        paints = self.window.take_paints()
        if scene != "static" and not paints:  # seen once on a saturated host: measure nothing false
            self.window.stop()
            self.window = PaintingWindow(self.window_env, self.args.paint_every)
            return {"error": "the test window stopped painting (restarted for the next measurement)"}
        marks = figures.read_marks(marks_path)
        obs_frames = stats_after["obs_total_frames"] - stats_before["obs_total_frames"]
        calls, render_ns = (after - before for after, before in zip(
            probes_after["render"].get(type_id, [0, 0]), probes_before["render"].get(type_id, [0, 0]), strict=True))
        cpu_by_process = figures.cpu_between(cpu_before, cpu_after)
        cpu = sum(cpu_by_process.values())
        shown = scene != "static" and source != "colour"
        delivered = figures.delivered_codes(marks) if shown else 0
        latencies = figures.latencies_ms(paints, marks, use_output=False) if shown else []
        output_latencies = figures.latencies_ms(paints, marks, use_output=True) if shown else []

        def per_frame(key: str) -> float:
            return round((probes_after[key] - probes_before[key]) / max(1, obs_frames), 3)

        return {
            "obs_frames": obs_frames,
            **({"peer_log": self.peer_log} if source == "pipewire" else {}),
            "obs_frame_ms": round(stats_after["obs_average_frame_time_ns"] / 1e6, 3),
            # the frame's own cost, whatever else competes for the CPU: wall time above counts preemption too
            "render_cpu_ms_per_frame": round(figures.render_cpu_ns(obs_threads) / max(1, obs_frames) / 1e6, 3),
            "obs_lagged_frames": stats_after["obs_lagged_frames"] - stats_before["obs_lagged_frames"],
            "video_render_ms": round(render_ns / calls / 1e6, 3) if calls else None,
            "other_graphics_ms_per_frame": round((probes_after["graphics_ns"] - probes_before["graphics_ns"])
                                                 / max(1, obs_frames) / 1e6, 3),
            "cpu_ms_per_second": round(cpu / seconds / 1e6, 1),
            "cpu_ms_per_second_by_process": {name: round(ns / seconds / 1e6, 1) for name, ns in
                                             sorted(cpu_by_process.items(), key=lambda item: -item[1]) if ns > 0},
            "cpu_ms_per_obs_frame": round(cpu / max(1, obs_frames) / 1e6, 2),
            # OBS's own threads, per OBS frame: its render thread ("libobs: graphic..."), llvmpipe's, PipeWire's
            "obs_thread_cpu_ms_per_frame": {name: round(ns / max(1, obs_frames) / 1e6, 3) for name, ns in
                                            sorted(obs_threads.items(), key=lambda item: -item[1]) if ns > 0},
            "cpu_ms_per_delivered": round(cpu / delivered / 1e6, 2) if delivered else None,
            "delivered_per_second": round(delivered / seconds, 1) if shown else None,
            "paints_per_second": round(len(paints) / seconds, 1),
            "capture_thread_ms_per_second": round(capture_thread_ns / seconds / 1e6, 2) if source == "wlcap" else None,
            # wlcap's own count of the frames it showed, beside what the output pixels say
            "source_frames_shown_per_second": round((stats_after["frames_shown"] - stats_before["frames_shown"])
                                                    / seconds, 1) if stats_before.get("ok") else None,
            # OBS draws black where a source draws nothing: a source without a picture yet
            "blank_output_share": round(sum(1 for m in marks if m.blank) / len(marks), 3) if marks else None,
            "latency_samples": len(latencies),
            "latency_median_ms": figures.percentile(latencies, 0.5),
            "latency_p95_ms": figures.percentile(latencies, 0.95),
            "latency_output_p95_ms": figures.percentile(output_latencies, 0.95),
            "imports_per_frame": per_frame("dmabuf_imports"),
            "uploads_per_frame": round(uploads(probes_before, probes_after, stats_before, stats_after)
                                       / max(1, obs_frames), 3),
            # what wlcap ran on (backend, format, modifier, sync), as its status line says
            **({"wlcap_status": self.host.ok("props", "measured")["status"]} if source == "wlcap" else {}),
        }

    def close(self) -> None:
        self.window.stop()
        self.host.cleanup()
        if self.chain is not None:
            self.chain.stop()


def uploads(probes_before: dict[str, Any], probes_after: dict[str, Any], stats_before: dict[str, Any],
            stats_after: dict[str, Any]) -> int:
    """Textures created, and images uploaded into them: through libobs (counted by the probes), or for
    wlcap by its own count (its damage rectangles go through glTexSubImage2D, past libobs)."""
    created = probes_after["textures_created"] - probes_before["textures_created"]
    if stats_before.get("ok"):  # a wlcap source: only it has get_stats
        return int(created + stats_after["uploads"] - stats_before["uploads"])
    return int(created + probes_after["images_set"] - probes_before["images_set"])


def run_size(args: argparse.Namespace, width: int, height: int, results: list[dict[str, Any]]) -> None:
    sway = xvfb = None
    if args.running:
        env, compositor_pids = dict(os.environ), [int(pid) for pid in args.compositor_pids.split(",") if pid]
    else:
        sway, xvfb = SwayHeadless(width, height), Xvfb()
        env, compositor_pids = dict(sway.env, DISPLAY=xvfb.display), [sway.pid, xvfb.process.pid]
    env.pop("PYTHONPATH", None)
    try:
        canvas = (int(v) for v in args.canvas.split("x")) if args.canvas else (width, height)
        for fps in args.fps:
            bench = Bench(args, env, *canvas, fps, compositor_pids)
            try:
                for round_number in range(args.rounds):
                    for scene in args.scenes:
                        order = args.sources[round_number % len(args.sources):] + \
                            args.sources[:round_number % len(args.sources)]
                        for source in order:
                            figures_now = bench.measure(source, scene)
                            row = {"size": f"{width}x{height}", "fps": fps, "scene": scene, "source": source,
                                   "round": round_number, **figures_now}
                            print(json.dumps(row), file=sys.stderr, flush=True)
                            results.append(row)
            finally:
                bench.close()
    finally:
        if xvfb is not None:
            xvfb.stop()
        if sway is not None:
            sway.stop()


def report(results: list[dict[str, Any]], sources: list[str]) -> str:
    out = []
    groups = sorted({(r["size"], r["fps"], r["scene"]) for r in results}, key=lambda g: (g[0], g[1], g[2]))
    for size, fps, scene in groups:
        rows: dict[str, dict[str, float | None]] = {}
        errors = []
        for source in sources:
            mine = [r for r in results if (r["size"], r["fps"], r["scene"], r["source"]) == (size, fps, scene, source)]
            errors += [f"{source}: {r['error'].splitlines()[0]}" for r in mine[:1] if "error" in r]
            rows[source] = {key: figures.median(r.get(key) for r in mine) for _, key in figures.ROWS}
        out.append(f"\n### {size}, OBS at {fps} fps, {scene} screen ({len(mine)} rounds, medians)\n")
        out.append(figures.table(rows, sources))
        out += [f"\n{error}" for error in dict.fromkeys(errors)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--fps", default="30,60", type=lambda v: [int(f) for f in v.split(",")])
    parser.add_argument("--scenes", default="changing,small,static", type=lambda v: v.split(","))
    parser.add_argument("--sources", default="wlcap,pipewire,colour", type=lambda v: v.split(","))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--paint-every", type=int, default=0, metavar="MS",
                        help="the window paints at most once every MS ms (default: every frame the compositor asks "
                             "for); under emulation, a rate the machine can hold")
    parser.add_argument("--canvas", default="", help="OBS's canvas, WxH (default: the output's size); the "
                        "sources are drawn unscaled from the top left")
    parser.add_argument("--backend", default="auto", choices=["auto", "dmabuf", "shm"])
    parser.add_argument("--wlcap-settings", default="{}", metavar="JSON",
                        help="more settings for wlcap's source, e.g. '{\"cursor_drawing\": \"compositor\"}'")
    parser.add_argument("--xdpw", type=Path, default=LIBEXEC / "xdg-desktop-portal-wlr",
                        help="the xdg-desktop-portal-wlr to run (tools/bench/xdpw/build makes one for a "
                             "compositor that offers only shared memory)")
    parser.add_argument("--output", default="HEADLESS-1", help="the output both sources capture")
    parser.add_argument("--running", action="store_true",
                        help="use the compositor WAYLAND_DISPLAY names (the guest tier) instead of starting sway")
    parser.add_argument("--compositor-pids", default="", help="with --running: the compositor's pids, for CPU")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--summarise", type=Path, nargs="+", metavar="JSON",
                        help="print the tables of earlier runs' --json files instead of measuring")
    args = parser.parse_args()
    if args.summarise:
        earlier = [row for path in args.summarise for row in json.loads(path.read_text())]
        print(figures.summary(earlier, args.sources))
        return 0
    results: list[dict[str, Any]] = []
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        run_size(args, width, height, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(figures.summary(results, args.sources))
    print(report(results, args.sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
