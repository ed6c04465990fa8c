"""Frames to upright RGB images, and a small PNG writer.

Pixel work here is for screenshots and tests only; the streaming path never converts on the CPU.
Images keep the frame's precision: 8 bits a channel where every channel has 8 bits, else 16 (10-bit
and half-float frames), as PNG stores them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from capture.buffers.formats import Channel, PixelFormat, describe, lookup
from capture.errors import WlcapError

_WORD_TYPES: dict[int, np.dtype[Any]] = {3: np.dtype("<u4"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}


@dataclass(frozen=True)
class RgbImage:
    width: int
    height: int
    # RGB rows top to bottom: one byte a channel at depth 8, two (big-endian, as in PNG) at depth 16.
    pixels: bytes
    depth: int = 8

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        if self.depth == 8:
            i = (y * self.width + x) * 3
            return self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]
        i = (y * self.width + x) * 6
        r, g, b = struct.unpack(">HHH", self.pixels[i:i + 6])
        return r, g, b

    def array(self) -> npt.NDArray[Any]:
        """The pixels as a (height, width, 3) array of uint8 or uint16."""
        dtype = np.dtype(">u2") if self.depth == 16 else np.dtype(np.uint8)
        return np.frombuffer(self.pixels, dtype=dtype).reshape(self.height, self.width, 3)


def _words(data: memoryview | bytes, width: int, height: int, stride: int, size: int) -> npt.NDArray[np.uint64]:
    """One unsigned integer a pixel, (height, width), rows without their stride padding."""
    needed = stride * (height - 1) + width * size
    if len(data) < needed:
        raise WlcapError(f"frame holds {len(data)} bytes, fewer than its {width}x{height} "
                         f"pixels at stride {stride} need ({needed})")
    raw = np.frombuffer(data, dtype=np.uint8, count=needed)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(height, width, size), strides=(stride, size, 1))
    if size == 3:
        padded = np.zeros((height, width, 4), dtype=np.uint8)
        padded[:, :, :3] = rows
        return padded.view(_WORD_TYPES[3])[:, :, 0].astype(np.uint64)
    return np.ascontiguousarray(rows).view(_WORD_TYPES[size])[:, :, 0].astype(np.uint64)


def _channel(words: npt.NDArray[np.uint64], channel: Channel, fmt: PixelFormat) -> npt.NDArray[np.uint16]:
    """One channel at the image's depth: 8-bit channels as they are, wider ones as 16 bits."""
    values = (words >> np.uint64(channel.shift)) & np.uint64((1 << channel.bits) - 1)
    if fmt.half_float:
        floats = values.astype(np.uint16).view(np.float16).astype(np.float32)
        return np.rint(np.clip(np.nan_to_num(floats), 0.0, 1.0) * 65535).astype(np.uint16)
    if fmt.depth == 8:
        return values.astype(np.uint16)
    # Widen by repeating the top bits: 0 stays 0 and full scale becomes 65535, exactly.
    wide = values << np.uint64(16 - channel.bits)
    return (wide | (wide >> np.uint64(channel.bits))).astype(np.uint16)


def upright(pixels: npt.NDArray[np.generic], transform: int) -> npt.NDArray[np.generic]:
    """Undo an output transform (enum wl_output.transform): buffer pixels (rows first) to upright
    pixels. A flipped transform is undone by rotating first and mirroring the result."""
    # wl_output.transform 90: the buffer holds the upright image turned 90° counter-clockwise.
    turned = np.rot90(pixels, k=-(transform % 4))
    return turned[:, ::-1] if transform >= 4 else turned


def to_rgb(data: memoryview | bytes, width: int, height: int, stride: int, drm_format: int,
           y_invert: bool = False, transform: int = 0,
           crop: tuple[int, int, int, int] | None = None) -> RgbImage:
    """Upright RGB pixels of a frame; `crop` (x, y, width, height) is applied after the transform."""
    fmt = lookup(drm_format)
    if fmt is None:
        raise WlcapError(f"cannot convert pixel format {describe(drm_format)} to RGB")
    words = _words(data, width, height, stride, fmt.bytes_per_pixel)
    rgb: npt.NDArray[Any] = np.stack([_channel(words, channel, fmt) for channel in fmt.rgb], axis=-1)
    if y_invert:
        rgb = rgb[::-1]
    rgb = upright(rgb, transform)
    if crop is not None:
        cx, cy, cw, ch = crop
        rgb = rgb[cy:cy + ch, cx:cx + cw]
    depth = 8 if fmt.depth == 8 else 16
    out = rgb.astype(np.uint8 if depth == 8 else np.dtype(">u2"))
    return RgbImage(int(rgb.shape[1]), int(rgb.shape[0]), out.tobytes(), depth)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def encode_png(image: RgbImage, level: int = 6) -> bytes:
    """An RGB PNG of 8 or 16 bits a channel, as the image holds them."""
    row_bytes = image.width * 3 * image.depth // 8
    raw = b"".join(b"\x00" + image.pixels[y * row_bytes:(y + 1) * row_bytes] for y in range(image.height))
    header = struct.pack(">IIBBBBB", image.width, image.height, image.depth, 2, 0, 0, 0)  # RGB
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, level))
            + _chunk(b"IEND", b""))
