"""Test images with a different value in nearly every pixel, so that any offset, flip or channel swap
shows up as a mismatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import png  # pypng: an independent decoder, so the tests never read PNGs with wlcap's own code

from capture.image import RgbImage, encode_png


def pattern(width: int, height: int, seed: int = 0) -> RgbImage:
    pixels = bytearray(width * height * 3)
    i = 0
    for y in range(height):
        for x in range(width):
            pixels[i] = (x * 7 + y + seed) & 0xFF
            pixels[i + 1] = (y * 5 + (x >> 3) + 2 * seed) & 0xFF
            pixels[i + 2] = ((x ^ y) * 3 + seed) & 0xFF
            i += 3
    return RgbImage(width, height, bytes(pixels))


def crop(image: RgbImage, x: int, y: int, width: int, height: int) -> RgbImage:
    rows = [image.pixels[((y + row) * image.width + x) * 3:((y + row) * image.width + x + width) * 3]
            for row in range(height)]
    return RgbImage(width, height, b"".join(rows))


def write_png(image: RgbImage, path: Path) -> Path:
    path.write_bytes(encode_png(image, level=1))
    return path


def mismatches(actual: RgbImage, expected: RgbImage) -> int:
    assert (actual.width, actual.height) == (expected.width, expected.height), (
        f"size {actual.width}x{actual.height} != {expected.width}x{expected.height}")
    return sum(1 for a, b in zip(actual.pixels, expected.pixels, strict=True) if a != b)


def decode_png(data: bytes) -> RgbImage:
    """An 8- or 16-bit RGB(A) PNG as an RgbImage (alpha dropped), decoded by pypng."""
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    depth, planes = info["bitdepth"], info["planes"]
    dtype = np.uint16 if depth == 16 else np.uint8
    samples = np.vstack([np.asarray(row, dtype=dtype) for row in rows]).reshape(height, width, planes)[:, :, :3]
    pixels = samples.astype(">u2").tobytes() if depth == 16 else samples.tobytes()
    return RgbImage(width, height, pixels, depth)
