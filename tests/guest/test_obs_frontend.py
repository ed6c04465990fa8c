"""wlcap's source type as OBS 32 sees it: registered by a module, so that the real OBS 32 frontend
lists the source like a built-in one, not in the red it paints a source whose module is missing
(obs-studio#12966); and the script reloads with the type still its module's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from harness.obs_frontend import ObsApp
from harness.obs_guest import COLOUR, REPO, keep_log, launch_obs, set_background, wait_for_colour
from harness.obshost import obs_pythonpath

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

SCRIPT = REPO / "obs_plugin" / "wlcap.py"
# The control: a source type a script registers alone, as wlcap's did before its shim became a module.
CONTROL_SCRIPT = REPO / "tools" / "harness" / "obs_scripts" / "script_only_source.py"
CONTROL_TYPE = "wlcap_script_only_source"
LOAD_STATE_SCRIPT = REPO / "tools" / "harness" / "obs_scripts" / "load_states.py"
OBS_APP_ID = "com.obsproject.Studio"


def test_the_type_is_its_modules_and_stays_so_across_reloads(obs_host_binary: Path,
                                                             guest_baseline_leaks: int) -> None:
    set_background(COLOUR)
    host = launch_obs(obs_host_binary)
    try:
        assert host.ok("load_state", "wlcap_capture")["state"] == "enabled"
        for _reload in range(2):  # what Tools -> Scripts -> reload does: unload, then load
            host.ok("unload_script")
            host.ok("script", str(SCRIPT))
            assert host.ok("types")["types"].count("wlcap_capture") == 1
            assert host.ok("load_state", "wlcap_capture")["state"] == "enabled"
        host.ok("create", "cap", "wlcap_capture", json.dumps({"cursor": False, "protocol": "wlr"}))
        assert wait_for_colour(host) <= 2
        log = host.log()
        keep_log(host, "obs-module.log")
        assert "registered source type wlcap_capture through OBS's module loader" in log
        assert log.count("source type wlcap_capture enabled again") == 2
        assert host.quit() == guest_baseline_leaks
    finally:
        host.cleanup()


def red_label_rows(ppm: bytes) -> list[tuple[int, int]]:
    """Runs of screen rows (first, last) where OBS 32 writes text in its "missing module" red,
    #CC0000, with the anti-aliasing a label's glyphs have, in the left fifth of the screen: where OBS
    32's default layout has its Scenes and Sources lists at this size (the preview, right of them,
    draws a selected source's outline in red too)."""
    magic, width, height, maxval, pixels = ppm.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255"
    w, h = int(width), int(height)
    rows = []
    for y in range(h):
        row = pixels[y * w * 3:(y * w + w // 5) * 3]
        reds = sum(1 for x in range(0, len(row), 3) if row[x] >= 150 and row[x + 1] <= 60 and row[x + 2] <= 60)
        if reds >= 3:
            rows.append(y)
    runs: list[tuple[int, int]] = []
    for y in rows:
        if runs and y - runs[-1][1] <= 3:
            runs[-1] = (runs[-1][0], y)
        else:
            runs.append((y, y))
    return runs


def close_obs() -> None:
    """What a user's close button does on sway: the compositor asks OBS's main window to close."""
    result = subprocess.run(["swaymsg", f'[app_id="{OBS_APP_ID}"]', "kill"], capture_output=True, text=True,
                            timeout=30)
    if result.returncode != 0:
        tree = subprocess.run(["swaymsg", "-t", "get_tree"], capture_output=True, text=True, timeout=30).stdout
        app_ids = sorted(set(re.findall(r'"app_id": "([^"]*)"', tree)))
        print(f"no window of app id {OBS_APP_ID} to close ({result.stdout.strip()}); windows: {app_ids}")
        raise OSError(f"no window of app id {OBS_APP_ID}")


def load_states(path: Path, timeout: float = 60) -> dict[str, str]:
    """What libobs in the OBS app says of each type (tools/harness/obs_scripts/load_states.py)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "the load-state script wrote nothing"
        time.sleep(0.5)
    return dict(json.loads(path.read_text()))


def test_obs_32_lists_the_source_like_a_built_in_one(tmp_path: Path) -> None:
    """The real OBS 32 app on sway (Qt on Wayland), wlcap's script loaded as Tools -> Scripts does,
    beside a control: a source type a script registers alone, which no module claims."""
    if shutil.which("obs") is None:
        pytest.skip("no OBS frontend in this guest")
    set_background(COLOUR)
    states_file = tmp_path / "load-states.json"
    env = dict(os.environ, QT_QPA_PLATFORM="wayland", WLCAP_PYTHONPATH=obs_pythonpath(),
               WLCAP_LOAD_STATE_TYPES=f"wlcap_capture,{CONTROL_TYPE}", WLCAP_LOAD_STATE_FILE=str(states_file))
    obs = ObsApp(env, SCRIPT, tmp_path, 640, 400, extra_scripts=[CONTROL_SCRIPT, LOAD_STATE_SCRIPT],
                 close=close_obs, start_timeout=300)
    share = Path(os.environ.get("WLCAP_SHARE", tmp_path))
    try:
        kinds = obs.request("GetInputKindList")["inputKinds"]
        assert "wlcap_capture" in kinds and CONTROL_TYPE in kinds, kinds
        # A small region of the screen's corner: the preview then shows no copy of the Sources list.
        obs.request("CreateInput", sceneName="Scene", inputName="Wayland", inputKind="wlcap_capture",
                    inputSettings={"cursor": False, "region": "0,0 64x64"}, sceneItemEnabled=True)
        # Added last, the control is the one selected: wlcap's label is drawn in its own colours.
        obs.request("CreateInput", sceneName="Scene", inputName="Script only", inputKind=CONTROL_TYPE,
                    sceneItemEnabled=True)
        states = load_states(states_file)
        time.sleep(5)  # the list is drawn and the first frames shown
        subprocess.run(["grim", str(share / "obs32-main-window.png")], check=True, timeout=60)
        both = red_label_rows(subprocess.run(["grim", "-t", "ppm", "-"], check=True, capture_output=True,
                                             timeout=60).stdout)
        obs.request("RemoveInput", inputName="Script only")  # while its script still answers for it
        time.sleep(2)
        wlcap_alone = red_label_rows(subprocess.run(["grim", "-t", "ppm", "-"], check=True,
                                                    capture_output=True, timeout=60).stdout)
    finally:
        status = obs.stop(timeout=60)
        (share / "obs32-frontend.log").write_text(obs.log())
    print("load states:", states, "red label rows with both:", both, "with wlcap's alone:", wlcap_alone)
    # libobs in the OBS app knows wlcap's type as an enabled module's, and the control's as missing.
    assert states == {"wlcap_capture": "enabled", CONTROL_TYPE: "missing"}, states
    # The Sources list draws the control's label in the "missing module" red, each run a line of text
    # high; once the control is gone, nothing: wlcap's label is drawn as a built-in source's.
    assert both and all(6 <= last - first + 1 <= 24 for first, last in both), both
    assert wlcap_alone == [], wlcap_alone
    log = obs.log()
    assert "registered source type wlcap_capture through OBS's module loader" in log
    assert status == 0 and obs.stop_method == "window close", (status, obs.stop_method)
