"""The pointer's cursor over a capture source, captured apart from the frames
(ext_image_copy_capture_cursor_session_v1), so that the consumer draws it, or not, over frames
captured without it: OBS can show or hide the cursor without a second capture.

The cursor session says when the cursor enters or leaves the captured area and where its hotspot is,
in the frames' buffer pixels (it may lie off the frame). The image comes through an image copy
session of its own, which answers a capture only once the image changed, so a cursor that only moves
costs no copy. The hotspot sent with an image takes effect with that image's `ready`.

    seat --capabilities(pointer)--> get_pointer --> create_pointer_cursor_session(source, pointer)
         --> enter / position / hotspot / leave  and  get_capture_session --> frames of the image
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from capture.buffers.shm import ShmAllocator, ShmBuffer
from capture.buffers.spec import Buffer, BufferSpec
from capture.protocol.ext_image_copy import (
    PREFERRED_WITH_ALPHA,
    ExtConstraints,
    FailureReason,
    ImageCopyFrame,
    ImageCopyFrameState,
    ImageCopySession,
    SessionState,
)
from capture.wayland import protocols

if TYPE_CHECKING:
    from capture.wayland.connection import Connection

log = logging.getLogger("wlcap")

WL_SEAT_CAPABILITY_POINTER = 1
SEAT_VERSION = 5  # wl_seat.release; the wl_pointer made from it then has wl_pointer.release (v3)


@dataclass(frozen=True)
class CursorImage:
    width: int
    height: int
    stride: int
    format: int  # DRM fourcc, premultiplied alpha (as every Wayland buffer)
    pixels: bytes
    hotspot_x: int
    hotspot_y: int
    serial: int  # a new image, a new serial


@dataclass(frozen=True)
class CursorState:
    inside: bool  # over the captured area
    x: int  # the hotspot, in the frames' buffer pixels
    y: int
    image: CursorImage | None  # None until the first image was captured

    @property
    def top_left(self) -> tuple[int, int] | None:
        """Where the image's top-left pixel lies in the frame, or None with nothing to draw."""
        if not self.inside or self.image is None:
            return None
        return self.x - self.image.hotspot_x, self.y - self.image.hotspot_y


HIDDEN_CURSOR = CursorState(False, 0, 0, None)


class PointerCursor:
    """The cursor session of the seat's pointer over one capture source, and its image."""

    def __init__(self, connection: Connection, manager: Any, source: Any,
                 on_change: Callable[[CursorState], None]) -> None:
        self._connection = connection
        self._manager = manager
        self._capture_source = source
        self._on_change = on_change
        self.state = HIDDEN_CURSOR
        self.images_captured = 0
        self._pointer: Any = None
        self._proxy: Any = None
        self._session: ImageCopySession | None = None
        self._frame: ImageCopyFrame | None = None
        self._buffer: Buffer | None = None
        self._wanted: BufferSpec | None = None
        self._hotspot = (0, 0)  # sent, effective with the next image
        self._retry_on_move = False
        self._closed = False
        # The cursor session starts once the seat has a pointer (capabilities); until then, and with no
        # seat at all, there is no cursor to capture.
        self._seat = connection.bind_global("wl_seat", protocols.WlSeat, SEAT_VERSION)
        if self._seat is None:
            log.info("compositor has no wl_seat: no cursor to capture")
            return
        self._seat.dispatcher["capabilities"] = connection.guard(self._handle_capabilities)

    # -- the pointer and its cursor session --------------------------------------------------------------

    def _handle_capabilities(self, _seat: Any, capabilities: int) -> None:
        if capabilities & WL_SEAT_CAPABILITY_POINTER and self._pointer is None and not self._closed:
            self._pointer = self._seat.get_pointer()
            self._proxy = self._manager.create_pointer_cursor_session(self._capture_source, self._pointer)
            guard = self._connection.guard
            for event in ("enter", "leave", "position", "hotspot"):
                self._proxy.dispatcher[event] = guard(getattr(self, f"_handle_{event}"))
            self._session = ImageCopySession(self._connection, self._proxy.get_capture_session(),
                                             self._handle_constraints, self._handle_stopped)

    def _handle_enter(self, _proxy: Any) -> None:
        self._publish(inside=True)

    def _handle_leave(self, _proxy: Any) -> None:
        self._publish(inside=False)

    def _handle_position(self, _proxy: Any, x: int, y: int) -> None:
        self._publish(x=x, y=y)
        if self._retry_on_move:
            self._retry_on_move = False
            self._capture()

    def _handle_hotspot(self, _proxy: Any, x: int, y: int) -> None:
        self._hotspot = (x, y)

    def _publish(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        self._on_change(self.state)

    # -- the image ---------------------------------------------------------------------------------------

    def _handle_constraints(self, constraints: ExtConstraints) -> None:
        self._wanted = constraints.shm_spec_preferring(PREFERRED_WITH_ALPHA)
        if self._wanted is None:
            log.info("the cursor image comes in no shm format wlcap reads: the cursor is not captured")
        self._capture()

    def _handle_stopped(self) -> None:
        self._finish_frame()

    def _capture(self) -> None:
        session = self._session
        if self._closed or self._frame is not None or session is None or self._wanted is None:
            return
        if session.state is not SessionState.READY:
            return
        if self._buffer is None or self._buffer.spec != self._wanted:
            if self._buffer is not None:
                self._buffer.destroy()
            wl_shm = self._connection.require("wl_shm", "the cursor image")
            self._buffer = ShmAllocator(wl_shm).allocate(self._wanted, 1)[0]
        spec = self._buffer.spec
        self._frame = session.create_frame(self._connection, self._handle_frame_done)
        self._frame.capture(self._buffer, [(0, 0, spec.width, spec.height)])  # 16 KiB: copy it all

    def _handle_frame_done(self, frame: ImageCopyFrame) -> None:
        ready, failure = frame.state is ImageCopyFrameState.READY, frame.failure
        self._finish_frame()
        buffer = frame.buffer
        if ready and isinstance(buffer, ShmBuffer):  # the cursor's buffers are shm (_capture)
            view = buffer.view()
            try:
                pixels = bytes(view)
            finally:
                view.release()
            spec = buffer.spec
            self.images_captured += 1
            image = CursorImage(spec.width, spec.height, spec.stride, spec.format, pixels, *self._hotspot,
                                serial=self.images_captured)
            self._publish(image=image)
            self._capture()  # answered once the image changes
        elif failure is FailureReason.BUFFER_CONSTRAINTS:
            self._capture()  # new constraints are here or on their way; _capture follows them
        else:
            # wlroots fails with `stopped` while no cursor image is shown; try again once it moves.
            self._retry_on_move = True

    def _finish_frame(self) -> None:
        frame, self._frame = self._frame, None
        if frame is not None:
            frame.destroy()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finish_frame()
        if self._session is not None:
            self._session.destroy()
        if self._proxy is not None and not self._proxy.destroyed:
            self._proxy.destroy()
        # wl_pointer.release (v3) and wl_seat.release (v5) tell the compositor; older ones just forget.
        version = min(self._connection.globals.get("wl_seat", (0, 0))[1], SEAT_VERSION)
        if self._pointer is not None and not self._pointer.destroyed and version >= 3:
            self._pointer.release()
        if self._seat is not None and not self._seat.destroyed and version >= 5:
            self._seat.release()
        if self._buffer is not None:
            self._buffer.destroy()
