"""DMA-BUF capture buffers: the compositor's device and formats (linux-dmabuf v4 feedback), GBM
allocation on that device, and wl_buffers made with zwp_linux_buffer_params_v1."""

from __future__ import annotations

import mmap
import os
import select
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture.buffers import native
from capture.buffers.formats import DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, describe, describe_modifier
from capture.buffers.spec import Buffer, BufferKind, BufferSpec
from capture.errors import BackendUnavailableError, CaptureFailedError

if TYPE_CHECKING:
    from capture.wayland.connection import Connection

DRI_DIR = Path("/dev/dri")
_FORMAT_TABLE_ENTRY = struct.Struct("=IIQ")  # format, padding, modifier


@dataclass
class DmabufFeedback:
    """What the compositor's default feedback (or a v3 `modifier` list) says."""

    main_device: int | None = None  # dev_t
    formats: dict[int, set[int]] = field(default_factory=dict)  # format -> modifiers on the main device
    done: bool = False


def _parse_dev_t(data: bytes) -> int:
    dev: int = struct.unpack("=Q", data[:8])[0] if len(data) >= 8 else struct.unpack("=I", data[:4])[0]
    return dev


class FeedbackListener:
    """Collects zwp_linux_dmabuf_feedback_v1 events (v4) or the manager's modifier events (v3)."""

    def __init__(self, connection: Connection, manager: Any) -> None:
        self.feedback = DmabufFeedback()
        self._table: list[tuple[int, int]] = []
        self._tranche_device: int | None = None
        self._tranche_formats: list[int] = []
        guard = connection.guard
        if connection.version("zwp_linux_dmabuf_v1") >= 4:
            self._proxy = manager.get_default_feedback()
            self._proxy.dispatcher["format_table"] = guard(self._handle_format_table)
            self._proxy.dispatcher["main_device"] = guard(self._handle_main_device)
            self._proxy.dispatcher["tranche_target_device"] = guard(self._handle_tranche_target_device)
            self._proxy.dispatcher["tranche_formats"] = guard(self._handle_tranche_formats)
            self._proxy.dispatcher["tranche_done"] = guard(self._handle_tranche_done)
            self._proxy.dispatcher["done"] = guard(self._handle_done)
        else:
            self._proxy = None
            manager.dispatcher["modifier"] = guard(self._handle_modifier)
            manager.dispatcher["format"] = guard(self._handle_format)

    def _handle_format_table(self, _proxy: Any, fd: int, size: int) -> None:
        try:
            with mmap.mmap(fd, size, mmap.MAP_PRIVATE, mmap.PROT_READ) as table:
                self._table = [
                    (fmt, modifier) for fmt, _pad, modifier in _FORMAT_TABLE_ENTRY.iter_unpack(table[:size])
                ]
        finally:
            os.close(fd)

    def _handle_main_device(self, _proxy: Any, device: bytes) -> None:
        self.feedback.main_device = _parse_dev_t(device)

    def _handle_tranche_target_device(self, _proxy: Any, device: bytes) -> None:
        self._tranche_device = _parse_dev_t(device)

    def _handle_tranche_formats(self, _proxy: Any, indices: bytes) -> None:
        self._tranche_formats = [i for (i,) in struct.iter_unpack("=H", indices)]

    def _handle_tranche_done(self, _proxy: Any) -> None:
        # Only tranches for the main device matter: that is where wlcap allocates.
        if self._tranche_device in (None, self.feedback.main_device):
            for index in self._tranche_formats:
                if index < len(self._table):
                    fmt, modifier = self._table[index]
                    self.feedback.formats.setdefault(fmt, set()).add(modifier)
        self._tranche_device, self._tranche_formats = None, []

    def _handle_done(self, _proxy: Any) -> None:
        self.feedback.done = True

    def _handle_format(self, _proxy: Any, fmt: int) -> None:
        self.feedback.formats.setdefault(fmt, set()).add(DRM_FORMAT_MOD_INVALID)

    def _handle_modifier(self, _proxy: Any, fmt: int, hi: int, lo: int) -> None:
        self.feedback.formats.setdefault(fmt, set()).add((hi << 32) | lo)

    def destroy(self) -> None:
        if self._proxy is not None and not self._proxy.destroyed:
            self._proxy.destroy()


