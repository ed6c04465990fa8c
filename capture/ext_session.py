"""A capture session over ext-image-copy-capture-v1: an output or a window into a pool of reused buffers.

Unlike wlr-screencopy, one protocol session lives for the whole stream; only frames are per capture.
The compositor answers a capture only once the source changed (except the first), so an unchanged
screen costs no copy at all. Each capture tells the compositor which parts of the reused buffer are
stale (DamageTracker), so a small change is a small copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .connection import Connection
from .cursor import CursorState, PointerCursor
from .damage import DamageTracker
from .errors import (
    CaptureFailedError,
    RegionError,
    SourceStoppedError,
    UnknownWindowError,
    WlcapError,
)
from .ext_capture import (
    EXT_OPTIONS_PAINT_CURSORS,
    ExtConstraints,
    FailureReason,
    FrameState,
    ImageCopyFrame,
    ImageCopySession,
    SessionState,
)
from .session import CaptureOptions, CaptureProtocol, CaptureSession, CursorMode, Frame
from .toplevels import Toplevel, ToplevelList, WindowInfo

log = logging.getLogger("wlcap")

# buffer_constraints failures in a row (each followed by new constraints) before giving up.
MAX_CONSTRAINT_FAILURES = 3


class ExtCaptureSession(CaptureSession):
    protocol = CaptureProtocol.EXT
    protocol_name = "ext-image-copy-capture-v1"

    def __init__(self, connection: Connection, options: CaptureOptions,
                 on_frame: Callable[[Frame], None], on_error: Callable[[WlcapError], None],
                 protocol_reason: str = "", on_cursor: Callable[[CursorState], None] | None = None) -> None:
        manager = connection.require("ext_image_copy_capture_manager_v1", "screen capture")
        self._init_common(connection, options, on_frame, on_error, protocol_reason)
        self._toplevels: ToplevelList | None = None
        self.window: Toplevel | None = None
        self.window_info: WindowInfo | None = None
        self._frame: ImageCopyFrame | None = None  # type: ignore[assignment]
        self._damage = DamageTracker()
        self._pool_generation = -1
        self._stopped = False
        self._constraint_failures = 0
        self._await_negotiation = -1  # after a buffer_constraints failure: the negotiation it failed under
        self._source: Any = None
        try:
            self._source = self._create_source(connection, options)
            paint = EXT_OPTIONS_PAINT_CURSORS if options.cursor_mode is CursorMode.PAINTED else 0
            self._session = ImageCopySession(connection, manager.create_session(self._source, paint),
                                             self._handle_constraints_changed, self._handle_stopped)
        except BaseException:
            self._destroy_source()
            raise
        if options.cursor_mode is CursorMode.SEPARATE:
            try:
                self.cursor = PointerCursor(connection, manager, self._source, on_cursor or (lambda _state: None))
            except BaseException:
                self.close()
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
            self._unsubscribe = self._toplevels.on_closed(self._handle_window_closed)
            self.output_info = None  # type: ignore[assignment]
            self.compositor_region, self.crop = None, None
            return manager.create_source(self.window.proxy)
        manager = connection.require("ext_output_image_capture_source_manager_v1", "output capture")
        self._init_output(connection, options)
        # ext captures whole sources only: a region is always cropped by the consumer.
        self.compositor_region, self.crop = None, options.region
        return manager.create_source(self.output.proxy)

    @property
    def source_name(self) -> str:
        if self.window is not None:
            return f"window {self.window.info().label!r}"  # the current title: windows retitle
        return super().source_name

    @property
    def negotiations(self) -> int:
        """How many complete sets of constraints arrived (more than one: the pool was renegotiated)."""
        return self._session.negotiations

    @property
    def constraints(self) -> ExtConstraints | None:
        return self._session.constraints

    # -- capture ------------------------------------------------------------------------------------------

    def request_frame(self) -> bool:
        self._recycle_returned()
        if self.closed or self._stopped or self._frame is not None:
            return False
        constraints = self._session.constraints
        if self._session.state is not SessionState.READY or constraints is None:
            return False  # the first `done` has not arrived; the pump brings it
        if self._session.negotiations == self._await_negotiation and self._session.negotiations > 0:
            # A frame failed with buffer_constraints under these constraints: wait for the new ones,
            # unless they came while that frame was in flight (then its negotiation is older).
            return False
        if self.pool is not None and self.pool.free_count == 0 and self.pool.spec is not None and (
                self._spec_key(constraints) == self._spec_key_of_pool()):
            return False
        try:
            pool = self._pool_for(constraints)
        except WlcapError as exc:
            self._on_error(exc)
            return False
        if pool.generation != self._pool_generation:
            self._damage.reset()  # new buffers: their content is unknown
            self._pool_generation = pool.generation
        buffer = pool.acquire()
        if buffer is None:
            return False
        self._frame = self._session.create_frame(self.connection, self._handle_frame_done)
        self._frame.negotiation = self._session.negotiations
        self._frame.capture(buffer, self._damage.damage_for(buffer.id, buffer.spec.width, buffer.spec.height))
        return True

    @staticmethod
    def _spec_key(constraints: ExtConstraints) -> tuple[int, int]:
        return (constraints.width, constraints.height)

    def _spec_key_of_pool(self) -> tuple[int, int]:
        spec = self.pool.spec if self.pool is not None else None
        return (spec.width, spec.height) if spec is not None else (-1, -1)

    def _handle_constraints_changed(self, constraints: ExtConstraints) -> None:
        if self._session.negotiations > 1:
            log.info("%s renegotiated: %dx%d", self.source_name, constraints.width, constraints.height)
        # The pool follows at the next request_frame (`ensure` reallocates only if the layout changed).
        self.connection.wake()

    def _handle_frame_done(self, frame: ImageCopyFrame) -> None:
        buffer = frame.buffer
        if frame.state is FrameState.READY and buffer is not None:
            self.frames_captured += 1
            self._damage.filled(buffer.id, frame.damage)
            self._constraint_failures = 0
            captured = Frame(
                buffer=buffer, width=buffer.spec.width, height=buffer.spec.height, stride=buffer.stride,
                format=buffer.spec.format, y_invert=False, transform=frame.transform,
                timestamp_ns=frame.timestamp_ns, damage=list(frame.damage), sequence=self.frames_captured,
                crop=self.crop, requested_ns=frame.requested_ns, _release=self.return_buffer)
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
                self.connection.wake()
                return
            self._on_error(CaptureFailedError(f"compositor keeps refusing buffers it asked for ({self.source_name})"))
        else:
            self._on_error(CaptureFailedError(f"compositor failed to capture {self.source_name}"))

    # -- the source going away -----------------------------------------------------------------------------

    def _handle_window_closed(self, toplevel: Toplevel) -> None:
        if toplevel is self.window:
            self._report_stopped(UnknownWindowError(f"window {toplevel.info().label!r} closed"))

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

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        if self.cursor is not None:
            self.cursor.close()
        self._session.destroy()
        self._destroy_source()

    def _destroy_source(self) -> None:
        if self._source is not None and not self._source.destroyed:
            self._source.destroy()
        if self._toplevels is not None:
            self._toplevels.destroy()
            self._toplevels = None
