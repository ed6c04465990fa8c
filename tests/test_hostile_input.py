"""Hostile input, as a user or another program can send it: settings set through obs-websocket on the
real OBS app (unknown outputs and windows, off-screen, huge, negative and malformed regions, unknown
choices, wrong types, random text), and random arguments to the `wlcap` command. Never a crash, a
hang or a traceback: OBS keeps running and the source's status is one line saying what is wrong,
capture resumes once the settings are good again, and the command answers with one line."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import _need, obs_pythonpath, same_capture_env
from harness.compositor import SwayHeadless
from harness.obs_frontend import ObsApp, obs_env
from harness.obshost import Xvfb

REPO = Path(__file__).resolve().parent.parent
STATUS_SCRIPT = REPO / "tools" / "harness" / "obs_scripts" / "source_status.py"
GOOD = {"target": "output", "output": "HEADLESS-1", "window": "", "region": "", "cursor": False,
        "cursor_drawing": "obs", "backend": "auto", "protocol": "auto"}
SEED = 1402  # random input, the same each run: a failure can be run again

# Each: the settings, and what the status line must say (lower case), or None: anything but a crash.
NAMED: list[tuple[dict[str, Any], str | None]] = [
    ({"output": "NOT-AN-OUTPUT"}, "error"),
    ({"output": "x" * 5000}, "error"),
    ({"output": "HEAD\nLESS-1\x01"}, "error"),
    ({"region": "-50,-50 100x100"}, "error"),
    ({"region": "0,0 99999x99999"}, "error"),
    ({"region": "0,0 4294967296x1"}, "error"),
    ({"region": "0,0 0x0"}, "error"),
    ({"region": "banana"}, "error"),
    ({"region": "1,2"}, "error"),
    ({"target": "window", "window": "no.such.app"}, "error"),
    ({"target": "elsewhere"}, "capture: unknown choice 'elsewhere' (one of: output, window)"),
    ({"backend": "bogus"}, "frame memory: unknown choice 'bogus' (one of: auto, dmabuf, shm)"),
    ({"protocol": "carrier-pigeon"}, "capture protocol: unknown choice"),
    ({"cursor_drawing": "nobody"}, "cursor drawn by: unknown choice"),
    ({"backend": 42, "protocol": [1, 2], "cursor": "yes", "region": {"x": 1}, "output": 3.5}, "error"),
]


def random_text(rng: random.Random) -> str:
    alphabet = string.printable + "éß€\u202e\U0001f600"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def random_settings(rng: random.Random) -> dict[str, Any]:
    values: list[Any] = [None, True, -1, 2**40, 0.5, [], {}, "", "HEADLESS-1", "0,0 10x10", "-1,-1 -5x-5"]
    return {key: rng.choice([*values, random_text(rng)]) for key in rng.sample(sorted(GOOD), rng.randint(1, 4))}


def wait_for_status(path: Path, predicate, timeout: float = 20) -> str:  # type: ignore[no-untyped-def]
    """The source's status line, once it satisfies predicate (else the last one seen)."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        if path.exists():
            status = json.loads(path.read_text()).get("Wayland", {}).get("status", "")
            if predicate(status):
                break
        time.sleep(0.25)
    return status


def test_hostile_settings_through_obs_websocket(sway: SwayHeadless, xvfb: Xvfb, tmp_path: Path) -> None:
    _need("obs")
    status_file = tmp_path / "status.json"
    env = dict(obs_env(sway.env, xvfb.display), WLCAP_PYTHONPATH=obs_pythonpath(),
               WLCAP_STATUS_FILE=str(status_file))
    obs = ObsApp(env, REPO / "obs_plugin" / "wlcap.py", tmp_path, 640, 480, extra_scripts=[STATUS_SCRIPT])
    try:
        obs.request("CreateInput", sceneName="Scene", inputName="Wayland", inputKind="wlcap_capture",
                    inputSettings=GOOD, sceneItemEnabled=True)
        assert "capturing HEADLESS-1" in wait_for_status(status_file, lambda s: "capturing" in s)
        rng = random.Random(SEED)
        cases = [*NAMED, *((random_settings(rng), None) for _ in range(25))]
        for settings, expected in cases:
            obs.request("SetInputSettings", inputName="Wayland", inputSettings={**GOOD, **settings})
            time.sleep(1.2)  # handled, and the status written again since (every 0.5 s)
            status = wait_for_status(status_file, lambda s, e=expected: e is None or e in s.lower())
            print(f"{settings!r:.90} -> {status}")
            assert obs.process.poll() is None, f"OBS died on {settings!r}: {obs.log()[-3000:]}"
            assert "\n" not in status and status.startswith("Status: "), (settings, status)
            if expected is not None:
                assert expected in status.lower(), (settings, status)
            # Good settings again: capture resumes, whatever came before.
            obs.request("SetInputSettings", inputName="Wayland", inputSettings=GOOD)
            resumed = wait_for_status(status_file, lambda s: "capturing HEADLESS-1" in s)
            assert "capturing HEADLESS-1" in resumed, (settings, resumed)
    finally:
        exit_status = obs.stop()
    log = obs.log()
    assert exit_status == 0 and obs.stop_method == "window close", (exit_status, obs.stop_method)
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:3000]
    assert "Number of memory leaks: 0" in log


COMMANDS = ["outputs", "windows", "screenshot", "stream", "bench", "soak", "obs"]
OPTIONS = ["--output", "--window", "--region", "--backend", "--protocol", "--frames", "--every", "--warmup",
           "--timeout", "--cursor", "--json", "--damage", "-o", "--baseline-frames", "--bogus"]


def random_arguments(rng: random.Random) -> list[str]:
    words = [rng.choice(COMMANDS)] if rng.random() < 0.9 else []
    for _ in range(rng.randint(0, 4)):
        words.append(rng.choice(OPTIONS))
        if rng.random() < 0.8:
            words.append(rng.choice(["-1", "0", "NaN", "1e400", "HEADLESS-1", "x", "0,0 0x0", "-5,-5 9x9",
                                     "dmabuf", "", random_text(rng).replace("\x00", "")]))
    return words


def test_random_arguments_to_the_cli(sway: SwayHeadless, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    env = same_capture_env({**os.environ, **sway.env, "HOME": str(tmp_path)})
    for _ in range(40):
        args = random_arguments(rng)
        if args and args[0] in ("bench", "soak", "stream") and "--frames" not in args:
            args += ["--frames", "3"]  # a hostile run, not a long one
        if args and args[0] == "obs":
            args.insert(1, "uninstall")  # in a HOME of its own: nothing to take out
        result = subprocess.run([sys.executable, "-m", "capture", *args], env=env, capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert result.returncode in (0, 1, 2), (args, result.returncode, result.stderr)
        if result.returncode != 0:
            assert result.stderr.strip(), (args, "failed without a word")
            if "usage:" not in result.stderr:  # argparse's own answer is its usage and one error line
                assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)

