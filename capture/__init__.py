"""wlcap's capture library: pooled Wayland screen capture (ext-image-copy-capture-v1, wlr-screencopy),
usable without OBS.

    from capture import CaptureOptions, FrameStream
    with FrameStream(CaptureOptions(output="HEADLESS-1")) as stream:
        frame = stream.get_frame(timeout=1.0)
        ...
        frame.release()
"""

from __future__ import annotations

from capture.errors import (
    BackendUnavailableError,
    CaptureFailedError,
    CompositorUnavailableError,
    ConnectionLostError,
    MissingProtocolError,
    ProtocolStateError,
    RegionError,
    SourceStoppedError,
    UnknownOutputError,
    UnknownWindowError,
    WlcapError,
)
from capture.frame import Frame
from capture.options import Backend, CaptureOptions, CaptureProtocol, CursorMode
from capture.protocol.cursor_session import CursorImage, CursorState
from capture.region import Region
from capture.session.interface import CaptureSession, SessionSummary
from capture.session.open import capture_one, open_session
from capture.stream import FrameStream, StreamStats, run_stream
from capture.wayland.connection import Connection
from capture.wayland.outputs import OutputInfo
from capture.wayland.toplevels import WindowInfo

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "CaptureFailedError",
    "CaptureOptions",
    "CaptureProtocol",
    "CaptureSession",
    "CompositorUnavailableError",
    "Connection",
    "ConnectionLostError",
    "CursorImage",
    "CursorMode",
    "CursorState",
    "Frame",
    "FrameStream",
    "MissingProtocolError",
    "OutputInfo",
    "ProtocolStateError",
    "Region",
    "RegionError",
    "SessionSummary",
    "SourceStoppedError",
    "StreamStats",
    "UnknownOutputError",
    "UnknownWindowError",
    "WindowInfo",
    "WlcapError",
    "capture_one",
    "open_session",
    "run_stream",
]
