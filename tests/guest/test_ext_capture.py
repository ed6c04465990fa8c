"""ext-image-copy-capture-v1 for real: outputs and windows of sway 1.12 in the guest tier, over shm and
DMA-BUF, with damage, renegotiation and a window closing mid-stream."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import run_cli
from harness.clients import client_command
from harness.obs_guest import settled_pixels, swaymsg
from patterns import decode_png

from capture import (
    Backend,
    CaptureOptions,
    Connection,
    Frame,
    FrameStream,
    UnknownWindowError,
    capture_one,
)
from capture.buffers.dmabuf import nodes_for_device
from capture.buffers.spec import BufferKind
from capture.image import to_rgb
from capture.options import CaptureProtocol
from capture.wayland.toplevels import ToplevelList

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

REPO = Path(__file__).resolve().parent.parent.parent
EXT = CaptureProtocol.EXT
APP_ID = "wlcap.test"


def rgb(colour: str) -> bytes:
    return bytes.fromhex(colour)


def frame_rgb(frame: Frame) -> bytes:
    """The frame's pixels as RGB (a DMA-BUF's once they stop changing: see settled_pixels)."""
    data = settled_pixels(frame) if frame.kind is BufferKind.DMABUF else frame.read_pixels()
    return to_rgb(data, frame.width, frame.height, frame.stride, frame.format, frame.y_invert,
                  frame.transform).pixels


class ShownWindow:
    """tests/wayland_window.py in a child process, and the picture it shows (RGB)."""

    def __init__(self, colour: str, app_id: str = APP_ID, title: str = "wlcap test window") -> None:
        self.process = subprocess.Popen(
            [*client_command("testwindow"), "--app-id", app_id, "--title", title,
             "--colour", colour], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)))
        self.app_id = app_id
        self.colour = colour
        self.width = self.height = 0
        self.model = bytearray()
        self.wait_drawn("configure")

    def wait_drawn(self, why: str) -> None:
        """Until the window drew for `why`; a resize on the way repaints the model too."""
        assert self.process.stdout is not None
        while True:
            words = self.process.stdout.readline().split()
            assert len(words) == 5 and words[0] == "drawn", f"test window did not draw: {words}"
            if words[4] == "configure":
                self.width, self.height = int(words[2]), int(words[3])
                self.model = bytearray(rgb(self.colour) * (self.width * self.height))
            if words[4] == why:
                return

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def rect(self, x: int, y: int, w: int, h: int, colour: str) -> None:
        self.send(f"rect {x} {y} {w} {h} {colour}")
        self.wait_drawn("rect")
        for line in range(y, y + h):
            start = (line * self.width + x) * 3
            self.model[start:start + w * 3] = rgb(colour) * w

    def retitle(self, title: str) -> None:
        self.send(f"title {title}")
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "titled"

    def close(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            self.process.wait(10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture(autouse=True, scope="module")
def _floating_test_windows() -> None:
    """Test windows float at the size they ask for: sway would tile them to the size of the output."""
    swaymsg("for_window", '[app_id="^wlcap"]', "floating", "enable")


@contextmanager
def window(colour: str, **kwargs: str) -> Iterator[ShownWindow]:
    shown = ShownWindow(colour, **kwargs)
    try:
        wait_listed(shown.app_id)
        yield shown
    finally:
        shown.close()


def wait_listed(app_id: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        with Connection() as connection:
            toplevels = ToplevelList(connection)
            found = [t.app_id for t in toplevels.all()]
            toplevels.destroy()
        if app_id in found or time.monotonic() > deadline:
            assert app_id in found, f"window {app_id} never listed (windows: {found})"
            return
        time.sleep(0.1)


def capture_until(options: CaptureOptions, expected: bytes) -> tuple[bytes, Frame]:
    """Capture single frames until one shows `expected` (the compositor draws a little after a change);
    the last attempt's pixels and frame metadata come back either way."""
    deadline = time.monotonic() + 30
    while True:
        with Connection() as connection:
            session, frame = capture_one(connection, options, timeout=30)
            try:
                pixels = frame_rgb(frame)
                assert session.protocol is EXT
            finally:
                frame.release()
                session.close()
        if pixels == expected or time.monotonic() > deadline:
            return pixels, frame
        time.sleep(0.2)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=dict(os.environ))


# -- outputs -------------------------------------------------------------------------------------------------