def nodes_for_device(dev: int | None, dri_dir: Path = DRI_DIR) -> list[str]:
    """The DRM nodes of dev_t `dev` to allocate on, in the order to try: the render node first (no DRM
    master needed) where the device has a GPU Mesa renders with, else the primary node, where Mesa's
    software path finds the dumb buffers it needs. libdrm finds the device's nodes; `dev` None: the
    device of the first node in `dri_dir` (render nodes first)."""
    if dev is None:
        first = _first_node(dri_dir)
        dev, device = first.stat().st_rdev, f"the DRM device of {first}"
    else:
        device = "the compositor's DRM device"
    try:
        render, primary = native.drm_nodes_for_device(dev)
    except native.NativeError as exc:
        raise BackendUnavailableError(f"{device} {os.major(dev)}:{os.minor(dev)}: {exc}") from None
    if render and primary and not _renders(render):
        return [primary, render]
    return [node for node in (render, primary) if node]


def _first_node(dri_dir: Path) -> Path:
    if not dri_dir.is_dir():
        raise BackendUnavailableError(f"no DRM devices on this machine ({dri_dir} does not exist)")
    nodes = sorted((p for p in dri_dir.iterdir() if p.name.startswith(("renderD", "card"))),
                   key=lambda p: (not p.name.startswith("renderD"), p.name))
    if not nodes:
        raise BackendUnavailableError(f"no DRM nodes in {dri_dir}")
    return nodes[0]


def _renders(node: str) -> bool:
    """Whether GBM can allocate on this render node; asked rather than tried, because a failed try is
    Mesa printing "DRM_IOCTL_MODE_CREATE_DUMB failed: Permission denied" to the user."""
    try:
        return native.drm_node_renders(node)[0]
    except native.NativeError:
        return True  # cannot tell: try it, as before


class DmabufBuffer(Buffer):
    def __init__(self, spec: BufferSpec, memory: native.DmabufMemory, wl_buffer: Any) -> None:
        super().__init__(spec, wl_buffer, memory.planes[0].stride)
        self.memory = memory

    @property
    def modifier(self) -> int:
        return self.memory.modifier

    def _free_storage(self) -> None:
        self.memory.close()


class DmabufAllocator:
    """Allocates on the device the capture session names (ext-image-copy-capture's dmabuf_device), else
    on linux-dmabuf's main device, and wraps buffers for the compositor."""

    kind = BufferKind.DMABUF

    def __init__(self, connection: Connection, device: int | None = None) -> None:
        if native.lib is None:
            raise BackendUnavailableError(native.IMPORT_ERROR or "native module unavailable")
        manager = connection.bound.get("zwp_linux_dmabuf_v1")
        if manager is None:
            raise BackendUnavailableError("compositor doesn't support zwp_linux_dmabuf_v1")
        self._connection = connection
        self._manager = manager
        listener = FeedbackListener(connection, manager)
        connection.roundtrip()
        self.feedback = listener.feedback
        listener.destroy()
        # dev_t allocated on: a compositor with several GPUs names, per capture session, the one it
        # copies with; linux-dmabuf's main device is its default for everything.
        self.dev = device if device is not None else self.feedback.main_device
        self._nodes = nodes_for_device(self.dev)
        self.device = self._open_next()

    def _open_next(self) -> native.GbmDevice:
        """A GBM device on the next node of the device that opens (a user may lack the primary's group)."""
        problems = []
        while self._nodes:
            try:
                return native.GbmDevice(self._nodes.pop(0))
            except native.NativeError as exc:
                problems.append(str(exc))
        raise BackendUnavailableError(f"cannot allocate DMA-BUFs: {'; '.join(problems)}")

    def modifiers_for(self, drm_format: int) -> tuple[int, ...]:
        return tuple(sorted(self.feedback.formats.get(drm_format, ())))

    def allocate(self, spec: BufferSpec, count: int) -> list[Buffer]:
        buffers: list[Buffer] = []
        try:
            for _ in range(count):
                buffers.append(self._allocate_one(spec))
        except BaseException:
            for buffer in buffers:
                buffer.destroy()
            raise
        return buffers

    def _allocate_one(self, spec: BufferSpec) -> DmabufBuffer:
        while True:
            try:
                memory = self.device.allocate(spec.width, spec.height, spec.format, spec.modifiers)
                break
            except native.NativeError as exc:
                if not self._nodes:
                    raise BackendUnavailableError(f"{exc} (on {self.device.path})") from None
                self.device.close()  # the next node of the same device
                self.device = self._open_next()
        try:
            wl_buffer = self._wrap(memory)
        except BaseException:
            memory.close()
            raise
        return DmabufBuffer(spec, memory, wl_buffer)

    def _wrap(self, memory: native.DmabufMemory) -> Any:
        params = self._manager.create_params()
        outcome: dict[str, Any] = {}
        params.dispatcher["created"] = lambda _p, wl_buffer: outcome.update(buffer=wl_buffer)
        params.dispatcher["failed"] = lambda _p: outcome.update(failed=True)
        for index, plane in enumerate(memory.planes):
            params.add(plane.fd, index, plane.offset, plane.stride, memory.modifier >> 32,
                       memory.modifier & 0xFFFFFFFF)
        # `create` rather than `create_immed`: a refused buffer is an event, not a fatal protocol error.
        params.create(memory.width, memory.height, memory.format, 0)
        while not outcome:
            self._connection.pump(1.0)
        params.destroy()
        if "failed" in outcome:
            raise BackendUnavailableError(
                f"compositor refused a {describe(memory.format)} DMA-BUF with modifier "
                f"{describe_modifier(memory.modifier)}")
        return outcome["buffer"]

    def close(self) -> None:
        self.device.close()


