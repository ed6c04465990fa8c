"""ext-image-copy-capture-v1 protocol objects as explicit state machines.

A session (ext_image_copy_capture_session_v1) lives for the whole stream:

    NEGOTIATING --done--> READY --(buffer_size | shm_format | dmabuf_* ... done)--> READY (renegotiated)
    any live state --stopped--> STOPPED;   any state --destroy--> DESTROYED

Constraints may be sent again at any time; each `done` publishes a new, complete `ExtConstraints`.

A frame (ext_image_copy_capture_frame_v1) is single-use:

    ATTACHING --capture--> CAPTURING --ready--> READY;   ATTACHING/CAPTURING --failed--> FAILED
    any state --destroy--> DESTROYED
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum, auto
from functools import cached_property
from typing import TYPE_CHECKING, Any

from capture.buffers.formats import drm_from_shm, fourcc, lookup
from capture.buffers.spec import Buffer, BufferKind, BufferSpec
from capture.errors import ProtocolStateError
from capture.wayland.display import release_destroyed

if TYPE_CHECKING:
    from capture.wayland.connection import Connection

Rect = tuple[int, int, int, int]  # x, y, width, height in buffer pixels

EXT_OPTIONS_PAINT_CURSORS = 1  # enum ext_image_copy_capture_manager_v1.options


class FailureReason(IntEnum):
    """enum ext_image_copy_capture_frame_v1.failure_reason"""

    UNKNOWN = 0
    BUFFER_CONSTRAINTS = 1
    STOPPED = 2


# Formats wlcap prefers when the compositor offers several, best first: the ones every consumer
# (OBS included) reads natively; and for a source rendered at 10 bits a channel, its own depth first.
_PREFERRED = [fourcc(code) for code in ("XR24", "AR24", "XB24", "AB24")]
_PREFERRED_DEEP = [*(fourcc(code) for code in ("XR30", "XB30", "AR30", "AB30")), *_PREFERRED]
# A cursor image is drawn over the frame: its alpha matters.
PREFERRED_WITH_ALPHA = [fourcc(code) for code in ("AR24", "AB24")]


def _rank(drm_format: int, preferred: list[int]) -> tuple[int, int]:
    return (preferred.index(drm_format) if drm_format in preferred else len(preferred), drm_format)


@dataclass(frozen=True)
class ExtConstraints:
    """One complete set of buffer constraints (everything between two `done` events). Immutable, so
    the specs derived from it are computed once, not at every capture that asks for them."""

    width: int
    height: int
    shm_formats: tuple[int, ...]  # DRM fourccs, in the order offered
    dmabuf_device: int | None  # dev_t
    dmabuf_formats: dict[int, tuple[int, ...]] = field(default_factory=dict)  # fourcc -> modifiers

    @cached_property
    def depth(self) -> int:
        """Bits a channel the source is rendered at, as its shm formats tell: wlroots offers the
        format its renderer reads the source's buffer in (10-bit for a 10-bit output), not more."""
        return max((fmt.depth for fmt in map(lookup, self.shm_formats) if fmt is not None), default=8)

    @cached_property
    def _preferred(self) -> list[int]:
        return _PREFERRED_DEEP if self.depth > 8 else _PREFERRED

    @cached_property
    def shm_spec(self) -> BufferSpec | None:
        return self.shm_spec_preferring(self._preferred)

    def shm_spec_preferring(self, preferred: list[int]) -> BufferSpec | None:
        """A shm buffer in the first of `preferred` offered (else any format wlcap knows)."""
        known = {f: fmt for f in self.shm_formats if (fmt := lookup(f)) is not None}
        if not known:
            return None
        chosen = min(known, key=lambda f: _rank(f, preferred))
        stride = self.width * known[chosen].bytes_per_pixel
        return BufferSpec(BufferKind.SHM, self.width, self.height, chosen, stride)

    @cached_property
    def dmabuf_specs(self) -> list[BufferSpec]:
        """The DMA-BUF layouts offered, best first (the consumer may be unable to take the first)."""
        return [BufferSpec(BufferKind.DMABUF, self.width, self.height, fmt, 0, tuple(sorted(self.dmabuf_formats[fmt])))
                for fmt in sorted(self.dmabuf_formats, key=lambda f: _rank(f, self._preferred))]


