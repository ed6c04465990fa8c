"""An OBS script for the tests: once a second it writes what libobs' module registry says of the
source types named in WLCAP_LOAD_STATE_TYPES (comma-separated) to the JSON file WLCAP_LOAD_STATE_FILE,
as {"type": "enabled" | "missing" | ...}. OBS 32's frontend paints a source red unless its type's
state is "enabled" (obs_source_load_state); OBS before 32 has no such call ("unknown")."""

from __future__ import annotations

import json
import os
from pathlib import Path

import obspython as obs

NAMES = {getattr(obs, f"OBS_MODULE_{name.upper()}", -1): name
         for name in ("invalid", "enabled", "missing", "disabled", "disabled_safe", "failed_to_open",
                      "failed_to_initialize")}


def write_states() -> None:
    types = [t for t in os.environ.get("WLCAP_LOAD_STATE_TYPES", "").split(",") if t]
    load_state = getattr(obs, "obs_source_load_state", None)
    states = {t: NAMES.get(load_state(t), str(load_state(t))) if load_state else "unknown" for t in types}
    path = Path(os.environ["WLCAP_LOAD_STATE_FILE"])
    path.with_suffix(".tmp").write_text(json.dumps(states))
    path.with_suffix(".tmp").replace(path)


def script_description() -> str:
    return "Test: writes obs_source_load_state of some source types to a file"


def script_load(settings: object) -> None:
    obs.timer_add(write_states, 1000)


def script_unload() -> None:
    obs.timer_remove(write_states)
