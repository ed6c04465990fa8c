"""The buffers behind a session: which kind (DMA-BUF or shared memory) and layout the compositor's
constraints allow and the consumer accepts, and the pool that holds them.

Both protocol adapters own one BufferNegotiator. It steps from DMA-BUF down to shared memory once
(unless DMA-BUF was required) and says why, and it recycles buffers consumers give back.
"""

from __future__ import annotations

import logging
import os
import queue
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from capture.buffers.dmabuf import DmabufAllocator, DmabufBuffer
from capture.buffers.formats import describe, describe_modifier
from capture.buffers.pool import Allocator, BufferPool
from capture.buffers.shm import ShmAllocator
from capture.buffers.spec import Buffer, BufferKind, BufferSpec
from capture.errors import BackendUnavailableError
from capture.options import Backend, CaptureOptions
from capture.session.interface import SessionSummary

if TYPE_CHECKING:
    from capture.wayland.connection import Connection

log = logging.getLogger("wlcap")


class BufferConstraints(Protocol):
    """What a compositor allows for a capture's buffers (a wlr frame's events, or an ext session's)."""

    @property
    def shm_spec(self) -> BufferSpec | None: ...

    @property
    def dmabuf_specs(self) -> list[BufferSpec]:
        """Best first; a spec without modifiers leaves them to linux-dmabuf's feedback."""
        ...

    @property
    def dmabuf_device(self) -> int | None:
        """The dev_t to allocate on; None: linux-dmabuf's main device."""
        ...


