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
class Channel:
    """Where one channel sits in a pixel read as one little-endian integer of bytes_per_pixel bytes."""

    shift: int
    bits: int


@dataclass(frozen=True)
class PixelFormat:
    name: str
    drm: int
    bytes_per_pixel: int
    red: Channel
    green: Channel
    blue: Channel
    alpha: Channel | None = None
    # The channels are IEEE half floats (16 bits each), not unsigned normalised integers.
    half_float: bool = False

    @property
    def has_alpha(self) -> bool:
        return self.alpha is not None

    @property
    def rgb(self) -> tuple[Channel, Channel, Channel]:
        return self.red, self.green, self.blue

    @property
    def depth(self) -> int:
        """Bits per colour channel (the widest of the three)."""
        return max(channel.bits for channel in self.rgb)


def _rgb(name: str, code: str, size: int, r: int, g: int, b: int, bits: int = 8,
         alpha: int | None = None, alpha_bits: int = 0, half_float: bool = False) -> PixelFormat:
    return PixelFormat(name, fourcc(code), size, Channel(r, bits), Channel(g, bits), Channel(b, bits),
                       Channel(alpha, alpha_bits) if alpha is not None else None, half_float)


# DRM's names give the channels from the most significant bit down, of a little-endian word.
_FORMATS = [
    _rgb("XRGB8888", "XR24", 4, 16, 8, 0),
    _rgb("ARGB8888", "AR24", 4, 16, 8, 0, alpha=24, alpha_bits=8),
    _rgb("XBGR8888", "XB24", 4, 0, 8, 16),
    _rgb("ABGR8888", "AB24", 4, 0, 8, 16, alpha=24, alpha_bits=8),
    _rgb("RGBX8888", "RX24", 4, 24, 16, 8),
    _rgb("RGBA8888", "RA24", 4, 24, 16, 8, alpha=0, alpha_bits=8),
    _rgb("BGRX8888", "BX24", 4, 8, 16, 24),
    _rgb("BGRA8888", "BA24", 4, 8, 16, 24, alpha=0, alpha_bits=8),
    _rgb("BGR888", "BG24", 3, 0, 8, 16),
    _rgb("RGB888", "RG24", 3, 16, 8, 0),
    # 10 bits a channel: what compositors render at for 10-bit monitors.
    _rgb("XRGB2101010", "XR30", 4, 20, 10, 0, bits=10),
    _rgb("ARGB2101010", "AR30", 4, 20, 10, 0, bits=10, alpha=30, alpha_bits=2),
    _rgb("XBGR2101010", "XB30", 4, 0, 10, 20, bits=10),
    _rgb("ABGR2101010", "AB30", 4, 0, 10, 20, bits=10, alpha=30, alpha_bits=2),
    # Half floats (wlroots 0.20 renders HDR outputs in these).
    _rgb("XRGB16161616F", "XR4H", 8, 32, 16, 0, bits=16, half_float=True),
    _rgb("ARGB16161616F", "AR4H", 8, 32, 16, 0, bits=16, alpha=48, alpha_bits=16, half_float=True),
    _rgb("XBGR16161616F", "XB4H", 8, 0, 16, 32, bits=16, half_float=True),
    _rgb("ABGR16161616F", "AB4H", 8, 0, 16, 32, bits=16, alpha=48, alpha_bits=16, half_float=True),
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
