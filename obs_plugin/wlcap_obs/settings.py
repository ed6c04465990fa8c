"""A wlcap source's settings, as OBS stores them (JSON), read into one immutable object."""

from __future__ import annotations

import json
from dataclasses import dataclass

from capture.options import Backend, CaptureProtocol

# The settings that take one of a few values: the label the properties dialog gives each, and the values
# (those of the capture library's own choices where it has them).
CHOICES = {
    "target": ("Capture", ("output", "window")),
    "backend": ("Frame memory", tuple(b.value for b in Backend)),
    "protocol": ("Capture protocol", tuple(p.value for p in CaptureProtocol)),
    "cursor_drawing": ("Cursor drawn by", ("obs", "compositor")),
}


@dataclass(frozen=True)
class SourceSettings:
    output: str = ""
    cursor: bool = True  # as OBS's own screen captures: the C defaults say the same
    backend: str = "auto"
    region: str = ""
    target: str = "output"  # "output" or "window"
    window: str = ""  # an app id (what the window list stores), title or identifier
    protocol: str = "auto"  # auto, ext, wlr
    # "obs": OBS draws the cursor it gets from a cursor session (ext), so that `cursor` (show it or
    # not) takes effect without touching the capture; "compositor": painted into the frames.
    cursor_drawing: str = "obs"

    def unknown_choice(self) -> str | None:
        """What is wrong with a choice no dialog offers (settings set by another program: obs-websocket,
        a hand-edited scene collection); None: every choice is known."""
        for field, (label, values) in CHOICES.items():
            value = getattr(self, field)
            if value not in values:
                return f"{label}: unknown choice {value!r} (one of: {', '.join(values)})"
        return None

    @classmethod
    def from_json(cls, text: str | None) -> SourceSettings:
        data = json.loads(text) if text else {}
        return cls(output=str(data.get("output", "")), cursor=bool(data.get("cursor", True)),
                   backend=str(data.get("backend", "auto")), region=str(data.get("region", "")).strip(),
                   target=str(data.get("target", "output")), window=str(data.get("window", "")),
                   protocol=str(data.get("protocol", "auto")),
                   cursor_drawing=str(data.get("cursor_drawing", "obs")))
