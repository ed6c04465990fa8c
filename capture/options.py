"""What to capture and how: the options a session is opened with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from capture.region import Region


class Backend(Enum):
    AUTO = "auto"
    DMABUF = "dmabuf"
    SHM = "shm"


class CaptureProtocol(Enum):
    """Which capture protocol to speak: `auto` prefers ext-image-copy-capture-v1 where offered."""

    AUTO = "auto"
    EXT = "ext"
    WLR = "wlr"


class CursorMode(Enum):
    HIDDEN = "hidden"
    PAINTED = "painted"  # the compositor paints the cursor into each frame
    # Frames without the cursor, and the cursor (position, hotspot, image) apart, for the consumer to
    # draw or not (ext-image-copy-capture-v1's cursor session; wlr-screencopy, which has none, does
    # what CaptureOptions.separate_cursor_fallback says).
    SEPARATE = "separate"


@dataclass(frozen=True)
class CaptureOptions:
    output: str | None = None
    region: Region | None = None
    cursor: bool | CursorMode = False  # True: PAINTED, False: HIDDEN
    # What wlr-screencopy, which has no cursor session, does for CursorMode.SEPARATE: PAINTED (show
    # it) or HIDDEN (a consumer that would not draw it now).
    separate_cursor_fallback: CursorMode = CursorMode.PAINTED
    backend: Backend = Backend.AUTO
    # copy_with_damage: the compositor answers only once the screen changed (a static screen never
    # answers), and reports what changed.
    with_damage: bool = False
    pool_size: int = 3
    # Narrows the DMA-BUF modifiers the compositor offers for a format to those the consumer can
    # import (OBS's renderer); an empty result rules DMA-BUF out for that format.
    modifier_filter: Callable[[int, tuple[int, ...]], tuple[int, ...]] | None = None
    protocol: CaptureProtocol = CaptureProtocol.AUTO
    # Pacing: a stream starts a capture at most this often (the consumer's frame rate: capturing
    # faster only makes frames to drop). None: as fast as frames are taken.
    max_fps: float | None = None
    # A window to capture instead of an output (ext only): its identifier, app id or title (see
    # ToplevelList.find).
    window: str | None = None

    @property
    def cursor_mode(self) -> CursorMode:
        if isinstance(self.cursor, CursorMode):
            return self.cursor
        return CursorMode.PAINTED if self.cursor else CursorMode.HIDDEN
