"""The controller behind each "wlcap_capture" OBS source.

C (native/obs) owns the OBS side: the source callbacks, the frame slot and the render thread. The
controller owns the rest: settings, the capture stream (one connection and one buffer pool for as long
as the source is shown), the DMA-BUF fallback ladder, retries, and the status line. Frames go to C
through FrameHandoff on the capture thread; nothing here runs on OBS's render thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from capture import (
    Backend,
    CaptureFailedError,
    CaptureOptions,
    CaptureProtocol,
    CursorMode,
    FrameStream,
    Region,
    WlcapError,
)
from capture.buffers.formats import DRM_FORMAT_MOD_INVALID, describe, describe_modifier
from capture.buffers.spec import BufferKind

from . import native, status
from .handoff import FrameHandoff
from .ladder import FallbackLadder
from .settings import SourceSettings

RETRY_SECONDS = 2.0  # a missing output or compositor is looked for again this often


class SourceController:
    def __init__(self, handle: native.SourceHandle, settings: SourceSettings,
                 on_attention: Callable[[], None] = lambda: None) -> None:
        self.handle = handle
        self.settings = settings
        # Serialises the lifecycle: OBS events (the event thread) and the watchdog both start and stop.
        self._lifecycle = threading.RLock()
        self._show_count = 0
        self._enabled = True  # false once the script is unloaded
        self._stream: FrameStream | None = None
        self._handoff = FrameHandoff(handle)
        self._ladder: FallbackLadder | None = None
        self._ladder_logged = 0  # ladder.history lines already in the OBS log
        self._error: str | None = None
        self._logged_error: str | None = None
        self._logged_details = ""  # the status's details last logged, for this stream
        self._next_retry = 0.0
        self._shown_at_last_watch = (0, time.monotonic())
        # Called from the capture thread when the stream ends, so the watchdog acts at once.
        self._on_attention = on_attention
        self.fps = 0.0
        self._set_status("waiting to be shown")

    # -- OBS events (the event thread) -----------------------------------------------------------------

    def update(self, settings: SourceSettings) -> None:
        with self._lifecycle:
            if settings == self.settings:
                return
            previous, self.settings = self.settings, settings
            self.handle.show_cursor(settings.cursor)
            stream = self._stream
            if (stream is not None and stream.session.cursor is not None
                    and replace(previous, cursor=settings.cursor) == settings):
                return  # OBS draws the cursor: showing or hiding it needs no new capture
            self._ladder = None  # a new backend choice starts at the top of the ladder
            if self._stream is not None or self._error is not None:
                self._restart()

    def show(self) -> None:
        with self._lifecycle:
            self._show_count += 1
            if self._show_count == 1:
                self._start()

    def hide(self) -> None:
        with self._lifecycle:
            self._show_count = max(0, self._show_count - 1)
            if self._show_count == 0:
                self._stop()
                self._error = None
                self._set_status("hidden: not capturing")

    def destroy(self) -> None:
        with self._lifecycle:
            self._stop()

    def detach(self) -> None:
        """The script is being unloaded: stop capturing; C keeps the source, inert, until a reload
        adopts it again."""
        with self._lifecycle:
            self._enabled = False
            self._stop()
            self._set_status("wlcap script unloaded")

    # -- stream lifecycle --------------------------------------------------------------------------

    def _options(self) -> CaptureOptions:
        unknown = self.settings.unknown_choice()
        if unknown is not None:
            raise WlcapError(unknown)
        region = Region.parse(self.settings.region) if self.settings.region else None
        backend = Backend(self.settings.backend)
        ladder = self._ensure_ladder(backend)
        if backend is not Backend.SHM and not ladder.wants_dmabuf:
            if backend is Backend.DMABUF:
                raise WlcapError(f"DMA-BUF required but unusable: {ladder.history[-1]}")
            backend = Backend.SHM
        protocol = CaptureProtocol(self.settings.protocol)
        window = None
        if self.settings.target == "window":
            if not self.settings.window:
                raise WlcapError("no window chosen")
            window = self.settings.window
        fps = native.video_fps()
        shown = CursorMode.PAINTED if self.settings.cursor else CursorMode.HIDDEN
        cursor = CursorMode.SEPARATE if self.settings.cursor_drawing == "obs" else shown
        # with_damage: wlr-screencopy copies only once the screen changed, as ext-image-copy-capture
        # always does: an unchanged screen costs no capture, no upload and no Python work.
        return CaptureOptions(output=self.settings.output or None, region=region, cursor=cursor,
                              separate_cursor_fallback=shown, backend=backend, modifier_filter=ladder.modifiers,
                              protocol=protocol, window=window, max_fps=fps if fps > 0 else None, with_damage=True)

    def _ensure_ladder(self, backend: Backend) -> FallbackLadder:
        if self._ladder is None:
            if backend is Backend.SHM:  # nothing to negotiate
                self._ladder = FallbackLadder(native.DmabufCapabilities(False, False, {}))
            else:
                self._ladder = FallbackLadder(native.query_dmabuf_capabilities())
            self._ladder_logged = 0
            self._log_ladder()
        return self._ladder

    def _log_ladder(self) -> None:
        """Each step of the ladder reaches the OBS log once (the capture thread can step it too)."""
        if self._ladder is None:
            return
        history = self._ladder.history
        for line in history[self._ladder_logged:]:
            native.log(native.LOG_WARNING, line)
        self._ladder_logged = len(history)

    def _start(self) -> None:
        if not self._enabled or self._stream is not None:
            return
        try:
            options = self._options()
            stream = FrameStream(options, publish=self._handoff.publish, housekeeping=self._handoff.collect,
                                 on_cursor=self._handoff.publish_cursor, on_stopped=self._on_attention,
                                 render_clock=self.handle.render_clock)
        except WlcapError as exc:
            self._fail(str(exc))
            return
        self.handle.set_wake_fd(stream.wake_fd)
        self.handle.show_cursor(self.settings.cursor)
        self._stream = stream
        self._error = None
        self._logged_error = None
        self._logged_details = ""
        stream.start()
        summary = stream.session.summary
        native.log(native.LOG_INFO, f"capturing {stream.session.source_name} with {summary.protocol} "
                                    f"({summary.protocol_reason})")
        self._update_status()

    def _stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.stop()  # the capture thread has ended: nothing publishes or collects from here on
        self.handle.clear()  # C lets go of every frame; their tokens come back below
        self.handle.set_wake_fd(-1)
        self._handoff.drain()
        stream.close()

    def _restart(self) -> None:
        self._stop()
        self._error = None
        if self._show_count > 0:
            self._start()

    def _fail(self, message: str) -> None:
        self._error = message
        self._next_retry = time.monotonic() + RETRY_SECONDS
        if message != self._logged_error:  # each distinct error is logged once, not every retry
            native.log(native.LOG_WARNING, message)
            self._logged_error = message
        self._set_status(f"error: {message}")

    # -- watchdog (its own thread) -------------------------------------------------------------------

    def watch(self) -> None:
        """Notice a stream that ended (output gone, compositor gone), step the DMA-BUF ladder down on
        import failures and on copies the compositor kept failing, retry what failed, and refresh
        the status line."""
        with self._lifecycle:
            stream = self._stream
            self._log_ladder()
            failure = self.handle.take_import_failure()
            if failure is not None and self._ladder is not None:
                fmt, modifier = failure
                self._step_down("OBS could not import the buffer", fmt, modifier,
                                f"DMA-BUF import failed ({describe(fmt)}, {describe_modifier(modifier)})")
                return
            if stream is not None and stream.error is not None:
                error = stream.error
                summary = stream.session.summary
                if (isinstance(error, CaptureFailedError) and summary.backend is BufferKind.DMABUF
                        and self._ladder is not None and summary.format is not None):
                    # Copies into these DMA-BUFs kept failing on the compositor's side (a renderer that
                    # accepted buffers it cannot write): the next rung, as for a buffer OBS cannot import.
                    modifier = summary.modifier if summary.modifier is not None else DRM_FORMAT_MOD_INVALID
                    self._step_down(f"the compositor's copies into it failed ({error})", summary.format, modifier,
                                    f"DMA-BUF required, but the compositor cannot copy into one: {error}")
                    return
                self._stop()
                self._fail(f"{error}; retrying")
                return
            if stream is None and self._error is not None and self._show_count > 0 and self._enabled:
                if time.monotonic() >= self._next_retry:
                    self._start()
                return
            if stream is not None:
                self._update_status()

    def _step_down(self, reason: str, drm_format: int, modifier: int, required_error: str) -> None:
        """Leave the ladder's rung that failed and capture again on the next; an error instead when
        DMA-BUF was required and no DMA-BUF rung is left."""
        assert self._ladder is not None
        self._ladder.step_down(reason, drm_format, modifier)
        self._log_ladder()
        if self.settings.backend == "dmabuf" and not self._ladder.wants_dmabuf:
            self._stop()
            self._fail(required_error)
            return
        self._restart()

    def _update_status(self) -> None:
        stream = self._stream
        if stream is None:
            return
        stats = self.handle.stats()
        shown, at = self._shown_at_last_watch
        now = time.monotonic()
        if now - at >= 1.0:
            self.fps = (stats.frames_shown - shown) / (now - at)
            self._shown_at_last_watch = (stats.frames_shown, now)
        session = stream.session
        summary = session.summary
        target = summary.output_name or session.source_name  # a window's current title
        rejection = self.handle.last_rejection() if stats.frames_rejected else ""
        now_status = status.capturing(target, summary, self.fps, stats.frames_shown, self.settings.cursor,
                                      stats.frames_rejected, rejection)
        # How it captures, logged once the buffers are settled and whenever that changes.
        if summary.backend is not None and now_status.details != self._logged_details:
            native.log(native.LOG_INFO, f"{target}: {now_status.details}")
            self._logged_details = now_status.details
        self._set_status(now_status.headline, now_status.details)

    def _set_status(self, text: str, details: str = "") -> None:
        self.handle.set_status(text, details)
