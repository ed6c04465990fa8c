"""10 bits a channel on the host: sway 1.7 renders its headless output at `render_bit_depth 10` with
pixman and copies it as XRGB2101010; a client shows a colour no 8-bit buffer holds. The screenshot is
a 16-bit PNG with that exact colour, and OBS 29 (shared memory: the upload's red and blue swapped back
on the GPU) shows it in the right channels."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import painted_format, run_cli, same_capture_env
from harness.clients import client_command
from harness.compositor import SwayHeadless, wayland_client_env
from harness.obshost import bgra_pixel, wait_for_colour
from patterns import decode_png

from capture import CaptureOptions
from capture.buffers.formats import describe, lookup

WIDTH, HEIGHT = 160, 120
TEN_BIT = (1000, 21, 513)  # none of them is an 8-bit value scaled up (x * 1023 / 255)
OBS_TOLERANCE = 2


@pytest.fixture(scope="module")
def ten_bit_sway() -> Iterator[SwayHeadless]:
    if subprocess.run(["which", "sway"], capture_output=True).returncode != 0:
        pytest.skip("sway is not installed")
    sway = SwayHeadless(WIDTH, HEIGHT, "#000000", extra_config="output HEADLESS-1 render_bit_depth 10\n")
    window = subprocess.Popen([*client_command("testwindow"), "--ten-bit", "--colour",
                               ",".join(map(str, TEN_BIT))], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=same_capture_env(sway.env), cwd="/")
    try:
        assert window.stdout is not None and window.stdout.readline().startswith("drawn ")
        yield sway
    finally:
        window.kill()
        window.wait()
        sway.stop()


def test_a_ten_bit_output_gives_a_sixteen_bit_png_with_the_exact_colour(ten_bit_sway: SwayHeadless,
                                                                       tmp_path) -> None:  # type: ignore[no-untyped-def]
    with wayland_client_env(ten_bit_sway.env):
        fmt = painted_format(CaptureOptions(), timeout=20)
    pixel_format = lookup(fmt)
    assert pixel_format is not None and pixel_format.depth == 10, f"sway copies at {describe(fmt)}"
    path = tmp_path / "ten-bit.png"
    result = run_cli("screenshot", "-o", str(path), env=ten_bit_sway.env)
    assert result.returncode == 0, result.stderr
    image = decode_png(path.read_bytes())
    assert image.depth == 16 and (image.width, image.height) == (WIDTH, HEIGHT)
    expected = np.array([(v << 6) | (v >> 4) for v in TEN_BIT], dtype=np.uint16)
    assert np.all(image.array() == expected), f"{describe(fmt)}: {image.array()[0, 0]}, expected {expected}"


def test_obs_shows_a_ten_bit_output_in_the_right_colours(ten_bit_sway: SwayHeadless,
                                                        obs_factory) -> None:  # type: ignore[no-untyped-def]
    from test_obs import SCRIPT, wait_for

    host = obs_factory(ten_bit_sway.env, WIDTH, HEIGHT)
    host.ok("script", str(SCRIPT))
    host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": "shm"}))
    expected = (round(TEN_BIT[0] * 255 / 1023), round(TEN_BIT[1] * 255 / 1023), round(TEN_BIT[2] * 255 / 1023))
    worst = wait_for_colour(host, expected, OBS_TOLERANCE, timeout=20)
    status = wait_for(host, "cap", lambda props: "XRGB2101010" in props["status"])["status"]
    assert worst <= OBS_TOLERANCE, f"OBS shows {bgra_pixel(host.peek()[0], WIDTH, 0, 0)} for {expected} ({status})"
    assert ": shm, " in status and "\nshm: " in status, status
    assert host.quit() == 0
