"""A compositor that lies (tools/harness/wayland_proxy.py: the real sway behind a proxy that rewrites
its events): wrong buffer sizes, strides and formats, events out of order, floods of damage and damage
far outside the buffer. The CLI ends with one line naming what was wrong, or, where the lie is
harmless, captures the true pixels; the OBS source says what was wrong in its status, shows nothing
it did not capture, and OBS quits with no leaks.

sway 1.7 offers wlr-screencopy only: the ext-image-copy-capture lies (LIES["ext-..."]) run where the
compositor offers that protocol, and are skipped here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HEIGHT, WIDTH, run_cli
from harness.compositor import SwayHeadless
from harness.obshost import worst_difference
from harness.wayland_lies import LIES
from harness.wayland_proxy import WaylandProxy
from patterns import decode_png, mismatches
from test_obs import SCRIPT, TOLERANCE, settings, wait_for, wait_for_pixels

from capture import Backend, CaptureOptions, Connection
from capture.frame import Frame
from capture.stream import run_stream

PROTOCOL_ERROR = "closed the connection with a protocol error (zwlr_screencopy_frame_v1 error 1: invalid_buffer)"
# Each lie, and what the error names. Wrong but possible sizes and formats are the compositor's to
# refuse (sway's protocol error on the copy); impossible ones wlcap refuses before allocating.
ERRORS = {
    "buffer-smaller": PROTOCOL_ERROR,
    "buffer-larger": PROTOCOL_ERROR,
    "format-other": PROTOCOL_ERROR,
    "buffer-huge": "the compositor asked for a 65535x65535 buffer",
    "buffer-empty": "the compositor asked for a 0x0 buffer",
    "stride-short": f"the compositor asked for stride {WIDTH * 2}, shorter than a row of {WIDTH} pixels "
                    f"({WIDTH * 4} bytes)",
    "format-unknown": "the compositor asked for shared memory in format ZZZZ, which wlcap cannot read",
    "format-planar": "the compositor asked for shared memory in format NV12, which wlcap cannot read",
    "no-buffer-done": "the compositor never sent zwlr_screencopy_frame_v1.buffer_done for output HEADLESS-1",
    "ready-without-buffer-done": "the compositor sent zwlr_screencopy_frame_v1.ready out of order: before buffer_done",
    "ready-before-copy": "the compositor sent zwlr_screencopy_frame_v1.ready out of order: before wlcap attached "
                         "a buffer",
}
HARMLESS = ["ready-twice", "damage-flood", "damage-outside"]
# What libwayland itself prints on stderr when the compositor ends the connection with a protocol error.
LIBWAYLAND_ERROR_LINE = re.compile(r"^\w+#\d+: error \d+: ")


@pytest.fixture()
def proxy(sway: SwayHeadless) -> Iterator[WaylandProxy]:
    with WaylandProxy(sway.runtime_dir, sway.socket_name) as running:
        yield running


def assert_one_clear_line(result, fragment: str | re.Pattern[str]) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    found = fragment.search(lines[-1]) if isinstance(fragment, re.Pattern) else fragment in lines[-1]
    assert lines[-1].startswith("wlcap: ") and found, result.stderr
    assert all(LIBWAYLAND_ERROR_LINE.match(line) for line in lines[:-1]), result.stderr


@pytest.mark.parametrize("command", ["screenshot", "stream"])
@pytest.mark.parametrize("lie", ERRORS)
def test_cli_names_the_lie(sway: SwayHeadless, shown_pattern: object, proxy: WaylandProxy, tmp_path: Path,
                           lie: str, command: str) -> None:
    proxy.lie = LIES[lie]
    args = ["-o", str(tmp_path / "shot.png")] if command == "screenshot" else ["--frames", "3", "--timeout", "10"]
    result = run_cli(command, *args, "--output", "HEADLESS-1", env=proxy.env(sway.env), timeout=60)
    assert_one_clear_line(result, ERRORS[lie])
    assert proxy.clients_seen == 1
    assert not (tmp_path / "shot.png").exists()


@pytest.mark.parametrize("lie", HARMLESS)
def test_harmless_lies_capture_the_true_pixels(sway: SwayHeadless, shown_pattern: object, proxy: WaylandProxy,
                                               tmp_path: Path, lie: str) -> None:
    proxy.lie = LIES[lie]
    shot = tmp_path / "shot.png"
    result = run_cli("screenshot", "-o", str(shot), "--output", "HEADLESS-1", env=proxy.env(sway.env), timeout=60)
    assert result.returncode == 0, result.stderr
    assert mismatches(decode_png(shot.read_bytes()), shown_pattern) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("lie", HARMLESS)
def test_stream_frames_keep_their_damage_inside_the_buffer(wayland_env: dict[str, str], shown_pattern: object,
                                                           proxy: WaylandProxy, lie: str) -> None:
    """What a frame says changed is clipped to the frame: a consumer (the OBS source) is never sent to
    read past the buffer, whatever the compositor said."""
    proxy.lie = LIES[lie]
    damages: list[list[tuple[int, int, int, int]]] = []

    def consume(frame: Frame) -> None:
        assert (frame.width, frame.height) == (WIDTH, HEIGHT)
        damages.append(list(frame.damage))

    run = run_stream(CaptureOptions(output="HEADLESS-1", backend=Backend.SHM), 3, display_name=proxy.name,
                     consume=consume, timeout=20)
    assert run.frames == 3 and damages, run
    for damage in damages:
        assert all(x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= WIDTH and y + h <= HEIGHT
                   for x, y, w, h in damage), damage[:10]
    if lie == "damage-flood":
        assert all(len(damage) == 100_000 for damage in damages)
    if lie == "damage-outside":
        assert all(damage == [(0, 0, WIDTH, HEIGHT), (600, 400, WIDTH - 600, HEIGHT - 400)] for damage in damages)


# Where a compositor offers ext-image-copy-capture-v1: what each lie about its session's constraints
# must end in. A buffer smaller than the frame is the compositor's to refuse, frame after frame: "failed
# all N frames asked for" when the screenshot gives up, "keeps refusing buffers it asked for" given time.
EXT_ERRORS: dict[str, str | re.Pattern[str]] = {
    "ext-size-smaller": re.compile("failed all [0-9]+ frames asked for|keeps refusing buffers it asked for"),
    "ext-size-huge": "the compositor asked for a 65535x65535 buffer",
    "ext-size-empty": "the compositor asked for a 0x0 buffer",
    "ext-format-unknown": "compositor offered no shared-memory buffer",
}


@pytest.mark.parametrize("lie", EXT_ERRORS)
def test_ext_lies_end_in_one_clear_line(sway: SwayHeadless, wayland_env: dict[str, str], proxy: WaylandProxy,
                                        tmp_path: Path, lie: str) -> None:
    with Connection() as connection:
        if "ext_image_copy_capture_manager_v1" not in connection.globals:
            pytest.skip("sway 1.7 offers no ext-image-copy-capture-v1: its lies cannot run here")
    proxy.lie = LIES[lie]
    result = run_cli("screenshot", "-o", str(tmp_path / "shot.png"), "--protocol", "ext", env=proxy.env(sway.env),
                     timeout=60)
    assert_one_clear_line(result, EXT_ERRORS[lie])


def test_obs_source_reports_each_lie_and_never_samples_past_a_buffer(sway: SwayHeadless, shown_pattern: object,
                                                                     obs_factory) -> None:  # type: ignore[no-untyped-def]
    """One OBS through one proxy; each lie gets a new source (a new connection, so the new lie). A lie
    that breaks the capture puts its reason in the status and nothing on the canvas; a harmless one
    shows the true pixels. OBS keeps rendering throughout, and quits with no leaks."""
    with WaylandProxy(sway.runtime_dir, sway.socket_name) as proxy:
        host = obs_factory(proxy.env(sway.env))
        host.ok("script", str(SCRIPT))
        for lie, fragment in ERRORS.items():
            proxy.lie = LIES[lie]
            name = f"cap-{lie}"
            host.ok("create", name, "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
            props = wait_for(host, name, lambda p: "error" in p["status"], timeout=30)
            assert fragment in props["status"], (lie, props["status"])
            assert worst_difference(host.grab(3), (0, 0, 0), host.width, host.height) == 0, lie  # nothing drawn
            stats = host.ok("stats", name)
            assert stats["frames_published"] == stats["frames_shown"] == stats["frames_rejected"] == 0, (lie, stats)
            host.ok("release", name)
        for lie in HARMLESS:
            proxy.lie = LIES[lie]
            name = f"cap-{lie}"
            host.ok("create", name, "wlcap_capture", settings(output="HEADLESS-1", backend="shm"))
            assert wait_for_pixels(host, shown_pattern, timeout=30) <= TOLERANCE, lie  # type: ignore[arg-type]
            props = wait_for(host, name, lambda p: "fps" in p["status"])
            assert "error" not in props["status"], (lie, props["status"])
            stats = host.ok("stats", name)
            assert stats["frames_shown"] >= 1 and stats["frames_rejected"] == 0, (lie, stats)
            host.ok("release", name)
        log = host.log()
        assert "Traceback" not in log and "capture thread failed" not in log, log[-3000:]
        assert host.quit() == 0