class SessionState(Enum):
    NEGOTIATING = auto()
    READY = auto()
    STOPPED = auto()
    DESTROYED = auto()


class ImageCopySession:
    """ext_image_copy_capture_session_v1: collects constraints, reports each complete set and `stopped`."""

    def __init__(self, connection: Connection, proxy: Any,
                 on_constraints: Callable[[ExtConstraints], None], on_stopped: Callable[[], None]) -> None:
        self.proxy = proxy
        self.state = SessionState.NEGOTIATING
        self.constraints: ExtConstraints | None = None
        self.negotiations = 0  # how many `done` events arrived (more than one: renegotiated)
        self._on_constraints = on_constraints
        self._on_stopped = on_stopped
        self._reset_pending()
        guard = connection.guard
        for event in ("buffer_size", "shm_format", "dmabuf_device", "dmabuf_format", "done", "stopped"):
            proxy.dispatcher[event] = guard(getattr(self, f"_handle_{event}"))

    def _reset_pending(self) -> None:
        self._size: tuple[int, int] | None = None
        self._shm: list[int] = []
        self._device: int | None = None
        self._dmabuf: dict[int, tuple[int, ...]] = {}

    def _expect_live(self, event: str) -> None:
        if self.state not in (SessionState.NEGOTIATING, SessionState.READY):
            raise ProtocolStateError(f"ext_image_copy_capture_session_v1.{event} in state {self.state.name}")

    def _handle_buffer_size(self, _proxy: Any, width: int, height: int) -> None:
        self._expect_live("buffer_size")
        self._size = (width, height)

    def _handle_shm_format(self, _proxy: Any, shm_format: int) -> None:
        self._expect_live("shm_format")
        self._shm.append(drm_from_shm(shm_format))

    def _handle_dmabuf_device(self, _proxy: Any, device: bytes) -> None:
        self._expect_live("dmabuf_device")
        self._device = struct.unpack("=Q", device[:8])[0] if len(device) >= 8 else struct.unpack(
            "=I", device[:4])[0]

    def _handle_dmabuf_format(self, _proxy: Any, drm_format: int, modifiers: bytes) -> None:
        self._expect_live("dmabuf_format")
        # wl_array of uint64 modifiers arrives as bytes
        self._dmabuf[drm_format] = tuple(m for (m,) in struct.iter_unpack("=Q", modifiers))

    def _handle_done(self, _proxy: Any) -> None:
        self._expect_live("done")
        if self._size is None:
            raise ProtocolStateError("ext_image_copy_capture_session_v1.done without buffer_size")
        self.constraints = ExtConstraints(self._size[0], self._size[1], tuple(self._shm), self._device,
                                          dict(self._dmabuf))
        self._reset_pending()
        self.state = SessionState.READY
        self.negotiations += 1
        self._on_constraints(self.constraints)

    def _handle_stopped(self, _proxy: Any) -> None:
        if self.state in (SessionState.STOPPED, SessionState.DESTROYED):
            return
        self.state = SessionState.STOPPED
        self._on_stopped()

    def create_frame(self, connection: Connection, on_done: Callable[[ImageCopyFrame], None]) -> ImageCopyFrame:
        if self.state is not SessionState.READY:
            raise ProtocolStateError(f"create_frame on a session in state {self.state.name}")
        return ImageCopyFrame(connection, self.proxy.create_frame(), on_done)

    def destroy(self) -> None:
        if self.state is SessionState.DESTROYED:
            return
        self.state = SessionState.DESTROYED
        if not self.proxy.destroyed:
            self.proxy.destroy()


FRAME_EVENTS = ("transform", "damage", "presentation_time", "ready", "failed")


