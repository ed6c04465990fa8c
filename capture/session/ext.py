"""A capture session over ext-image-copy-capture-v1: an output or a window into a pool of reused buffers.

Unlike wlr-screencopy, one protocol session lives for the whole stream; only frames are per capture.
The compositor answers a capture only once the source changed (except the first), so an unchanged
screen costs no copy at all. Each capture tells the compositor which parts of the reused buffer are
stale (DamageTracker), so a small change is a small copy. Buffers are allocated in `request_frame`,
outside event handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from capture.buffers.damage import DamageTracker, within
from capture.buffers.pool import BufferPool
from capture.buffers.spec import Buffer, BufferKind
from capture.errors import (
    CaptureFailedError,
    RegionError,
    SourceStoppedError,
    UnknownOutputError,
    UnknownWindowError,
    WlcapError,
)
from capture.frame import Frame
from capture.options import CaptureOptions, CaptureProtocol, CursorMode
from capture.protocol.cursor_session import CursorState, PointerCursor
from capture.protocol.ext_image_copy import (
    EXT_OPTIONS_PAINT_CURSORS,
    ExtConstraints,
    FailureReason,
    ImageCopyFrame,
    ImageCopyFrameState,
    ImageCopySession,
    SessionState,
)
from capture.region import Region
from capture.session.interface import SessionSummary
from capture.session.negotiation import BufferNegotiator
from capture.session.target import OutputTarget
from capture.wayland.connection import Connection
from capture.wayland.toplevels import Toplevel, ToplevelList, WindowInfo

log = logging.getLogger("wlcap")

MANAGER = "ext_image_copy_capture_manager_v1"
# buffer_constraints failures in a row (each followed by new constraints) before giving up.
MAX_CONSTRAINT_FAILURES = 3


class ExtSession:
    protocol = CaptureProtocol.EXT
    protocol_name = "ext-image-copy-capture-v1"

    def __init__(self, connection: Connection, options: CaptureOptions,
                 on_frame: Callable[[Frame], None], on_error: Callable[[WlcapError], None],
                 protocol_reason: str = "", on_cursor: Callable[[CursorState], None] | None = None) -> None:
        manager = connection.require(MANAGER, "screen capture")
        self._connection = connection
        self._on_frame = on_frame
        self._on_error = on_error
        self.frames_captured = 0
        self.frames_failed = 0
        self.closed = False
        self._cursor: PointerCursor | None = None
        self._toplevels: ToplevelList | None = None
        self.window: Toplevel | None = None
        self.window_info: WindowInfo | None = None
        self.target: OutputTarget | None = None
        self.crop: Region | None = None  # ext captures whole sources only: the consumer crops
        self._frame: ImageCopyFrame | None = None
        self._damage = DamageTracker()
        self._pool_generation = -1
        self._stopped = False
        self._constraint_failures = 0
        self._await_negotiation = -1  # after a buffer_constraints failure: the negotiation it failed under
        self._source: Any = None
        self._session: ImageCopySession | None = None
        try:
            self._source = self._create_source(connection, options)
            source = (f"window {self.window_info.label!r}" if self.window_info is not None
                      else f"output {self.target.name if self.target else '?'}")
            summary = SessionSummary(source=source, output_name=self.target.name if self.target else "",
                                     protocol=self.protocol_name, protocol_reason=protocol_reason,
                                     cursor_separate=options.cursor_mode is CursorMode.SEPARATE)
            self.buffers = BufferNegotiator(connection, options, summary)
            paint = EXT_OPTIONS_PAINT_CURSORS if options.cursor_mode is CursorMode.PAINTED else 0
            self._session = ImageCopySession(connection, manager.create_session(self._source, paint),
                                             self._handle_constraints_changed, self._handle_stopped)
            if options.cursor_mode is CursorMode.SEPARATE:
                self._cursor = PointerCursor(connection, manager, self._source,
                                             on_cursor or (lambda _state: None))
        except BaseException:
            if self._session is not None:
                self._session.destroy()
            if self.target is not None:
                self.target.close()
            self._destroy_source()
            raise

    def _create_source(self, connection: Connection, options: CaptureOptions) -> Any:
        if options.window is not None:
            if options.region is not None:
                raise RegionError("a region applies to outputs, not to windows")
            manager = connection.require("ext_foreign_toplevel_image_capture_source_manager_v1",
                                         "window capture")
            self._toplevels = ToplevelList(connection)
            self.window = self._toplevels.find(options.window)
            self.window_info = self.window.info()
            self._toplevels.on_closed(self._handle_window_closed)
            return manager.create_source(self.window.proxy)
        manager = connection.require("ext_output_image_capture_source_manager_v1", "output capture")
        self.target = OutputTarget(connection, options.output, options.region, compositor_crops=False,
                                   on_removed=self._handle_output_removed)
        self.crop = self.target.crop
        return manager.create_source(self.target.output.proxy)

    # -- the session interface ---------------------------------------------------------------------------

    @property
    def summary(self) -> SessionSummary:
        return self.buffers.summary

    @property
    def pool(self) -> BufferPool | None:
        return self.buffers.pool

    @property
    def cursor(self) -> PointerCursor | None:
        return self._cursor

    @property
    def source_name(self) -> str:
        if self.window is not None:
            return f"window {self.window.info().label!r}"  # the current title: windows retitle
        return self.summary.source

    @property
    def busy(self) -> bool:
        return self._frame is not None

    @property
    def active_backend(self) -> BufferKind | None:
        return self.buffers.active_backend

    @property
    def negotiations(self) -> int:
        """How many complete sets of constraints arrived (more than one: the pool was renegotiated)."""
        return self._session.negotiations if self._session else 0

    @property
    def constraints(self) -> ExtConstraints | None:
        return self._session.constraints if self._session else None

    def return_buffer(self, buffer: Buffer) -> None:
        self.buffers.return_buffer(buffer)

    def advance(self) -> None:
        """Nothing waits between events here: buffers are allocated in request_frame."""

    def request_frame(self) -> bool:
        self.buffers.recycle_returned()
        session = self._session
        if self.closed or self._stopped or self._frame is not None or session is None:
            return False
        constraints = session.constraints
        if session.state is not SessionState.READY or constraints is None:
            return False  # the first `done` has not arrived; the pump brings it
        if session.negotiations == self._await_negotiation and session.negotiations > 0:
            # A frame failed with buffer_constraints under these constraints: wait for the new ones,
            # unless they came while that frame was in flight (then its negotiation is older).
            return False
        pool = self.buffers.pool
        if pool is not None and pool.free_count == 0 and pool.spec is not None and (
                (constraints.width, constraints.height) == (pool.spec.width, pool.spec.height)):
            return False
        try:
            pool = self.buffers.pool_for(constraints)
        except WlcapError as exc:
            self._on_error(exc)
            return False
        if pool.generation != self._pool_generation:
            self._damage.reset()  # new buffers: their content is unknown
            self._pool_generation = pool.generation
        buffer = pool.acquire()
        if buffer is None:
            return False
        self._frame = session.create_frame(self._connection, self._handle_frame_done)
        self._frame.negotiation = session.negotiations
        self._frame.capture(buffer, self._damage.damage_for(buffer.id, buffer.spec.width, buffer.spec.height))
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.target is not None:
            self.target.close()
        self._finish_frame(recycle=True)
        self.buffers.close()
        if self._cursor is not None:
            self._cursor.close()
        if self._session is not None:
            self._session.destroy()
        self._destroy_source()

    # -- events ------------------------------------------------------------------------------------------

    def _handle_constraints_changed(self, constraints: ExtConstraints) -> None:
        if self._session is not None and self._session.negotiations > 1:
            log.info("%s renegotiated: %dx%d", self.source_name, constraints.width, constraints.height)
        # The pool follows at the next request_frame (`pool_for` reallocates only if the layout changed).
        self._connection.wake()

    def _handle_frame_done(self, frame: ImageCopyFrame) -> None:
        buffer = frame.buffer
        if frame.state is ImageCopyFrameState.READY and buffer is not None:
            self.frames_captured += 1
            self._damage.filled(buffer.id, frame.damage)
            self._constraint_failures = 0
            captured = Frame(
                buffer=buffer, width=buffer.spec.width, height=buffer.spec.height, stride=buffer.stride,
                format=buffer.spec.format, y_invert=False, transform=frame.transform,
                timestamp_ns=frame.timestamp_ns, sequence=self.frames_captured, crop=self.crop,
                damage=within(frame.damage, buffer.spec.width, buffer.spec.height),  # never past the buffer
                requested_ns=frame.requested_ns, _release=self.buffers.return_buffer)
            self._finish_frame()
            self._on_frame(captured)
            return
        if buffer is not None:
            self._damage.forget(buffer.id)  # a failed copy may have left anything in it
        reason = frame.failure
        self._finish_frame(recycle=True)
        if reason is FailureReason.STOPPED:
            self._handle_stopped()
            return
        self.frames_failed += 1
        if reason is FailureReason.BUFFER_CONSTRAINTS:
            # The source changed size or format under the frame: new constraints are on their way (or
            # here already). Not an error: the next frame waits for them and reallocates. Only a
            # compositor that keeps refusing what it asked for is one.
            self._constraint_failures += 1
            if self._constraint_failures <= MAX_CONSTRAINT_FAILURES:
                self._await_negotiation = frame.negotiation
                self._connection.wake()
                return
            self._on_error(CaptureFailedError(f"compositor keeps refusing buffers it asked for ({self.source_name})"))
        else:
            self._on_error(CaptureFailedError(f"compositor failed to capture {self.source_name}"))

    def _finish_frame(self, recycle: bool = False) -> None:
        """Forget the frame in flight; `recycle` gives its buffer (not delivered) back to the pool."""
        frame, self._frame = self._frame, None
        if frame is None:
            return
        if recycle and frame.buffer is not None and self.buffers.pool is not None:
            self.buffers.pool.release(frame.buffer)
        frame.destroy()

    # -- the source going away -----------------------------------------------------------------------------

    def _handle_window_closed(self, toplevel: Toplevel) -> None:
        if toplevel is self.window:
            self._report_stopped(UnknownWindowError(f"window {toplevel.info().label!r} closed"))

    def _handle_output_removed(self, error: UnknownOutputError) -> None:
        self._finish_frame(recycle=True)
        self._on_error(error)

    def _handle_stopped(self) -> None:
        if self.window is not None:
            error: WlcapError = UnknownWindowError(f"window {self.window.info().label!r} closed")
        else:
            error = SourceStoppedError(f"the compositor stopped capturing {self.source_name}")
        self._report_stopped(error)

    def _report_stopped(self, error: WlcapError) -> None:
        if self._stopped:
            return  # `closed`, `stopped` and a frame's `failed` all say it: report it once
        self._stopped = True
        self._finish_frame(recycle=True)
        self._on_error(error)

    def _destroy_source(self) -> None:
        if self._source is not None and not self._source.destroyed:
            self._source.destroy()
        if self._toplevels is not None:
            self._toplevels.destroy()
            self._toplevels = None
