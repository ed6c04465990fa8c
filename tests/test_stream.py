"""The pooled frame stream against a real sway: pool reuse, fds, slow consumers, damage, hotplug."""

from __future__ import annotations

import gc
import itertools
import json
import os
import threading
import time

import pytest
from conftest import run_cli
from harness.compositor import SwayHeadless

from capture import (
    Backend,
    CaptureOptions,
    Connection,
    FrameStream,
    ProtocolStateError,
    UnknownOutputError,
)
from capture.image import to_rgb
from capture.session.wlr import WlrSession


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_500_frames_reuse_one_pool_and_keep_fds_flat(wayland_env: dict[str, str]) -> None:
    gc.collect()  # what earlier tests left to the collector closes its fds now, not during the count
    fds_before = open_fds()
    with FrameStream(CaptureOptions(output="HEADLESS-1", backend=Backend.SHM)) as stream:
        buffer_ids: set[int] = set()
        fds_during: list[int] = []
        for index in range(500):
            frame = stream.get_frame(timeout=10)
            assert frame is not None
            buffer_ids.add(frame.buffer.id)
            frame.release()
            if index in (50, 499):
                fds_during.append(open_fds())
        stats = stream.stats()
    assert stats.backend == "shm"
    assert stats.buffers_allocated == 3
    assert stats.reallocations == 0
    assert stats.frames_failed == 0
    assert len(buffer_ids) <= 3
    assert fds_during[0] == fds_during[1], "fds grew while streaming"
    assert open_fds() == fds_before, "fds left behind after close"
    assert not any(t.name == "wlcap-capture" for t in threading.enumerate())


def test_frames_carry_the_compositor_pixels(wayland_env: dict[str, str], shown_pattern) -> None:  # type: ignore[no-untyped-def]
    with FrameStream(CaptureOptions(output="HEADLESS-1")) as stream:
        for _ in range(3):
            frame = stream.get_frame(timeout=10)
            assert frame is not None
            with frame:
                assert not frame.y_invert  # pixman writes top-down
                assert frame.timestamp_ns > 0
                view = frame.view()
                image = to_rgb(view, frame.width, frame.height, frame.stride, frame.format)
                view.release()
            assert image.pixels == shown_pattern.pixels


def test_slow_consumer_gets_the_newest_frame_and_never_grows_the_pool(wayland_env: dict[str, str]) -> None:
    with FrameStream(CaptureOptions(output="HEADLESS-1")) as stream:
        first = stream.get_frame(timeout=10)
        assert first is not None
        time.sleep(0.5)  # a consumer that sits on one frame while the screen refreshes ~30 times
        newest = stream.get_frame(timeout=10)
        assert newest is not None
        assert newest.sequence > first.sequence + 5
        first.release()
        newest.release()
        stats = stream.stats()
    assert stats.frames_dropped > 0
    assert stats.buffers_allocated == 3


def test_consumer_holding_every_buffer_pauses_capture(wayland_env: dict[str, str]) -> None:
    with FrameStream(CaptureOptions(output="HEADLESS-1", pool_size=2)) as stream:
        held = [stream.get_frame(timeout=10), stream.get_frame(timeout=10)]
        assert all(held)
        assert stream.get_frame(timeout=0.5) is None  # nothing to write into: capture waits
        held[0].release()  # type: ignore[union-attr]
        resumed = stream.get_frame(timeout=10)
        assert resumed is not None
        resumed.release()
        held[1].release()  # type: ignore[union-attr]
        assert stream.stats().buffers_allocated == 2


def test_copy_with_damage_on_a_static_screen_never_hangs(fresh_sway: SwayHeadless) -> None:
    os.environ.update(XDG_RUNTIME_DIR=str(fresh_sway.runtime_dir), WAYLAND_DISPLAY=fresh_sway.socket_name)
    stream = FrameStream(CaptureOptions(output="HEADLESS-1", with_damage=True)).start()
    try:
        # Whatever was pending comes first; then the static screen sends nothing.
        while (frame := stream.get_frame(timeout=1.0)) is not None:
            frame.release()
        fresh_sway.show_colour("HEADLESS-1", "#ff0000")
        deadline = time.monotonic() + 10
        changed = None
        while changed is None and time.monotonic() < deadline:
            frame = stream.get_frame(timeout=1.0)
            if frame is None:
                continue
            with frame:
                view = frame.view()
                image = to_rgb(view, frame.width, frame.height, frame.stride, frame.format)
                view.release()
                if image.pixel(0, 0) == (255, 0, 0):
                    changed = frame.damage
        assert changed, "no damaged frame after the screen changed"
        _x, _y, width, height = changed[0]
        assert width > 0 and height > 0
    finally:
        stream.close()  # must return although a copy_with_damage is still waiting
    assert not stream._thread.is_alive()


