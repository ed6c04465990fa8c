"""A frame stream: one connection and one pool for the whole stream, pumped by a capture thread.

The consumer takes the newest frame with `get_frame` and gives it back with `Frame.release`. A
frame the consumer has not taken when a newer one is ready is dropped (its buffer goes straight back
to the pool): a slow consumer never blocks the compositor connection and never grows the pool.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capture.errors import CaptureFailedError, WlcapError
from capture.frame import Frame
from capture.options import CaptureOptions
from capture.pacing import FramePacer, RenderClock
from capture.protocol.cursor_session import HIDDEN_CURSOR, CursorState
from capture.session.open import open_session
from capture.wayland.connection import Connection

log = logging.getLogger("wlcap")

# Consecutive `failed` frames after which the stream gives up (a frame can fail once, e.g. while
# the output is being reconfigured).
MAX_CONSECUTIVE_FAILURES = 5


def _name_os_thread(name: bytes) -> None:
    """Give the calling thread its name in the kernel too (top -H, /proc/PID/task/TID/comm): Python
    3.11 names threads for Python only, and a profiler or benchmark looks for this one."""
    pr_set_name = 15
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_name, ctypes.c_char_p(name[:15]), 0, 0, 0)


@dataclass(frozen=True)
class StreamStats:
    frames_captured: int
    frames_delivered: int
    frames_dropped: int
    frames_failed: int
    buffers_allocated: int
    reallocations: int
    backend: str
    backend_reason: str
    protocol: str = ""  # the protocol's name
    protocol_reason: str = ""  # why it was chosen


class FrameStream:
    """Capture frames of one output continuously on a background thread.

    Setup errors (no compositor, unknown output, bad region) raise from the constructor; errors while
    streaming are raised from `get_frame` and kept in `error`.
    """

    def __init__(self, options: CaptureOptions, display_name: str | None = None,
                 publish: Callable[[Frame], None] | None = None,
                 housekeeping: Callable[[], None] | None = None,
                 on_cursor: Callable[[CursorState], None] | None = None,
                 on_stopped: Callable[[], None] | None = None,
                 render_clock: RenderClock | None = None) -> None:
        self.options = options
        # render_clock: the consumer's render ticks; requests go out in step with them (capture.pacing).
        self._pacer = FramePacer(options.max_fps, render_clock)
        # CursorMode.SEPARATE: the newest cursor state (read from any thread), and `on_cursor` hears of
        # each change on the capture thread (the OBS source hands it to C this way).
        self.cursor: CursorState = HIDDEN_CURSOR
        self._on_cursor = on_cursor
        self.connection = Connection(display_name)
        try:
            self.session = open_session(self.connection, options, self._handle_frame, self._handle_error,
                                        self._handle_cursor)
        except BaseException:
            self.connection.close()
            raise
        # publish: deliver each frame to this callable on the capture thread instead of the slot (the
        # OBS source hands frames to C this way). It owns the frame and must release it.
        self._publish = publish
        # housekeeping: run on the capture thread whenever another thread (or C, through wake_fd)
        # woke it with `wake` (the OBS source collects the buffers its render thread gave back).
        self._housekeeping = housekeeping
        # on_stopped: called on the capture thread when the stream ends in error (then `error` says why).
        self._on_stopped = on_stopped
        self._lock = threading.Condition()
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self._consecutive_failures = 0
        self.error: WlcapError | None = None
        self.frames_delivered = 0
        self.frames_dropped = 0
        self._thread = threading.Thread(target=self._run, name="wlcap-capture", daemon=True)
        self._torn_down = False
        self._pings: queue.SimpleQueue[threading.Event] = queue.SimpleQueue()

    def start(self) -> FrameStream:
        self._thread.start()
        return self

    def __enter__(self) -> FrameStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- consumer side ------------------------------------------------------------------------------------

    def get_frame(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken, waiting up to timeout seconds; None if none came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._latest is None:
                if self.error is not None:
                    raise self.error
                if not self._thread.is_alive() and self._thread.ident is not None:
                    raise CaptureFailedError("the capture stream has stopped")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._lock.wait(remaining)
            frame, self._latest = self._latest, None
            self.frames_delivered += 1
            return frame

    def compositor_responds(self, timeout: float) -> bool:
        """Whether the compositor answers a round trip within timeout seconds. When no frame comes,
        this tells a still or slow screen (ext-image-copy-capture answers no capture of an unchanged
        source; a busy compositor copies late) from a stuck compositor. Asked only then: a stream
        that receives frames sends no pings."""
        answered = threading.Event()
        self._pings.put(answered)
        self.connection.wake()
        return answered.wait(timeout)

    def stats(self) -> StreamStats:
        session = self.session
        pool = session.pool
        summary = session.summary
        return StreamStats(
            frames_captured=session.frames_captured, frames_delivered=self.frames_delivered,
            frames_dropped=self.frames_dropped, frames_failed=session.frames_failed,
            buffers_allocated=pool.buffers_allocated if pool else 0,
            reallocations=pool.reallocations if pool else 0,
            backend=summary.backend.value if summary.backend else "none",
            backend_reason=summary.backend_reason,
            protocol=summary.protocol, protocol_reason=summary.protocol_reason)

    @property
    def wake_fd(self) -> int:
        """An eventfd: writing 1 to it wakes the capture thread (another thread, or C, may do so)."""
        return self.connection.wake_fd

    def stop(self) -> None:
        """Stop the capture thread and wait for it; buffers and frames stay valid until `close`."""
        self._stop.set()
        self.connection.wake()
        if self._thread.ident is not None:
            self._thread.join()

    def close(self) -> None:
        """Stop the thread and free every buffer and fd. Release frames first: frames still held
        become invalid."""
        self.stop()
        if not self._torn_down:
            self._torn_down = True
            self._teardown()

    # -- capture thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        _name_os_thread(b"wlcap-capture")
        try:
            woken = True  # the first turn does everything
            while not self._stop.is_set() and self.error is None:
                if woken:  # another thread (or C) asked for a turn: only then is there work for it
                    if self._housekeeping is not None:
                        self._housekeeping()
                    self._send_pings()
                self.session.advance()
                now_ns = time.monotonic_ns()
                if now_ns >= self._pacer.due_ns() and self.session.request_frame():
                    self._pacer.requested(now_ns)
                wait = None
                if not self.session.busy:
                    remaining_ns = self._pacer.due_ns() - time.monotonic_ns()
                    wait = remaining_ns / 1e9 if remaining_ns > 0 else None
                woken = self.connection.pump(wait)
        except WlcapError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug: still end the stream cleanly, and say what happened
            log.exception("capture thread failed")
            self._fail(WlcapError(f"capture thread failed: {exc!r}"))
        # Buffers and the connection are freed by `close`, once the consumer gave its frames back:
        # a stream that failed on its own may still have frames out.

    def _send_pings(self) -> None:
        while True:
            try:
                answered = self._pings.get_nowait()
            except queue.Empty:
                return
            self.connection.sync(answered.set)

    def _teardown(self) -> None:
        with self._lock:
            latest, self._latest = self._latest, None
        if latest is not None:
            latest.release()
        self.session.close()
        self.connection.close()

    def _fail(self, exc: WlcapError) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
            self._lock.notify_all()
        if self._on_stopped is not None:
            self._on_stopped()

    def _handle_frame(self, frame: Frame) -> None:
        self._consecutive_failures = 0
        self._pacer.delivered(time.monotonic_ns())
        if self._publish is not None:
            self._publish(frame)
            return
        with self._lock:
            dropped, self._latest = self._latest, frame
            self._lock.notify_all()
        if dropped is not None:
            self.frames_dropped += 1
            dropped.release()

    def _handle_cursor(self, state: CursorState) -> None:
        self.cursor = state
        if self._on_cursor is not None:
            self._on_cursor(state)

    def _handle_error(self, exc: WlcapError) -> None:
        if isinstance(exc, CaptureFailedError):
            self._consecutive_failures += 1
            if self._consecutive_failures < MAX_CONSECUTIVE_FAILURES:
                log.warning("%s; retrying", exc)
                return
        self._fail(exc)


@dataclass(frozen=True)
class StreamRun:
    """What run_stream took: the stream's figures, frames taken, and why it stopped before `frames`."""

    stats: StreamStats
    frames: int
    stopped_early: str = ""


def run_stream(options: CaptureOptions, frames: int, display_name: str | None = None,
               consume: Callable[[Frame], Any] | None = None, timeout: float = 10.0) -> StreamRun:
    """Take `frames` frames from a stream, handing each to `consume` before releasing it. When none
    comes for `timeout` seconds, a compositor that still answers has an unchanged screen (or is busy):
    the run ends there, not in error; one that does not answer is an error."""
    with FrameStream(options, display_name) as stream:
        for taken in range(frames):
            frame = stream.get_frame(timeout)
            if frame is None:
                if not stream.compositor_responds(timeout):
                    raise CaptureFailedError(f"the compositor has not answered for {timeout:g} s: it is stuck")
                return StreamRun(stream.stats(), taken, f"no new frame for {timeout:g} s while the compositor "
                                                        "answers: the screen did not change")
            with frame:
                if consume is not None:
                    consume(frame)
        return StreamRun(stream.stats(), frames)
