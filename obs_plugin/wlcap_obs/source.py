"""The controller behind each "wlcap_capture" OBS source.

C (native/src/obs_source.c) owns the OBS side: the source callbacks, the frame slot and the render
thread. This module owns the rest: settings, the capture stream (one connection and one buffer pool
for as long as the source is shown), handing frames to the slot and taking them back, the DMA-BUF
fallback ladder, and the status line. Nothing here runs on OBS's render thread.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from capture import (
    Backend,
    CaptureOptions,
    CaptureProtocol,
    Connection,
    CursorMode,
    Frame,
    FrameStream,
    Region,
    WlcapError,
)
from capture.cursor import CursorState
from capture.formats import describe, describe_modifier
from capture.toplevels import ToplevelList

from . import native
from .ladder import FallbackLadder, Rung

RETRY_SECONDS = 2.0  # a missing output or compositor is looked for again this often
WATCH_SECONDS = 0.5


@dataclass(frozen=True)
class SourceSettings:
    output: str = ""
    cursor: bool = False
    backend: str = "auto"
    region: str = ""
    target: str = "output"  # "output" or "window"
    window: str = ""  # an app id (what the window list stores), title or identifier
    protocol: str = "auto"  # auto, ext, wlr
    # "obs": OBS draws the cursor it gets from a cursor session (ext), so that `cursor` (show it or
    # not) takes effect without touching the capture; "compositor": painted into the frames.
    cursor_drawing: str = "obs"

    @classmethod
    def from_json(cls, text: str | None) -> SourceSettings:
        data = json.loads(text) if text else {}
        return cls(output=str(data.get("output", "")), cursor=bool(data.get("cursor", False)),
                   backend=str(data.get("backend", "auto")), region=str(data.get("region", "")).strip(),
                   target=str(data.get("target", "output")), window=str(data.get("window", "")),
                   protocol=str(data.get("protocol", "auto")),
                   cursor_drawing=str(data.get("cursor_drawing", "obs")))


@dataclass
class _Handed:
    """A frame the C slot holds, and what keeps its memory exported while it does."""

    frame: Frame
    view: memoryview | None
    pointer: Any
    desc: Any


class SourceController:
    def __init__(self, handle: native.SourceHandle, settings: SourceSettings) -> None:
        self.handle = handle
        self.settings = settings
        # Serialises the lifecycle: OBS events (UI thread) and the watchdog both start and stop.
        self._lifecycle = threading.RLock()
        self._show_count = 0
        self._enabled = True  # false once the script is unloaded
        self._stream: FrameStream | None = None
        self._lock = threading.Lock()  # _accepting and _handed, shared with the capture thread
        self._accepting = False
        self._handed: dict[int, _Handed] = {}
        self._tokens = itertools.count(1)
        self._ladder: FallbackLadder | None = None
        self._ladder_logged = 0  # ladder.history lines already in the OBS log
        self._error: str | None = None
        self._logged_error: str | None = None
        self._next_retry = 0.0
        self._shown_at_last_watch = (0, time.monotonic())
        self._cursor_serial = 0  # the cursor image C has (capture thread)
        self.fps = 0.0
        self._set_status("waiting to be shown")

    # -- OBS events (UI thread) ------------------------------------------------------------------------

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
        region = Region.parse(self.settings.region) if self.settings.region else None
        backend = Backend(self.settings.backend) if self.settings.backend in ("auto", "dmabuf", "shm") \
            else Backend.AUTO
        ladder = self._ensure_ladder(backend)
        if backend is not Backend.SHM and not ladder.wants_dmabuf:
            if backend is Backend.DMABUF:
                raise WlcapError(f"DMA-BUF required but unusable: {ladder.history[-1]}")
            backend = Backend.SHM
        protocol = CaptureProtocol(self.settings.protocol) if self.settings.protocol in ("auto", "ext", "wlr") \
            else CaptureProtocol.AUTO
        window = None
        if self.settings.target == "window":
            if not self.settings.window:
                raise WlcapError("no window chosen")
            window = self.settings.window
        fps = native.video_fps()
        shown = CursorMode.PAINTED if self.settings.cursor else CursorMode.HIDDEN
        cursor = CursorMode.SEPARATE if self.settings.cursor_drawing == "obs" else shown
        return CaptureOptions(output=self.settings.output or None, region=region, cursor=cursor,
                              separate_cursor_fallback=shown, backend=backend, modifier_filter=ladder.modifiers,
                              protocol=protocol, window=window, max_fps=fps if fps > 0 else None)

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
            stream = FrameStream(options, publish=self._publish, housekeeping=self._housekeeping,
                                 on_cursor=self._publish_cursor)
        except WlcapError as exc:
            self._fail(str(exc))
            return
        with self._lock:
            self._accepting = True
        self.handle.set_wake_fd(stream.wake_fd)
        self.handle.show_cursor(self.settings.cursor)
        self._cursor_serial = 0
        self._stream = stream
        self._error = None
        self._logged_error = None
        stream.start()
        session = stream.session
        native.log(native.LOG_INFO, f"capturing {session.source_name} with {session.protocol_name} "
                                    f"({session.protocol_reason})")
        self._update_status()

    def _stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with self._lock:
            self._accepting = False
        self.handle.clear()  # C lets go of every frame; their tokens come back below
        self.handle.set_wake_fd(-1)
        self._collect_returned()
        stream.close()
        with self._lock:
            leftover, self._handed = self._handed, {}
        for token in leftover:  # cannot happen after clear(); never leave a buffer exported
            self._release_entry(leftover[token])

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

    # -- capture thread ----------------------------------------------------------------------------

    def _publish(self, frame: Frame) -> None:
        started = time.perf_counter_ns()
        self._publish_locked(frame)
        self.handle.add_python_time(1, time.perf_counter_ns() - started)

    def _publish_locked(self, frame: Frame) -> None:
        with self._lock:
            if not self._accepting:
                frame.release()
                return
            token = next(self._tokens)
            desc = native.new_frame_desc()
            entry = _Handed(frame, None, None, desc)
            desc.token = token
            desc.buffer_id = frame.buffer.id
            desc.pool_generation = frame.buffer.generation
            desc.width, desc.height, desc.format = frame.width, frame.height, frame.format
            desc.y_invert = frame.y_invert
            desc.transform = frame.transform
            if frame.crop is not None:
                desc.crop_x, desc.crop_y = frame.crop.x, frame.crop.y
                desc.crop_width, desc.crop_height = frame.crop.width, frame.crop.height
            if frame.kind.value == "shm":
                entry.view = frame.view()
                entry.pointer = native.pointer_to(entry.view)
                desc.kind = native.FRAME_SHM
                desc.data = entry.pointer
                desc.data_size = entry.view.nbytes
                desc.stride = frame.stride
            else:
                memory = frame.buffer.memory  # type: ignore[attr-defined]
                desc.kind = native.FRAME_DMABUF
                desc.n_planes = len(memory.planes)
                for index, plane in enumerate(memory.planes):
                    desc.fds[index], desc.offsets[index], desc.strides[index] = plane.fd, plane.offset, plane.stride
                desc.modifier = memory.modifier
            self._handed[token] = entry
            published = self.handle.publish(desc)
        if not published:
            self._release(token)

    def _publish_cursor(self, state: CursorState) -> None:
        """The cursor session's news, to C (capture thread); each image goes over once."""
        if state.image is not None and state.image.serial != self._cursor_serial:
            self._cursor_serial = state.image.serial
            if not self.handle.set_cursor_image(state.image):
                native.log(native.LOG_WARNING, f"cursor image in an unusable format ({describe(state.image.format)})")
        self.handle.set_cursor_position(state.inside, state.x, state.y)

    def _housekeeping(self) -> None:
        started = time.perf_counter_ns()
        self._collect_returned()
        self.handle.add_python_time(0, time.perf_counter_ns() - started)

    def _collect_returned(self) -> None:
        for token in self.handle.take_returned():
            self._release(token)

    def _release(self, token: int) -> None:
        with self._lock:
            entry = self._handed.pop(token, None)
        if entry is not None:
            self._release_entry(entry)

    @staticmethod
    def _release_entry(entry: _Handed) -> None:
        if entry.pointer is not None:
            native.ffi.release(entry.pointer)
        if entry.view is not None:
            entry.view.release()
        entry.frame.release()

    # -- watchdog (its own thread) -------------------------------------------------------------------

    def watch(self) -> None:
        """Notice a stream that ended (output gone, compositor gone), step the DMA-BUF ladder down on
        import failures, retry what failed, and refresh the status line."""
        with self._lifecycle:
            stream = self._stream
            self._log_ladder()
            failure = self.handle.take_import_failure()
            if failure is not None and self._ladder is not None:
                fmt, modifier = failure
                self._ladder.step_down("OBS could not import the buffer", fmt, modifier)
                self._log_ladder()
                if self.settings.backend == "dmabuf" and not self._ladder.wants_dmabuf:
                    self._stop()
                    self._fail(f"DMA-BUF import failed ({describe(fmt)}, {describe_modifier(modifier)})")
                    return
                self._restart()
                return
            if stream is not None and stream.error is not None:
                error = stream.error
                self._stop()
                self._fail(f"{error}; retrying")
                return
            if stream is None and self._error is not None and self._show_count > 0 and self._enabled:
                if time.monotonic() >= self._next_retry:
                    self._start()
                return
            if stream is not None:
                self._update_status()

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
        backend = session.active_backend.value if session.active_backend else "negotiating"
        pool = session.pool
        fmt = describe(pool.spec.format) if pool and pool.spec else "-"
        modifier = ""
        if pool and pool.spec and session.active_backend and session.active_backend.value == "dmabuf":
            buffers = pool.buffers
            if buffers:
                modifier = f" modifier {describe_modifier(buffers[0].modifier)}"  # type: ignore[attr-defined]
        reason = f" ({session.backend_reason})" if session.backend_reason else ""
        sync = ", " + _describe_sync(*native.sync_status()) if backend == "dmabuf" else ""
        if backend == "shm":
            sync = ", copied (no fences needed)"
        target = session.output.name if session.window is None else session.source_name
        rejected = ""
        if stats.frames_rejected:  # the render thread refused frames that did not fit their buffers
            rejected = f", {stats.frames_rejected} frames not shown ({self.handle.last_rejection()})"
        self._set_status(f"capturing {target}: {backend}{reason}, {fmt}{modifier}{sync}, {self.fps:.1f} fps, "
                         f"{self._describe_cursor(session)}, {session.protocol_name} ({session.protocol_reason})"
                         f"{rejected}")

    def _describe_cursor(self, session: Any) -> str:
        if session.cursor is not None:
            return "cursor drawn by OBS" if self.settings.cursor else "cursor left out by OBS"
        if session.cursor_note:
            return f"cursor {session.cursor_note}"
        return "cursor painted by the compositor" if self.settings.cursor else "cursor left out"

    def _set_status(self, status: str) -> None:
        self.status = status
        self.handle.set_status(status)