class BufferNegotiator:
    def __init__(self, connection: Connection, options: CaptureOptions, summary: SessionSummary) -> None:
        self._connection = connection
        self._options = options
        self.pool: BufferPool | None = None
        self._dmabuf: DmabufAllocator | None = None
        self._dmabuf_refused: str | None = None  # why DMA-BUF was given up (logged once)
        self._device_change_logged = False
        self._returned: queue.SimpleQueue[Buffer] = queue.SimpleQueue()
        self._closed = False
        self._settled: tuple[object, ...] | None = None  # the constraints the pool last matched
        # Published for other threads: replaced whole, never changed in place.
        self.summary = summary

    @property
    def dmabuf_allocator(self) -> DmabufAllocator | None:
        return self._dmabuf

    @property
    def active_backend(self) -> BufferKind | None:
        return self.pool.allocator.kind if self.pool else None

    # -- buffers coming back ---------------------------------------------------------------------------

    def return_buffer(self, buffer: Buffer) -> None:
        """Give a frame's buffer back. On the session's own thread it goes straight to the pool; from
        another thread it waits in a queue for that thread, which is woken."""
        if self._connection.on_pump_thread():
            self._recycle(buffer)
            return
        self._returned.put(buffer)
        self._connection.wake()

    def recycle_returned(self) -> None:
        while True:
            try:
                buffer = self._returned.get_nowait()
            except queue.Empty:
                return
            self._recycle(buffer)

    def _recycle(self, buffer: Buffer) -> None:
        if self.pool is not None and not self._closed:
            self.pool.release(buffer)
        else:
            buffer.destroy()

    def has_free_buffer(self) -> bool:
        return self.pool is None or self.pool.free_count > 0

    # -- choosing --------------------------------------------------------------------------------------

    def pool_for(self, constraints: BufferConstraints) -> BufferPool:
        """The pool matching the compositor's constraints, stepping from DMA-BUF down to shm once when
        allocation fails (unless DMA-BUF was required). Allocates: call it outside event handlers."""
        key = (constraints.shm_spec, *constraints.dmabuf_specs, constraints.dmabuf_device)
        if self.pool is not None and self.pool.spec is not None and key == self._settled:
            return self.pool  # the same constraints as last time: nothing to choose (every frame)
        spec, allocator, reason = self._choose(constraints)
        try:
            spec.check(self._options.pool_size)
            pool = self._ensure_pool(spec, allocator)
        except BackendUnavailableError as exc:
            if allocator.kind is not BufferKind.DMABUF or self._options.backend is Backend.DMABUF:
                raise
            self._dmabuf_refused = str(exc)
            log.info("DMA-BUF allocation failed, using shared memory: %s", exc)
            spec, allocator, reason = self._choose(constraints)
            spec.check(self._options.pool_size)
            pool = self._ensure_pool(spec, allocator)
        if isinstance(allocator, DmabufAllocator):  # named once allocated: the node is known then
            reason = f"dmabuf {describe(spec.format)} on {allocator.device.path}"
        pool_spec = pool.spec
        first = pool.buffers[0] if pool.buffers else None
        modifier = first.modifier if isinstance(first, DmabufBuffer) else None
        summary = replace(self.summary, backend=allocator.kind, backend_reason=reason,
                          format=pool_spec.format if pool_spec else None, modifier=modifier)
        if summary != self.summary:
            self.summary = summary
        self._settled = key
        return pool

    def _choose(self, constraints: BufferConstraints) -> tuple[BufferSpec, Allocator, str]:
        backend = self._options.backend
        if backend is not Backend.SHM:
            try:
                spec, allocator = self._dmabuf_choice(constraints)
                return spec, allocator, "dmabuf"
            except BackendUnavailableError as exc:
                if backend is Backend.DMABUF:
                    raise BackendUnavailableError(f"DMA-BUF capture unavailable: {exc}") from None
                if self._dmabuf_refused is None:
                    self._dmabuf_refused = str(exc)
                    log.info("DMA-BUF unavailable, using shared memory: %s", exc)
        shm_spec = constraints.shm_spec
        if shm_spec is None:
            raise BackendUnavailableError("compositor offered no shared-memory buffer for this frame")
        reason = "shm requested" if backend is Backend.SHM else f"shm fallback: {self._dmabuf_refused}"
        return shm_spec, ShmAllocator(self._connection.require("wl_shm", "shared-memory buffers")), reason

    def _dmabuf_choice(self, constraints: BufferConstraints) -> tuple[BufferSpec, Allocator]:
        if self._dmabuf_refused is not None:
            raise BackendUnavailableError(self._dmabuf_refused)
        if not constraints.dmabuf_specs:
            raise BackendUnavailableError("compositor offers no linux_dmabuf buffer for this frame "
                                          "(its renderer cannot write DMA-BUFs, or screencopy < v3)")
        if self._connection.bound.get("zwp_linux_dmabuf_v1") is None:
            raise BackendUnavailableError("compositor doesn't support zwp_linux_dmabuf_v1")
        device = constraints.dmabuf_device
        if self._dmabuf is None:
            self._dmabuf = DmabufAllocator(self._connection, device)
        elif device is not None and device != self._dmabuf.dev and not self._device_change_logged:
            self._device_change_logged = True  # a GPU change mid-stream: rare, and the next stream follows
            log.warning("the compositor now copies on device %d:%d; this stream keeps allocating on %s",
                        os.major(device), os.minor(device), self._dmabuf.device.path)
        refused = []
        for spec in constraints.dmabuf_specs:  # best first: the first the consumer can take too
            # ext sessions name their modifiers; wlr-screencopy leaves them to linux-dmabuf's feedback.
            offered = spec.modifiers or self._dmabuf.modifiers_for(spec.format)
            modifier_filter = self._options.modifier_filter
            modifiers = offered if modifier_filter is None else modifier_filter(spec.format, offered)
            if modifiers:
                return BufferSpec(spec.kind, spec.width, spec.height, spec.format, 0, modifiers), self._dmabuf
            refused.append(f"{describe(spec.format)} ({', '.join(map(describe_modifier, offered)) or 'none'})")
        raise BackendUnavailableError(f"no modifier both the compositor and the consumer accept, for "
                                      f"{'; '.join(refused)}")

    def _ensure_pool(self, spec: BufferSpec, allocator: Allocator) -> BufferPool:
        if self.pool is not None and self.pool.allocator.kind is not allocator.kind:
            old = self.pool
            self.pool = BufferPool(allocator, self._options.pool_size)
            self.pool.buffers_allocated = old.buffers_allocated
            self.pool.reallocations = old.reallocations + 1
            old.destroy()
        if self.pool is None:
            self.pool = BufferPool(allocator, self._options.pool_size)
        self.pool.ensure(spec)
        return self.pool

    def close(self) -> None:
        if self._closed:
            return
        self.recycle_returned()
        self._closed = True
        if self.pool is not None:
            self.pool.destroy()
        if self._dmabuf is not None:
            self._dmabuf.close()
