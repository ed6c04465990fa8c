"""What every capture session offers, whichever protocol it speaks, and the summary it publishes.

Two adapters implement it (session/wlr.py, session/ext.py); the stream, the CLI and the OBS controller
use only this interface, never a protocol's own objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from capture.buffers.spec import Buffer, BufferKind

if TYPE_CHECKING:
    from capture.buffers.pool import BufferPool
    from capture.options import CaptureProtocol
    from capture.protocol.cursor_session import PointerCursor


@dataclass(frozen=True)
class SessionSummary:
    """How a session captures, in one immutable object: the session replaces it when something changes
    (protocol chosen, pool allocated or renegotiated), so any thread reads a consistent whole."""

    source: str  # what is captured, in words ("output HEADLESS-1", "window 'foot'")
    output_name: str  # the output captured ("" for a window)
    protocol: str  # the protocol's name
    protocol_reason: str  # why it was chosen
    backend: BufferKind | None = None  # None until the first buffers are allocated
    backend_reason: str = ""
    format: int | None = None  # DRM fourcc of the pool's buffers
    modifier: int | None = None  # DMA-BUF only
    cursor_separate: bool = False  # the cursor comes apart from the frames (a cursor session)
    cursor_note: str = ""  # how the cursor mode asked for could not be met


class CaptureSession(Protocol):
    """A capture of one output or window into a pool of reused buffers, on its connection's thread."""

    protocol: CaptureProtocol
    protocol_name: str
    frames_captured: int
    frames_failed: int

    @property
    def summary(self) -> SessionSummary: ...

    @property
    def pool(self) -> BufferPool | None: ...

    @property
    def cursor(self) -> PointerCursor | None: ...

    @property
    def source_name(self) -> str: ...

    @property
    def busy(self) -> bool:
        """Whether a capture is in flight."""
        ...

    @property
    def active_backend(self) -> BufferKind | None: ...

    def request_frame(self) -> bool:
        """Start capturing the next frame if none is in flight and a buffer is free."""
        ...

    def advance(self) -> None:
        """Do what the last events asked for, outside event handlers (allocate, start a copy): the
        session's loop calls it after every dispatch."""
        ...

    def return_buffer(self, buffer: Buffer) -> None:
        """Give a frame's buffer back (any thread)."""
        ...

    def close(self) -> None: ...
