"""Pieces that need no compositor: image conversion, PNG, regions, the native module's errors."""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import pytest
from patterns import pattern

from capture import Region, RegionError
from capture.dmabuf import nodes_for_device
from capture.errors import BackendUnavailableError
from capture.formats import fourcc
from capture.image import decode_png, encode_png, to_rgb
from capture.native import GbmDevice, NativeError, dmabuf_sync

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
