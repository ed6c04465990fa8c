"""An OBS script for the demo, loaded beside obs_plugin/wlcap.py: twice a second it writes what every
wlcap source's Properties dialog says of it (the status line first, and the details in its Advanced
group where the source shows them) to the JSON file WLCAP_STATUS_FILE names, as
{"source name": {"status": ..., "details": ...}}. obs-websocket has no request that reads a property's
text, so this is how the demo learns it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import obspython as obs

SOURCE_ID = "wlcap_capture"


def _description(props: object, name: str) -> str:
    prop = obs.obs_properties_get(props, name)  # groups are searched too
    return str(obs.obs_property_description(prop)) if prop else ""


def statuses() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    sources = obs.obs_enum_sources()
    try:
        for source in sources or []:
            if obs.obs_source_get_unversioned_id(source) != SOURCE_ID:
                continue
            props = obs.obs_source_properties(source)
            found[obs.obs_source_get_name(source)] = {"status": _description(props, "status"),
                                                      "details": _description(props, "details")}
            obs.obs_properties_destroy(props)
    finally:
        obs.source_list_release(sources)
    return found


def write_statuses() -> None:
    path = os.environ.get("WLCAP_STATUS_FILE")
    if not path:
        return
    partial = Path(path + ".partial")
    partial.write_text(json.dumps(statuses()))
    partial.replace(path)  # a reader never sees half a file


def script_description() -> str:
    return "wlcap demo: writes each wlcap source's status line to $WLCAP_STATUS_FILE"


def script_load(settings: object) -> None:
    obs.timer_add(write_statuses, 500)


def script_unload() -> None:
    obs.timer_remove(write_statuses)
