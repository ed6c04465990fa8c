from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import obshost
from harness.compositor import SwayHeadless, WestonHeadless, wayland_client_env
from harness.obshost import ObsHost, Xvfb, build_obs_host
from patterns import pattern, write_png

from capture import CaptureOptions
from capture.image import RgbImage

# CI sets this so that a missing compositor fails the run instead of skipping tests.
REQUIRE = os.environ.get("WLCAP_REQUIRE_COMPOSITOR") == "1"
WIDTH, HEIGHT = 640, 480


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        message = f"{binary} is not installed"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)


def same_capture_env(env: dict[str, str]) -> dict[str, str]:
    """env for a child Python that must import the very `capture` these tests import (installed, or
    a built source tree), not whatever its working directory holds."""
    import capture

    return dict(env, PYTHONPATH=str(Path(capture.__file__).resolve().parent.parent))


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "capture", *args], env=same_capture_env(env),
                          capture_output=True, text=True, timeout=timeout, cwd="/")


@pytest.fixture(scope="session")
def sway() -> Iterator[SwayHeadless]:
    _need("sway")
    compositor = SwayHeadless(WIDTH, HEIGHT)
    yield compositor
    compositor.stop()


@pytest.fixture()
def fresh_sway() -> Iterator[SwayHeadless]:
    """A compositor of the test's own, for tests that reconfigure or kill it."""
    _need("sway")
    compositor = SwayHeadless(320, 240)
    yield compositor
    compositor.stop()


@pytest.fixture()
def weston() -> Iterator[WestonHeadless]:
    _need("weston")
    compositor = WestonHeadless()
    yield compositor
    compositor.stop()


@pytest.fixture()
def wayland_env(sway: SwayHeadless, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point in-process library calls at the session's sway."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(sway.runtime_dir))
    monkeypatch.setenv("WAYLAND_DISPLAY", sway.socket_name)
    return sway.env


def wait_until_shown(output: str, expected: RgbImage, env: dict[str, str], timeout: float = 15) -> None:
    """swaybg draws the background a little after the command: wait until a capture shows it."""
    from capture import CaptureOptions, Connection, capture_one
    from capture.image import to_rgb

    deadline = time.monotonic() + timeout
    with wayland_client_env(env):
        while True:
            with Connection() as connection:
                session, frame = capture_one(connection, CaptureOptions(output=output))
                with frame:
                    view = frame.view()
                    image = to_rgb(view, frame.width, frame.height, frame.stride, frame.format,
                                   frame.y_invert, frame.transform)
                    view.release()
                session.close()
            if image.pixels == expected.pixels:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"output {output} never showed the expected image")
            time.sleep(0.1)


def painted_format(options: CaptureOptions, timeout: float) -> int:
    """The pixel format the compositor copies `options`' source in, once that source shows more than
    black (a window still being mapped there)."""
    from capture import Connection, capture_one

    deadline = time.monotonic() + timeout
    while True:
        with Connection() as connection:
            session, frame = capture_one(connection, options)
            with frame:
                fmt, data = frame.format, frame.read_pixels()
            session.close()
        if any(data[:4]) or time.monotonic() > deadline:
            return fmt
        time.sleep(0.2)


@pytest.fixture(scope="session")
def shown_pattern(sway: SwayHeadless) -> RgbImage:
    """HEADLESS-1 of the session's sway shows this pattern (tests that change it put it back)."""
    image = pattern(WIDTH, HEIGHT)
    # In the compositor's own folder: swaybg runs as its unprivileged user and must read the file.
    path = write_png(image, sway.dir / "pattern.png")
    sway.show_image("HEADLESS-1", path)
    wait_until_shown("HEADLESS-1", image, sway.env)
    return image


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Xvfb]:
    _need("Xvfb")
    server = Xvfb()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def obs_host_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need("obs")
    if subprocess.run(["pkg-config", "--exists", "libobs"]).returncode != 0:
        if REQUIRE:
            pytest.fail("libobs-dev is not installed")
        pytest.skip("libobs-dev is not installed")
    return build_obs_host(tmp_path_factory.mktemp("obs-host"))


@pytest.fixture(scope="session")
def guest_baseline_leaks(obs_host_binary: Path) -> int:
    """Guest tier (tests/guest): what libobs 32 itself leaves allocated in the OBS host with the script
    loaded and no source; the wlcap runs must leave no more (OBS 29 on this host leaves 0)."""
    from harness.obs_guest import start_obs

    host = start_obs(obs_host_binary, create=False)
    try:
        return host.quit()
    finally:
        host.cleanup()


def obs_pythonpath() -> str:
    """sys.path entries OBS's embedded Python needs to import the wlcap these tests import."""
    try:
        return obshost.obs_pythonpath()
    except ImportError:
        pytest.fail("wlcap_obs is not built (libobs-dev missing when wlcap was installed?)")


@pytest.fixture()
def obs_factory(xvfb: Xvfb, obs_host_binary: Path) -> Iterator:  # type: ignore[type-arg]
    """Start headless OBS processes against a given compositor environment; all are cleaned up."""
    hosts: list[ObsHost] = []

    def start(wayland: dict[str, str], width: int = WIDTH, height: int = HEIGHT,
              use_pythonpath: bool = True, **extra_env: str) -> ObsHost:
        env = dict(wayland, DISPLAY=xvfb.display, **extra_env)
        if use_pythonpath:
            env["WLCAP_PYTHONPATH"] = obs_pythonpath()
        env.pop("PYTHONPATH", None)
        host = ObsHost(obs_host_binary, env, width, height)
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        host.cleanup()
