"""Shutdown and reload while captures are live: OBS quitting with several sources capturing a screen
that changes every frame (the headless libobs host's `quit`, and the real OBS 29 app closed as a user
closes it), the script unloaded at random moments while frames flow, and the script reloaded a hundred
times in the real OBS app as its Tools -> Scripts dialog reloads it. Each ends with OBS's own leak count
at 0, no traceback, and an exit that did not hang.

The screen is tools/clients/testwindow.py's `animate`: a full-screen window that repaints at every
frame the compositor asks for, each paint a new colour that encodes a number (bench.peer_figures), so
that a pixel OBS shows tells which paint it is: a number not seen before is a new capture.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bench.peer_bench import PaintingWindow
from bench.peer_figures import decode_code
from conftest import _need, obs_pythonpath, same_capture_env
from harness.compositor import ColourCycle, SwayHeadless
from harness.obs_frontend import RELOAD_CONTROL, ObsApp, ScriptReloads, obs_env
from harness.obshost import ObsHost, Xvfb, bgra_pixel

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "obs_plugin" / "wlcap.py"
STATUS_SCRIPT = REPO / "tools" / "harness" / "obs_scripts" / "source_status.py"
WIDTH, HEIGHT = 320, 240
# A guard against a hang, not a timing: OBS that has not ended by then is stuck.
EXIT_BOUND = 60.0
SEED = 2024  # the random moments, the same each run: a failure can be run again
UNLOAD_CYCLES = 20
RELOAD_CYCLES = 100
# fds and threads of the OBS app once capture runs again, against before the reloads, with Qt's pool
# threads left out: they end 30 s after their last task, on their own clock, each with one eventfd
# (seen here: 4 pool threads and 12 eventfds became 2 and 10). Anything else of the app's that comes
# and goes stays within this; a thread or an fd of wlcap's left behind by each reload would pile up.
APP_TOLERANCE = 2
QT_POOL_THREAD = "Thread (pooled)"
# OBS's raw output lags its render by a few frames (the GPU conversion, the staging copies, the output
# queue): an unloaded source's last frames can still come out this many frames after the unload.
OUTPUT_LAG = 6
# What wlcap logs when a source outlived its capture thread's stop: it then leaks on purpose.
STUCK = "capture did not stop in time"


@dataclass(frozen=True)
class Figures:
    """What a process holds, from /proc."""

    fds: int
    threads: int
    rss_kib: int
    qt_pool: int  # of the threads, Qt's pool threads

    def __str__(self) -> str:
        return f"{self.fds} fds, {self.threads} threads ({self.qt_pool} Qt pool), RSS {self.rss_kib / 1024:.1f} MiB"


def figures(pid: int) -> Figures:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    tasks = os.listdir(f"/proc/{pid}/task")
    pool = sum(1 for task in tasks if Path(f"/proc/{pid}/task/{task}/comm").read_text().strip() == QT_POOL_THREAD)
    return Figures(len(os.listdir(f"/proc/{pid}/fd")), len(tasks), rss, pool)


@pytest.fixture()
def painting() -> Iterator[tuple[SwayHeadless, PaintingWindow]]:
    """A compositor of the test's own whose screen changes at every frame: the test window, animated."""
    _need("sway")
    sway = SwayHeadless(WIDTH, HEIGHT, "#000000")
    window = PaintingWindow(same_capture_env(sway.env))
    window.send("animate")
    yield sway, window
    window.stop()
    sway.stop()


def new_codes(read: Callable[[], int | None], seen: set[int], timeout: float = 30) -> set[int]:
    """Two paint codes never seen before (two new frames: capture runs), read with `read`; they are
    added to `seen`. Fails after `timeout` s."""
    fresh: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(fresh) < 2:
        code = read()
        if code is not None and code not in seen:
            fresh.add(code)
        assert time.monotonic() < deadline, f"no new frames: {len(fresh)} new paint codes in {timeout} s"
        time.sleep(0.05)
    seen |= fresh
    return fresh


