"""The status a wlcap source shows in its properties: a short line first (what it captures, at what
rate, in which memory, frames refused), and the details of how (why that memory, format, sync,
cursor, protocol and why) in the Advanced group and the log."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Status:
    headline: str
    details: str


def capturing(target: str, summary: SessionSummary, fps: float, frames_shown: int, cursor_shown: bool,
              rejected: int, last_rejection: str) -> Status:
    """`fps`: frames shown a second lately; an unchanged screen sends none, which is said, so that
    0 fps does not look like a fault."""
    backend = summary.backend.value if summary.backend else "negotiating"
    fmt = describe(summary.format) if summary.format is not None else "-"
    modifier = f" modifier {describe_modifier(summary.modifier)}" if summary.modifier is not None else ""
    reason = f"{backend}: {summary.backend_reason}, " if summary.backend_reason else ""
    sync = ""
    if summary.backend is BufferKind.DMABUF:
        sync = ", " + describe_sync(*native.sync_status())
    elif summary.backend is BufferKind.SHM:
        sync = ", copied (no fences needed)"
    refused = f", {rejected} frames not shown" if rejected else ""
    last_refused = f"; last frame not shown: {last_rejection}" if rejected else ""
    still = " (no change)" if frames_shown and fps < 0.05 else ""
    return Status(f"capturing {target}: {backend}, {fps:.1f} fps{still}{refused}",
                  f"{reason}{fmt}{modifier}{sync}, {describe_cursor(summary, cursor_shown)}, "
                  f"{summary.protocol} ({summary.protocol_reason}){last_refused}")