class ImageCopyFrameState(Enum):
    ATTACHING = auto()
    CAPTURING = auto()
    READY = auto()
    FAILED = auto()
    DESTROYED = auto()


_FRAME_STATE_WORDS = {
    ImageCopyFrameState.ATTACHING: "before wlcap attached a buffer (asked for the capture)",
    ImageCopyFrameState.CAPTURING: "while the frame was being captured",
    ImageCopyFrameState.READY: "after the frame was ready",
    ImageCopyFrameState.FAILED: "after the frame failed",
    ImageCopyFrameState.DESTROYED: "after the frame was destroyed",
}


class ImageCopyFrame:
    """ext_image_copy_capture_frame_v1: one capture into one attached buffer."""

    def __init__(self, connection: Connection, proxy: Any, on_done: Callable[[ImageCopyFrame], None]) -> None:
        self.proxy = proxy
        self.state = ImageCopyFrameState.ATTACHING
        self.buffer: Buffer | None = None
        self.transform = 0  # enum wl_output.transform
        self.damage: list[Rect] = []
        self.timestamp_ns = 0
        self.failure: FailureReason | None = None
        self.negotiation = 0  # which set of constraints (ImageCopySession.negotiations) it was made under
        self.requested_ns = 0  # CLOCK_MONOTONIC when `capture` was sent: the copy's work comes after
        self._on_done = on_done
        guard = connection.guard
        for event in FRAME_EVENTS:
            proxy.dispatcher[event] = guard(getattr(self, f"_handle_{event}"))

    def _expect(self, event: str, *states: ImageCopyFrameState) -> None:
        if self.state not in states:
            raise ProtocolStateError(f"the compositor sent ext_image_copy_capture_frame_v1.{event} out of order: "
                                     f"{_FRAME_STATE_WORDS[self.state]}")

    def capture(self, buffer: Buffer, damage: list[Rect]) -> None:
        """Attach buffer, tell the compositor which parts of it are stale (`damage`), and capture."""
        self._expect("capture", ImageCopyFrameState.ATTACHING)
        self.buffer = buffer
        self.proxy.attach_buffer(buffer.wl_buffer)
        for x, y, w, h in damage:
            self.proxy.damage_buffer(x, y, w, h)
        self.requested_ns = time.monotonic_ns()
        self.proxy.capture()
        self.state = ImageCopyFrameState.CAPTURING

    def _handle_transform(self, _proxy: Any, transform: int) -> None:
        self._expect("transform", ImageCopyFrameState.CAPTURING)
        self.transform = transform

    def _handle_damage(self, _proxy: Any, x: int, y: int, width: int, height: int) -> None:
        self._expect("damage", ImageCopyFrameState.CAPTURING)
        self.damage.append((x, y, width, height))

    def _handle_presentation_time(self, _proxy: Any, sec_hi: int, sec_lo: int, nsec: int) -> None:
        self._expect("presentation_time", ImageCopyFrameState.CAPTURING)
        self.timestamp_ns = ((sec_hi << 32) | sec_lo) * 1_000_000_000 + nsec

    def _handle_ready(self, _proxy: Any) -> None:
        self._expect("ready", ImageCopyFrameState.CAPTURING)
        self.state = ImageCopyFrameState.READY
        self._on_done(self)

    def _handle_failed(self, _proxy: Any, reason: int) -> None:
        self._expect("failed", ImageCopyFrameState.ATTACHING, ImageCopyFrameState.CAPTURING)
        try:
            self.failure = FailureReason(reason)
        except ValueError:
            self.failure = FailureReason.UNKNOWN
        self.state = ImageCopyFrameState.FAILED
        self._on_done(self)

    def destroy(self) -> None:
        """Destroy the protocol object; late events for it are ignored from here on."""
        if self.state is ImageCopyFrameState.DESTROYED:
            return
        self.state = ImageCopyFrameState.DESTROYED
        if not self.proxy.destroyed:
            self.proxy.destroy()
        release_destroyed(self.proxy, FRAME_EVENTS)  # no reference cycle left: the frame goes at once
