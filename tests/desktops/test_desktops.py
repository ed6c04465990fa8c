"""The compositor matrix (guest tier): sway, Hyprland, labwc, cage and weston, each started on the
virtio-gpu card as a user runs it, with a terminal showing text that repaints a small area and a test
window of known pixels; wlcap's outputs, windows, screenshots, streams, window capture, cursor
session and OBS source on each, every picture compared pixel for pixel with grim's capture of the same
screen. What each compositor offered and did goes to desktops/results.json in the share, which the
README's table is written from (tests/vm/desktops_table.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from conftest import run_cli
from desktop import COMPOSITORS, LOG_DIR, OBS_TOLERANCE, REPO, Desktop, KnownWindow, Terminal, record
from harness.clients import client_command
from harness.compositor import wayland_client_env
from harness.obshost import ObsHost, launch_wayland_obs
from patterns import decode_png

from capture import CaptureOptions, Connection, CursorMode, FrameStream
from capture.image import RgbImage, encode_png
from capture.options import CaptureProtocol

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the guest tier (tests/vm/run-wlcap-tests.sh)")

EXT = ("ext_image_copy_capture_manager_v1", "ext_output_image_capture_source_manager_v1")
EXT_WINDOWS = "ext_foreign_toplevel_image_capture_source_manager_v1"
WLR = ("zwlr_screencopy_manager_v1",)
TOPLEVEL_LIST = "ext_foreign_toplevel_list_v1"
PROTOCOL_GLOBALS = {"ext": EXT, "wlr": WLR}

Image = npt.NDArray[np.uint8]


@dataclass
class Screen:
    """A desktop under test: the compositor, its globals, and the clients it shows."""

    desktop: Desktop
    globals: set[str]
    window: KnownWindow | None

    @property
    def name(self) -> str:
        return self.desktop.name

    def offers(self, *interfaces: str) -> bool:
        return all(interface in self.globals for interface in interfaces)


def wayland_globals(desktop: Desktop) -> set[str]:
    with Connection(desktop.socket) as connection:
        return set(connection.globals)


def grim(desktop: Desktop) -> Image:
    """grim's capture of the whole screen: the independent reference."""
    data = subprocess.run(["grim", "-t", "ppm", "-"], env=desktop.env, capture_output=True, timeout=60,
                          check=True).stdout
    # "P6 WIDTH HEIGHT 255" and one whitespace byte, then the pixels (whose first byte may be a space too).
    magic, width, height, _maximum = data[:64].split(maxsplit=4)[:4]
    assert magic == b"P6"
    size = int(width) * int(height) * 3
    return np.frombuffer(data[len(data) - size:], dtype=np.uint8).reshape(int(height), int(width), 3)


def still_screen(desktop: Desktop, timeout: float = 60) -> Image:
    """The screen once it holds still (the terminal's counter paused): two grim captures agree."""
    Terminal.pause()
    deadline = time.monotonic() + timeout
    previous = grim(desktop)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = grim(desktop)
        if np.array_equal(current, previous):
            return current
        previous = current
    raise AssertionError(f"{desktop.name}'s screen never held still for two grim captures")


def save_png(array: Image, name: str) -> Path:
    path = LOG_DIR / name
    height, width = array.shape[:2]
    path.write_bytes(encode_png(RgbImage(width, height, np.ascontiguousarray(array).tobytes())))
    return path


