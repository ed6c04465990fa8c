"""The one facade over the OBS shim built from native/ (``wlcap_obs._native``): registration, the
frame slot, render statistics and OBS's DMA-BUF capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from capture.protocol.cursor_session import CursorImage

from ._native import ffi, lib

LOG_ERROR = 100
LOG_WARNING = 200
LOG_INFO = 300
MAX_TOKENS = 64


def log(level: int, message: str) -> None:
    lib.wlcap_log(level, message.encode(errors="replace"))


def register() -> None:
    lib.wlcap_obs_register()


def unregister() -> None:
    lib.wlcap_obs_unregister()


@dataclass(frozen=True)
class DmabufCapabilities:
    """What OBS's renderer imports: formats -> modifiers, and whether implicit modifiers work."""

    supported: bool
    implicit_modifiers: bool
    modifiers: dict[int, tuple[int, ...]]


def query_dmabuf_capabilities() -> DmabufCapabilities:
    formats = ffi.new("uint32_t[]", 128)
    implicit = ffi.new("bool *")
    count = lib.wlcap_query_dmabuf_formats(formats, 128, implicit)
    if count < 0:
        return DmabufCapabilities(False, False, {})
    modifiers: dict[int, tuple[int, ...]] = {}
    buffer = ffi.new("uint64_t[]", 256)
    for fmt in formats[0:count]:
        n = lib.wlcap_query_dmabuf_modifiers(fmt, buffer, 256)
        modifiers[int(fmt)] = tuple(int(m) for m in buffer[0:max(n, 0)])
    return DmabufCapabilities(True, bool(implicit[0]), modifiers)


@dataclass(frozen=True)
class RenderStats:
    frames_published: int
    frames_dropped: int
    frames_shown: int
    renders: int
    render_ns: int
    ticks: int
    tick_ns: int
    uploads: int
    textures_created: int
    dmabuf_imports: int
    dmabuf_import_failures: int
    python_frames: int
    python_ns: int
    acquire_waits: int
    acquire_signalled: int
    releases_unsampled: int
    releases_copied: int
    release_fences: int
    releases_implicit: int
    releases_at_stop: int
    frames_returned: int
    cursor_uploads: int
    cursor_draws: int
    frames_rejected: int
    upload_pixels: int
    width: int
    height: int


class SourceHandle:
    """The C side of one source (`struct wlcap_source *`), valid from CREATE until DESTROY returns."""

    def __init__(self, pointer: Any) -> None:
        self.pointer = pointer
        self._tokens = ffi.new("uint64_t[]", MAX_TOKENS)

    @property
    def key(self) -> int:
        return int(ffi.cast("uintptr_t", self.pointer))

    def publish(self, desc: Any) -> bool:
        return bool(lib.wlcap_source_publish(self.pointer, desc))

    def take_returned(self) -> list[int]:
        n = lib.wlcap_source_take_returned(self.pointer, self._tokens, MAX_TOKENS)
        return [int(t) for t in self._tokens[0:n]]

    def clear(self) -> None:
        lib.wlcap_source_clear(self.pointer)

    def set_wake_fd(self, fd: int) -> None:
        lib.wlcap_source_set_wake_fd(self.pointer, fd)

    def set_status(self, status: str, details: str = "") -> None:
        """`status`: the line the properties show first; `details`: how, shown in the Advanced group."""
        lib.wlcap_source_set_status(self.pointer, status.encode(errors="replace"), details.encode(errors="replace"))

    def render_clock(self) -> tuple[int, int]:
        """OBS's last tick of this source and its frame period (CLOCK_MONOTONIC ns; 0 unknown), for
        capture.pacing."""
        fps = video_fps()
        return int(lib.wlcap_source_last_tick_ns(self.pointer)), int(1e9 / fps) if fps > 0 else 0

    def add_python_time(self, frames: int, ns: int) -> None:
        lib.wlcap_source_add_python_time(self.pointer, frames, ns)

    def set_cursor_image(self, image: CursorImage) -> bool:
        return bool(lib.wlcap_source_set_cursor_image(self.pointer, ffi.from_buffer(image.pixels), image.width,
                                                      image.height, image.stride, image.format,
                                                      image.hotspot_x, image.hotspot_y))

    def set_cursor_position(self, inside: bool, x: int, y: int) -> None:
        lib.wlcap_source_set_cursor_position(self.pointer, inside, x, y)

    def show_cursor(self, shown: bool) -> None:
        lib.wlcap_source_show_cursor(self.pointer, shown)

    def last_rejection(self) -> str:
        """Why the render thread last refused to sample a frame ("" if it never did)."""
        why = ffi.new("char[]", 256)
        lib.wlcap_source_last_rejection(self.pointer, why, 256)
        text: bytes = ffi.string(why)
        return text.decode(errors="replace")

    def take_import_failure(self) -> tuple[int, int] | None:
        fmt = ffi.new("uint32_t *")
        modifier = ffi.new("uint64_t *")
        if lib.wlcap_source_take_import_failure(self.pointer, fmt, modifier):
            return int(fmt[0]), int(modifier[0])
        return None

    def stats(self) -> RenderStats:
        out = ffi.new("struct wlcap_render_stats *")
        lib.wlcap_source_get_stats(self.pointer, out)
        return RenderStats(**{name: int(getattr(out, name)) for name in RenderStats.__dataclass_fields__})


