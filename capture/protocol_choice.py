"""Which capture protocol a session speaks: ext-image-copy-capture-v1 where the compositor offers it
(it is what wlr-screencopy was deprecated for), wlr-screencopy otherwise; the caller may insist on
either. The choice and its reason are kept on the session, for the CLI and the OBS status line."""

from __future__ import annotations

from collections.abc import Callable

from .connection import Connection
from .cursor import CursorState
from .errors import MissingProtocolError, WlcapError
from .ext_session import ExtCaptureSession
from .session import CaptureOptions, CaptureProtocol, CaptureSession, Frame

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
        return ExtCaptureSession(connection, options, on_frame, on_error, reason, on_cursor)
    return CaptureSession(connection, options, on_frame, on_error, reason)