def read_dmabuf(buffer: Buffer) -> bytes:
    """The pixels of a single-plane LINEAR (or implicit, dumb) DMA-BUF, read on the CPU through
    mmap inside DMA_BUF_IOCTL_SYNC. For screenshots and tests; streaming never reads on the CPU."""
    if not isinstance(buffer, DmabufBuffer):
        raise TypeError("not a DMA-BUF buffer")
    memory = buffer.memory
    if len(memory.planes) != 1 or memory.modifier not in (DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_MOD_INVALID):
        raise BackendUnavailableError(
            f"cannot read a {describe_modifier(memory.modifier)} DMA-BUF on the CPU (only single-plane LINEAR)")
    plane = memory.planes[0]
    size = plane.offset + plane.stride * memory.height
    native.dmabuf_sync(plane.fd, start=True)
    try:
        with mmap.mmap(plane.fd, size, mmap.MAP_SHARED, mmap.PROT_READ) as mapping:
            return bytes(mapping[plane.offset:size])
    finally:
        native.dmabuf_sync(plane.fd, start=False)


def read_finished_dmabuf(buffer: Buffer, requested_ns: int, timeout: float) -> bytes:
    """The pixels of a single-plane LINEAR DMA-BUF once the compositor's copy into it is known to be
    finished: the buffer's write fence signalled after the copy was asked for (`requested_ns`,
    CLOCK_MONOTONIC). `ready` alone does not say so: the GPU may still be writing. A compositor whose
    renderer leaves no fence gives no way to know; that is an error, never a read of unfinished pixels.
    """
    if not isinstance(buffer, DmabufBuffer):
        raise TypeError("not a DMA-BUF buffer")
    memory = buffer.memory
    if len(memory.planes) != 1 or memory.modifier != DRM_FORMAT_MOD_LINEAR:
        raise BackendUnavailableError(
            f"cannot read a {describe_modifier(memory.modifier)} DMA-BUF on the CPU (only single-plane LINEAR)")
    try:
        fence = native.export_write_fence(memory.planes[0].fd)
    except native.NativeError as exc:
        raise BackendUnavailableError(f"cannot tell when the compositor's copy is done ({exc})") from None
    try:
        poller = select.poll()
        poller.register(fence, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise CaptureFailedError(f"the compositor's copy into the DMA-BUF did not finish within {timeout:g} s")
        _signalled, latest_ns = native.sync_file_state(fence)
    except native.NativeError as exc:
        raise CaptureFailedError(f"the compositor's copy into the DMA-BUF failed ({exc})") from None
    finally:
        os.close(fence)
    if latest_ns < requested_ns:
        raise BackendUnavailableError(
            "cannot tell when the compositor's copy into the DMA-BUF is done: it left no fence on the buffer "
            "(software renderers such as llvmpipe leave none), so its pixels may not all be there yet; "
            "use shared memory (--backend shm)")
    return read_dmabuf(buffer)