SYNC_UNDECIDED, SYNC_EXPLICIT, SYNC_IMPLICIT = 0, 1, 2


def sync_status() -> tuple[int, str]:
    """Explicit sync on OBS's render thread: (SYNC_*, the mechanism or why it is unavailable)."""
    why = ffi.new("char[]", 256)
    status = lib.wlcap_sync_status(why, 256)
    return int(status), ffi.string(why).decode(errors="replace")


def live_sources() -> list[tuple[SourceHandle, str, int]]:
    """(handle, settings JSON, show count) of every wlcap source that exists in OBS now."""
    pointers = ffi.new("struct wlcap_source *[]", 256)
    found = []
    for pointer in pointers[0:lib.wlcap_live_sources(pointers, 256)]:
        size = 4096
        while True:
            buf = ffi.new("char[]", size)
            length = lib.wlcap_source_settings_json(pointer, buf, size)
            if length <= size:
                break
            size = length
        found.append((SourceHandle(pointer), ffi.unpack(buf, length).decode(), lib.wlcap_source_show_count(pointer)))
    return found


@dataclass(frozen=True)
class SourceEvent:
    id: int
    handle: SourceHandle
    event: int
    settings_json: str | None
    _raw_settings: Any


def next_event(timeout_ms: int) -> SourceEvent | None:
    """The next source event C queued (OBS may call the source on any thread; Python handles
    them all on one), waiting up to timeout_ms."""
    info = ffi.new("struct wlcap_event_info *")
    if not lib.wlcap_next_event(info, timeout_ms):
        return None
    raw = info.settings_json
    text = ffi.string(raw).decode(errors="replace") if raw != ffi.NULL else None
    return SourceEvent(int(info.id), SourceHandle(info.src), int(info.event), text, raw)


def event_done(event: SourceEvent) -> None:
    lib.wlcap_event_done(event.id, event._raw_settings)


def set_output_list(lines: str) -> None:
    lib.wlcap_set_output_list(lines.encode(errors="replace"))


def set_window_list(lines: str) -> None:
    lib.wlcap_set_window_list(lines.encode(errors="replace"))


def video_fps() -> float:
    return float(lib.wlcap_video_fps())


def new_frame_desc() -> Any:
    return ffi.new("struct wlcap_frame_desc *")


def pointer_to(buffer: memoryview) -> Any:
    return ffi.from_buffer(buffer)


def address_pointer(address: int) -> Any:
    """A `const void *` for memory this process has mapped (a shm buffer's pixels)."""
    return ffi.cast("const void *", address)


FRAME_SHM = lib.WLCAP_FRAME_SHM
MAX_DAMAGE = int(lib.WLCAP_MAX_DAMAGE)
FRAME_DMABUF = lib.WLCAP_FRAME_DMABUF
EVENT_CREATE = lib.WLCAP_EVENT_CREATE
EVENT_UPDATE = lib.WLCAP_EVENT_UPDATE
EVENT_DESTROY = lib.WLCAP_EVENT_DESTROY
EVENT_SHOW = lib.WLCAP_EVENT_SHOW
EVENT_HIDE = lib.WLCAP_EVENT_HIDE
