"""Frames to upright RGB images, and a small PNG writer (no imaging library needed).

Pixel work here is for screenshots and tests only; the streaming path never converts on the CPU.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from dataclasses import dataclass

from .errors import WlcapError
from .formats import describe, lookup


@dataclass(frozen=True)
class RgbImage:
    width: int
    height: int
    pixels: bytes  # RGB, 3 bytes a pixel, rows top to bottom

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = (y * self.width + x) * 3
        return self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]


def _packed_rows(data: memoryview | bytes, width: int, height: int, stride: int) -> array[int]:
    """The frame as one 32-bit word a pixel, rows packed without stride padding."""
    row_bytes = width * 4
    if stride == row_bytes:
        packed = bytes(data[:row_bytes * height])
    else:
        packed = b"".join(bytes(data[y * stride:y * stride + row_bytes]) for y in range(height))
    words = array("I")
    words.frombytes(packed)
    return words


def _rows(words: array[int], width: int, height: int) -> list[array[int]]:
    return [words[y * width:(y + 1) * width] for y in range(height)]


def _columns(words: array[int], width: int) -> list[array[int]]:
    return [words[x::width] for x in range(width)]


def apply_transform(words: array[int], width: int, height: int,
                    transform: int) -> tuple[array[int], int, int]:
    """Undo an output transform (enum wl_output.transform): buffer pixels to upright pixels.
    A flipped transform is undone by rotating first and mirroring the result."""
    rotation = transform % 4
    if rotation == 0:
        rows = _rows(words, width, height)
    elif rotation == 2:
        rows = [row[::-1] for row in reversed(_rows(words, width, height))]
    elif rotation == 1:  # the buffer holds the upright image turned 90° counter-clockwise
        rows = [column[::-1] for column in _columns(words, width)]
        width, height = height, width
    else:
        rows = list(reversed(_columns(words, width)))
        width, height = height, width
    if transform >= 4:
        rows = [row[::-1] for row in rows]
    result = array("I")
    for row in rows:
        result.extend(row)
    return result, width, height


def to_rgb(data: memoryview | bytes, width: int, height: int, stride: int, drm_format: int,
           y_invert: bool = False, transform: int = 0,
           crop: tuple[int, int, int, int] | None = None) -> RgbImage:
    """Upright RGB pixels of a frame; `crop` (x, y, width, height) is applied after the transform."""
    fmt = lookup(drm_format)
    if fmt is None or fmt.bytes_per_pixel != 4:
        raise WlcapError(f"cannot convert pixel format {describe(drm_format)} to RGB")
    words = _packed_rows(data, width, height, stride)
    if y_invert:
        words = array("I", b"".join(row.tobytes() for row in reversed(_rows(words, width, height))))
    if transform:
        words, width, height = apply_transform(words, width, height, transform)
    if crop is not None:
        cx, cy, cw, ch = crop
        start = cy * width + cx
        words = array("I", b"".join(words[start + row * width:start + row * width + cw].tobytes()
                                    for row in range(ch)))
        width, height = cw, ch
    raw = words.tobytes()
    rgb = bytearray(width * height * 3)
    r, g, b = fmt.rgb_offsets
    rgb[0::3] = raw[r::4]
    rgb[1::3] = raw[g::4]
    rgb[2::3] = raw[b::4]
    return RgbImage(width, height, bytes(rgb))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def encode_png(image: RgbImage, level: int = 6) -> bytes:
    row_bytes = image.width * 3
    raw = b"".join(b"\x00" + image.pixels[y * row_bytes:(y + 1) * row_bytes] for y in range(image.height))
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, level))
            + _chunk(b"IEND", b""))


def decode_png(data: bytes) -> RgbImage:
    """Decode an 8-bit RGB or RGBA PNG without interlace (what wlcap and the tests write)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise WlcapError("not a PNG file")
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, payload = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = payload
        elif kind == b"IDAT":
            idat += payload
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise WlcapError("only 8-bit RGB/RGBA non-interlaced PNGs are supported")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, prev, channels)
        rows.append(line)
        prev = line
    pixels = bytearray(width * height * 3)
    flat = b"".join(rows)
    for c in range(3):
        pixels[c::3] = flat[c::channels]
    return RgbImage(width, height, bytes(pixels))


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            upleft = prev[i - bpp] if i >= bpp else 0
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
            line[i] = (line[i] + pred) & 0xFF
        else:
            raise WlcapError(f"bad PNG filter type {kind}")
