"""The properties dialog a user opens in the real OBS app (OBS 29 on Xvfb, opened through
obs-websocket's OpenInputPropertiesDialog): the status line first, and only what applies to a
screen or to a window. Read back from a screenshot of the dialog by OCR (tesseract), and kept for
looking at."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import _need, obs_pythonpath
from harness.compositor import SwayHeadless
from harness.obs_frontend import ObsApp, obs_env
from harness.obshost import Xvfb
from harness.x11_close import close_windows, move_pointer, window_geometry

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "obs_plugin" / "wlcap.py"
DIALOG_TITLE = "Properties for 'Wayland'"


def dialog_screenshot(display: str, path: Path, timeout: float = 30) -> Path:
    """A PNG of the properties dialog alone, once it is on the screen."""
    deadline = time.monotonic() + timeout
    while (geometry := window_geometry(display, DIALOG_TITLE)) is None:
        assert time.monotonic() < deadline, "the properties dialog did not open"
        time.sleep(0.3)
    time.sleep(3)  # laid out, and the status refreshed
    x, y, width, height = window_geometry(display, DIALOG_TITLE) or geometry
    move_pointer(display, x + width + 10, y + height + 10)  # off the dialog: no widget drawn hovered
    time.sleep(0.5)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "x11grab", "-video_size", f"{width}x{height}",
                    "-i", f"{display}+{x},{y}", "-frames:v", "1", str(path)], check=True, timeout=60)
    return path


def read_text(png: Path) -> list[str]:
    """The text lines of the dialog's properties, top to bottom: tesseract, on the lower part of the
    dialog (the source's preview above it confuses its layout analysis), scaled up twice."""
    scaled = png.with_suffix(".properties.png")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(png), "-vf",
                    "crop=iw:ih*0.55:0:ih*0.45,scale=iw*2:ih*2:flags=lanczos", str(scaled)], check=True, timeout=60)
    text = subprocess.run(["tesseract", str(scaled), "-", "--psm", "6"], check=True, capture_output=True,
                          text=True, timeout=120).stdout
    return [line.strip() for line in text.splitlines() if line.strip()]


def first_line_with(lines: list[str], pattern: str) -> int:
    """The index of the first line matching `pattern` (a regular expression); -1 when none does."""
    return next((i for i, line in enumerate(lines) if re.search(pattern, line)), -1)


@pytest.fixture()
def obs_app(sway: SwayHeadless, xvfb: Xvfb, tmp_path: Path):  # type: ignore[no-untyped-def]
    for binary in ("obs", "ffmpeg", "tesseract"):
        _need(binary)
    env = dict(obs_env(sway.env, xvfb.display), WLCAP_PYTHONPATH=obs_pythonpath())
    app = ObsApp(env, SCRIPT, tmp_path, 1280, 720)
    try:
        yield app
    finally:
        app.stop()


def test_properties_dialog_shows_the_status_first_and_only_what_applies(obs_app: ObsApp, xvfb: Xvfb,
                                                                         tmp_path: Path) -> None:
    keep = Path(os.environ.get("WLCAP_ARTIFACTS", tmp_path))  # where the screenshots stay, to be looked at
    keep.mkdir(parents=True, exist_ok=True)
    obs_app.request("CreateInput", sceneName="Scene", inputName="Wayland", inputKind="wlcap_capture",
                    inputSettings={"output": "HEADLESS-1"}, sceneItemEnabled=True)
    time.sleep(3)  # capturing, so that the status says so
    screens = {}
    for target in ("output", "window"):
        obs_app.request("SetInputSettings", inputName="Wayland", inputSettings={"target": target})
        time.sleep(2)  # the source restarted: the status tells what it does now
        obs_app.request("OpenInputPropertiesDialog", inputName="Wayland")
        png = dialog_screenshot(xvfb.display, tmp_path / f"properties-{target}.png")
        if keep != tmp_path:
            shutil.copy(png, keep / png.name)
        screens[target] = read_text(png)
        close_windows(xvfb.display, DIALOG_TITLE)
        deadline = time.monotonic() + 20
        while window_geometry(xvfb.display, DIALOG_TITLE) is not None:
            assert time.monotonic() < deadline, "the properties dialog did not close"
            time.sleep(0.3)

    screen = screens["output"]
    status = first_line_with(screen, r"^Status: capturing HEADLESS-1")
    labels = [first_line_with(screen, rf"^{label}\b") for label in ("Capture", "Screen", "Show cursor", "Region")]
    assert status >= 0 and all(index > status for index in labels), screen  # the status comes first
    assert labels == sorted(labels), screen
    # sway's screen does not change here: no frames, and the status says why, not only "0.0 fps".
    assert screen[status].endswith("0.0 fps (no change)"), screen
    assert first_line_with(screen, r"^Window\b") == -1, screen  # a screen is captured: no window list

    window = screens["window"]
    assert first_line_with(window, r"^Window\b") > first_line_with(window, r"^Capture\b") >= 0, window
    assert first_line_with(window, r"^Screen\b") == -1, window