def test_auto_prefers_ext_and_says_so() -> None:
    with FrameStream(CaptureOptions(backend=Backend.SHM)) as stream:
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        frame.release()
        stats = stream.stats()
    assert (stats.protocol, stats.protocol_reason) == ("ext-image-copy-capture-v1", "offered by the compositor")
    with FrameStream(CaptureOptions(backend=Backend.SHM, protocol=CaptureProtocol.WLR)) as stream:
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        frame.release()
        stats = stream.stats()
    assert (stats.protocol, stats.protocol_reason) == ("wlr-screencopy-unstable-v1", "requested")


@pytest.mark.parametrize("backend", [Backend.SHM, Backend.DMABUF])
def test_ext_output_pixels_are_exact(backend: Backend) -> None:
    colour = "3c7a19" if backend is Backend.SHM else "a01e64"
    swaymsg("output", "*", "bg", f"#{colour}", "solid_color")
    with Connection() as connection:
        info = connection.outputs.find(None).info()
    expected = rgb(colour) * (info.width * info.height)
    pixels, frame = capture_until(CaptureOptions(backend=backend, protocol=EXT), expected)
    assert frame.kind is (BufferKind.SHM if backend is Backend.SHM else BufferKind.DMABUF)
    assert (frame.width, frame.height) == (info.width, info.height)
    assert frame.timestamp_ns > 0  # presentation_time arrived
    assert pixels == expected


def test_dmabuf_is_allocated_on_the_device_the_session_names() -> None:
    with FrameStream(CaptureOptions(backend=Backend.DMABUF, protocol=EXT)) as stream:
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        frame.release()
        named = stream.session.constraints.dmabuf_device  # type: ignore[attr-defined]
        reason = stream.stats().backend_reason
    assert named is not None, "sway 1.12 names its device in the session's constraints"
    node = reason.rsplit(" on ", 1)[1]
    print(f"session names {os.major(named)}:{os.minor(named)}; allocated on {node}")
    assert node in nodes_for_device(named)


def test_unchanged_output_costs_no_copy() -> None:
    swaymsg("output", "*", "bg", "#204060", "solid_color")
    time.sleep(1)  # swaybg's redraw lands
    with FrameStream(CaptureOptions(backend=Backend.SHM, protocol=EXT)) as stream:
        frame = stream.get_frame(timeout=30)  # the first capture of a session is answered at once
        assert frame is not None
        frame.release()
        time.sleep(1.5)
        unchanged = stream.stats().frames_captured
        swaymsg("output", "*", "bg", "#604020", "solid_color")
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        damage = list(frame.damage)
        frame.release()
    print(f"frames while unchanged: {unchanged}; damage after the change: {damage}")
    assert unchanged == 1
    assert damage, "a changed output must report damage"


# -- windows -------------------------------------------------------------------------------------------------


def test_windows_are_listed_and_followed_across_title_changes() -> None:
    with window("ff8000", title="first title") as shown:
        listed = json.loads(cli("windows", "--json").stdout)
        assert [(w["app_id"], w["title"]) for w in listed] == [(APP_ID, "first title")]
        with FrameStream(CaptureOptions(window="first title", backend=Backend.SHM)) as stream:
            frame = stream.get_frame(timeout=30)
            assert frame is not None
            frame.release()
            shown.retitle("second title")
            shown.rect(0, 0, 8, 8, "00ff00")  # a change, so that another frame comes
            frame = stream.get_frame(timeout=30)
            assert frame is not None
            frame.release()
            assert stream.session.source_name == f"window 'second title [{APP_ID}]'"
            assert stream.stats().protocol_reason == "window capture"


@pytest.mark.parametrize("backend", [Backend.SHM, Backend.DMABUF])
def test_window_pixels_are_exact(backend: Backend) -> None:
    colour = "1e90ff" if backend is Backend.SHM else "c81e50"
    with window(colour) as shown:
        expected = bytes(shown.model)
        pixels, frame = capture_until(CaptureOptions(window=APP_ID, backend=backend), expected)
        assert frame.kind is (BufferKind.SHM if backend is Backend.SHM else BufferKind.DMABUF)
        assert (frame.width, frame.height) == (shown.width, shown.height)
        assert pixels == expected


