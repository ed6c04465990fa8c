"""The ext-image-copy-capture-v1 lies of tests/test_lying_compositor.py, where a compositor offers
that protocol: the guest tier's sway 1.12 on the virtio-gpu card, behind the lying proxy
(tools/harness/wayland_proxy.py). Each ends the CLI with one clear line, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_cli
from harness.wayland_lies import LIES
from harness.wayland_proxy import WaylandProxy
from test_lying_compositor import EXT_ERRORS, assert_one_clear_line

pytestmark = pytest.mark.skipif(os.environ.get("WLCAP_GUEST") != "1",
                                reason="runs in the DMA-BUF guest tier (tests/vm/run-wlcap-tests.sh)")


@pytest.mark.parametrize("lie", EXT_ERRORS)
def test_ext_lies_end_in_one_clear_line(tmp_path: Path, lie: str) -> None:
    env = dict(os.environ)
    with WaylandProxy(Path(env["XDG_RUNTIME_DIR"]), env["WAYLAND_DISPLAY"], LIES[lie]) as proxy:
        result = run_cli("screenshot", "-o", str(tmp_path / "shot.png"), "--protocol", "ext",
                         "--backend", "shm", env=proxy.env(env), timeout=120)
    print(lie, "->", result.stderr.strip().splitlines()[-1:] if result.stderr else result.returncode)
    assert_one_clear_line(result, EXT_ERRORS[lie])
    assert not (tmp_path / "shot.png").exists()
