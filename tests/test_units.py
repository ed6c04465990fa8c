"""Pieces that need no compositor: image conversion, PNG, regions, the native module's errors."""

from __future__ import annotations

import os
import struct
from array import array
from pathlib import Path

import numpy as np
import pytest
from patterns import decode_png, pattern

from capture import Region, RegionError
from capture.buffers.damage import within
from capture.buffers.dmabuf import nodes_for_device
from capture.buffers.formats import fourcc
from capture.buffers.native import GbmDevice, NativeError, dmabuf_sync
from capture.errors import BackendUnavailableError, WlcapError
from capture.image import RgbImage, encode_png, to_rgb, upright

XR24 = fourcc("XR24")


def xrgb(image) -> bytes:  # type: ignore[no-untyped-def]
    """XRGB8888 little-endian bytes (B, G, R, X) of an RGB image."""
    out = bytearray(len(image.pixels) // 3 * 4)
    out[0::4] = image.pixels[2::3]
    out[1::4] = image.pixels[1::3]
    out[2::4] = image.pixels[0::3]
    return bytes(out)


def test_png_round_trip() -> None:
    image = pattern(37, 23)
    assert decode_png(encode_png(image)) == image


def test_y_invert_flips_rows() -> None:
    image = pattern(5, 4)
    rows = [xrgb(image)[y * 20:(y + 1) * 20] for y in range(4)]
    flipped = b"".join(reversed(rows))
    assert to_rgb(flipped, 5, 4, 20, XR24, y_invert=True) == image
    assert to_rgb(flipped, 5, 4, 20, XR24, y_invert=False) != image


def test_stride_padding_is_skipped() -> None:
    image = pattern(3, 2)
    data = xrgb(image)
    padded = data[:12] + b"\xee" * 4 + data[12:] + b"\xee" * 4
    assert to_rgb(padded, 3, 2, 16, XR24) == image


def test_transform_90_and_crop() -> None:
    # A 2x3 upright image stored turned a quarter: the buffer is 3x2.
    words = array("I", [1, 2, 3, 4, 5, 6])
    data = words.tobytes()
    out = to_rgb(data, 3, 2, 12, XR24, transform=1, crop=(0, 1, 2, 1))
    assert (out.width, out.height) == (2, 1)


def widened(value: int) -> int:
    return (value << 6) | (value >> 4)


@pytest.mark.parametrize(("code", "shifts", "alpha"), [
    ("XR30", (20, 10, 0), False), ("AR30", (20, 10, 0), True), ("XB30", (0, 10, 20), False),
    ("AB30", (0, 10, 20), True)])
def test_ten_bit_frames_keep_their_precision(code: str, shifts: tuple[int, int, int], alpha: bool) -> None:
    """10-bit channels come out as 16-bit values (the top bits repeated), so 1023 is 65535 and no
    two 10-bit values meet; X or alpha bits change nothing."""
    colours = [(1000, 21, 513), (1023, 0, 1)]
    words = [sum(v << shift for v, shift in zip(colour, shifts, strict=True)) | (3 << 30 if alpha else 0)
             for colour in colours]
    image = to_rgb(struct.pack("<2I", *words), 2, 1, 8, fourcc(code))
    assert image.depth == 16
    assert [image.pixel(x, 0) for x in range(2)] == [tuple(widened(v) for v in c) for c in colours]


@pytest.mark.parametrize(("code", "order"), [("XB4H", (0, 1, 2)), ("AB4H", (0, 1, 2)), ("XR4H", (2, 1, 0))])
def test_half_float_frames_are_clipped_to_sixteen_bits(code: str, order: tuple[int, int, int]) -> None:
    red, green, blue = 1.0, 0.25, -0.5  # a negative value (possible in a float buffer) clips to 0
    halves = [0.0, 0.0, 0.0, 1.0]
    for value, index in zip((red, green, blue), order, strict=True):
        halves[index] = value
    data = np.array(halves, dtype="<f2").tobytes()
    assert to_rgb(data, 1, 1, 8, fourcc(code)).pixel(0, 0) == (65535, 16384, 0)


@pytest.mark.parametrize(("code", "data"), [("BG24", bytes((10, 20, 30))), ("RG24", bytes((30, 20, 10)))])
def test_three_byte_frames(code: str, data: bytes) -> None:
    image = to_rgb(data * 2 + b"\0\0", 2, 1, 8, fourcc(code))
    assert image.depth == 8 and image.pixel(1, 0) == (10, 20, 30)


def test_sixteen_bit_png_round_trip() -> None:
    values = (np.arange(5 * 3 * 3).reshape(3, 5, 3) * 1111).astype(">u2")
    image = RgbImage(5, 3, values.tobytes(), 16)
    decoded = decode_png(encode_png(image))
    assert decoded == image and decoded.pixel(4, 2) == tuple(int(v) for v in values[2, 4])


@pytest.mark.parametrize("transform", range(8))
def test_every_output_transform_is_undone(transform: int) -> None:
    """The buffer of a transformed output holds the upright picture turned (wl_output.transform: 90
    is a quarter turn counter-clockwise), mirrored first for the flipped ones."""
    upright_picture = np.arange(2 * 3).reshape(2, 3)
    mirrored = upright_picture[:, ::-1] if transform >= 4 else upright_picture
    buffer = np.rot90(mirrored, k=transform % 4)
    assert np.array_equal(upright(buffer, transform), upright_picture)


def test_a_frame_holding_fewer_bytes_than_it_claims_is_refused() -> None:
    with pytest.raises(WlcapError, match="fewer than its 4x4 pixels"):
        to_rgb(bytes(60), 4, 4, 16, fourcc("XR24"))


@pytest.mark.parametrize("text", ["0,0 1x1", "10,20 640x480", " 3 , 4   5x6 "])
def test_region_parse(text: str) -> None:
    region = Region.parse(text)
    assert region.width > 0 and region.height > 0


def test_region_rejects_garbage() -> None:
    with pytest.raises(RegionError):
        Region.parse("10x10")


def test_gbm_on_a_missing_node_names_the_problem() -> None:
    with pytest.raises(NativeError, match="cannot open /nonexistent/renderD128"):
        GbmDevice("/nonexistent/renderD128")


def test_no_drm_nodes_means_no_dmabuf(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        nodes_for_device(None, tmp_path / "dri")
    (tmp_path / "dri").mkdir()
    with pytest.raises(BackendUnavailableError, match="no DRM nodes"):
        nodes_for_device(None, tmp_path / "dri")


def test_dmabuf_sync_on_a_plain_file_fails_cleanly(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "not-a-dmabuf", os.O_CREAT | os.O_RDWR)
    try:
        with pytest.raises(NativeError, match="DMA_BUF_IOCTL_SYNC failed"):
            dmabuf_sync(fd, start=True)
    finally:
        os.close(fd)


def test_output_damage_is_moved_into_a_region_and_clipped() -> None:
    """wlroots reports a region capture's damage in output pixels: the region's frame (here at 100, 50,
    64x48) sees it from its own origin, clipped to itself, and nothing of what lies outside."""
    damage = [(110, 60, 10, 10), (90, 40, 20, 20), (150, 90, 100, 100), (0, 0, 50, 50)]
    assert within(damage, 64, 48, 100, 50) == [(10, 10, 10, 10), (0, 0, 10, 10), (50, 40, 14, 8)]