def _describe_sync(status: int, why: str) -> str:
    """The status line's word on how OBS's reads of a DMA-BUF and the compositor's writes into it are
    ordered. Shared memory needs none of it: OBS copies each frame before the buffer goes back."""
    if status == native.SYNC_EXPLICIT:
        return f"explicit sync ({why})"
    if status == native.SYNC_IMPLICIT:
        return f"implicit sync ({why})"
    return "sync: waiting for the first frame"


# -- the registry of live sources; the dispatcher and the watchdog --------------------------------

_controllers: dict[int, SourceController] = {}
_threads: list[threading.Thread] = []
_stop_threads = threading.Event()
OUTPUTS_SECONDS = 2.0  # how often the properties' output list is refreshed


def controllers() -> list[SourceController]:
    return list(_controllers.values())


def _refresh_output_list() -> None:
    """Refresh the outputs and windows the properties dialog lists."""
    windows = ""
    try:
        with Connection() as connection:
            lines = "".join(f"{o.name}\t{o.info().description or o.name}\n" for o in connection.outputs.all())
            try:
                toplevels = ToplevelList(connection)
            except WlcapError:  # no ext-foreign-toplevel-list: no windows to offer
                pass
            else:
                windows = "".join(f"{t.app_id or t.title}\t{t.info().label}\n" for t in toplevels.all())
                toplevels.destroy()
    except WlcapError:
        lines = ""
    native.set_output_list(lines)
    native.set_window_list(windows)


