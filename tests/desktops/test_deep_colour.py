"""10 bits a channel in the guest tier: sway renders an output at `render_bit_depth 10`, a client shows
a colour no 8-bit buffer holds, and wlcap's screenshot (a 16-bit PNG) and OBS (shm and DMA-BUF) show
it with its channels in the right places.

virtio-gpu scans out 8 bits only (sway falls back to 8 on its DRM output), so the 10-bit output is a
headless one beside it: same compositor, same renderer (GLES2 on the card), no scan-out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import painted_format, run_cli
from desktop import LOG_DIR, OBS_TOLERANCE, REPO, Compositor, Desktop, KnownWindow, record, wlroots_environment
from harness.compositor import wayland_client_env
from harness.obshost import bgra_pixel, launch_wayland_obs, wait_for_colour
from patterns import decode_png

from capture import CaptureOptions
from capture.buffers.formats import describe, lookup
from capture.options import CaptureProtocol

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the guest tier (tests/vm/run-wlcap-tests.sh)")

OUTPUT = "HEADLESS-1"
WIDTH, HEIGHT = 320, 240
TEN_BIT = (1000, 21, 513)  # none of them is an 8-bit value scaled up (x * 1023 / 255)
APP_ID = "wlcap.tenbit"

FLOAT_OUTPUT = "HEADLESS-2"
FLOAT_BACKGROUND = (0xE0, 0x80, 0x40)

SWAY_TEN_BIT = Compositor(
    "sway", lambda config, card: ["sway", "-c", str(config / "sway.conf")],
    lambda card: dict(wlroots_environment(card), WLR_BACKENDS="drm,headless", WLR_HEADLESS_OUTPUTS="2"),
    ["sway", "--version"],
    {"sway.conf": f"output {OUTPUT} resolution {WIDTH}x{HEIGHT} position 4000 0 render_bit_depth 10\n"
                  f"output {OUTPUT} bg #000000 solid_color\n"
                  f"output {FLOAT_OUTPUT} resolution {WIDTH}x{HEIGHT} position 5000 0 render_bit_depth 16f\n"
                  f"output {FLOAT_OUTPUT} bg #{bytes(FLOAT_BACKGROUND).hex()} solid_color\n"
                  f"for_window [app_id=\"{APP_ID}\"] move container to output {OUTPUT}\n"
                  "default_border none\n"})


def widened(value: int) -> int:
    """A 10-bit value as a 16-bit PNG holds it (the top bits repeated below)."""
    return (value << 6) | (value >> 4)


@pytest.fixture(scope="module")
def ten_bit_desktop() -> Iterator[Desktop]:
    desktop = Desktop(SWAY_TEN_BIT, LOG_DIR)
    try:
        with wayland_client_env(desktop.env):
            KnownWindow(desktop, ",".join(map(str, TEN_BIT)), APP_ID, ten_bit=True)
            yield desktop
    finally:
        desktop.stop()


@pytest.mark.parametrize("protocol", ["ext", "wlr"])
def test_a_ten_bit_output_gives_a_sixteen_bit_png_with_the_exact_colour(ten_bit_desktop: Desktop,
                                                                       protocol: str) -> None:
    fmt = painted_format(CaptureOptions(output=OUTPUT, protocol=CaptureProtocol(protocol)), timeout=60)
    pixel_format = lookup(fmt)
    assert pixel_format is not None and pixel_format.depth == 10, f"sway copies {OUTPUT} as {describe(fmt)}"
    path = LOG_DIR / f"ten-bit-{protocol}.png"
    result = run_cli("screenshot", "--output", OUTPUT, "--protocol", protocol, "-o", str(path),
                     env=ten_bit_desktop.env)
    assert result.returncode == 0, result.stderr
    image = decode_png(path.read_bytes())
    assert image.depth == 16 and (image.width, image.height) == (WIDTH, HEIGHT)
    expected = np.array([widened(v) for v in TEN_BIT])
    pixels = image.array().astype(int)
    assert np.all(pixels == expected), f"{describe(fmt)}: {pixels[0, 0]}, expected {expected}"
    record("sway", **{f"ten_bit_{protocol}": f"{describe(fmt)}, exact"})


def test_a_half_float_output_keeps_its_colour(ten_bit_desktop: Desktop) -> None:
    """An output rendered in half floats (sway's `render_bit_depth 16f`), where the compositor offers
    it: a 16-bit PNG whose colour is the background's."""
    fmt = painted_format(CaptureOptions(output=FLOAT_OUTPUT, protocol=CaptureProtocol.EXT), timeout=60)
    pixel_format = lookup(fmt)
    if pixel_format is None or not pixel_format.half_float:
        record("sway", half_float=f"not offered: {FLOAT_OUTPUT} is copied as {describe(fmt)}")
        pytest.skip(f"sway copies its 16f output as {describe(fmt)}")
    path = LOG_DIR / "half-float.png"
    result = run_cli("screenshot", "--output", FLOAT_OUTPUT, "-o", str(path), env=ten_bit_desktop.env)
    assert result.returncode == 0, result.stderr
    image = decode_png(path.read_bytes())
    pixels = image.array().astype(int)
    assert image.depth == 16 and np.abs(pixels / 257 - np.array(FLOAT_BACKGROUND)).max() <= 1, \
        f"{describe(fmt)}: {pixels[0, 0]} for {FLOAT_BACKGROUND}"
    record("sway", half_float=f"{describe(fmt)}, the colour within one 8-bit step")


@pytest.mark.parametrize("backend", ["shm", "dmabuf"])
def test_obs_shows_a_ten_bit_output_in_the_right_colours(ten_bit_desktop: Desktop, backend: str,
                                                        obs_host_binary: Path) -> None:
    expected = (round(TEN_BIT[0] * 255 / 1023), round(TEN_BIT[1] * 255 / 1023), round(TEN_BIT[2] * 255 / 1023))
    host = launch_wayland_obs(obs_host_binary, ten_bit_desktop.env, WIDTH, HEIGHT, REPO)
    try:
        host.ok("create", "cap", "wlcap_capture", json.dumps({"backend": backend, "output": OUTPUT, "cursor": False}))
        worst = wait_for_colour(host, expected, OBS_TOLERANCE, timeout=90)
        status = host.ok("props", "cap")["status"]
        assert worst <= OBS_TOLERANCE, f"OBS shows {bgra_pixel(host.peek()[0], WIDTH, 0, 0)} for {expected} ({status})"
        assert f": {backend}, " in status and "2101010" in status, status
        record("sway", **{f"ten_bit_obs_{backend}": status.split(", ")[1]})
    finally:
        host.cleanup()
