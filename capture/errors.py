"""Typed errors. Each message names the problem in words a user can act on (grim's style)."""

from __future__ import annotations


class WlcapError(Exception):
    """Base class: anything wlcap reports to a user instead of a traceback."""


class CompositorUnavailableError(WlcapError):
    """No Wayland compositor could be reached."""


class MissingProtocolError(WlcapError):
    """The compositor does not offer a global wlcap needs."""


class UnknownOutputError(WlcapError):
    """No output of the requested name exists (now)."""


class UnknownWindowError(WlcapError):
    """No window matches what was asked for, or the window closed."""


class SourceStoppedError(WlcapError):
    """The compositor stopped the capture session (its output or window went away)."""


class RegionError(WlcapError):
    """A capture region that is malformed or does not lie on its output."""


class BackendUnavailableError(WlcapError):
    """The requested buffer backend (dmabuf, shm) cannot be used with this compositor or machine."""


class CaptureFailedError(WlcapError):
    """The compositor answered a capture with `failed`."""


class ConnectionLostError(WlcapError):
    """The compositor went away or closed the connection with a protocol error."""


class ProtocolStateError(WlcapError):
    """An event arrived that the protocol object's state does not allow, or a handler raised."""