def _handle_event(event: native.SourceEvent) -> None:
    key = event.handle.key
    if event.event == native.EVENT_CREATE:
        if key in _controllers:  # adopted by load() already
            return
        _controllers[key] = SourceController(event.handle, SourceSettings.from_json(event.settings_json))
        _refresh_output_list()
        return
    controller = _controllers.get(key)
    if controller is None:
        return
    if event.event == native.EVENT_UPDATE:
        controller.update(SourceSettings.from_json(event.settings_json))
        _refresh_output_list()
    elif event.event == native.EVENT_SHOW:
        controller.show()
    elif event.event == native.EVENT_HIDE:
        controller.hide()
    elif event.event == native.EVENT_DESTROY:
        del _controllers[key]
        controller.destroy()


def _dispatch_loop() -> None:
    """Handle source events in order on this one Python thread (see wlcap_next_event in C)."""
    while not _stop_threads.is_set():
        event = native.next_event(200)
        if event is None:
            continue
        try:
            _handle_event(event)
        except Exception as exc:  # never lose the event loop to a bug
            native.log(native.LOG_ERROR, f"source event {event.event} failed: {exc!r}")
        finally:
            native.event_done(event)


def _watch_loop() -> None:
    next_outputs = 0.0
    while not _stop_threads.wait(WATCH_SECONDS):
        if time.monotonic() >= next_outputs:
            _refresh_output_list()
            next_outputs = time.monotonic() + OUTPUTS_SECONDS
        for controller in controllers():
            try:
                controller.watch()
            except Exception as exc:  # a bug must not kill the watchdog
                native.log(native.LOG_ERROR, f"watchdog: {exc!r}")


def load() -> None:
    """script_load: register (or re-enable) the source type, adopt sources that already exist
    (created before a script reload, or loaded from the scene collection), start the threads."""
    native.register()
    _refresh_output_list()
    for handle, settings_json, show_count in native.live_sources():
        if handle.key in _controllers:
            continue
        controller = SourceController(handle, SourceSettings.from_json(settings_json))
        _controllers[handle.key] = controller
        for _ in range(show_count):
            controller.show()
    _stop_threads.clear()
    for target, name in ((_dispatch_loop, "wlcap-events"), (_watch_loop, "wlcap-watchdog")):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        _threads.append(thread)


def unload() -> None:
    """script_unload: stop the threads and every capture, forget every source, and disable the
    type (libobs cannot unregister it). Until the next load C queues nothing for Python."""
    _stop_threads.set()
    for thread in _threads:
        thread.join()
    _threads.clear()
    for controller in controllers():
        controller.detach()
    _controllers.clear()
    native.unregister()


__all__ = ["Rung", "SourceController", "SourceSettings", "controllers", "load", "unload"]
