"""The lies tools/harness/wayland_proxy.py can tell a client about a real compositor's events, by name
(LIES): wrong buffer sizes, strides and formats, events out of order, floods of damage and damage far
outside the buffer, DMA-BUFs refused. Each makes a new `Lie` for each client connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.wayland_proxy import Lie, Message

FRAME = "zwlr_screencopy_frame_v1"
EXT_SESSION = "ext_image_copy_capture_session_v1"
EXT_FRAME = "ext_image_copy_capture_frame_v1"
DMABUF_PARAMS = "zwp_linux_buffer_params_v1"
UNKNOWN_FORMAT = 0x5A5A5A5A  # "ZZZZ": no format at all
NV12 = 0x3231564E  # a real format, but planar YUV: not one a screen capture reads as RGB
HUGE = 65535


class Rewrite(Lie):
    """Every `interface.event` with other arguments: `change(args)` gives them."""

    def __init__(self, interface: str, event: str, change: Callable[[list[Any]], list[Any]]) -> None:
        self.interface, self.event, self.change = interface, event, change

    def __call__(self, event: Message) -> list[Message]:
        if (event.interface, event.name) == (self.interface, self.event):
            event.args = self.change(list(event.args))
        return [event]


class Replace(Lie):
    """Every `interface.event` replaced by what `instead(event)` makes of it (nothing: dropped)."""

    def __init__(self, interface: str, event: str, instead: Callable[[Message], list[Message]]) -> None:
        self.interface, self.event, self.instead = interface, event, instead

    def __call__(self, event: Message) -> list[Message]:
        if (event.interface, event.name) == (self.interface, self.event):
            return self.instead(event)
        return [event]


class DmabufCopiesFail(Lie):
    """Once the client has a DMA-BUF wl_buffer on this connection, every frame fails instead of
    `ready` (wlr-screencopy and ext-image-copy-capture): a compositor whose renderer cannot write the
    buffers it accepted. A connection with shared-memory buffers only is told the truth."""

    def __init__(self) -> None:
        self.dmabuf_created = False

    def __call__(self, event: Message) -> list[Message]:
        if (event.interface, event.name) == (DMABUF_PARAMS, "created"):
            self.dmabuf_created = True
        elif self.dmabuf_created and event.name == "ready" and event.interface in (FRAME, EXT_FRAME):
            return [Message(event.object_id, event.interface, "failed", [0] if event.interface == EXT_FRAME else [])]
        return [event]


def _refuse_dmabuf(event: Message) -> list[Message]:
    """linux-dmabuf's answer to `create` turned into a refusal (the buffer the compositor made stays
    unknown to the client)."""
    return [Message(event.object_id, DMABUF_PARAMS, "failed", [])]


def _ready(event: Message) -> Message:
    return Message(event.object_id, FRAME, "ready", [0, 1, 0])


def _damage_flood(event: Message, count: int = 100_000) -> list[Message]:
    """`count` damage events before `ready`, each a pixel of the top-left 64x64."""
    return [*(Message(event.object_id, FRAME, "damage", [i % 64, i // 64 % 64, 1, 1]) for i in range(count)), event]


def _damage_outside(event: Message) -> list[Message]:
    """Damage far outside any buffer, wrapping uint32, and running past the edges, before `ready`."""
    far = 0xFFFFFF00
    rects = [[far, far, 0xFFFFFFFF, 0xFFFFFFFF], [2**31, 0, 2**31, 10], [100_000, 100_000, 10, 10],
             [0, 0, 0xFFFFFFFF, 0xFFFFFFFF], [600, 400, 100_000, 100_000]]
    return [*(Message(event.object_id, FRAME, "damage", rect) for rect in rects), event]


def _shm(change: Callable[[int, int, int, int], tuple[int, int, int, int]]) -> Callable[[], Lie]:
    """A lie about the shm buffer a frame needs: `change(format, width, height, stride)`."""
    return lambda: Rewrite(FRAME, "buffer", lambda args: list(change(*args)))


# What each lie makes the compositor say, by name (tests choose from these).
LIES: dict[str, Callable[[], Lie]] = {
    "truth": Lie,
    # wlr-screencopy: the shm buffer a frame needs
    "buffer-smaller": _shm(lambda f, w, h, s: (f, w // 2, h // 2, w // 2 * 4)),
    "buffer-larger": _shm(lambda f, w, h, s: (f, w * 2, h * 2, w * 2 * 4)),
    "buffer-huge": _shm(lambda f, w, h, s: (f, HUGE, HUGE, HUGE * 4)),
    "buffer-empty": _shm(lambda f, w, h, s: (f, 0, 0, 0)),
    "stride-short": _shm(lambda f, w, h, s: (f, w, h, w * 2)),
    "format-unknown": _shm(lambda f, w, h, s: (UNKNOWN_FORMAT, w, h, s)),
    "format-planar": _shm(lambda f, w, h, s: (NV12, w, h, s)),
    "format-other": _shm(lambda f, w, h, s: (0x34324241, w, h, s)),  # ABGR8888, not what it copies
    # wlr-screencopy: the order of events
    "no-buffer-done": lambda: Replace(FRAME, "buffer_done", lambda event: []),
    "ready-without-buffer-done": lambda: Replace(FRAME, "buffer_done", lambda event: [_ready(event)]),
    "ready-before-copy": lambda: Replace(FRAME, "buffer_done", lambda event: [event, _ready(event)]),
    "ready-twice": lambda: Replace(FRAME, "ready", lambda event: [event, _ready(event)]),
    # wlr-screencopy: damage
    "damage-flood": lambda: Replace(FRAME, "ready", _damage_flood),
    "damage-outside": lambda: Replace(FRAME, "ready", _damage_outside),
    # ext-image-copy-capture-v1's session constraints (compositors that offer it)
    "ext-size-smaller": lambda: Rewrite(EXT_SESSION, "buffer_size", lambda args: [args[0] // 2, args[1] // 2]),
    "ext-size-huge": lambda: Rewrite(EXT_SESSION, "buffer_size", lambda args: [HUGE, HUGE]),
    "ext-size-empty": lambda: Rewrite(EXT_SESSION, "buffer_size", lambda args: [0, 0]),
    "ext-format-unknown": lambda: Rewrite(EXT_SESSION, "shm_format", lambda args: [UNKNOWN_FORMAT]),
    # DMA-BUFs the compositor refuses: at creation (linux-dmabuf's `failed`), or every copy into one
    "dmabuf-refused": lambda: Replace(DMABUF_PARAMS, "created", _refuse_dmabuf),
    "dmabuf-copies-fail": DmabufCopiesFail,
}
