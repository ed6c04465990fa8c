"""The README's demo: a compositor, the OBS app with the wlcap source, a recording that decodes and
shows the compositor's content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _need, obs_pythonpath
from harness.compositor import DEMO_COLOURS

REPO = Path(__file__).resolve().parent.parent
# The colours scripts/demo.py cycles the compositor's background through, as (R, G, B).
COLOURS = [tuple(bytes.fromhex(colour[1:])) for colour in DEMO_COLOURS]
TOLERANCE = 12  # x264 + 4:2:0 + limited range round trip


def test_demo_records_the_compositor(tmp_path: Path) -> None:
    for binary in ("sway", "obs", "Xvfb", "ffprobe"):
        _need(binary)
    env = dict(os.environ, WLCAP_PYTHONPATH=obs_pythonpath())
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--out", str(tmp_path),
                             "--seconds", "3", "--width", "640", "--height", "360"],
                            capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    recording = Path(result.stdout.strip().splitlines()[-1])
    assert recording.is_file() and recording.parent == tmp_path
    report = json.loads(result.stderr[result.stderr.index("{"):])
    assert report["video"]["codec_name"] == "h264"
    assert (report["video"]["width"], report["video"]["height"]) == (640, 360)
    assert int(report["video"]["nb_read_frames"]) >= 30
    assert report["obs_exit_status"] == 0
    assert report["obs_stopped_by"] == "window close"  # OBS's normal shutdown, no signal
    assert report["obs_leaks"] == "0"

    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", "1.5", "-i", str(recording), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], check=True, capture_output=True).stdout
    assert len(raw) == 640 * 360 * 3
    centre = tuple(raw[(180 * 640 + 320) * 3:(180 * 640 + 320) * 3 + 3])
    distance = min(max(abs(a - b) for a, b in zip(centre, colour, strict=True)) for colour in COLOURS)
    if distance > TOLERANCE:
        pytest.fail(f"the recording shows {centre}, not one of the compositor's colours {COLOURS}")
