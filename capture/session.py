"""A capture session: frames of one output (or a region of it) into a pool of reused buffers.

The session runs on the thread that owns its Connection. It starts at most one frame at a time and
only when the pool has a free buffer, so a consumer that holds frames slows capture down instead of
making the pool grow. Buffers come back through `return_buffer`, which any thread may call.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from .buffers import Buffer, BufferKind, BufferSpec
from .connection import Connection
from .dmabuf import DmabufAllocator, read_dmabuf
from .errors import (
    BackendUnavailableError,
    CaptureFailedError,
    MissingProtocolError,
    UnknownOutputError,
    WlcapError,
)
from .ext_capture import ExtConstraints
from .formats import describe, describe_modifier
from .outputs import Output, OutputInfo
from .pool import Allocator, BufferPool
from .region import Region
from .screencopy import FrameState, ScreencopyFrame
from .shm import ShmAllocator

if TYPE_CHECKING:
    from .cursor import PointerCursor

log = logging.getLogger("wlcap")


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


@dataclass
class Frame:
    """A captured frame. The consumer must call `release` (or use `with`) to give the buffer back."""

    buffer: Buffer
    width: int
    height: int
    stride: int
    format: int  # DRM fourcc
    y_invert: bool
    transform: int  # enum wl_output.transform of the output at capture time
    timestamp_ns: int  # the compositor's presentation clock
    damage: list[tuple[int, int, int, int]]
    sequence: int
    # Part of the upright frame to show, where the compositor captured more than the region asked for
    # (see CaptureSession.compositor_region); None: all of it.
    crop: Region | None = None
    # CLOCK_MONOTONIC when the copy was asked for: a fence that signalled later ended the copy's work.
    requested_ns: int = 0
    _release: Callable[[Buffer], None] | None = field(default=None, repr=False)

    @property
    def kind(self) -> BufferKind:
        return self.buffer.kind

    def view(self) -> memoryview:
        """The pixels of a shm frame (stride * height bytes)."""
        view = getattr(self.buffer, "view", None)
        if view is None:
            raise WlcapError("only shm frames can be read directly; use read_pixels for a DMA-BUF frame")
        return view()  # type: ignore[no-any-return]

    def read_pixels(self) -> bytes:
        """A copy of the pixels (stride * height bytes), shm or LINEAR DMA-BUF alike."""
        if self.kind is BufferKind.DMABUF:
            return read_dmabuf(self.buffer)
        view = self.view()
        try:
            return bytes(view)
        finally:
            view.release()

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release(self.buffer)

    def __enter__(self) -> Frame:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class CaptureSession:
    """A wlr-screencopy session (ExtCaptureSession, its subclass, speaks ext-image-copy-capture)."""

    protocol = CaptureProtocol.WLR
    protocol_name = "wlr-screencopy-unstable-v1"

    def __init__(self, connection: Connection, options: CaptureOptions,
                 on_frame: Callable[[Frame], None], on_error: Callable[[WlcapError], None],
                 protocol_reason: str = "") -> None:
        if options.window is not None:
            raise MissingProtocolError("window capture needs ext-image-copy-capture-v1; "
                                       "wlr-screencopy captures outputs only")
        self.manager = connection.require("zwlr_screencopy_manager_v1", "screen capture")
        self.window = None  # wlr-screencopy captures outputs only
        self._init_common(connection, options, on_frame, on_error, protocol_reason)
        self._init_output(connection, options)
        mode = options.cursor_mode
        if mode is CursorMode.SEPARATE:
            mode = options.separate_cursor_fallback
            shown = "painted into frames" if mode is CursorMode.PAINTED else "left out of frames"
            self.cursor_note = f"{shown}: a separate cursor needs ext-image-copy-capture-v1"
            log.info("cursor %s", self.cursor_note)
        self._paint_cursor = mode is CursorMode.PAINTED

    def _init_common(self, connection: Connection, options: CaptureOptions, on_frame: Callable[[Frame], None],
                     on_error: Callable[[WlcapError], None], protocol_reason: str) -> None:
        self.connection = connection
        self.options = options
        self._on_frame = on_frame
        self._on_error = on_error
        self.protocol_reason = protocol_reason  # why this protocol was chosen, for the user
        self.cursor_note = ""  # how the cursor mode asked for could not be met, for the user
        self.cursor: PointerCursor | None = None  # the cursor captured apart (ext, CursorMode.SEPARATE)
        self._unsubscribe: Callable[[], None] = lambda: None
        self.pool: BufferPool | None = None
        self._dmabuf: DmabufAllocator | None = None
        self._dmabuf_refused: str | None = None  # why DMA-BUF was given up (logged once)
        self._device_change_logged = False
        self.backend_reason = ""
        self._returned: queue.SimpleQueue[Buffer] = queue.SimpleQueue()
        self.frames_captured = 0
        self.frames_failed = 0
        self.closed = False

    @property
    def source_name(self) -> str:
        """What is captured, in words for messages."""
        return f"output {self.output.name}"

    def _init_output(self, connection: Connection, options: CaptureOptions) -> None:
        self.output: Output = connection.outputs.find(options.output)
        self.output_info: OutputInfo = self.output.info()
        # Region capture on a transformed output comes out misplaced on wlroots 0.15 (and Hyprland,
        # grim#100): there the whole output is captured and the region cropped by the consumer (OBS
        # crops in a shader anyway).
        self.compositor_region: Region | None = None
        self.crop: Region | None = None
        if options.region is not None:
            options.region.check_inside(self.output_info)
            if self.output_info.transform == 0:
                self.compositor_region = options.region
            else:
                self.crop = options.region
        self._unsubscribe = connection.outputs.on_removed(self._handle_output_removed)
        self._frame: ScreencopyFrame | None = None

    # -- public ------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._frame is not None

    @property
    def active_backend(self) -> BufferKind | None:
        return self.pool.allocator.kind if self.pool else None

    def return_buffer(self, buffer: Buffer) -> None:
        """Give a frame's buffer back (any thread); the session's thread recycles it."""
        self._returned.put(buffer)
        self.connection.wake()

    def request_frame(self) -> bool:
        """Start capturing the next frame if none is in flight and a buffer is free."""
        self._recycle_returned()
        if self.closed or self._frame is not None:
            return False
        if self.pool is not None and self.pool.free_count == 0:
            return False
        cursor = 1 if self._paint_cursor else 0
        if self.compositor_region is None:
            proxy = self.manager.capture_output(cursor, self.output.proxy)
        else:
            x, y, w, h = self.compositor_region.to_logical(self.output_info)
            proxy = self.manager.capture_output_region(cursor, self.output.proxy, x, y, w, h)
        version = self.connection.version("zwlr_screencopy_manager_v1")
        self._frame = ScreencopyFrame(self.connection, proxy, version, self._handle_constraints,
                                      self._handle_done)
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._unsubscribe()
        self._finish_frame(recycle=True)
        self._recycle_returned()
        if self.pool is not None:
            self.pool.destroy()
        if self._dmabuf is not None:
            self._dmabuf.close()

    # -- buffer choice -----------------------------------------------------------------------------------

    def _recycle_returned(self) -> None:
        while True:
            try:
                buffer = self._returned.get_nowait()
            except queue.Empty:
                return
            if self.pool is not None and not self.closed:
                self.pool.release(buffer)
            else:
                buffer.destroy()

    def _choose_spec(self, frame: ScreencopyFrame | ExtConstraints) -> tuple[BufferSpec, Allocator]:
        backend = self.options.backend
        if backend is not Backend.SHM:
            try:
                return self._dmabuf_choice(frame)
            except BackendUnavailableError as exc:
                if backend is Backend.DMABUF:
                    raise BackendUnavailableError(f"DMA-BUF capture unavailable: {exc}") from None
                if self._dmabuf_refused is None:
                    self._dmabuf_refused = str(exc)
                    log.info("DMA-BUF unavailable, using shared memory: %s", exc)
        if frame.shm_spec is None:
            raise BackendUnavailableError("compositor offered no shared-memory buffer for this frame")
        self.backend_reason = (
            "shm requested" if backend is Backend.SHM else f"shm fallback: {self._dmabuf_refused}")
        return frame.shm_spec, ShmAllocator(self.connection.require("wl_shm", "shared-memory buffers"))

    def _dmabuf_choice(self, frame: ScreencopyFrame | ExtConstraints) -> tuple[BufferSpec, Allocator]:
        if self._dmabuf_refused is not None:
            raise BackendUnavailableError(self._dmabuf_refused)
        if not frame.dmabuf_specs:
            raise BackendUnavailableError("compositor offers no linux_dmabuf buffer for this frame "
                                          "(its renderer cannot write DMA-BUFs, or screencopy < v3)")
        if self.connection.bound.get("zwp_linux_dmabuf_v1") is None:
            raise BackendUnavailableError("compositor doesn't support zwp_linux_dmabuf_v1")
        # ext sessions name the device to allocate on; wlr-screencopy leaves it to linux-dmabuf.
        device = frame.dmabuf_device if isinstance(frame, ExtConstraints) else None
        if self._dmabuf is None:
            self._dmabuf = DmabufAllocator(self.connection, device)
        elif device is not None and device != self._dmabuf.dev and not self._device_change_logged:
            self._device_change_logged = True  # a GPU change mid-stream: rare, and the next stream follows
            log.warning("the compositor now copies on device %d:%d; this stream keeps allocating on %s",
                        os.major(device), os.minor(device), self._dmabuf.device.path)
        refused = []
        for spec in frame.dmabuf_specs:  # best first: the first the consumer can take too
            # ext sessions name their modifiers; wlr-screencopy leaves them to linux-dmabuf's feedback.
            offered = spec.modifiers or self._dmabuf.modifiers_for(spec.format)
            modifiers = offered if self.options.modifier_filter is None else self.options.modifier_filter(
                spec.format, offered)
            if modifiers:
                return BufferSpec(spec.kind, spec.width, spec.height, spec.format, 0, modifiers), self._dmabuf
            refused.append(f"{describe(spec.format)} ({', '.join(map(describe_modifier, offered)) or 'none'})")
        raise BackendUnavailableError(f"no modifier both the compositor and the consumer accept, for "
                                      f"{'; '.join(refused)}")

    def _ensure_pool(self, spec: BufferSpec, allocator: Allocator) -> BufferPool:
        if self.pool is not None and self.pool.allocator.kind is not allocator.kind:
            old = self.pool
            self.pool = BufferPool(allocator, self.options.pool_size)
            self.pool.buffers_allocated = old.buffers_allocated
            self.pool.reallocations = old.reallocations + 1
            old.destroy()
        if self.pool is None:
            self.pool = BufferPool(allocator, self.options.pool_size)
        self.pool.ensure(spec)
        return self.pool

    # -- frame events ------------------------------------------------------------------------------------

    def _pool_for(self, constraints: ScreencopyFrame | ExtConstraints) -> BufferPool:
        """The pool matching the compositor's constraints, stepping from DMA-BUF down to shm once when
        allocation fails (unless DMA-BUF was required)."""
        spec, allocator = self._choose_spec(constraints)
        try:
            pool = self._ensure_pool(spec, allocator)
        except BackendUnavailableError as exc:
            if allocator.kind is not BufferKind.DMABUF or self.options.backend is Backend.DMABUF:
                raise
            self._dmabuf_refused = str(exc)
            log.info("DMA-BUF allocation failed, using shared memory: %s", exc)
            spec, allocator = self._choose_spec(constraints)
            return self._ensure_pool(spec, allocator)
        if isinstance(allocator, DmabufAllocator):  # named once allocated: the node is known then
            self.backend_reason = f"dmabuf {describe(spec.format)} on {allocator.device.path}"
        return pool

    def _handle_constraints(self, frame: ScreencopyFrame) -> None:
        try:
            pool = self._pool_for(frame)
            buffer = pool.acquire()
            if buffer is None:  # request_frame checked; a rebuild leaves all new buffers free
                raise WlcapError("no free capture buffer")
            frame.copy(buffer, self.options.with_damage)
        except WlcapError as exc:
            self._finish_frame(recycle=True)
            self._on_error(exc)

    def _handle_done(self, frame: ScreencopyFrame) -> None:
        buffer = frame.buffer
        if frame.state is FrameState.READY and buffer is not None:
            self.frames_captured += 1
            captured = Frame(
                buffer=buffer, width=buffer.spec.width, height=buffer.spec.height, stride=buffer.stride,
                format=buffer.spec.format, y_invert=frame.y_invert, transform=self.output_info.transform,
                timestamp_ns=frame.timestamp_ns, damage=list(frame.damage), sequence=self.frames_captured,
                crop=self.crop, requested_ns=frame.requested_ns, _release=self.return_buffer)
            self._finish_frame()
            self._on_frame(captured)
            return
        self.frames_failed += 1
        self._finish_frame(recycle=True)
        self._on_error(CaptureFailedError(f"compositor failed to capture {self.source_name}"))

    def _finish_frame(self, recycle: bool = False) -> None:
        """Forget the frame in flight; `recycle` gives its buffer (not delivered) back to the pool."""
        frame, self._frame = self._frame, None
        if frame is None:
            return
        if recycle and frame.buffer is not None and self.pool is not None:
            self.pool.release(frame.buffer)
        frame.destroy()

    def _handle_output_removed(self, output: Output) -> None:
        if output is self.output:
            self._finish_frame(recycle=True)
            self._on_error(UnknownOutputError(f"output {output.name} disappeared"))


def capture_one(connection: Connection, options: CaptureOptions, timeout: float = 5.0) -> tuple[
        CaptureSession, Frame]:
    """Capture a single frame synchronously (screenshots). The caller closes the session after
    releasing the frame."""
    from .protocol_choice import open_session  # it imports this module

    results: list[Any] = []
    session = open_session(connection, options, results.append, results.append)
    try:
        deadline = time.monotonic() + timeout
        while not results:
            session.request_frame()  # an ext session can start only once its constraints arrived
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CaptureFailedError(f"no frame from {session.source_name} within {timeout:g} s")
            connection.pump(remaining)
        if isinstance(results[0], WlcapError):
            raise results[0]
        return session, results[0]
    except BaseException:
        session.close()
        raise
