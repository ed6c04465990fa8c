"""Which capture protocol a session speaks: ext-image-copy-capture-v1 where the compositor offers it
(it is what wlr-screencopy was deprecated for), wlr-screencopy otherwise; the caller may insist on
either. The choice and its reason are kept on the session, for the CLI and the OBS status line."""

from __future__ import annotations

import time
from collections.abc import Callable

from capture.errors import CaptureFailedError, MissingProtocolError, WlcapError
from capture.frame import Frame
from capture.options import CaptureOptions, CaptureProtocol
from capture.protocol.cursor_session import CursorState
from capture.session.ext import ExtSession
from capture.session.interface import CaptureSession
from capture.session.wlr import WlrSession
from capture.wayland.connection import Connection

EXT_MANAGER = "ext_image_copy_capture_manager_v1"
EXT_OUTPUT_SOURCES = "ext_output_image_capture_source_manager_v1"
EXT_WINDOW_SOURCES = "ext_foreign_toplevel_image_capture_source_manager_v1"
WLR_MANAGER = "zwlr_screencopy_manager_v1"


def ext_globals_for(options: CaptureOptions) -> tuple[str, ...]:
    sources = EXT_WINDOW_SOURCES if options.window is not None else EXT_OUTPUT_SOURCES
    return (EXT_MANAGER, sources)


def choose(connection: Connection, options: CaptureOptions) -> tuple[CaptureProtocol, str]:
    """The protocol for these options on this compositor, and why; MissingProtocolError if none fits."""
    needed = ext_globals_for(options)
    missing = [name for name in needed if name not in connection.bound]
    target = "window capture" if options.window is not None else "output capture"
    if options.protocol is CaptureProtocol.WLR:
        return CaptureProtocol.WLR, "requested"  # a window or cursor session then fails, saying why
    if options.protocol is CaptureProtocol.EXT or options.window is not None:
        if missing:
            raise MissingProtocolError(f"compositor doesn't support {', '.join(missing)} (needed for {target} "
                                       "with ext-image-copy-capture-v1)")
        return CaptureProtocol.EXT, "requested" if options.protocol is CaptureProtocol.EXT else "window capture"
    if not missing:
        return CaptureProtocol.EXT, "offered by the compositor"
    if WLR_MANAGER not in connection.bound:
        raise MissingProtocolError(
            f"compositor doesn't support {WLR_MANAGER} nor ext-image-copy-capture-v1 (needed for screen capture)")
    return CaptureProtocol.WLR, f"fallback: {', '.join(missing)} not offered"


def open_session(connection: Connection, options: CaptureOptions, on_frame: Callable[[Frame], None],
                 on_error: Callable[[WlcapError], None],
                 on_cursor: Callable[[CursorState], None] | None = None) -> CaptureSession:
    """A session for `options`; `on_cursor` hears of the cursor in CursorMode.SEPARATE (ext only)."""
    protocol, reason = choose(connection, options)
    if protocol is CaptureProtocol.EXT:
        return ExtSession(connection, options, on_frame, on_error, reason, on_cursor)
    return WlrSession(connection, options, on_frame, on_error, reason)


def capture_one(connection: Connection, options: CaptureOptions, timeout: float = 5.0) -> tuple[
        CaptureSession, Frame]:
    """Capture a single frame synchronously (screenshots). The caller closes the session after
    releasing the frame."""
    frames: list[Frame] = []
    errors: list[WlcapError] = []
    session = open_session(connection, options, frames.append, errors.append)
    try:
        deadline = time.monotonic() + timeout
        while not frames and not errors:
            session.advance()
            session.request_frame()  # an ext session can start only once its constraints arrived
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failed = (f": the compositor failed all {session.frames_failed} frames asked for"
                          if session.frames_failed else "")
                raise CaptureFailedError(f"no frame from {session.source_name} within {timeout:g} s{failed}")
            connection.pump(remaining)
        if errors:
            raise errors[0]
        return session, frames[0]
    except BaseException:
        session.close()
        raise
