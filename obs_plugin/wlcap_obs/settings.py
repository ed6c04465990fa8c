"""A wlcap source's settings, as OBS stores them (JSON), read into one immutable object."""

from __future__ import annotations

import json
from dataclasses import dataclass


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

    @classmethod
    def from_json(cls, text: str | None) -> SourceSettings:
        data = json.loads(text) if text else {}
        return cls(output=str(data.get("output", "")), cursor=bool(data.get("cursor", True)),
                   backend=str(data.get("backend", "auto")), region=str(data.get("region", "")).strip(),
                   target=str(data.get("target", "output")), window=str(data.get("window", "")),
                   protocol=str(data.get("protocol", "auto")),
                   cursor_drawing=str(data.get("cursor_drawing", "obs")))
