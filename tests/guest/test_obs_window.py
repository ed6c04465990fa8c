"""Window capture in OBS: OBS 32 in the guest tier shows a test client's window through
ext-image-copy-capture-v1 (DMA-BUF), says when the window closes, and resumes when a window of the
same app id opens again."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from harness.clients import client_command
from harness.obs_guest import REPO, TOLERANCE, keep_log, launch_obs, wait_for_colour
from harness.obshost import ObsHost

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")

APP_ID = "wlcap.obs"
WIDTH, HEIGHT = 320, 200


def start_obs(binary: Path, settings: dict[str, str]) -> ObsHost:
    host = launch_obs(binary, WIDTH, HEIGHT)
    host.ok("create", "cap", "wlcap_capture", json.dumps({"cursor": False, **settings}, separators=(",", ":")))
    return host


def open_window(colour: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([*client_command("testwindow"), "--app-id", APP_ID,
                                "--title", "OBS test window", "--colour", colour],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert process.stdout is not None and process.stdout.readline().startswith("drawn ")
    return process  # floating at its own size: test_ext_capture's rule, set again below


def close_window(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        assert process.stdin is not None
        process.stdin.write("quit\n")
        process.stdin.flush()
        process.wait(10)
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def wait_for(host: ObsHost, check, timeout: float = 90) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        props = host.ok("props", "cap")
        if check(props) or time.monotonic() > deadline:
            return str(props["status"])
        time.sleep(0.5)


def test_obs_captures_a_window_and_resumes_when_its_app_returns(obs_host_binary: Path,
                                                                guest_baseline_leaks: int) -> None:
    subprocess.run(["swaymsg", "for_window", '[app_id="^wlcap"]', "floating", "enable"], check=True,
                   capture_output=True, timeout=30)
    first = open_window("c83c28")
    host = start_obs(obs_host_binary, {"target": "window", "window": APP_ID, "backend": "dmabuf"})
    second = None
    try:
        status = wait_for(host, lambda p: "fps" in p["status"] and "negotiating" not in p["status"])
        print("status:", status)
        assert status.startswith(f"Status: capturing window 'OBS test window [{APP_ID}]': dmabuf"), status
        assert status.endswith("ext-image-copy-capture-v1 (window capture)"), status
        assert wait_for_colour(host, (200, 60, 40), timeout=90) <= TOLERANCE
        assert APP_ID in host.ok("props", "cap")["windows"]
        close_window(first)
        status = wait_for(host, lambda p: "no window" in p["status"])
        print("closed:", status)
        assert status == f"Status: error: no window '{APP_ID}' (windows: none)", status
        assert APP_ID in host.ok("props", "cap")["windows"]  # remembered while it is not open
        second = open_window("2864c8")
        status = wait_for(host, lambda p: "fps" in p["status"] and "negotiating" not in p["status"])
        assert status.startswith(f"Status: capturing window 'OBS test window [{APP_ID}]'"), status
        assert wait_for_colour(host, (40, 100, 200), timeout=90) <= TOLERANCE
        log = host.log()
        assert f"[wlcap] window 'OBS test window [{APP_ID}]' closed; retrying" in log
        assert "Traceback" not in log
        assert host.quit() == guest_baseline_leaks
    finally:
        keep_log(host, "obs-window.log")
        host.cleanup()
        close_window(first)
        if second is not None:
            close_window(second)
