"""A capture session over wlr-screencopy: frames of one output (or a region of it) into a pool of
reused buffers.

wlr-screencopy needs a new frame object per capture. Its constraints arrive in `buffer_done`; the
handler only notes them, and `advance` (called by the session's loop, outside event handlers)
allocates and starts the copy. At most one frame is in flight, and only when the pool has a free
buffer, so a consumer that holds frames slows capture down instead of making the pool grow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from capture.buffers.damage import within
from capture.buffers.pool import BufferPool
from capture.buffers.spec import Buffer, BufferKind
from capture.errors import (
    CaptureFailedError,
    MissingProtocolError,
    ProtocolStateError,
    UnknownOutputError,
    WlcapError,
)
from capture.frame import Frame
from capture.options import CaptureOptions, CaptureProtocol, CursorMode
from capture.protocol.cursor_session import PointerCursor
from capture.protocol.wlr_screencopy import ScreencopyFrame, ScreencopyFrameState
from capture.session.interface import SessionSummary
from capture.session.negotiation import BufferNegotiator
from capture.session.target import OutputTarget
from capture.wayland.connection import Connection

log = logging.getLogger("wlcap")

MANAGER = "zwlr_screencopy_manager_v1"


class WlrSession:
    protocol = CaptureProtocol.WLR
    protocol_name = "wlr-screencopy-unstable-v1"

    def __init__(self, connection: Connection, options: CaptureOptions,
                 on_frame: Callable[[Frame], None], on_error: Callable[[WlcapError], None],
                 protocol_reason: str = "") -> None:
        if options.window is not None:
            raise MissingProtocolError("window capture needs ext-image-copy-capture-v1; "
                                       "wlr-screencopy captures outputs only")
        self._manager = connection.require(MANAGER, "screen capture")
        self._version = connection.version(MANAGER)
        self._connection = connection
        self._options = options
        self._on_frame = on_frame
        self._on_error = on_error
        self.frames_captured = 0
        self.frames_failed = 0
        self.closed = False
        self._frame: ScreencopyFrame | None = None
        # Until the compositor has once sent buffer_done (v3), a round trip after each capture_output
        # checks that it does: else the frame would wait for it for ever.
        self._buffer_done_seen = self._version < 3
        self.target = OutputTarget(connection, options.output, options.region, compositor_crops=True,
                                   on_removed=self._handle_output_removed)
        mode = options.cursor_mode
        cursor_note = ""
        if mode is CursorMode.SEPARATE:
            mode = options.separate_cursor_fallback
            shown = "painted into frames" if mode is CursorMode.PAINTED else "left out of frames"
            cursor_note = f"{shown}: a separate cursor needs ext-image-copy-capture-v1"
            log.info("cursor %s", cursor_note)
        self._paint_cursor = mode is CursorMode.PAINTED
        summary = SessionSummary(source=f"output {self.target.name}", output_name=self.target.name,
                                 protocol=self.protocol_name, protocol_reason=protocol_reason,
                                 cursor_note=cursor_note)
        self.buffers = BufferNegotiator(connection, options, summary)

    # -- the session interface ---------------------------------------------------------------------------

    @property
    def summary(self) -> SessionSummary:
        return self.buffers.summary

    @property
    def pool(self) -> BufferPool | None:
        return self.buffers.pool

    @property
    def cursor(self) -> PointerCursor | None:
        return None  # wlr-screencopy has no cursor session

    @property
    def source_name(self) -> str:
        return self.summary.source

    @property
    def busy(self) -> bool:
        return self._frame is not None

    @property
    def active_backend(self) -> BufferKind | None:
        return self.buffers.active_backend

    def return_buffer(self, buffer: Buffer) -> None:
        self.buffers.return_buffer(buffer)

    def request_frame(self) -> bool:
        self.buffers.recycle_returned()
        if self.closed or self._frame is not None or not self.buffers.has_free_buffer():
            return False
        cursor = 1 if self._paint_cursor else 0
        region = self.target.compositor_region
        if region is None:
            proxy = self._manager.capture_output(cursor, self.target.output.proxy)
        else:
            x, y, w, h = region.to_logical(self.target.info)
            proxy = self._manager.capture_output_region(cursor, self.target.output.proxy, x, y, w, h)
        frame = self._frame = ScreencopyFrame(self._connection, proxy, self._version, self._handle_done)
        if not self._buffer_done_seen:
            self._connection.sync(lambda: self._check_negotiated(frame))
        return True

    def _check_negotiated(self, frame: ScreencopyFrame) -> None:
        """The compositor answered a round trip sent after capture_output. wlr-screencopy sends a
        frame's buffer events and buffer_done as it creates the frame: they came first, or never will."""
        if frame.state in (ScreencopyFrameState.FAILED, ScreencopyFrameState.DESTROYED):
            return  # gone before it told anything
        if frame.state is not ScreencopyFrameState.NEGOTIATING:
            self._buffer_done_seen = True
        elif frame is self._frame:
            raise ProtocolStateError(f"the compositor never sent zwlr_screencopy_frame_v1.buffer_done for "
                                     f"{self.source_name}: it never said which buffer to copy into")

    def advance(self) -> None:
        """Start the copy of a frame whose constraints arrived: allocation happens here, outside the
        event handler, where a DMA-BUF allocator may wait for the compositor."""
        frame = self._frame
        if frame is None or frame.state is not ScreencopyFrameState.CONSTRAINTS_KNOWN or self.closed:
            return
        try:
            buffer = self.buffers.pool_for(frame).acquire()
            if buffer is None:  # request_frame checked; a rebuild leaves all new buffers free
                raise WlcapError("no free capture buffer")
            frame.copy(buffer, self._options.with_damage)
        except WlcapError as exc:
            self._finish_frame(recycle=True)
            self._on_error(exc)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.target.close()
        self._finish_frame(recycle=True)
        self.buffers.close()

    # -- frame events ------------------------------------------------------------------------------------

    def _handle_done(self, frame: ScreencopyFrame) -> None:
        buffer = frame.buffer
        if frame.state is ScreencopyFrameState.READY and buffer is not None:
            self.frames_captured += 1
            region = self.target.compositor_region
            # wlroots reports the output's damage, not the region's; and damage is clipped to the
            # buffer, so that no consumer is sent to read past it, whatever the compositor said.
            x0, y0 = (region.x, region.y) if region is not None else (0, 0)
            damage = within(frame.damage, buffer.spec.width, buffer.spec.height, x0, y0)
            captured = Frame(
                buffer=buffer, width=buffer.spec.width, height=buffer.spec.height, stride=buffer.stride,
                format=buffer.spec.format, y_invert=frame.y_invert, transform=self.target.info.transform,
                timestamp_ns=frame.timestamp_ns, damage=damage, sequence=self.frames_captured,
                crop=self.target.crop, requested_ns=frame.requested_ns, _release=self.buffers.return_buffer)
            self._finish_frame()
            self._on_frame(captured)
            return
        self.frames_failed += 1
        self._finish_frame(recycle=True)
        self._on_error(CaptureFailedError(f"compositor failed to capture {self.source_name}"))

    def _finish_frame(self, recycle: bool = False) -> None:
        """Forget the frame in flight; `recycle` gives its buffer (not delivered) back to the pool."""
        frame, self._frame = self._frame, None
        if frame is None:
            return
        if recycle and frame.buffer is not None and self.buffers.pool is not None:
            self.buffers.pool.release(frame.buffer)
        frame.destroy()

    def _handle_output_removed(self, error: UnknownOutputError) -> None:
        self._finish_frame(recycle=True)
        self._on_error(error)
