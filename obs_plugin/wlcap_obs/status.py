"""The status line a wlcap source shows in its properties: what it captures and how, in one sentence."""

from __future__ import annotations

from capture import SessionSummary
from capture.buffers.formats import describe, describe_modifier
from capture.buffers.spec import BufferKind

from . import native


def describe_sync(status: int, why: str) -> str:
    """How OBS's reads of a DMA-BUF and the compositor's writes into it are ordered. Shared memory
    needs none of it: OBS copies each frame before the buffer goes back."""
    if status == native.SYNC_EXPLICIT:
        return f"explicit sync ({why})"
    if status == native.SYNC_IMPLICIT:
        return f"implicit sync ({why})"
    return "sync: waiting for the first frame"


def describe_cursor(summary: SessionSummary, shown: bool) -> str:
    if summary.cursor_separate:
        return "cursor drawn by OBS" if shown else "cursor left out by OBS"
    if summary.cursor_note:
        return f"cursor {summary.cursor_note}"
    return "cursor painted by the compositor" if shown else "cursor left out"


def capturing(target: str, summary: SessionSummary, fps: float, cursor_shown: bool, rejected: int,
              last_rejection: str) -> str:
    backend = summary.backend.value if summary.backend else "negotiating"
    fmt = describe(summary.format) if summary.format is not None else "-"
    modifier = f" modifier {describe_modifier(summary.modifier)}" if summary.modifier is not None else ""
    reason = f" ({summary.backend_reason})" if summary.backend_reason else ""
    sync = ""
    if summary.backend is BufferKind.DMABUF:
        sync = ", " + describe_sync(*native.sync_status())
    elif summary.backend is BufferKind.SHM:
        sync = ", copied (no fences needed)"
    refused = f", {rejected} frames not shown ({last_rejection})" if rejected else ""
    return (f"capturing {target}: {backend}{reason}, {fmt}{modifier}{sync}, {fps:.1f} fps, "
            f"{describe_cursor(summary, cursor_shown)}, {summary.protocol} ({summary.protocol_reason}){refused}")