def assert_same(actual: Image, expected: Image, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: {actual.shape[1]}x{actual.shape[0]}, grim's " \
                                           f"{expected.shape[1]}x{expected.shape[0]}"
    if not np.array_equal(actual, expected):
        differing = int(np.any(actual != expected, axis=-1).sum())
        slug = what.replace(" ", "-").replace("/", "-")
        save_png(actual, f"{slug}-wlcap.png")
        save_png(expected, f"{slug}-grim.png")
        raise AssertionError(f"{what}: {differing} of {actual.shape[0] * actual.shape[1]} pixels differ from "
                             f"grim's (both saved in the share's desktops/)")


def png_pixels(path: Path) -> Image:
    image = decode_png(path.read_bytes())
    assert image.depth == 8, f"{path}: {image.depth}-bit PNG from an 8-bit output"
    return image.array()  # type: ignore[return-value]


def find_inside(haystack: Image, needle: Image) -> tuple[int, int] | None:
    """Where `needle` lies, exactly, inside `haystack` (top-left corner), or None. Rows are matched
    as bytes from the needle's most varied row, so a uniform margin does not make every place a
    candidate."""
    height, width = needle.shape[:2]
    key_row = max(range(height), key=lambda y: len(np.unique(needle[y].reshape(-1, 3), axis=0)))
    key = needle[key_row].tobytes()
    for y in range(key_row, haystack.shape[0] - (height - key_row) + 1):
        row = haystack[y].tobytes()
        start = row.find(key)
        while start >= 0:
            x = start // 3
            if start % 3 == 0 and x + width <= haystack.shape[1] and np.array_equal(
                    haystack[y - key_row:y - key_row + height, x:x + width], needle):
                return x, y - key_row
            start = row.find(key, start + 1)
    return None


@pytest.fixture(scope="module", params=list(COMPOSITORS))
def screen(request: pytest.FixtureRequest) -> Iterator[Screen]:
    compositor = COMPOSITORS[request.param]
    Terminal.resume()
    desktop = Desktop(compositor, LOG_DIR)
    try:
        with wayland_client_env(desktop.env):
            window = None
            if compositor.offers_capture:
                if not compositor.runs_terminal:
                    desktop.client(Terminal.argv(compositor.name))
                    window = KnownWindow(desktop)
                still_screen(desktop)
                Terminal.resume()
            found = wayland_globals(desktop)
            record(compositor.name, version=compositor.version(),
                   protocols=[name for name, needed in PROTOCOL_GLOBALS.items() if all(g in found for g in needed)])
            yield Screen(desktop, found, window)
            assert desktop.alive, f"{compositor.name} died during the tests:\n{desktop.log()[-3000:]}"
    finally:
        Terminal.resume()
        desktop.stop()


def cli(screen: Screen, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=screen.desktop.env, timeout=timeout)


def offered_protocol(screen: Screen, protocol: str) -> None:
    if not screen.offers(*PROTOCOL_GLOBALS[protocol]):
        pytest.skip(f"{screen.name} does not offer {protocol}")


def test_outputs_are_listed(screen: Screen) -> None:
    result = cli(screen, "outputs", "--json")
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    assert outputs and all(output["name"] for output in outputs)
    record(screen.name, outputs=[f"{o['name']} {o['width']}x{o['height']}" for o in outputs])


def test_a_compositor_without_capture_gives_one_clear_line(screen: Screen) -> None:
    if screen.desktop.compositor.offers_capture:
        pytest.skip(f"{screen.name} offers capture")
    started = time.monotonic()
    result = cli(screen, "screenshot", "-o", "/tmp/never.png", timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "zwlr_screencopy_manager_v1" in lines[0] and "ext-image-copy-capture-v1" in lines[0], \
        result.stderr
    assert not Path("/tmp/never.png").exists()
    assert time.monotonic() - started < 30
    record(screen.name, protocols=[], message=lines[0])


def test_windows_are_listed(screen: Screen) -> None:
    if not screen.desktop.compositor.offers_capture:
        pytest.skip("no capture, no windows to capture")
    result = cli(screen, "windows", "--json")
    if not screen.offers(TOPLEVEL_LIST):
        assert result.returncode == 2 and TOPLEVEL_LIST in result.stderr, result
        record(screen.name, window_list="not offered")
        return
    assert result.returncode == 0, result.stderr
    app_ids = {window["app_id"] for window in json.loads(result.stdout)}
    expected = {Terminal.APP_ID} | ({KnownWindow.APP_ID} if screen.window else set())
    assert expected <= app_ids, app_ids
    record(screen.name, window_list="works")


REGIONS = ["13,7 101x59", "0,0 1x1", "BOTTOM_RIGHT"]


@pytest.mark.parametrize("protocol", ["ext", "wlr"])
def test_screenshots_equal_grims(screen: Screen, protocol: str) -> None:
    """Whole output and odd regions, over shared memory (the screenshot default), exactly grim's."""
    offered_protocol(screen, protocol)
    reference = still_screen(screen.desktop)
    height, width = reference.shape[:2]
    path = LOG_DIR / f"{screen.name}-{protocol}.png"
    result = cli(screen, "screenshot", "--protocol", protocol, "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert_same(png_pixels(path), reference, f"{screen.name} {protocol} screenshot")
    for region in REGIONS:
        if region == "BOTTOM_RIGHT":
            region = f"{width - 129},{height - 99} 129x99"
        xy, size = region.split()
        x, y = (int(v) for v in xy.split(","))
        w, h = (int(v) for v in size.split("x"))
        result = cli(screen, "screenshot", "--protocol", protocol, "--region", region, "-o", str(path))
        assert result.returncode == 0, result.stderr
        assert_same(png_pixels(path), reference[y:y + h, x:x + w], f"{screen.name} {protocol} region {region}")
    record(screen.name, **{f"screenshot_{protocol}": "exact"})


@pytest.mark.parametrize("protocol", ["ext", "wlr"])
def test_dmabuf_screenshot_is_exact_or_refused(screen: Screen, protocol: str) -> None:
    """A DMA-BUF screenshot is read only once its write fence says the copy is done: exact, or (a
    renderer that fences nothing, as llvmpipe here) refused in one line, never a wrong file."""
    offered_protocol(screen, protocol)
    reference = still_screen(screen.desktop)
    path = LOG_DIR / f"{screen.name}-{protocol}-dmabuf.png"
    path.unlink(missing_ok=True)
    result = cli(screen, "screenshot", "--protocol", protocol, "--backend", "dmabuf", "-o", str(path))
    if result.returncode == 0:
        assert_same(png_pixels(path), reference, f"{screen.name} {protocol} DMA-BUF screenshot")
        outcome = "exact"
    else:
        assert result.returncode == 2 and "cannot tell when the compositor's copy" in result.stderr, result
        assert len(result.stderr.strip().splitlines()) == 1 and not path.exists()
        outcome = "refused: no fence"
    record(screen.name, **{f"screenshot_{protocol}_dmabuf": outcome})


@pytest.mark.parametrize("backend", ["shm", "dmabuf"])
@pytest.mark.parametrize("protocol", ["ext", "wlr"])
def test_stream_of_changing_content_keeps_its_pool(screen: Screen, protocol: str, backend: str) -> None:
    offered_protocol(screen, protocol)
    Terminal.resume()  # the counter repaints five times a second
    frames = 12
    result = cli(screen, "stream", "--frames", str(frames), "--json", "--protocol", protocol, "--backend", backend,
                 "--timeout", "30")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["frames"] == frames, figures
    assert figures["backend"] == backend, figures
    assert figures["buffers_allocated"] == 3 and figures["reallocations"] == 0, figures
    record(screen.name, **{f"stream_{protocol}_{backend}": f"{frames} frames, 3 buffers"})


def test_a_still_screen_ends_a_stream_cleanly_and_a_stuck_compositor_is_an_error(screen: Screen) -> None:
    protocol = "ext" if screen.offers(*EXT) else "wlr"
    offered_protocol(screen, protocol)
    still_screen(screen.desktop)
    damage = [] if protocol == "ext" else ["--damage"]  # wlr copies even an unchanged screen without it
    result = cli(screen, "stream", "--frames", "500", "--json", "--protocol", protocol, "--timeout", "4", *damage)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert 1 <= figures["frames"] < 500 and "did not change" in figures["stopped_early"], figures
    # A stuck compositor answers nothing at all.
    options = CaptureOptions(protocol=CaptureProtocol(protocol), with_damage=bool(damage))
    with FrameStream(options, screen.desktop.socket) as stream:
        assert stream.get_frame(timeout=30) is not None
        os.kill(screen.desktop.process.pid, signal.SIGSTOP)
        try:
            assert stream.get_frame(timeout=2) is None
            assert not stream.compositor_responds(3)
        finally:
            os.kill(screen.desktop.process.pid, signal.SIGCONT)
        assert stream.compositor_responds(30)


def test_window_capture(screen: Screen) -> None:
    """The test window's exact pixels, and the terminal's window found exactly in grim's screen."""
    if not screen.desktop.compositor.offers_capture:
        pytest.skip("no capture")
    if not screen.offers(EXT_WINDOWS, *EXT):
        result = cli(screen, "screenshot", "--window", Terminal.APP_ID, "-o", "/tmp/never.png")
        assert result.returncode == 2 and "ext" in result.stderr, result
        record(screen.name, window_capture="not offered")
        return
    reference = still_screen(screen.desktop)
    path = LOG_DIR / f"{screen.name}-terminal-window.png"
    result = cli(screen, "screenshot", "--window", Terminal.APP_ID, "-o", str(path))
    assert result.returncode == 0, result.stderr
    terminal = png_pixels(path)
    place = find_inside(reference, terminal)
    assert place is not None, f"the terminal's {terminal.shape[1]}x{terminal.shape[0]} window capture is " \
                              f"nowhere in grim's screen ({path})"
    if screen.window is not None:
        window = screen.window
        result = cli(screen, "screenshot", "--window", KnownWindow.APP_ID, "-o", str(path))
        assert result.returncode == 0, result.stderr
        pixels = png_pixels(path)
        assert pixels.shape == (window.height, window.width, 3)
        assert np.all(pixels == np.frombuffer(bytes.fromhex(window.colour), dtype=np.uint8)), \
            "the test window's capture is not its colour throughout"
    record(screen.name, window_capture="exact")


def hyprctl(screen: Screen, *args: str) -> None:
    env = screen.desktop.env
    signature = next(Path(env["XDG_RUNTIME_DIR"], "hypr").iterdir()).name
    subprocess.run(["hyprctl", *args], check=True, capture_output=True, timeout=30,
                   env=dict(env, HYPRLAND_INSTANCE_SIGNATURE=signature))


def _move_and_resize(screen: Screen) -> str:
    """Move and resize the test window the way this compositor lets a user (or the client) do it."""
    name, env = screen.name, screen.desktop.env
    if name == "sway":
        socket = next(Path(env["XDG_RUNTIME_DIR"]).glob("sway-ipc.*.sock"))
        for command in ('[app_id="wlcap.test"] resize set width 420 px', '[app_id="wlcap.test"] move left'):
            subprocess.run(["swaymsg", "-s", str(socket), command], check=True, capture_output=True, timeout=30)
        return "swaymsg resize and move"
    if name == "hyprland":
        hyprctl(screen, "dispatch", "resizeactive", "-200", "0")
        hyprctl(screen, "dispatch", "movewindow", "l")
        return "hyprctl resizeactive and movewindow"
    assert screen.window is not None
    screen.window.resize(screen.window.width + 90, screen.window.height + 50)
    return "the client resized itself"


def test_windows_that_move_and_resize_are_captured_exactly(screen: Screen) -> None:
    if screen.window is None:
        pytest.skip(f"{screen.name} shows one application (a kiosk)" if screen.desktop.compositor.offers_capture
                    else "no capture")
    before = (screen.window.width, screen.window.height)
    how = _move_and_resize(screen)
    screen.window.wait_for_size_change(before)
    reference = still_screen(screen.desktop)
    path = LOG_DIR / f"{screen.name}-moved.png"
    result = cli(screen, "screenshot", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert_same(png_pixels(path), reference, f"{screen.name} screenshot after the window moved")
    if screen.offers(EXT_WINDOWS, *EXT):
        result = cli(screen, "screenshot", "--window", KnownWindow.APP_ID, "-o", str(path))
        assert result.returncode == 0, result.stderr
        assert png_pixels(path).shape == (screen.window.height, screen.window.width, 3)
    record(screen.name, move_resize=how)


def test_cursor_session(screen: Screen) -> None:
    """A virtual pointer gives the seat a cursor; ext's cursor session reports where it is and what it
    looks like."""
    if not screen.offers(*EXT) or not screen.offers("zwlr_virtual_pointer_manager_v1"):
        record(screen.name, cursor_session="not offered")
        pytest.skip("needs ext-image-copy-capture and a virtual pointer")
    pointer = screen.desktop.client([*client_command("virtualpointer")], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, PYTHONPATH=str(REPO))
    assert pointer.stdin is not None and pointer.stdout is not None

    def move(x: int, y: int) -> None:
        pointer.stdin.write(f"move {x} {y}\n")  # type: ignore[union-attr]
        pointer.stdin.flush()  # type: ignore[union-attr]
        assert pointer.stdout.readline().split() == ["moved", str(x), str(y)]  # type: ignore[union-attr]

    if screen.name == "hyprland":  # its config hides a resting cursor, and a hidden one has no image
        hyprctl(screen, "keyword", "cursor:inactive_timeout", "0")
    try:
        move(200, 150)
        options = CaptureOptions(protocol=CaptureProtocol.EXT, cursor=CursorMode.SEPARATE)
        with FrameStream(options, screen.desktop.socket) as stream:
            deadline = time.monotonic() + 30
            state = stream.cursor
            while time.monotonic() < deadline:
                frame = stream.get_frame(timeout=0.5)
                if frame is not None:
                    frame.release()
                state = stream.cursor
                if state.inside and state.image is not None and (state.x, state.y) == (200, 150):
                    break
        if not state.inside:
            record(screen.name, cursor_session="no cursor reported")
            return
        assert (state.x, state.y) == (200, 150), state
        assert state.image is not None and state.image.width > 0, state
        record(screen.name, cursor_session="works")
    finally:
        pointer.stdin.write("quit\n")
        pointer.stdin.flush()
        pointer.wait(30)
        if screen.name == "hyprland":
            hyprctl(screen, "keyword", "cursor:inactive_timeout", "1")


def _obs_frame(host: ObsHost) -> Image:
    frame = np.frombuffer(host.grab(2), dtype=np.uint8).reshape(host.height, host.width, 4)
    return frame[:, :, [2, 1, 0]]


@pytest.mark.parametrize("backend", ["shm", "dmabuf"])
def test_obs_shows_the_screen(screen: Screen, backend: str, obs_host_binary: Path) -> None:
    """OBS 32 on Wayland EGL, against this compositor, shows what grim sees, over either buffer kind."""
    if not screen.desktop.compositor.offers_capture:
        pytest.skip("no capture: see test_obs_reports_a_compositor_without_capture")
    reference = still_screen(screen.desktop)
    height, width = reference.shape[:2]
    host = launch_wayland_obs(obs_host_binary, screen.desktop.env, width, height, REPO)
    try:
        # grim's reference leaves the cursor out (a test before this one gave the seat a pointer)
        host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": backend, "cursor": False}))
        deadline = time.monotonic() + 90
        while True:
            shown = _obs_frame(host)
            worst = int(np.abs(shown.astype(int) - reference.astype(int)).max())
            if worst <= OBS_TOLERANCE or time.monotonic() > deadline:
                break
            time.sleep(1)
        status = host.ok("props", "cap")["status"]
        save_png(np.ascontiguousarray(shown), f"{screen.name}-obs-{backend}.png")
        assert worst <= OBS_TOLERANCE, f"OBS's output differs from grim's screen by up to {worst} ({status})"
        assert f": {backend}, " in status and "capturing" in status, status
        stats = host.ok("stats", "cap")
        assert stats["frames_rejected"] == 0, stats
        if backend == "dmabuf":
            assert 1 <= stats["dmabuf_imports"] <= 3, stats
        record(screen.name, **{f"obs_{backend}": "exact" if worst == 0 else f"within {worst}",
                               f"obs_{backend}_status": status})
    finally:
        (LOG_DIR / f"{screen.name}-obs-{backend}.log").write_text(host.log())
        host.cleanup()


def test_obs_reports_a_compositor_without_capture(screen: Screen, obs_host_binary: Path) -> None:
    """weston: the status says what is missing, and the OBS log says it once, not at every retry."""
    if screen.desktop.compositor.offers_capture:
        pytest.skip(f"{screen.name} offers capture")
    host = launch_wayland_obs(obs_host_binary, screen.desktop.env, 320, 200, REPO)
    try:
        host.ok("create", "cap", "wlcap_capture", "{}")
        time.sleep(7)  # three retries, two seconds apart
        status = host.ok("props", "cap")["status"]
        assert "error" in status and "zwlr_screencopy_manager_v1" in status, status
        log = host.log()
        assert log.count("zwlr_screencopy_manager_v1") == 1, log[-3000:]
        record(screen.name, obs_status=status)
    finally:
        host.cleanup()


def test_obs_captures_a_window(screen: Screen, obs_host_binary: Path) -> None:
    if screen.window is None or not screen.offers(EXT_WINDOWS, *EXT):
        pytest.skip("no window capture here")
    window = screen.window
    host = launch_wayland_obs(obs_host_binary, screen.desktop.env, 320, 200, REPO)
    try:
        host.ok("create", "cap", "wlcap_capture", json.dumps({"target": "window", "window": KnownWindow.APP_ID,
                                                              "cursor": False}))
        expected = np.frombuffer(bytes.fromhex(window.colour), dtype=np.uint8).astype(int)
        deadline = time.monotonic() + 90
        while True:
            corner = _obs_frame(host)[:min(200, window.height), :min(320, window.width)]
            worst = int(np.abs(corner.astype(int) - expected).max())
            if worst <= OBS_TOLERANCE or time.monotonic() > deadline:
                break
            time.sleep(1)
        status = host.ok("props", "cap")["status"]
        assert worst <= OBS_TOLERANCE, f"OBS shows the window off by up to {worst} ({status})"
        assert "capturing window" in status, status
        record(screen.name, obs_window="works")
    finally:
        host.cleanup()
