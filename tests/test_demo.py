"""The README's demo, run as a user runs it: sway showing a small desktop (terminals with text, a window
that moves and resizes, a pointer), the OBS app with the wlcap source, a recording that decodes and
shows that desktop, the contact sheet and the screenshots it writes, OBS closed cleanly.

What the recording shows is checked against sway's own account of where its windows are (IPC) and
against grim's screenshot of the same screen, an independent capture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import png  # pypng: an independent decoder
import pytest
from conftest import _need, obs_pythonpath
from harness.demo_desktop import FLOATING_APP_ID, FLOATING_BACKGROUND, SHELL_APP_ID, STILL_APP_ID, floating_keyframes

REPO = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 720  # the demo's own size: what a user sees
X_SCREEN = (1280, 720)  # Xvfb's screen (harness/obshost.py), OBS's window on it
FLOATING = np.array(list(bytes.fromhex(FLOATING_BACKGROUND)), dtype=np.int16)
COLOUR_TOLERANCE = 24  # x264 + 4:2:0 + limited range round trip, on a flat colour
GRIM_MEAN_TOLERANCE = 4  # mean difference from grim over text (about 1 here): x264 blurs glyph edges

Image = npt.NDArray[np.uint8]  # height x width x RGB
Rect = tuple[int, int, int, int]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    for binary in ("sway", "foot", "grim", "obs", "Xvfb", "ffmpeg", "ffprobe"):
        _need(binary)
    out = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, WLCAP_PYTHONPATH=obs_pythonpath())
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--out", str(out)],
                            capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stderr[result.stderr.index("{"):result.stderr.rindex("}") + 1])
    report["stdout"] = result.stdout
    report["out"] = out
    return report


def read_png(path: Path) -> Image:
    width, height, rows, _info = png.Reader(filename=str(path)).asRGB8()
    return np.vstack([np.asarray(row, dtype=np.uint8) for row in rows]).reshape(height, width, 3)


def frames(recording: Path, numbers: list[int]) -> list[Image]:
    """The recording's frames `numbers` (counted from 0), decoded by ffmpeg."""
    select = "+".join(f"eq(n\\,{n})" for n in numbers)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(recording), "-vf", f"select='{select}'",
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                         check=True, capture_output=True).stdout
    size = WIDTH * HEIGHT * 3
    assert len(raw) == size * len(numbers), f"decoded {len(raw) / size} frames, not {len(numbers)}"
    return [np.frombuffer(raw[i * size:(i + 1) * size], dtype=np.uint8).reshape(HEIGHT, WIDTH, 3)
            for i in range(len(numbers))]


def crop(image: Image, rect: Rect) -> Image:
    x, y, w, h = rect
    return image[y:y + h, x:x + w]


def text_edges(region: Image) -> int:
    """Dark/light transitions along the rows: text on a terminal makes thousands, a flat colour none."""
    light = region.astype(np.int32).mean(axis=2) > 128
    return int(np.count_nonzero(light[:, 1:] != light[:, :-1]))


def floating_box(frame: Image, within: Rect) -> Rect | None:
    """The bounding box of the floating window's background colour inside `within`, as (x, y, w, h):
    rows and columns where it covers a stretch of pixels, so that stray text pixels do not count."""
    x0, y0, _w, _h = within
    region = crop(frame, within).astype(np.int16)
    match = (np.abs(region - FLOATING) <= COLOUR_TOLERANCE).all(axis=2)
    columns = np.flatnonzero(match.sum(axis=0) >= 20)
    rows = np.flatnonzero(match.sum(axis=1) >= 20)
    if not len(columns) or not len(rows):
        return None
    return (x0 + int(columns[0]), y0 + int(rows[0]), int(columns[-1] - columns[0]) + 1, int(rows[-1] - rows[0]) + 1)


def test_demo_records_and_closes_obs_cleanly(demo: dict[str, Any]) -> None:
    recording = Path(demo["stdout"].strip().splitlines()[-1])
    assert recording.is_file() and recording.parent == demo["out"]
    assert recording == Path(demo["recording"]) == Path(demo["files"]["recording"])
    video = demo["video"]
    assert video["codec_name"] == "h264"
    assert (video["width"], video["height"]) == (WIDTH, HEIGHT)
    assert int(video["nb_read_frames"]) >= 30
    assert demo["obs_exit_status"] == 0
    assert demo["obs_stopped_by"] == "window close"  # OBS's normal shutdown, no signal
    assert demo["obs_leaks"] == "0"


def test_demo_summary_names_the_backend_and_the_frames(demo: dict[str, Any]) -> None:
    # sway renders with pixman here, which writes no DMA-BUFs: wlcap falls back to shared memory.
    assert demo["backend"] == "shm", demo["source_status"]
    assert demo["source_status"].startswith("Status: capturing HEADLESS-1: ")
    counts = demo["frames"]
    assert counts["rendered"] > 0 and 0 <= counts["render_lagged"] <= counts["rendered"]
    assert 0 <= counts["output_skipped"] <= counts["output"]
    summary = next(line for line in demo["stdout"].splitlines() if line.startswith("recorded "))
    assert f"{demo['video']['nb_read_frames']} frames" in summary and "fps" in summary, summary
    assert f"{counts['render_lagged'] + counts['output_skipped']} dropped" in summary, summary
    assert f"backend {demo['backend']}" in summary, summary
    for name in ("contact_sheet", "obs_screenshot", "grim_screenshot", "obs_log"):
        assert demo["files"][name] in demo["stdout"]


