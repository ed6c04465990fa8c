"""The DMA-BUF fallback ladder the OBS source walks: explicit modifiers -> implicit -> LINEAR -> shm.
(The ladder is plain Python; the imports that fail for real happen in the DMA-BUF guest tier.)"""

from __future__ import annotations

import pytest

pytest.importorskip("wlcap_obs._native", reason="the OBS shim is not built (libobs-dev missing)")

from wlcap_obs.ladder import FallbackLadder, Rung
from wlcap_obs.native import DmabufCapabilities

from capture.buffers.formats import DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, fourcc

XR24 = fourcc("XR24")
TILED = 0x0100000000000001  # an Intel X-tiled modifier


def obs(implicit: bool = True) -> DmabufCapabilities:
    return DmabufCapabilities(True, implicit, {XR24: (DRM_FORMAT_MOD_LINEAR, TILED)})


def test_each_failure_steps_down_once_to_shared_memory() -> None:
    ladder = FallbackLadder(obs())
    offered = (DRM_FORMAT_MOD_LINEAR, TILED, DRM_FORMAT_MOD_INVALID)
    assert ladder.modifiers(XR24, offered) == (DRM_FORMAT_MOD_LINEAR, TILED)
    line = ladder.step_down("OBS could not import the buffer", XR24, TILED)
    assert "explicit modifiers failed" in line and "implicit" in line
    assert ladder.rung is Rung.IMPLICIT_MODIFIER
    assert ladder.modifiers(XR24, offered) == (DRM_FORMAT_MOD_INVALID,)
    ladder.step_down("again", XR24, DRM_FORMAT_MOD_INVALID)
    assert ladder.modifiers(XR24, offered) == (DRM_FORMAT_MOD_LINEAR,)
    ladder.step_down("again", XR24, DRM_FORMAT_MOD_LINEAR)
    assert ladder.rung is Rung.SHM and not ladder.wants_dmabuf
    assert ladder.modifiers(XR24, offered) == ()
    assert len(ladder.history) == 3
    ladder.step_down("nothing left")
    assert ladder.rung is Rung.SHM


def test_only_modifiers_both_sides_accept() -> None:
    ladder = FallbackLadder(obs())
    # The compositor offers a modifier OBS cannot import, and LINEAR.
    assert ladder.modifiers(XR24, (0x0200000000000002, DRM_FORMAT_MOD_LINEAR)) == (DRM_FORMAT_MOD_LINEAR,)
    # A format OBS does not import at all.
    assert ladder.modifiers(fourcc("AR30"), (DRM_FORMAT_MOD_LINEAR,)) == ()


def test_implicit_rung_needs_obs_support() -> None:
    ladder = FallbackLadder(obs(implicit=False), start=Rung.IMPLICIT_MODIFIER)
    assert ladder.modifiers(XR24, ()) == ()  # compositor wants implicit, OBS cannot import it
    ladder = FallbackLadder(obs(implicit=True), start=Rung.IMPLICIT_MODIFIER)
    assert ladder.modifiers(XR24, ()) == (DRM_FORMAT_MOD_INVALID,)


def test_obs_without_dmabuf_starts_at_shared_memory() -> None:
    ladder = FallbackLadder(DmabufCapabilities(False, False, {}))
    assert ladder.rung is Rung.SHM
    assert "cannot import DMA-BUFs" in ladder.history[0]


def test_a_rung_with_nothing_left_steps_down_at_once() -> None:
    ladder = FallbackLadder(obs())
    # sway on virtio-gpu offers LINEAR and implicit. LINEAR failed: implicit is next; once that
    # failed too, the LINEAR rung has nothing left and shared memory follows without an attempt.
    offered = (DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_MOD_INVALID)
    ladder.step_down("refused", XR24, DRM_FORMAT_MOD_LINEAR)
    assert ladder.modifiers(XR24, offered) == (DRM_FORMAT_MOD_INVALID,)
    ladder.step_down("refused", XR24, DRM_FORMAT_MOD_INVALID)
    assert ladder.modifiers(XR24, offered) == ()
    assert ladder.rung is Rung.SHM
    assert ladder.history[-1].startswith("DMA-BUF LINEAR failed: no XRGB8888 modifier left")
    assert ladder.history[-1].endswith("now shared memory")


def test_an_offer_without_implicit_skips_that_rung() -> None:
    ladder = FallbackLadder(obs())
    ladder.step_down("refused", XR24, DRM_FORMAT_MOD_LINEAR)
    assert ladder.modifiers(XR24, (DRM_FORMAT_MOD_LINEAR,)) == ()  # implicit not offered, LINEAR failed
    assert ladder.rung is Rung.SHM