def host_code(host: ObsHost) -> int | None:
    """The paint code OBS's output shows at the canvas's centre, now."""
    frame, _ = host.peek()
    red, green, blue = bgra_pixel(frame, WIDTH, WIDTH // 2, HEIGHT // 2)
    code: int | None = decode_code(red << 16 | green << 8 | blue)
    return code


def next_output_codes(host: ObsHost, frames: int) -> list[int | None]:
    """The paint code at the centre of each of OBS's next `frames` output frames."""
    codes = []
    for _ in range(frames):
        host.grab(1)
        codes.append(host_code(host))
    return codes


def app_code(obs: ObsApp, source: str) -> int | None:
    """The paint code at the centre of OBS's screenshot of `source`."""
    pixel = obs.source_centre(source)
    return None if pixel is None else decode_code(pixel[0] << 16 | pixel[1] << 8 | pixel[2])


def settings(**values: object) -> str:
    return json.dumps(values, separators=(",", ":"))


def wait_for_status(host: ObsHost, name: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while text not in (status := str(host.ok("props", name)["status"])):
        assert time.monotonic() < deadline, f"{name}: {status!r}, never {text!r}\n{host.log()[-2000:]}"
        time.sleep(0.2)
    return status


def assert_clean_log(log: str) -> None:
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:3000]
    assert STUCK not in log, log[log.index(STUCK) - 500:][:3000]


def closed_cleanly(obs: ObsApp, exit_status: int | None) -> str:
    """The OBS app's log, once it is checked that closing its window ended it (status 0) and that the
    log is clean."""
    log = obs.log()
    assert (exit_status, obs.stop_method) == (0, "window close"), log[-3000:]
    assert_clean_log(log)
    return log


# -- 1. OBS exiting with captures live --------------------------------------------------------------


def test_obs_host_quits_with_captures_live(painting: tuple[SwayHeadless, PaintingWindow],
                                           obs_factory: Callable[..., ObsHost]) -> None:
    """Three sources capturing (the animated screen whole and a region of it, and a second output whose
    background changes ten times a second); `quit` while their frames flow: libobs destroys the sources,
    then the script unloads, then OBS shuts down, and the OBS host ends with nothing leaked."""
    sway, _window = painting
    sway.swaymsg("create_output")  # HEADLESS-2
    cycle = ColourCycle(lambda colour: sway.show_colour("HEADLESS-2", colour), ["#c0392b", "#27ae60"], 0.1).start()
    try:
        host = obs_factory(sway.env, WIDTH, HEIGHT)
        host.ok("script", str(SCRIPT))
        sources = {"screen": settings(output="HEADLESS-1", backend="shm", cursor=False),
                   "region": settings(output="HEADLESS-1", backend="shm", region="40,30 160x120"),
                   "second": settings(output="HEADLESS-2", backend="shm")}
        for name, values in sources.items():
            host.ok("create", name, "wlcap_capture", values)
        for name in sources:
            wait_for_status(host, name, "fps")
        shown = {name: host.ok("stats", name)["frames_shown"] for name in sources}
        time.sleep(0.5)
        for name in sources:  # every one is still drawing new frames when OBS is asked to quit
            assert host.ok("stats", name)["frames_shown"] > shown[name], name
        leaks = host.quit(timeout=EXIT_BOUND)
    finally:
        cycle.stop()
    assert host.process.returncode == 0  # ended: no thread of wlcap's (or OBS's) outlived it
    assert leaks == 0
    log = host.log()
    assert_clean_log(log)
    assert "source type wlcap_capture disabled (script unloaded)" in log


def test_obs_app_closes_with_captures_live(painting: tuple[SwayHeadless, PaintingWindow], xvfb: Xvfb,
                                           tmp_path: Path) -> None:
    """The real OBS 29 app with three wlcap sources capturing, closed as a user closes its window: it
    ends on its own (no signal needed), and its log says 0 memory leaks."""
    _need("obs")
    sway, _window = painting
    env = dict(obs_env(sway.env, xvfb.display), WLCAP_PYTHONPATH=obs_pythonpath())
    obs = ObsApp(env, SCRIPT, tmp_path, WIDTH, HEIGHT)
    exit_status = None
    try:
        sources = {"screen": {"output": "HEADLESS-1", "backend": "shm", "cursor": False},
                   "region": {"output": "HEADLESS-1", "backend": "shm", "region": "80,60 160x120"},
                   "auto": {"output": "HEADLESS-1"}}
        for name, values in sources.items():
            obs.request("CreateInput", sceneName="Scene", inputName=name, inputKind="wlcap_capture",
                        inputSettings=values, sceneItemEnabled=True)
        for name in sources:
            new_codes(functools.partial(app_code, obs, name), set())
        exit_status = obs.stop(timeout=EXIT_BOUND)
    finally:
        if exit_status is None:
            obs.stop()
    log = closed_cleanly(obs, exit_status)
    assert "source type wlcap_capture disabled (script unloaded)" in log
    assert "Number of memory leaks: 0" in log


# -- 2. The script unloaded mid-frame ------------------------------------------------------------------


def test_script_unloaded_mid_frame_again_and_again(painting: tuple[SwayHeadless, PaintingWindow],
                                                   obs_factory: Callable[..., ObsHost]) -> None:
    """Twenty times: the script loaded, the source (created once) captures new paints, then the script
    unloaded at a random moment while frames flow. Each time the source goes inert (once OBS's output
    has caught up: nothing drawn, no new paint), the OBS process is back to the fds and threads it had
    after the first unload, and the next load brings new pixels to the same source."""
    sway, _window = painting
    host = obs_factory(sway.env, WIDTH, HEIGHT, OBS_HOST_FPS="60")
    pid = host.process.pid
    rng = random.Random(SEED)
    seen: set[int] = set()
    level: Figures | None = None
    for cycle in range(UNLOAD_CYCLES):
        host.ok("script", str(SCRIPT))
        if cycle == 0:
            host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm", cursor=False))
        new_codes(functools.partial(host_code, host), seen)
        time.sleep(rng.uniform(0, 0.25))  # a random moment: a capture, a copy or a render under way
        host.ok("unload_script")
        assert "script unloaded" in host.ok("props", "cap")["status"]
        codes = next_output_codes(host, 12)
        drained = codes.index(None) if None in codes else len(codes)
        assert drained <= OUTPUT_LAG and not any(codes[drained:]), \
            f"cycle {cycle}: the unloaded script's source still shows frames: {codes}"
        now = figures(pid)
        level = level or now
        print(f"cycle {cycle}: {now}")
        assert (now.fds, now.threads) == (level.fds, level.threads), f"cycle {cycle}: {now}, after the first: {level}"
    host.ok("script", str(SCRIPT))
    new_codes(functools.partial(host_code, host), seen)
    assert host.quit(timeout=EXIT_BOUND) == 0
    log = host.log()
    assert_clean_log(log)
    assert log.count("source type wlcap_capture enabled again") == UNLOAD_CYCLES


# -- 3. A hundred reloads in the real OBS app --------------------------------------------------------


def test_a_hundred_script_reloads_in_the_obs_app(painting: tuple[SwayHeadless, PaintingWindow], xvfb: Xvfb,
                                                 tmp_path: Path) -> None:
    """The real OBS 29 app reloads wlcap.py a hundred times as its Scripts dialog's "Reload Scripts"
    does (obs_scripts/reload_control.py says why it is the same call), at random moments while the
    source captures. Afterwards the source still shows new paints and says it captures, the app holds
    the fds and threads it held before (within APP_TOLERANCE), and it closes with 0 memory leaks."""
    _need("obs")
    sway, _window = painting
    status_file, control = tmp_path / "status.json", tmp_path / "reload.sock"
    env = dict(obs_env(sway.env, xvfb.display), WLCAP_PYTHONPATH=obs_pythonpath(),
               WLCAP_STATUS_FILE=str(status_file), WLCAP_RELOAD_SOCKET=str(control))
    obs = ObsApp(env, SCRIPT, tmp_path, WIDTH, HEIGHT, extra_scripts=[RELOAD_CONTROL, STATUS_SCRIPT])
    exit_status = None
    try:
        obs.request("CreateInput", sceneName="Scene", inputName="Wayland", inputKind="wlcap_capture",
                    inputSettings={"output": "HEADLESS-1", "backend": "shm", "cursor": False},
                    sceneItemEnabled=True)
        reloads = ScriptReloads(control)
        pid, rng, seen = obs.process.pid, random.Random(SEED), set[int]()
        new_codes(functools.partial(app_code, obs, "Wayland"), seen)
        samples = [(0, figures(pid))]
        heap, objects = [reloads.heap_bytes()], [reloads.python_objects()]
        for cycle in range(1, RELOAD_CYCLES + 1):
            time.sleep(rng.uniform(0, 0.1))
            assert reloads.reload("wlcap.py"), f"wlcap.py did not load again (reload {cycle}): {obs.log()[-3000:]}"
            if cycle % 25 == 0:
                new_codes(functools.partial(app_code, obs, "Wayland"), seen)
                samples.append((cycle, figures(pid)))
        heap.append(reloads.heap_bytes())
        objects.append(reloads.python_objects())
        reloads.close()
        time.sleep(1.5)  # the status script writes every 0.5 s
        status = json.loads(status_file.read_text())["Wayland"]["status"]
        before = samples[0][1]
        for cycle, sample in samples:
            print(f"after {cycle} reloads: {sample}")
        print(f"over {RELOAD_CYCLES} reloads: RSS {(samples[-1][1].rss_kib - before.rss_kib) / 1024:+.1f} MiB, "
              f"malloc'd {(heap[1] - heap[0]) / 1024:+.0f} KiB, Python objects {objects[1] - objects[0]:+d}")
        assert status.startswith("Status: capturing HEADLESS-1"), status
        for cycle, sample in samples:
            assert abs((sample.fds - sample.qt_pool) - (before.fds - before.qt_pool)) <= APP_TOLERANCE, \
                f"after {cycle} reloads: {sample}; before: {before}"
            assert abs((sample.threads - sample.qt_pool) - (before.threads - before.qt_pool)) <= APP_TOLERANCE, \
                f"after {cycle} reloads: {sample}; before: {before}"
        exit_status = obs.stop(timeout=EXIT_BOUND)
    finally:
        if exit_status is None:
            obs.stop()
    log = closed_cleanly(obs, exit_status)
    assert log.count("source type wlcap_capture enabled again") == RELOAD_CYCLES
    assert "Number of memory leaks: 0" in log