def test_contact_sheet_and_obs_screenshot(demo: dict[str, Any]) -> None:
    sheet = read_png(Path(demo["files"]["contact_sheet"]))
    assert sheet.shape == (2 * (HEIGHT // 2), 3 * (WIDTH // 2), 3)  # 3 x 2 frames at half size
    tiles = [sheet[r * (HEIGHT // 2):(r + 1) * (HEIGHT // 2), c * (WIDTH // 2):(c + 1) * (WIDTH // 2)]
             for r in range(2) for c in range(3)]
    assert all(tile.std() > 20 for tile in tiles), "a tile of the contact sheet is (nearly) flat"
    assert not np.array_equal(tiles[0], tiles[-1]), "the first and last frames of the sheet are the same"

    screenshot = read_png(Path(demo["files"]["obs_screenshot"]))
    assert screenshot.shape == (X_SCREEN[1], X_SCREEN[0], 3)
    # OBS's preview shows the desktop, scaled down: the floating window's colour is in it.
    match = (np.abs(screenshot.astype(np.int16) - FLOATING) <= COLOUR_TOLERANCE).all(axis=2)
    assert np.count_nonzero(match) > 2000, "OBS's preview does not show the floating window"


def test_recording_shows_the_desktop(demo: dict[str, Any]) -> None:
    count = int(demo["video"]["nb_read_frames"])
    numbers = [round(i * (count - 1) / 5) for i in range(6)]
    shots = frames(Path(demo["recording"]), numbers)
    windows = {app_id: {kind: tuple(rect) for kind, rect in rects.items()} for app_id, rects in demo["windows"].items()}
    assert set(windows) == {SHELL_APP_ID, STILL_APP_ID, FLOATING_APP_ID}

    for frame in shots:
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 100, "the recording is (nearly) one flat colour"

    # The shell's terminal, above where the floating window ever goes: light text on foot's dark background.
    sx, sy, sw, _sh = windows[SHELL_APP_ID]["content"]
    top = min(y for _x, y, _w, _h in floating_keyframes(WIDTH, HEIGHT))
    text_area = (sx, sy, sw, top - sy)
    for number, frame in zip(numbers, shots, strict=True):
        region = crop(frame, text_area)
        assert np.median(region) < 64, f"frame {number}: the terminal's background is not dark"
        edges = text_edges(region)
        assert edges > 1000, f"frame {number}: only {edges} dark/light transitions where the terminal's text is"
    assert not np.array_equal(crop(shots[0], text_area), crop(shots[-1], text_area)), "the shell printed nothing"

    # The floating window moves and resizes: found by its colour, at more than one place and size.
    found = [floating_box(frame, windows[SHELL_APP_ID]["content"]) for frame in shots]
    boxes = [box for box in found if box is not None]
    assert len(boxes) == len(found), f"the floating window is missing from a frame: {found}"
    assert len({(x // 8, y // 8) for x, y, _w, _h in boxes}) > 1, f"the floating window stays at one place: {boxes}"
    assert len({(w // 8, h // 8) for _x, _y, w, h in boxes}) > 1, f"the floating window keeps one size: {boxes}"
    for x, y, w, h in boxes:
        assert x + w <= WIDTH // 2 and y >= top, f"the floating window left its path: {(x, y, w, h)}"


def test_still_terminal_matches_grim(demo: dict[str, Any]) -> None:
    """The right terminal's listing does not change while recording: the recording must show it as
    grim (the compositor's own screenshot) does, and not as it would with any offset."""
    grim = read_png(Path(demo["files"]["grim_screenshot"]))
    assert grim.shape == (HEIGHT, WIDTH, 3)
    last = frames(Path(demo["recording"]), [int(demo["video"]["nb_read_frames"]) - 1])[0]
    x, y, w, h = demo["windows"][STILL_APP_ID]["content"]
    x, y, w, h = x + 4, y + 4, w - 8, h - 8  # room for the shifted comparisons below
    reference = crop(grim, (x, y, w, h)).astype(np.int16)
    assert text_edges(crop(grim, (x, y, w, h))) > 1000, "grim shows no text in the still terminal"

    def difference(dx: int, dy: int) -> float:
        return float(np.abs(crop(last, (x + dx, y + dy, w, h)).astype(np.int16) - reference).mean())

    aligned = difference(0, 0)
    assert aligned <= GRIM_MEAN_TOLERANCE, f"the recording differs from grim by {aligned:.1f} on average"
    shifted = min(difference(dx, dy) for dx, dy in ((-3, 0), (3, 0), (0, -3), (0, 3)))
    assert aligned < shifted / 2, f"aligned {aligned:.1f} is not clearly better than shifted {shifted:.1f}"
