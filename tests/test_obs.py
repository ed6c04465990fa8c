"""The wlcap_capture source in a real headless OBS (libobs 29 + libobs-scripting on Xvfb/llvmpipe),
loaded through obs_plugin/wlcap.py exactly as Tools -> Scripts loads it."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import HEIGHT, WIDTH, wait_until_shown
from harness.compositor import DEMO_COLOURS, ColourCycle, SwayHeadless
from harness.obshost import LYING_FRAMES, ObsHost, bgra_pixel, max_channel_difference
from patterns import crop, pattern, write_png

from capture.image import RgbImage

SCRIPT = Path(__file__).resolve().parent.parent / "obs_plugin" / "wlcap.py"
TOLERANCE = 2  # per channel: OBS's sRGB round trip may move a value by one or two


@contextmanager
def changing_screen(sway: SwayHeadless, interval: float = 0.1) -> Iterator[None]:
    """A new background colour every `interval` seconds while inside: the source captures only
    screens that changed (copy_with_damage, ext's damage)."""
    cycle = ColourCycle(lambda colour: sway.show_colour("HEADLESS-1", colour), DEMO_COLOURS, interval).start()
    try:
        yield
    finally:
        cycle.stop()


def settings(**values: object) -> str:
    return json.dumps(values, separators=(",", ":"))


def wait_for(host: ObsHost, name: str, predicate: Callable[[dict], bool], timeout: float = 15) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        props = host.ok("props", name)
        if predicate(props):
            return props
        if time.monotonic() > deadline:
            raise AssertionError(f"status never matched: {props['status']}\\n{host.log()[-2000:]}")
        time.sleep(0.2)


def socket_fds(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed while listed
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


def wait_for_pixels(host: ObsHost, image: RgbImage, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while True:
        difference = max_channel_difference(host.grab(2), host.width, image)
        if difference <= TOLERANCE or time.monotonic() > deadline:
            return difference
        time.sleep(0.2)


def test_source_shows_the_compositor_pixels_with_no_leaks(sway: SwayHeadless, shown_pattern: RgbImage,
                                                           obs_factory) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(sway.env)
    host.ok("script", str(SCRIPT))
    assert host.ok("types")["types"].count("wlcap_capture") == 1
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    assert wait_for_pixels(host, shown_pattern) <= TOLERANCE
    assert host.ok("size", "cap") == {"ok": True, "width": WIDTH, "height": HEIGHT}
    props = wait_for(host, "cap", lambda p: "fps" in p["status"] and "shm" in p["status"])
    assert "HEADLESS-1" in props["status"] and "XRGB8888" in props["status"]
    assert "HEADLESS-1" in props["outputs"]
    log = host.log()
    assert "[wlcap] registered source type wlcap_capture through OBS's module loader" in log
    assert "Traceback" not in log
    assert host.quit() == 0


def test_properties_show_what_applies_with_the_status_first(sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    """As OBS's own sources do: the screen list for a screen, the window list for a window, who draws
    the cursor only for a shown cursor on a screen, rarely needed choices in an Advanced group, and
    the cursor shown by default."""
    host = obs_factory(sway.env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    props = wait_for(host, "cap", lambda p: ": shm, " in p["headline"])
    # The status is one short line; how the source captures is in the Advanced group and the log.
    assert props["headline"].startswith("Status: capturing HEADLESS-1: shm, ") and len(props["headline"]) <= 60
    details = props["status"].split("\n", 1)[1]
    assert "XRGB8888" in details and "wlr-screencopy" in details and "\n" not in details
    assert f"[wlcap] HEADLESS-1: {details}" in host.log()
    everyday = ["status", "target", "output", "cursor", "region", "advanced"]
    advanced = ["advanced/details", "advanced/protocol", "advanced/cursor_drawing", "advanced/backend"]
    assert props["shown"] == everyday + advanced
    host.ok("update", "cap", settings(target="window"))
    props = wait_for(host, "cap", lambda p: "fps" not in p["headline"])  # no window chosen: nothing captured
    assert props["shown"] == ["status", "target", "window", "cursor", "region", "advanced", "advanced/protocol",
                              "advanced/backend"]
    host.ok("update", "cap", settings(target="output", cursor=False))
    wait_for(host, "cap", lambda p: ": shm, " in p["headline"])
    assert host.ok("props", "cap")["shown"] == [*everyday, "advanced/details", "advanced/protocol",
                                                "advanced/backend"]
    assert host.quit() == 0


def test_scaled_source_blends_in_linear_light_and_unscaled_keeps_exact_values(
        fresh_sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    """Drawn pixel for pixel, the source skips sRGB decoding (the values come out the same either way);
    scaled by its scene item, OBS asks for linear light and gets it: black and white columns halved
    average to sRGB 188 (half the light), not 128 (half the code values)."""
    width, height = 320, 240
    columns = RgbImage(width, height, (b"\x00\x00\x00\xff\xff\xff" * (width // 2)) * height)
    fresh_sway.show_image("HEADLESS-1", write_png(columns, fresh_sway.dir / "columns.png"))
    wait_until_shown("HEADLESS-1", columns, fresh_sway.env)
    host = obs_factory(fresh_sway.env, width=width, height=height)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    assert wait_for_pixels(host, columns) <= TOLERANCE
    host.ok("scale", "cap", "0.5")
    deadline = time.monotonic() + 15
    while True:
        grey = bgra_pixel(host.grab(2), width, width // 4, height // 4)
        if all(abs(value - 188) <= TOLERANCE for value in grey) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert all(abs(value - 188) <= TOLERANCE for value in grey), f"halved black and white columns: {grey}"
    assert host.quit() == 0


def test_region_and_rotation_are_applied_on_the_gpu(fresh_sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    fresh_sway.swaymsg("output", "HEADLESS-1", "transform", "90")
    upright = pattern(fresh_sway.height, fresh_sway.width, seed=5)  # 240x320 once rotated
    fresh_sway.show_image("HEADLESS-1", write_png(upright, fresh_sway.dir / "upright.png"))
    wait_until_shown("HEADLESS-1", upright, fresh_sway.env)
    host = obs_factory(fresh_sway.env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "whole", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    assert wait_for_pixels(host, upright) <= TOLERANCE
    assert host.ok("size", "whole")["width"] == upright.width
    host.ok("release", "whole")
    host.ok("create", "part", "wlcap_capture", settings(output="HEADLESS-1", backend="shm", region="7,13 101x33"))
    assert wait_for_pixels(host, crop(upright, 7, 13, 101, 33)) <= TOLERANCE
    assert host.ok("size", "part") == {"ok": True, "width": 101, "height": 33}
    assert host.quit() == 0


def test_missing_output_is_reported_and_resumes_when_it_appears(fresh_sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(fresh_sway.env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-2", backend="shm"))
    props = wait_for(host, "cap", lambda p: "error" in p["status"])
    assert "unknown output 'HEADLESS-2'" in props["status"]
    assert "HEADLESS-2" in props["outputs"]  # remembered, listed as not connected
    fresh_sway.swaymsg("create_output")
    wait_for(host, "cap", lambda p: "capturing HEADLESS-2" in p["status"] and "fps" in p["status"])
    assert host.log().count("unknown output 'HEADLESS-2'") == 1  # logged once, not every retry
    assert host.quit() == 0


def test_no_compositor_at_start(tmp_path: Path, obs_factory) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path), WAYLAND_DISPLAY="wayland-gone")
    host = obs_factory(env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings())
    props = wait_for(host, "cap", lambda p: "error" in p["status"])
    assert "cannot connect to Wayland display 'wayland-gone'" in props["status"]
    host.grab(3)  # OBS keeps rendering
    assert host.quit() == 0


def test_compositor_vanishing_mid_stream(fresh_sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(fresh_sway.env)
    idle_sockets = socket_fds(host.process.pid)  # before the script: its listing connection is wlcap's too
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(backend="shm"))
    wait_for(host, "cap", lambda p: "fps" in p["status"])
    assert socket_fds(host.process.pid) > idle_sockets
    fresh_sway.kill()
    props = wait_for(host, "cap", lambda p: "error" in p["status"])
    assert "compositor connection lost" in props["status"] or "closed the connection" in props["status"]
    host.grab(3)
    assert socket_fds(host.process.pid) == idle_sockets  # the dead connection was closed
    assert not [fd for fd in os.listdir(f"/proc/{host.process.pid}/fd")
                if "wlcap-shm" in os.readlink(f"/proc/{host.process.pid}/fd/{fd}")]  # and its buffers freed
    assert host.quit() == 0


def test_capture_only_while_shown(sway: SwayHeadless, shown_pattern: RgbImage, obs_factory) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(sway.env)
    host.ok("script", str(SCRIPT))
    idle_sockets = socket_fds(host.process.pid)
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    wait_for(host, "cap", lambda p: "fps" in p["status"])
    host.ok("hide", "cap")
    wait_for(host, "cap", lambda p: "hidden" in p["status"])
    assert socket_fds(host.process.pid) == idle_sockets
    host.ok("show", "cap")
    assert wait_for_pixels(host, shown_pattern) <= TOLERANCE
    assert host.quit() == 0


def test_script_reload_and_source_cycles(sway: SwayHeadless, shown_pattern: RgbImage, obs_factory) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(sway.env)
    pid = host.process.pid
    for cycle in range(3):
        host.ok("script", str(SCRIPT))
        assert host.ok("types")["types"].count("wlcap_capture") == 1
        if cycle == 0:
            baseline = len(os.listdir(f"/proc/{pid}/fd"))
        for index in range(3):
            name = f"cap{cycle}{index}"
            host.ok("create", name, "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
            wait_for(host, name, lambda p: "fps" in p["status"])
            host.ok("release", name)
        assert len(os.listdir(f"/proc/{pid}/fd")) == baseline, "fds leaked across source cycles"
        host.ok("unload_script")
    host.ok("script", str(SCRIPT))
    host.ok("create", "last", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    assert wait_for_pixels(host, shown_pattern) <= TOLERANCE
    log = host.log()
    assert log.count("registered source type wlcap_capture") == 1
    assert log.count("source type wlcap_capture enabled again") == 3
    assert "Traceback" not in log
    assert host.quit() == 0


def test_unloading_the_script_stops_live_sources(sway: SwayHeadless, obs_factory) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(sway.env)
    idle_sockets = socket_fds(host.process.pid)  # before the script: unloading closes every wlcap socket
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    wait_for(host, "cap", lambda p: "fps" in p["status"])
    host.ok("unload_script")
    props = host.ok("props", "cap")
    assert "script unloaded" in props["status"]
    assert socket_fds(host.process.pid) == idle_sockets
    host.ok("script", str(SCRIPT))
    wait_for(host, "cap", lambda p: "fps" in p["status"])
    assert host.quit() == 0


@pytest.mark.parametrize("backend", ["dmabuf"])
def test_dmabuf_backend_without_dmabuf_says_why(sway: SwayHeadless, obs_factory, backend: str) -> None:  # type: ignore[no-untyped-def]
    host = obs_factory(sway.env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend=backend))
    props = wait_for(host, "cap", lambda p: "error" in p["status"])
    assert "DMA-BUF" in props["status"]
    assert host.quit() == 0


def test_cmake_install_is_found_by_obs(sway: SwayHeadless, shown_pattern: RgbImage, obs_factory,  # type: ignore[no-untyped-def]
                                       tmp_path: Path) -> None:
    """The path a user takes: cmake build and install, then load the installed script (which
    finds its packages beside itself, with no environment to help it)."""
    import shutil
    import subprocess

    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    repo = SCRIPT.parent.parent
    build, prefix = tmp_path / "build", tmp_path / "prefix"
    for step in (["cmake", "-S", str(repo), "-B", str(build), f"-DCMAKE_INSTALL_PREFIX={prefix}"],
                 ["cmake", "--build", str(build)], ["cmake", "--install", str(build)]):
        result = subprocess.run(step, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    installed = prefix / "share" / "wlcap" / "wlcap.py"
    assert (installed.parent / "wlcap-python" / "wlcap_obs").is_dir()
    host = obs_factory({k: v for k, v in sway.env.items() if k != "WLCAP_PYTHONPATH"}, use_pythonpath=False)
    host.ok("script", str(installed))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    assert wait_for_pixels(host, shown_pattern) <= TOLERANCE
    assert str(installed.parent / "wlcap-python" / "wlcap_obs") in host.log()
    assert host.quit() == 0


def test_shared_memory_needs_no_fences_and_every_frame_comes_back_once(fresh_sway: SwayHeadless,  # type: ignore[no-untyped-def]
                                                                       obs_factory) -> None:
    # This host has no DMA-BUF: "auto" falls back to shared memory, which OBS copies before the buffer
    # goes back, so the explicit-sync path is never entered (the guest tier runs it, tests/guest).
    # A compositor of its own: the test changes its screen.
    sway = fresh_sway
    host = obs_factory(sway.env)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="auto"))
    props = wait_for(host, "cap", lambda p: "copied" in p["status"])
    assert ": shm, " in props["headline"] and "copied (no fences needed)" in props["status"], props["status"]
    deadline = time.monotonic() + 15
    with changing_screen(sway):  # the source captures only what changed
        while host.ok("stats", "cap")["frames_shown"] < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
    host.ok("hide", "cap")
    wait_for(host, "cap", lambda p: "hidden" in p["status"])
    stats = host.ok("stats", "cap")
    assert stats["frames_shown"] >= 10
    # Stopped: every frame ever published came back exactly once, each copied or never sampled. A
    # frame is copied as it is published, so a newer one may replace it before OBS renders it.
    assert stats["frames_returned"] == stats["frames_published"]
    assert stats["releases_copied"] == stats["uploads"] >= stats["frames_shown"]
    assert stats["releases_copied"] + stats["releases_unsampled"] == stats["frames_returned"]
    assert stats["acquire_waits"] == stats["acquire_signalled"] == stats["release_fences"] == 0
    assert stats["releases_implicit"] == stats["releases_at_stop"] == 0
    assert "explicit sync" not in host.log()
    assert host.quit() == 0


def test_capture_never_outpaces_obs(fresh_sway: SwayHeadless, obs_factory,  # type: ignore[no-untyped-def]
                                    wayland_env: dict[str, str]) -> None:
    from test_stream import take_frames_for

    obs_fps = 10
    sway = fresh_sway  # a compositor of its own: the test changes its screen
    host = obs_factory(sway.env, OBS_HOST_FPS=str(obs_fps))
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
    wait_for(host, "cap", lambda p: "fps" in p["status"])
    with changing_screen(sway, interval=0.02):  # changes five times as often as OBS renders
        before, start = host.ok("stats", "cap")["frames_published"], time.monotonic()
        time.sleep(3)
        published, elapsed = host.ok("stats", "cap")["frames_published"] - before, time.monotonic() - start
    assert 1 <= published <= obs_fps * elapsed + 2, (published, elapsed)
    # The same compositor, unpaced, offers more: the cap above is the source's doing.
    unpaced, unpaced_elapsed, _ = take_frames_for(1.0, None)
    print(f"OBS at {obs_fps} fps: {published} frames published in {elapsed:.2f} s; "
          f"unpaced: {unpaced} in {unpaced_elapsed:.2f} s")
    assert unpaced > obs_fps * unpaced_elapsed + 2, (unpaced, unpaced_elapsed)
    assert host.quit() == 0



def publish_plan(host: ObsHost, plan_path: Path, timeout: float = 60) -> None:
    """Load the lying-frames script (tools/harness/obs_scripts) beside wlcap's and wait until its plan ran."""
    host.ok("script", str(LYING_FRAMES))
    done = Path(str(plan_path) + ".done")
    deadline = time.monotonic() + timeout
    while not done.exists():
        assert time.monotonic() < deadline, f"the plan did not finish:\n{host.log()[-3000:]}"
        time.sleep(0.2)


def test_render_thread_refuses_frames_that_do_not_fit_their_memory(
        sway: SwayHeadless, obs_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A shm frame whose stride is shorter than a row, or whose rows run past the memory mapped for it,
    is never sampled: counted, logged once per reason, and the last true frame stays on screen."""
    plan = tmp_path / "plan.json"
    true = {"width": 64, "height": 48, "stride": 256, "bytes": 256 * 48}
    plan.write_text(json.dumps({"frames": [
        dict(true, colour="c03020", wait=2.0),
        dict(true, colour="20c030", stride=128),  # shorter than a row of 64 pixels
        dict(true, colour="2030c0", height=96),  # twice the rows the memory holds
        dict(true, colour="2030c0", height=96),  # the same again: logged once
    ]}))
    host = obs_factory(sway.env, WLCAP_TEST_FRAMES=str(plan))
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="NOT-AN-OUTPUT"))  # wlcap itself captures nothing
    publish_plan(host, plan)
    frame = host.grab(3)
    assert all(abs(a - b) <= TOLERANCE for a, b in zip(bgra_pixel(frame, host.width, 10, 10), (0xC0, 0x30, 0x20),
                                                       strict=True)), bgra_pixel(frame, host.width, 10, 10)
    stats = host.ok("stats", "cap")
    assert stats["frames_rejected"] == 3 and stats["frames_shown"] == 1, stats
    log = host.log()
    assert log.count("frame not shown: stride 128 is shorter than a row of 64 pixels (256 bytes)") == 1, log[-3000:]
    assert log.count("frame not shown: 64x96 at stride 256 needs 24576 bytes, the shared memory holds 12288") == 1
    assert host.quit() == 0


def test_damage_that_lies_is_clipped_and_never_read_past_the_frame(
        sway: SwayHeadless, obs_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A shm frame's damage says which rectangles to upload: rectangles reaching past the frame, far
    outside it, or of negative size are clipped or make the whole frame go; never a read past it."""
    plan = tmp_path / "plan.json"
    true = {"width": 64, "height": 48, "stride": 256, "bytes": 256 * 48}
    huge = 2**31 - 1
    plan.write_text(json.dumps({"frames": [
        dict(true, colour="c03020"),  # no damage: all of it
        dict(true, colour="20c030", damage=[[-100, -100, huge, huge]]),  # past every edge: all of it, clipped
        dict(true, colour="2030c0", damage=[[huge - 10, huge - 10, huge, huge]]),  # outside: nothing changed
        dict(true, colour="c0c020", damage=[[0, 0, -5, -5]]),  # negative: not trusted, all of it
        dict(true, colour="20c0c0", damage=[[0, 0, 8, 8]], wait=2.0),  # the top-left 8x8 only
    ]}))
    host = obs_factory(sway.env, WLCAP_TEST_FRAMES=str(plan))
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", settings(output="NOT-AN-OUTPUT"))  # wlcap itself captures nothing
    publish_plan(host, plan)
    frame = host.grab(3)

    def shows(x: int, y: int, colour: tuple[int, int, int]) -> bool:
        return all(abs(a - b) <= TOLERANCE for a, b in zip(bgra_pixel(frame, host.width, x, y), colour, strict=True))

    # The 64x48 frame sits at the canvas's top left, unscaled.
    assert shows(2, 2, (0x20, 0xC0, 0xC0)), bgra_pixel(frame, host.width, 2, 2)  # the last frame's 8x8
    assert shows(30, 30, (0xC0, 0xC0, 0x20)), bgra_pixel(frame, host.width, 30, 30)  # the rest: the one before
    stats = host.ok("stats", "cap")
    assert stats["frames_shown"] == 5 and stats["frames_rejected"] == 0, stats
    assert stats["upload_pixels"] == 3 * 64 * 48 + 8 * 8, stats  # all, all, nothing, all, 8x8
    assert host.quit() == 0
