"""wlcap's capture library: pooled Wayland screen capture (wlr-screencopy), usable without OBS.

    from capture import CaptureOptions, FrameStream
    with FrameStream(CaptureOptions(output="HEADLESS-1")) as stream:
        frame = stream.get_frame(timeout=1.0)
        ...
        frame.release()
"""

from __future__ import annotations

from .connection import Connection
from .errors import (
    BackendUnavailableError,
    CaptureFailedError,
    CompositorUnavailableError,
    ConnectionLostError,
    MissingProtocolError,
    ProtocolStateError,
    RegionError,
    UnknownOutputError,
    WlcapError,
)
from .outputs import OutputInfo
from .region import Region
from .session import Backend, CaptureOptions, CaptureSession, Frame, capture_one
from .stream import FrameStream, StreamStats, run_stream

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "CaptureFailedError",
    "CaptureOptions",
    "CaptureSession",
    "CompositorUnavailableError",
    "Connection",
    "ConnectionLostError",
    "Frame",
    "FrameStream",
    "MissingProtocolError",
    "OutputInfo",
    "ProtocolStateError",
    "Region",
    "RegionError",
    "StreamStats",
    "UnknownOutputError",
    "WlcapError",
    "capture_one",
    "run_stream",
]
