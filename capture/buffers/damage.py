"""Per-buffer damage bookkeeping for ext-image-copy-capture.

The compositor only has to refresh, in a reused buffer, what changed since *that buffer* was last
filled. Each capture's damage is therefore added to every other pooled buffer's account; the buffer
just filled starts again from nothing. A buffer never filled (or whose account overflowed) is
damaged whole.
"""

from __future__ import annotations

Rect = tuple[int, int, int, int]

# Beyond this many rectangles one bounding box is cheaper to send and to copy than the list.
MAX_RECTS = 16


def bounding_box(rects: list[Rect]) -> Rect:
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)


def clip(rect: Rect, width: int, height: int) -> Rect | None:
    x, y, w, h = rect
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def within(rects: list[Rect], width: int, height: int, x0: int = 0, y0: int = 0) -> list[Rect]:
    """The parts of `rects` inside a width x height buffer whose top left is (x0, y0) in their
    coordinates (a region's buffer, given an output's damage), in the buffer's: what a consumer may be
    sent to read."""
    moved = ((x - x0, y - y0, w, h) for x, y, w, h in rects)
    return [c for c in (clip(r, width, height) for r in moved) if c is not None]


class DamageTracker:
    """What each buffer (by id) missed since it was last filled; unknown buffers are damaged whole."""

    def __init__(self) -> None:
        self._pending: dict[int, list[Rect]] = {}

    def damage_for(self, buffer_id: int, width: int, height: int) -> list[Rect]:
        """The damage to send with damage_buffer before capturing into this buffer."""
        rects = self._pending.get(buffer_id)
        if rects is None:
            return [(0, 0, width, height)]
        return within(rects, width, height)

    def filled(self, buffer_id: int, damage: list[Rect]) -> None:
        """buffer_id now holds the newest frame, which differs from the previous one by `damage`."""
        for other, rects in self._pending.items():
            if other == buffer_id or not damage:
                continue
            rects.extend(damage)
            if len(rects) > MAX_RECTS:
                rects[:] = [bounding_box(rects)]
        self._pending[buffer_id] = []

    def forget(self, buffer_id: int) -> None:
        self._pending.pop(buffer_id, None)

    def reset(self) -> None:
        """Every buffer's content is unknown again (new pool, or a failed capture into it)."""
        self._pending.clear()