def test_window_damage_is_reported_and_reused_buffers_stay_exact() -> None:
    """Each pooled buffer is refreshed only where it is stale: every frame must still be exact."""
    rects = [(10, 20, 30, 40, "00ff00"), (100, 50, 20, 10, "0000ff"), (5, 5, 1, 1, "ffffff"),
             (60, 90, 50, 25, "ff00ff"), (10, 20, 5, 5, "000000")]
    with window("404040") as shown, FrameStream(CaptureOptions(window=APP_ID, backend=Backend.SHM)) as stream:
        first = stream.get_frame(timeout=30)
        assert first is not None
        assert frame_rgb(first) == bytes(shown.model)
        first.release()
        time.sleep(1.0)
        assert stream.stats().frames_captured == 1, "an unchanged window was copied again"
        for x, y, w, h, colour in rects:
            before = bytes(shown.model)
            shown.rect(x, y, w, h, colour)
            while True:
                frame = stream.get_frame(timeout=30)
                assert frame is not None
                pixels, damage = frame_rgb(frame), list(frame.damage)
                frame.release()
                assert pixels in (before, bytes(shown.model)), f"stale pixels after rect {(x, y, w, h)}"
                if pixels == bytes(shown.model):
                    break
            print(f"rect {(x, y, w, h)}: damage {damage}")
            assert any(dx <= x and dy <= y and dx + dw >= x + w and dy + dh >= y + h
                       for dx, dy, dw, dh in damage), f"damage {damage} misses {(x, y, w, h)}"
            assert (0, 0, shown.width, shown.height) not in damage, "a small change damaged everything"
        stats = stream.stats()
    assert stats.buffers_allocated == 3 and stats.reallocations == 0


def test_window_resize_renegotiates_the_pool() -> None:
    with window("208020") as shown, FrameStream(CaptureOptions(window=APP_ID, backend=Backend.SHM)) as stream:
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        old_size = (frame.width, frame.height)
        frame.release()
        swaymsg(f"[app_id={APP_ID}]", "floating", "enable", ",", "resize", "set", "200", "150")
        shown.wait_drawn("configure")  # the client repaints at its new size
        new_size = (shown.width, shown.height)
        while True:
            frame = stream.get_frame(timeout=30)
            assert frame is not None
            size, pixels = (frame.width, frame.height), frame_rgb(frame)
            frame.release()
            if size == new_size:
                break
        stats = stream.stats()
        negotiations = stream.session.negotiations  # type: ignore[attr-defined]
    print(f"{old_size} -> {new_size}: {negotiations} negotiations, {stats.reallocations} reallocations")
    assert new_size != old_size
    assert pixels == rgb("208020") * (new_size[0] * new_size[1])
    assert negotiations >= 2 and stats.reallocations >= 1


def test_window_closed_mid_stream_is_a_clear_error_and_leaks_nothing() -> None:
    fds_before = len(os.listdir("/proc/self/fd"))
    threads_before = threading.active_count()
    with window("ffff00", title="closing") as shown:
        stream = FrameStream(CaptureOptions(window=APP_ID, backend=Backend.SHM)).start()
        frame = stream.get_frame(timeout=30)
        assert frame is not None
        frame.release()
        shown.close()
        with pytest.raises(UnknownWindowError) as raised:
            while True:
                late = stream.get_frame(timeout=30)
                assert late is not None, "no error after the window closed"
                late.release()
        stream.close()
    assert str(raised.value) == f"window 'closing [{APP_ID}]' closed"
    assert threading.active_count() == threads_before
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_cli_window_capture_and_errors(tmp_path: Path) -> None:
    with window("7f3fbf"):
        shot = tmp_path / "window.png"
        # shm: a DMA-BUF read on the CPU right after `ready` can race llvmpipe's copy (no fence yet)
        result = cli("screenshot", "--window", APP_ID, "--backend", "shm", "-o", str(shot))
        assert result.returncode == 0, result.stderr
        image = decode_png(shot.read_bytes())
        assert image.pixels == rgb("7f3fbf") * (image.width * image.height)
        result = cli("stream", "--frames", "1", "--window", "no-such-window")
        assert result.returncode == 2
        assert result.stderr == f"wlcap: no window 'no-such-window' (windows: 'wlcap test window [{APP_ID}]')\n"
        result = cli("stream", "--frames", "1", "--window", APP_ID, "--protocol", "wlr")
        assert result.returncode == 2
        assert result.stderr == ("wlcap: window capture needs ext-image-copy-capture-v1; wlr-screencopy "
                                 "captures outputs only\n")
