"""One zwlr_screencopy_frame_v1 as an explicit state machine.

    NEGOTIATING --buffer_done (v3) / buffer (v1, v2)--> CONSTRAINTS_KNOWN --copy--> COPYING
    COPYING --ready--> READY;   any live state --failed--> FAILED;   any state --destroy--> DESTROYED

The object is single-use: wlr-screencopy needs a new frame object per capture (it is cheap; the
buffers behind it are what the pool keeps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from capture.buffers.formats import drm_from_shm
from capture.buffers.spec import Buffer, BufferKind, BufferSpec
from capture.errors import ProtocolStateError
from capture.wayland.display import release_destroyed

if TYPE_CHECKING:
    from capture.wayland.connection import Connection

ZWLR_SCREENCOPY_FRAME_V1_FLAGS_Y_INVERT = 1
EVENTS = ("buffer", "linux_dmabuf", "buffer_done", "flags", "damage", "ready", "failed")


class ScreencopyFrameState(Enum):
    NEGOTIATING = auto()
    CONSTRAINTS_KNOWN = auto()
    COPYING = auto()
    READY = auto()
    FAILED = auto()
    DESTROYED = auto()


_STATE_WORDS = {
    ScreencopyFrameState.NEGOTIATING: "before buffer_done",
    ScreencopyFrameState.CONSTRAINTS_KNOWN: "before wlcap attached a buffer (asked for the copy)",
    ScreencopyFrameState.COPYING: "while the frame was being copied",
    ScreencopyFrameState.READY: "after the frame was ready",
    ScreencopyFrameState.FAILED: "after the frame failed",
    ScreencopyFrameState.DESTROYED: "after the frame was destroyed",
}


class ScreencopyFrame:
    def __init__(
        self,
        connection: Connection,
        proxy: Any,
        version: int,
        on_done: Callable[[ScreencopyFrame], None],
    ) -> None:
        self.proxy = proxy
        self.state = ScreencopyFrameState.NEGOTIATING
        self.shm_spec: BufferSpec | None = None
        self.dmabuf_spec: BufferSpec | None = None
        self.flags = 0  # enum zwlr_screencopy_frame_v1.flags
        self.damage: list[tuple[int, int, int, int]] = []
        self.timestamp_ns = 0
        self.requested_ns = 0  # CLOCK_MONOTONIC when `copy` was sent: the copy's work comes after
        self.buffer: Buffer | None = None
        self._on_done = on_done
        # v1 and v2 have no buffer_done: the single `buffer` event is all the negotiation there is.
        self._has_buffer_done = version >= 3
        guard = connection.guard
        for event in EVENTS:
            proxy.dispatcher[event] = guard(getattr(self, f"_handle_{event}"))

    @property
    def dmabuf_specs(self) -> list[BufferSpec]:
        """The DMA-BUF layout offered (wlr-screencopy offers one), as ExtConstraints lists them."""
        return [self.dmabuf_spec] if self.dmabuf_spec is not None else []

    @property
    def dmabuf_device(self) -> int | None:
        """wlr-screencopy names no device: allocate on linux-dmabuf's main device."""
        return None

    @property
    def y_invert(self) -> bool:
        return bool(self.flags & ZWLR_SCREENCOPY_FRAME_V1_FLAGS_Y_INVERT)

    def _expect(self, event: str, *states: ScreencopyFrameState) -> None:
        if self.state not in states:
            raise ProtocolStateError(f"the compositor sent zwlr_screencopy_frame_v1.{event} out of order: "
                                     f"{_STATE_WORDS[self.state]}")

    def _handle_buffer(self, _proxy: Any, shm_format: int, width: int, height: int, stride: int) -> None:
        self._expect("buffer", ScreencopyFrameState.NEGOTIATING)
        self.shm_spec = BufferSpec(BufferKind.SHM, width, height, drm_from_shm(shm_format), stride)
        if not self._has_buffer_done:
            self._constraints_known()

    def _handle_linux_dmabuf(self, _proxy: Any, drm_format: int, width: int, height: int) -> None:
        self._expect("linux_dmabuf", ScreencopyFrameState.NEGOTIATING)
        self.dmabuf_spec = BufferSpec(BufferKind.DMABUF, width, height, drm_format)

    def _handle_buffer_done(self, _proxy: Any) -> None:
        self._expect("buffer_done", ScreencopyFrameState.NEGOTIATING)
        self._constraints_known()

    def _constraints_known(self) -> None:
        # The owner notices the state after this dispatch and allocates then, outside the handler.
        self.state = ScreencopyFrameState.CONSTRAINTS_KNOWN

    def copy(self, buffer: Buffer, with_damage: bool) -> None:
        self._expect("copy", ScreencopyFrameState.CONSTRAINTS_KNOWN)
        self.buffer = buffer
        self.requested_ns = time.monotonic_ns()
        if with_damage:
            self.proxy.copy_with_damage(buffer.wl_buffer)
        else:
            self.proxy.copy(buffer.wl_buffer)
        self.state = ScreencopyFrameState.COPYING

    def _handle_flags(self, _proxy: Any, flags: int) -> None:
        self._expect("flags", ScreencopyFrameState.COPYING)
        self.flags = flags

    def _handle_damage(self, _proxy: Any, x: int, y: int, width: int, height: int) -> None:
        self._expect("damage", ScreencopyFrameState.COPYING)
        self.damage.append((x, y, width, height))

    def _handle_ready(self, _proxy: Any, sec_hi: int, sec_lo: int, nsec: int) -> None:
        self._expect("ready", ScreencopyFrameState.COPYING)
        self.timestamp_ns = ((sec_hi << 32) | sec_lo) * 1_000_000_000 + nsec
        self.state = ScreencopyFrameState.READY
        self._on_done(self)

    def _handle_failed(self, _proxy: Any) -> None:
        self._expect("failed", ScreencopyFrameState.NEGOTIATING, ScreencopyFrameState.CONSTRAINTS_KNOWN,
                     ScreencopyFrameState.COPYING)
        self.state = ScreencopyFrameState.FAILED
        self._on_done(self)

    def destroy(self) -> None:
        """Destroy the protocol object; from here on the frame is inert (late events are ignored)."""
        if self.state is ScreencopyFrameState.DESTROYED:
            return
        self.state = ScreencopyFrameState.DESTROYED
        if not self.proxy.destroyed:
            self.proxy.destroy()
        release_destroyed(self.proxy, EVENTS)  # no reference cycle left: the frame goes at once
