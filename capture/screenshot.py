"""One frame to one upright image: what `wlcap screenshot` does.

A screenshot reads its pixels on the CPU, so `auto` means shared memory, which the compositor has
finished writing when it says `ready`. Over DMA-BUF (asked for explicitly) the buffer must be LINEAR,
since tiled layouts cannot be read through mmap, and it is read only once its write fence says the
copy is done (dmabuf.read_finished_dmabuf).
"""

from __future__ import annotations

from dataclasses import replace

from capture.buffers.dmabuf import read_finished_dmabuf
from capture.buffers.formats import DRM_FORMAT_MOD_LINEAR
from capture.buffers.spec import BufferKind
from capture.image import RgbImage, to_rgb
from capture.options import Backend, CaptureOptions
from capture.session.open import capture_one
from capture.wayland.connection import Connection


def _linear_only(_format: int, modifiers: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(m for m in modifiers if m == DRM_FORMAT_MOD_LINEAR)


def screenshot_options(options: CaptureOptions) -> CaptureOptions:
    if options.backend is Backend.AUTO:
        return replace(options, backend=Backend.SHM)
    if options.backend is Backend.DMABUF:
        return replace(options, modifier_filter=_linear_only)
    return options


def take_screenshot(connection: Connection, options: CaptureOptions, timeout: float = 5.0) -> RgbImage:
    session, frame = capture_one(connection, screenshot_options(options), timeout)
    try:
        if frame.kind is BufferKind.DMABUF:
            data = read_finished_dmabuf(frame.buffer, frame.requested_ns, timeout)
        else:
            data = frame.read_pixels()
        return to_rgb(data, frame.width, frame.height, frame.stride, frame.format, frame.y_invert,
                      frame.transform, frame.crop.as_tuple() if frame.crop else None)
    finally:
        frame.release()
        session.close()
