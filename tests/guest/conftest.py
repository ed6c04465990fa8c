"""Fixtures of the guest tier's OBS tests (tests/guest/obs_guest.py has the helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from obs_guest import start_obs
from obshost import build_obs_host


@pytest.fixture(scope="session")
def host_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_obs_host(tmp_path_factory.mktemp("obs-host"))


@pytest.fixture(scope="session")
def baseline_leaks(host_binary: Path) -> int:
    """What libobs 32 itself leaves allocated in this host with the script loaded and no source:
    the wlcap runs must leave no more (OBS 29 on the host side leaves 0)."""
    host = start_obs(host_binary, create=False)
    try:
        return host.quit()
    finally:
        host.cleanup()
