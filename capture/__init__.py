"""wlcap's capture library: pooled Wayland screen capture (ext-image-copy-capture-v1, wlr-screencopy),
usable without OBS.

    from capture import CaptureOptions, FrameStream
    with FrameStream(CaptureOptions(output="HEADLESS-1")) as stream:
        frame = stream.get_frame(timeout=1.0)
        ...
        frame.release()
"""

from __future__ import annotations

from .connection import Connection
from .cursor import CursorImage, CursorState
from .errors import (
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
from .outputs import OutputInfo
from .protocol_choice import open_session
from .region import Region
from .session import Backend, CaptureOptions, CaptureProtocol, CaptureSession, CursorMode, Frame, capture_one
from .stream import FrameStream, StreamStats, run_stream
from .toplevels import WindowInfo

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
