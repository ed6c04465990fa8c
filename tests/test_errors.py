"""Bad input and missing pieces: one clear line on stderr, exit status 2, never a traceback."""

from __future__ import annotations

import os

import pytest
from conftest import run_cli, same_capture_env
from harness.compositor import SwayHeadless, WestonHeadless


def assert_clean_failure(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wlcap: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_no_wayland_display() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "WAYLAND_SOCKET")}
    assert_clean_failure(run_cli("screenshot", env=env), "WAYLAND_DISPLAY is not set")


def test_compositor_not_running(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path), WAYLAND_DISPLAY="wayland-nothing")
    assert_clean_failure(run_cli("outputs", env=env), "cannot connect", "wayland-nothing")


def test_compositor_without_screencopy(weston: WestonHeadless) -> None:
    assert_clean_failure(run_cli("screenshot", env=weston.env), "doesn't support zwlr_screencopy_manager_v1")
    assert_clean_failure(run_cli("stream", "--frames", "3", env=weston.env), "zwlr_screencopy_manager_v1")
    # Listing outputs needs no screencopy.
    assert run_cli("outputs", env=weston.env).returncode == 0


def test_unknown_output(sway: SwayHeadless) -> None:
    assert_clean_failure(run_cli("screenshot", "--output", "DP-7", env=sway.env),
                         "unknown output 'DP-7'", "HEADLESS-1")
    assert_clean_failure(run_cli("stream", "--frames", "3", "--output", "DP-7", env=sway.env), "DP-7")


@pytest.mark.parametrize("region", ["600,400 100x100", "-1,0 10x10", "0,0 641x1", "640,0 1x1"])
def test_region_off_the_output(sway: SwayHeadless, region: str) -> None:
    assert_clean_failure(run_cli("screenshot", "--region", region, env=sway.env),
                         "lies outside output HEADLESS-1", "640x480")


@pytest.mark.parametrize("region", ["10,10", "a,b cxd", "0,0 0x10", "1,2 3x"])
def test_malformed_region(sway: SwayHeadless, region: str) -> None:
    assert_clean_failure(run_cli("screenshot", "--region", region, env=sway.env), "region")


def test_dmabuf_requested_where_the_compositor_cannot(sway: SwayHeadless) -> None:
    # sway's pixman renderer cannot write DMA-BUFs: asking for them is an error, auto falls back.
    assert_clean_failure(run_cli("screenshot", "--backend", "dmabuf", env=sway.env), "DMA-BUF capture unavailable")


def test_compositor_vanishes_mid_stream(fresh_sway: SwayHeadless) -> None:
    import subprocess
    import sys
    import time

    process = subprocess.Popen([sys.executable, "-m", "capture", "stream", "--frames", "100000"],
                               env=same_capture_env(fresh_sway.env), cwd="/",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # let it stream
    assert process.poll() is None, process.communicate()
    fresh_sway.kill()
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 2, err
    assert "Traceback" not in err
    assert "compositor connection lost" in err or "closed the connection" in err, err
