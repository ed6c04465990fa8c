"""Pixel formats: one table from DRM fourcc to what wlcap needs to know about a format.

wl_shm formats are DRM fourccs, except the two oldest codes (0 = ARGB8888, 1 = XRGB8888).
"""

from __future__ import annotations

from dataclasses import dataclass


def fourcc(code: str) -> int:
    a, b, c, d = (ord(ch) for ch in code)
    return a | (b << 8) | (c << 16) | (d << 24)


def fourcc_name(value: int) -> str:
    chars = [chr((value >> shift) & 0xFF) for shift in (0, 8, 16, 24)]
    if all(32 <= ord(ch) < 127 for ch in chars):
        return "".join(chars).rstrip()
    return f"0x{value:08x}"


WL_SHM_FORMAT_ARGB8888 = 0
WL_SHM_FORMAT_XRGB8888 = 1

DRM_FORMAT_MOD_LINEAR = 0
DRM_FORMAT_MOD_INVALID = (1 << 56) - 1


@dataclass(frozen=True)
class PixelFormat:
    name: str
    drm: int
    bytes_per_pixel: int
    # Byte offsets of red, green, blue inside one little-endian pixel.
    rgb_offsets: tuple[int, int, int]
    has_alpha: bool


_FORMATS = [
    PixelFormat("XRGB8888", fourcc("XR24"), 4, (2, 1, 0), False),
    PixelFormat("ARGB8888", fourcc("AR24"), 4, (2, 1, 0), True),
    PixelFormat("XBGR8888", fourcc("XB24"), 4, (0, 1, 2), False),
    PixelFormat("ABGR8888", fourcc("AB24"), 4, (0, 1, 2), True),
    PixelFormat("RGBX8888", fourcc("RX24"), 4, (3, 2, 1), False),
    PixelFormat("RGBA8888", fourcc("RA24"), 4, (3, 2, 1), True),
    PixelFormat("BGRX8888", fourcc("BX24"), 4, (1, 2, 3), False),
    PixelFormat("BGRA8888", fourcc("BA24"), 4, (1, 2, 3), True),
    PixelFormat("BGR888", fourcc("BG24"), 3, (0, 1, 2), False),
    PixelFormat("RGB888", fourcc("RG24"), 3, (2, 1, 0), False),
]
_BY_DRM = {fmt.drm: fmt for fmt in _FORMATS}


def drm_from_shm(shm_format: int) -> int:
    if shm_format == WL_SHM_FORMAT_ARGB8888:
        return fourcc("AR24")
    if shm_format == WL_SHM_FORMAT_XRGB8888:
        return fourcc("XR24")
    return shm_format


def shm_from_drm(drm_format: int) -> int:
    if drm_format == fourcc("AR24"):
        return WL_SHM_FORMAT_ARGB8888
    if drm_format == fourcc("XR24"):
        return WL_SHM_FORMAT_XRGB8888
    return drm_format


def lookup(drm_format: int) -> PixelFormat | None:
    return _BY_DRM.get(drm_format)


def describe(drm_format: int) -> str:
    fmt = lookup(drm_format)
    return fmt.name if fmt else fourcc_name(drm_format)


def describe_modifier(modifier: int) -> str:
    if modifier == DRM_FORMAT_MOD_LINEAR:
        return "LINEAR"
    if modifier == DRM_FORMAT_MOD_INVALID:
        return "INVALID (implicit)"
    return f"0x{modifier:016x}"