def test_output_added_while_connected_is_tracked(fresh_sway: SwayHeadless) -> None:
    os.environ.update(XDG_RUNTIME_DIR=str(fresh_sway.runtime_dir), WAYLAND_DISPLAY=fresh_sway.socket_name)
    with Connection() as connection:
        assert [o.name for o in connection.outputs.all()] == ["HEADLESS-1"]
        fresh_sway.swaymsg("create_output")
        connection.roundtrip()
        connection.roundtrip()
        added = connection.outputs.find("HEADLESS-2").info()
        assert (added.width, added.height) > (0, 0)
        assert added.x == fresh_sway.width  # placed right of HEADLESS-1
    with FrameStream(CaptureOptions(output="HEADLESS-2")) as stream:
        frame = stream.get_frame(timeout=10)
        assert frame is not None
        assert (frame.width, frame.height) == (added.width, added.height)
        frame.release()


def test_stream_ends_cleanly_when_its_output_is_removed(fresh_sway: SwayHeadless) -> None:
    """sway 1.7's headless backend cannot disable or unplug an output ("Failed to commit output"),
    so the compositor's wl_registry.global_remove is FAKED here by calling the handler the registry
    event runs; everything else (the stream, its frame in flight, the teardown) is real."""
    os.environ.update(XDG_RUNTIME_DIR=str(fresh_sway.runtime_dir), WAYLAND_DISPLAY=fresh_sway.socket_name)
    fresh_sway.swaymsg("create_output")
    fds_before = open_fds()
    with Connection() as connection:
        errors: list[Exception] = []
        session = WlrSession(connection, CaptureOptions(output="HEADLESS-2", with_damage=True),
                             lambda frame: frame.release(), errors.append)
        session.request_frame()
        connection.roundtrip()
        session.advance()  # what a stream's loop does after each dispatch: allocate, start the copy
        assert session.busy and session.pool is not None
        name = connection.outputs.find("HEADLESS-2").global_name
        connection._handle_global_remove(None, name)  # the faked global_remove
        assert [type(e) for e in errors] == [UnknownOutputError]
        assert "HEADLESS-2 disappeared" in str(errors[0])
        assert not session.busy
        with pytest.raises(UnknownOutputError):
            connection.outputs.find("HEADLESS-2")
        session.close()
        assert session.pool is not None and session.pool.live_count == 0
    assert open_fds() == fds_before


def test_handler_exceptions_are_raised_from_the_pump(wayland_env: dict[str, str]) -> None:
    # pywayland prints and swallows what a handler raises; the connection must not.
    with Connection() as connection:
        callback = connection.display.sync()

        def explode(*_args: object) -> None:
            raise ValueError("boom")

        callback.dispatcher["done"] = connection.guard(explode)
        with pytest.raises(ProtocolStateError, match="boom"):
            for _ in range(50):
                connection.pump(0.1)


def test_stream_cli_reports_counters(sway: SwayHeadless) -> None:
    result = run_cli("stream", "--frames", "30", "--backend", "shm", "--json", env=sway.env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("frames", "seconds", "fps", "cpu_ms_per_frame", "backend", "buffers_allocated", "reallocations"):
        assert key in report
    assert report["frames"] == 30
    assert report["backend"] == "shm"
    assert report["buffers_allocated"] <= 4
    assert report["reallocations"] == 0


def test_bench_cli_runs_both_loops(sway: SwayHeadless) -> None:
    result = run_cli("bench", "--frames", "20", "--baseline-frames", "5", env=sway.env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["per_frame_setup"]["frames"] == 5
    assert report["pooled_stream"]["frames"] == 20
    assert report["buffers_allocated"] == 3
    assert report["cpu_ratio"] is not None


def take_frames_for(seconds: float, max_fps: float | None) -> tuple[int, float, list[int]]:
    """Frames a stream captured in `seconds` (taking each at once) and their presentation times."""
    with FrameStream(CaptureOptions(output="HEADLESS-1", backend=Backend.SHM, max_fps=max_fps)) as stream:
        timestamps: list[int] = []
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            frame = stream.get_frame(timeout=0.5)
            if frame is not None:
                timestamps.append(frame.timestamp_ns)
                frame.release()
        elapsed = time.monotonic() - start
        return stream.stats().frames_captured, elapsed, timestamps


def test_pacing_never_captures_faster_than_asked_and_frames_carry_presentation_times(
        wayland_env: dict[str, str]) -> None:
    max_fps = 5.0
    unpaced, unpaced_elapsed, _ = take_frames_for(1.0, None)
    assert unpaced > max_fps * unpaced_elapsed + 2, "the compositor offers too few frames to show pacing"
    captured, elapsed, timestamps = take_frames_for(2.0, max_fps)
    print(f"unpaced: {unpaced} frames in {unpaced_elapsed:.2f} s; max_fps {max_fps:g}: {captured} in {elapsed:.2f} s")
    assert 2 <= captured <= max_fps * elapsed + 2, (captured, elapsed)
    # Presentation times on the compositor's clock (CLOCK_MONOTONIC for wlroots), one per frame,
    # spaced by the pacing.
    assert all(abs(t - time.monotonic_ns()) < 60_000_000_000 for t in timestamps)
    gaps = [b - a for a, b in itertools.pairwise(timestamps)]
    assert gaps and min(gaps) >= 0.5 * 1e9 / max_fps, gaps
