"""The one facade over the cffi module built from native/capture (GBM allocation, DRM device lookup,
DMA-BUF ioctls).

Nothing else imports `capture._native`; C failures become `NativeError` here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from capture.errors import WlcapError


class NativeError(WlcapError):
    """A call into the native helpers failed; the message comes from C."""


try:
    # `X as X` re-exports them: dmabuf.py checks `native.lib`
    from capture._native import ffi as ffi
    from capture._native import lib as lib

    IMPORT_ERROR: str | None = None
except ImportError as exc:  # an unbuilt checkout: only the DMA-BUF path needs it
    ffi = lib = None
    IMPORT_ERROR = f"wlcap's native module is not built ({exc})"


def _require() -> Any:
    if lib is None:
        raise NativeError(IMPORT_ERROR or "native module unavailable")
    return lib


def _error_buffer() -> Any:
    return ffi.new("char[]", 256)


@dataclass(frozen=True)
class Plane:
    fd: int
    offset: int
    stride: int


class GbmDevice:
    """A GBM device on one DRM node; allocates capture buffers."""

    def __init__(self, path: str) -> None:
        native = _require()
        err = _error_buffer()
        handle = native.wlcap_gbm_create(path.encode(), err, len(err))
        if handle == ffi.NULL:
            raise NativeError(ffi.string(err).decode(errors="replace"))
        self._handle = handle
        self.path = path
        self.backend = ffi.string(native.wlcap_gbm_backend_name(handle)).decode()

    def allocate(self, width: int, height: int, drm_format: int, modifiers: tuple[int, ...]) -> DmabufMemory:
        native = _require()
        if self._handle is None:
            raise NativeError("gbm device is closed")
        out = ffi.new("struct wlcap_dmabuf *")
        mods = ffi.new("uint64_t[]", list(modifiers) or [0])
        err = _error_buffer()
        if not native.wlcap_dmabuf_create(self._handle, width, height, drm_format, mods, len(modifiers),
                                          out, err, len(err)):
            raise NativeError(ffi.string(err).decode(errors="replace"))
        return DmabufMemory(out)

    def close(self) -> None:
        if self._handle is not None:
            lib.wlcap_gbm_destroy(self._handle)
            self._handle = None


class DmabufMemory:
    """One GBM buffer object and its plane fds, owned until `close`."""

    def __init__(self, native_buffer: Any) -> None:
        self._buf = native_buffer
        self.width = int(native_buffer.width)
        self.height = int(native_buffer.height)
        self.format = int(native_buffer.format)
        self.modifier = int(native_buffer.modifier)
        self.planes = [
            Plane(int(native_buffer.fds[i]), int(native_buffer.offsets[i]), int(native_buffer.strides[i]))
            for i in range(native_buffer.n_planes)
        ]

    def close(self) -> None:
        if self._buf is not None:
            lib.wlcap_dmabuf_finish(self._buf)
            self._buf = None


def drm_node_renders(path: str) -> tuple[bool, str]:
    """Whether GBM can allocate on this DRM node (see wlcap_drm_node_renders), and its driver."""
    native = _require()
    driver = ffi.new("char[]", 64)
    result = native.wlcap_drm_node_renders(path.encode(), driver, len(driver))
    if result < 0:
        raise NativeError(f"cannot query {path}: {os.strerror(-result)}")
    return bool(result), ffi.string(driver).decode(errors="replace")


def drm_nodes_for_device(dev: int) -> tuple[str | None, str | None]:
    """The render node and the primary node (None where it has none) of the DRM device that dev_t `dev`
    belongs to, as libdrm finds them (see wlcap_drm_nodes_for_device)."""
    native = _require()
    render = ffi.new("char[]", 256)
    primary = ffi.new("char[]", 256)
    err = _error_buffer()
    if native.wlcap_drm_nodes_for_device(dev, render, len(render), primary, len(primary), err, len(err)) < 0:
        raise NativeError(ffi.string(err).decode(errors="replace"))
    return ffi.string(render).decode() or None, ffi.string(primary).decode() or None


def export_write_fence(dmabuf_fd: int) -> int:
    """The writes pending on a DMA-BUF as a sync_file fd, which the caller closes."""
    fd = _require().wlcap_dmabuf_export_write_fence(dmabuf_fd)
    if fd < 0:
        raise NativeError(f"DMA_BUF_IOCTL_EXPORT_SYNC_FILE failed: {os.strerror(-fd)}")
    return int(fd)


def sync_file_state(sync_fd: int) -> tuple[bool, int]:
    """(every fence signalled, the latest signal time in CLOCK_MONOTONIC ns); NativeError when a
    fence signalled an error."""
    latest = ffi.new("uint64_t *")
    state = _require().wlcap_sync_file_state(sync_fd, latest)
    if state < 0:
        raise NativeError(f"a fence on the buffer failed: {os.strerror(-state)}")
    return bool(state), int(latest[0])


def dmabuf_sync(fd: int, *, start: bool, read: bool = True, write: bool = False) -> None:
    """Bracket CPU access to a DMA-BUF (DMA_BUF_IOCTL_SYNC)."""
    native = _require()
    flags = (0 if start else native.WLCAP_SYNC_END) | (native.WLCAP_SYNC_READ if read else 0) | (
        native.WLCAP_SYNC_WRITE if write else 0)
    ret = native.wlcap_dmabuf_sync(fd, flags)
    if ret < 0:
        raise NativeError(f"DMA_BUF_IOCTL_SYNC failed: {os.strerror(-ret)}")
